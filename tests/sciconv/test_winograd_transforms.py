"""Exact Winograd transforms: exactness proofs, independent float64 references, bad input."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sciconv.vandermonde import INF
from sciconv.winograd import PLACEMENTS, default_points, parse_points, transforms, verify

NOVA_F63 = "0,3/5,-3/5,1,-1,7/6,-7/6"


def test_verify_every_small_transform_and_f16_3() -> None:
    """The issue's list: every m <= 8 with r in {2, 3, 5}, and F(16, 3), proved exactly
    (plus F(16, 7))."""
    for m in range(1, 9):
        for r in (2, 3, 5):
            t = transforms(m, r)
            assert verify(t), (m, r)
    assert verify(transforms(16, 3))
    assert verify(transforms(16, 7))  # the largest size the issue names


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("points", [None, NOVA_F63, "0,1,-1,2,-2,3,-3"])
def test_verify_2d_and_placements(points: str | None, placement: str) -> None:
    """Every placement of the normalisers is exact, in 1D and nested 2D."""
    t = transforms(6, 3, points, placement=placement)
    assert verify(t, dim=2)


def test_verify_detects_a_wrong_entry() -> None:
    """A single perturbed entry of A^T, G or B^T is caught by the exact proof."""
    for k in range(3):
        t = transforms(4, 3)
        mats = list(t)
        mats[k][1, 1] += Fraction(1, 1000)
        assert not verify(t)


def test_f23_matches_lavin_gray_up_to_signs() -> None:
    """F(2,3) with {0, 1, -1} is Lavin & Gray's (2016) published transform up to row signs."""
    AT, G, BT = transforms(2, 3)
    lavin_AT = [[1, 1, 1, 0], [0, 1, -1, -1]]
    lavin_G = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
    lavin_BT = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    for ours, ref in ((AT, lavin_AT), (G, lavin_G), (BT, lavin_BT)):
        np.testing.assert_array_equal(np.abs(ours.astype(float)), np.abs(np.array(ref, float)))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    m=st.integers(1, 8),
    r=st.integers(1, 5),
    seed=st.integers(0, 2**16),
    placement=st.sampled_from(PLACEMENTS),
)
def test_float64_matches_exact_fractions(m: int, r: int, seed: int, placement: str) -> None:
    """The float64 transforms are the exact Fractions correctly rounded, entry by entry
    (``float(Fraction)`` is the round-to-nearest reference: equality, no tolerance), and
    A^T[(G g) * (B^T d)] in float64 meets the componentwise rounding bound against the exact
    rational correlation of the same float inputs:
    ``|y - y_exact| <= (2n + r + 5) u |A^T| (|G||g| * |B^T||d|)`` (Higham's gamma_k for the
    three products and the entry roundings; no kappa(V): the bound is on this computation)."""
    rng = np.random.default_rng(seed)
    n = m + r - 1
    pool = sorted({Fraction(p, q) for p in range(-6, 7) for q in range(1, 5)})
    idx = rng.choice(len(pool), size=n - 1, replace=False)
    t = transforms(m, r, [pool[i] for i in idx], placement=placement)
    floats = t.numpy()
    for exact, got in zip(t, floats, strict=True):
        ref = np.array([[float(x) for x in row] for row in exact], dtype=np.float64)
        np.testing.assert_array_equal(got, ref)
    AT, G, BT = floats
    g, d = rng.standard_normal(r), rng.standard_normal(n)
    y = AT @ ((G @ g) * (BT @ d))
    gq, dq = [Fraction(v) for v in g], [Fraction(v) for v in d]
    exact = np.array([float(sum(dq[i + k] * gq[k] for k in range(r))) for i in range(m)])
    u = np.finfo(np.float64).eps / 2
    bound = (
        (2 * n + r + 5) * u * (np.abs(AT) @ ((np.abs(G) @ np.abs(g)) * (np.abs(BT) @ np.abs(d))))
    )
    assert np.all(np.abs(y - exact) <= bound + u * np.abs(exact)), (np.abs(y - exact), bound)


def test_default_points_order_and_strings() -> None:
    """Classic order 0, +-1, +-2, +-1/2, +-3 ...; strings, INF and Fractions all parse."""
    assert default_points(7) == [0, 1, -1, 2, -2, Fraction(1, 2), Fraction(-1, 2)]
    assert default_points(9)[-2:] == [3, -3]
    t = transforms(6, 3, "0, 1, -1, 1/2, -1/2, 2, -2")
    assert t.points[-1] is INF and t.n == 8
    t2 = transforms(6, 3, ["inf", 0, 1, -1, "1/2", Fraction(-1, 2), 2, -2])
    assert set(t2.points) == set(t.points)
    AT, G, BT = t
    assert AT.shape == (6, 8) and G.shape == (8, 3) and BT.shape == (8, 8)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"m": 0, "r": 3}, "m"),
        ({"m": 2, "r": 0}, "r"),
        ({"m": 2, "r": 3, "points": [0, 1]}, "points"),
        ({"m": 2, "r": 3, "points": [0, 1, 2, 3]}, "points"),
        ({"m": 2, "r": 3, "points": [0, 1, 1]}, "points"),
        ({"m": 2, "r": 3, "points": "0,1,abc"}, "points"),
        ({"m": 2, "r": 3, "points": "0,1,1/0"}, "points"),
        ({"m": 2, "r": 3, "points": ["inf", 0, 1, "-inf"]}, "points"),
        ({"m": 2, "r": 3, "placement": "C"}, "placement"),
    ],
)
def test_bad_input_names_the_argument(kwargs: dict, name: str) -> None:
    """m < 1, r < 1, wrong counts, duplicates, unparsable rationals: ValueError naming it."""
    with pytest.raises(ValueError, match=name):
        transforms(**kwargs)


def test_parse_points_appends_infinity() -> None:
    assert parse_points([1, 0], 3) == (1, 0, INF)
    with pytest.raises(ValueError, match="points"):
        parse_points([0, 0], 3)
