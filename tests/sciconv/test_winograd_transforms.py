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


@settings(max_examples=25, deadline=None)
@given(
    m=st.integers(1, 8),
    r=st.integers(1, 5),
    seed=st.integers(0, 2**16),
    placement=st.sampled_from(PLACEMENTS),
)
def test_float64_matches_numpy_correlate(m: int, r: int, seed: int, placement: str) -> None:
    """A^T[(G g) * (B^T d)] in float64 equals np.correlate(d, g, 'valid') to a relative
    1e-12 * kappa_2(V_fin) (the rounding of the float64 transforms, amplified by V)."""
    rng = np.random.default_rng(seed)
    n = m + r - 1
    pool = sorted({Fraction(p, q) for p in range(-6, 7) for q in range(1, 5)})
    idx = rng.choice(len(pool), size=n - 1, replace=False)
    t = transforms(m, r, [pool[i] for i in idx], placement=placement)
    AT, G, BT = t.numpy()
    g, d = rng.standard_normal(r), rng.standard_normal(n)
    y = AT @ ((G @ g) * (BT @ d))
    ref = np.correlate(d, g, mode="valid")
    pts = [float(p) for p in t.finite_points]
    kappa = float(np.linalg.cond(np.vander(pts))) if len(pts) > 1 else 1.0
    assert np.linalg.norm(y - ref) <= 1e-12 * kappa * max(1.0, np.linalg.norm(ref))


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
