"""Vandermonde matrices: exact determinants, inverses, precision kinds, conditioning, products."""

from __future__ import annotations

import itertools
import pickle
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sciconv.vandermonde import (
    INF,
    cond,
    exact_det,
    exact_inverse,
    exact_solve,
    parse_point,
    vandermonde,
    vandermonde_apply,
    vandermonde_det,
)

rationals = st.fractions(min_value=-5, max_value=5, max_denominator=7)
point_sets = st.lists(rationals, min_size=1, max_size=6, unique=True)


def product_formula(finite):
    det = Fraction(1)
    for i, j in itertools.combinations(range(len(finite)), 2):
        det *= finite[j] - finite[i]
    return det


# ---------------------------------------------------------------- points


def test_parse_point():
    assert parse_point(3) == Fraction(3)
    assert parse_point(np.int64(-2)) == Fraction(-2)
    assert parse_point(Fraction(5, 6)) == Fraction(5, 6)
    assert parse_point("5/6") == Fraction(5, 6)
    assert parse_point(" -7/6 ") == Fraction(-7, 6)
    assert parse_point("0.5") == Fraction(1, 2)
    assert parse_point(0.1) == Fraction(3602879701896397, 36028797018963968)  # exact float
    assert parse_point(np.float32(0.25)) == Fraction(1, 4)
    for p in ["inf", "∞", "-inf", "Infinity", float("inf"), float("-inf"), INF]:
        assert parse_point(p) is INF
    assert pickle.loads(pickle.dumps(INF)) is INF
    assert repr(INF) == "INF"


@pytest.mark.parametrize(
    "bad, exc",
    [("abc", ValueError), ("1/0", ValueError), (float("nan"), ValueError)]
    + [(True, TypeError), (None, TypeError), (1j, TypeError)],
)
def test_parse_point_rejects(bad, exc):
    with pytest.raises(exc, match="points"):
        parse_point(bad)


# ---------------------------------------------------------------- exact determinants and inverses


@settings(max_examples=40, deadline=None)
@given(pts=point_sets, where=st.integers(0, 6), with_inf=st.booleans())
def test_det_product_formula(pts, where, with_inf):
    if with_inf:
        pts = pts[:where] + [INF] + pts[where:]
    V = vandermonde(pts)
    det = vandermonde_det(pts)
    assert det == exact_det(V)
    finite = [p for p in pts if p is not INF]
    sign = (-1) ** (len(pts) - 1 - pts.index(INF)) if with_inf else 1
    assert det == sign * product_formula(finite)
    assert isinstance(det, Fraction)


def test_inf_sign_rule_every_position():
    finite = [Fraction(0), Fraction(1), Fraction(-1), Fraction(1, 2)]
    for r in range(5):
        pts = finite[:r] + [INF] + finite[r:]
        assert vandermonde_det(pts) == exact_det(vandermonde(pts))
        assert vandermonde_det(pts) == (-1) ** (4 - r) * product_formula(finite)
    assert vandermonde_det(finite + ["inf"]) == vandermonde_det(finite)  # last: no sign change


@settings(max_examples=25, deadline=None)
@given(pts=point_sets, with_inf=st.booleans())
def test_exact_inverse_and_solve(pts, with_inf):
    pts = pts + [INF] if with_inf else pts
    V = vandermonde(pts)
    n = len(pts)
    eye = np.array([[Fraction(int(i == j)) for j in range(n)] for i in range(n)], dtype=object)
    Vinv = exact_inverse(V)
    assert (Vinv @ V == eye).all() and (V @ Vinv == eye).all()
    b = np.array([Fraction(i + 1, 3) for i in range(n)], dtype=object)
    x = exact_solve(V, b)
    assert x.shape == (n,) and (V @ x == b).all()
    X = exact_solve(V, np.stack([b, 2 * b], axis=1))
    assert X.shape == (n, 2) and (V @ X == np.stack([b, 2 * b], axis=1)).all()


def test_exact_det_general_matrices():
    assert exact_det([[0, 1], [1, 0]]) == -1  # needs a row swap
    assert exact_det([[1, 2], [2, 4]]) == 0
    assert exact_det(np.array([[0.5, 0.25], [1.0, 3.0]])) == Fraction(5, 4)
    m = mpmath.matrix([[mpmath.mpf(-3.5), 1], [0, mpmath.mpf("0.125")]])
    assert exact_det(m) == Fraction(-7, 16)  # mpf entries taken exactly, sign included
    assert exact_det(vandermonde([-1, -2, 3], kind="mp")) == vandermonde_det([-1, -2, 3])
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        exact_inverse([[1, 2], [2, 4]])


# ---------------------------------------------------------------- precision kinds


def test_kinds_agree_with_exact():
    pts = ["5/6", "-7/6", 0, 3, "inf"]
    exact = vandermonde(pts, ncols=6)
    assert exact.shape == (5, 6) and exact.dtype == object
    assert list(exact[-1]) == [0, 0, 0, 0, 0, 1]
    dps_before = mpmath.mp.dps
    mp = vandermonde(pts, ncols=6, kind="mp", dps=40)
    assert mpmath.mp.dps == dps_before
    assert isinstance(mp, mpmath.matrix) and (mp.rows, mp.cols) == (5, 6)
    fl = vandermonde(pts, ncols=6, kind="float")
    tt = vandermonde(pts, ncols=6, kind="torch")
    tf = vandermonde(pts, ncols=6, kind="torch", dtype=torch.float32, device="cpu")
    assert fl.dtype == np.float64 and tt.dtype == torch.float64 and tf.dtype == torch.float32
    with mpmath.workdps(40):
        for i, j in np.ndindex(exact.shape):
            f = exact[i, j]
            assert abs(mp[i, j] - mpmath.mpf(f.numerator) / f.denominator) <= mpmath.mpf(10) ** -38
            assert fl[i, j] == float(f) == tt[i, j].item()  # correctly rounded
    assert vandermonde([1, 2, 3]).shape == (3, 3)


# ---------------------------------------------------------------- conditioning


def test_nova_condition_number():
    """NOVA: kappa_2 ~ 196,899.68 for F(8,3) with points {0, +-1, ..., +-4}."""
    finite = [0, 1, -1, 2, -2, 3, -3, 4, -4]
    k9 = cond(vandermonde(finite), 2)
    assert isinstance(k9, mpmath.mpf)
    assert mpmath.nstr(k9, 8) == "196899.68"
    assert abs(k9 / mpmath.mpf("196899.68") - 1) < 5e-7  # 6 significant digits
    assert k9 == cond(vandermonde(finite, kind="mp"), 2)
    assert abs(cond(vandermonde(finite, kind="float"), 2) / k9 - 1) < 1e-12
    # The 10x10 Toom-Cook matrix (the same points plus infinity) is much worse conditioned.
    k10 = cond(vandermonde(finite + ["inf"]), 2)
    assert 3.8e8 < k10 < 3.9e8


def test_cond_against_numpy():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 5)) + 5 * np.eye(5)
    for norm, np_norm in [(1, 1), ("inf", np.inf), ("fro", "fro"), (2, 2)]:
        expected = np.linalg.cond(A, np_norm)
        assert abs(float(cond(A, norm)) / expected - 1) < 1e-12
    Ac = A + 1j * rng.standard_normal((5, 5))
    assert abs(float(cond(Ac, 2)) / np.linalg.cond(Ac) - 1) < 1e-12
    assert abs(float(cond(Ac.tolist(), 1)) / np.linalg.cond(Ac, 1) - 1) < 1e-12


def test_cond_singular_is_inf():
    for norm in (1, 2, "inf", "fro"):
        assert cond([[1, 2], [2, 4]], norm) == mpmath.inf
        assert cond(np.array([[0.1, 0.2], [0.1, 0.2]]), norm) == mpmath.inf


@pytest.mark.parametrize(
    "call, exc, name",
    [
        (lambda: cond(np.ones((2, 3)), norm=1), ValueError, "matrix"),
        (lambda: cond([[1, 2], [3]]), ValueError, "matrix"),
        (lambda: cond(np.ones(3)), ValueError, "matrix"),
        (lambda: cond(np.eye(2), norm=3), ValueError, "norm"),
        (lambda: cond(np.eye(2), dps=0), ValueError, "dps"),
        (lambda: exact_det([[1, 2]]), ValueError, "matrix"),
        (lambda: exact_det([["a", 1], [1, 1]]), TypeError, "matrix"),
        (lambda: exact_solve(np.eye(2), [1, 2, 3]), ValueError, "rhs"),
        (lambda: vandermonde([1, 2, 1]), ValueError, "distinct"),
        (lambda: vandermonde(["inf", float("-inf")]), ValueError, "distinct"),
        (lambda: vandermonde([]), ValueError, "points"),
        (lambda: vandermonde("12"), TypeError, "points"),
        (lambda: vandermonde([1, "x"]), ValueError, "points"),
        (lambda: vandermonde([1, 2], kind="double"), ValueError, "kind"),
        (lambda: vandermonde([1, 2], ncols=0), ValueError, "ncols"),
        (lambda: vandermonde([1, 2], dtype=torch.float32), ValueError, "dtype"),
        (lambda: vandermonde([1, 2], kind="mp", dps=0), ValueError, "dps"),
        (lambda: vandermonde_det([1, 1]), ValueError, "distinct"),
        (lambda: vandermonde_apply(np.float64(2.0), np.ones(2), 3), ValueError, "z"),
        (lambda: vandermonde_apply(np.ones((3, 2)), np.ones((2, 2)), 3), ValueError, "broadcast"),
        (lambda: vandermonde_apply(np.ones(2), np.ones(3), 3), ValueError, "c"),
        (lambda: vandermonde_apply(np.ones(2), np.ones(2), 0), ValueError, "L"),
        (lambda: vandermonde_apply(np.ones(2), np.ones(2), 3, chunk=0), ValueError, "chunk"),
    ],
)
def test_bad_input(call, exc, name):
    with pytest.raises(exc, match=name):
        call()


# ---------------------------------------------------------------- Vandermonde products


def materialised(z, c, L):
    V = np.asarray(z)[:, None] ** np.arange(L)  # V[n, l] = z_n ** l
    return np.asarray(c) @ V


@pytest.mark.parametrize("chunk", [None, 1, 3, 7, 50])
def test_apply_numpy(chunk):
    rng = np.random.default_rng(1)
    z = 0.9 * np.exp(1j * rng.uniform(0, np.pi, 6))
    c = rng.standard_normal((2, 3, 6)) + 1j * rng.standard_normal((2, 3, 6))
    K = vandermonde_apply(z, c, 20, chunk)
    assert K.shape == (2, 3, 20) and K.dtype == np.complex128
    np.testing.assert_allclose(K, materialised(z, c, 20), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(vandermonde_apply(np.log(z), c, 20, chunk, log_nodes=True), K)
    zr = np.array([0.0, 0.5, -1.5, 2.0])
    cr = rng.standard_normal(4)
    V = vandermonde(zr.tolist(), ncols=9, kind="float")
    np.testing.assert_allclose(vandermonde_apply(zr, cr, 9, chunk), cr @ V, rtol=1e-13)


@pytest.mark.parametrize("chunk", [None, 4])
def test_apply_torch(chunk, device):
    g = torch.Generator().manual_seed(2)
    ang = torch.rand(5, generator=g, dtype=torch.float64) * 3
    z = (0.8 * torch.exp(1j * ang)).to(device).requires_grad_(True)
    c = torch.randn(2, 5, dtype=torch.complex128, generator=g).to(device).requires_grad_(True)
    K = vandermonde_apply(z, c, 11, chunk)
    assert isinstance(K, torch.Tensor) and K.shape == (2, 11) and K.device == z.device
    ref = materialised(z.detach().cpu().numpy(), c.detach().cpu().numpy(), 11)
    np.testing.assert_allclose(K.detach().cpu().numpy(), ref, rtol=1e-12, atol=1e-14)
    assert torch.autograd.gradcheck(lambda a, b: vandermonde_apply(a, b, 11, chunk), (z, c))
    logz = torch.log(z.detach()).requires_grad_(True)
    K2 = vandermonde_apply(logz, c, 11, chunk, log_nodes=True)
    np.testing.assert_allclose(K2.detach().cpu().numpy(), ref, rtol=1e-12, atol=1e-14)
    assert torch.autograd.gradcheck(
        lambda a, b: vandermonde_apply(a, b, 11, chunk, log_nodes=True), (logz, c)
    )
    zr = torch.tensor([0.0, 0.5, -1.5], dtype=torch.float64, device=device, requires_grad=True)
    cr = torch.randn(3, dtype=torch.float64, generator=g).to(device).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: vandermonde_apply(a, b, 6, chunk), (zr, cr))


@pytest.mark.parametrize("log_nodes", [False, True])
@pytest.mark.parametrize("chunk", [None, 3])
def test_vandermonde_apply_batched_nodes_equal_row_by_row(log_nodes, chunk):
    """One node set per channel (z of shape (H, N)) equals H separate 1-d calls (1e-13)."""
    rng = np.random.default_rng(5)
    z = 0.9 * np.exp(1j * rng.uniform(0, np.pi, (4, 6))) - 0.05
    if log_nodes:
        z = np.log(z)
    c = rng.standard_normal((2, 4, 6)) + 1j * rng.standard_normal((2, 4, 6))
    got = vandermonde_apply(z, c, 11, chunk=chunk, log_nodes=log_nodes)
    ref = np.stack(
        [vandermonde_apply(z[h], c[:, h], 11, log_nodes=log_nodes) for h in range(4)], axis=1
    )
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-13)
    got_t = vandermonde_apply(
        torch.as_tensor(z), torch.as_tensor(c), 11, chunk=chunk, log_nodes=log_nodes
    )
    np.testing.assert_allclose(got_t.numpy(), ref, rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match="broadcast"):
        vandermonde_apply(z, c[:, :3], 11)


def test_cond_rectangular_two_norm():
    """norm=2 takes a rectangular matrix: equal to numpy.linalg.cond (1e-12); rank-deficient
    gives inf."""
    A = np.random.default_rng(3).standard_normal((5, 3))
    assert abs(float(cond(A, 2)) / np.linalg.cond(A) - 1) < 1e-12
    assert abs(float(cond(A.T, 2)) / np.linalg.cond(A.T) - 1) < 1e-12
    assert cond([[1, 2, 3], [2, 4, 6]], 2) == mpmath.inf
