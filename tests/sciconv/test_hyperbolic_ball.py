"""Poincaré-ball operations against geoopt's PoincareBall, mpmath, and the gyrovector identities.

Tolerances (float64): every operation equals geoopt to ``rtol = atol = 1e-12`` on random
points with ``sqrt(c)||x|| <= 0.999``. Near the boundary (``1 - 1e-5 <= sqrt(c)||x|| <= 1 - 1e-3``)
the operations without ``artanh`` keep ``1e-12``; those with it (log maps, distance, scalar
multiplication) are ill-conditioned: a rounding of the norm is amplified by
``kappa = 1 / (1 - sqrt(c)||x||)`` (up to 1e5), and geoopt's own ``artanh`` (a difference of logs)
is off by several 1e-12 there, so they are compared to geoopt with ``1e-12 * kappa`` and our
``logmap0`` to an mpmath reference (40 digits) with ``1e-12`` (its error is the conditioning of
the input rounding, ~1e-12 at the margin, not the formula's).
"""

from __future__ import annotations

import geoopt
import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sciconv.hyperbolic import PoincareBall
from sciconv.hyperbolic import ball as hb

D = torch.float64


def _geo(c: float):
    g = geoopt.PoincareBall(c=torch.tensor(c, dtype=D))
    return g, g.c.detach()  # geoopt stores softplus(isp_c): use its exact c in ours too


def _points(gen: torch.Generator, n: int, d: int, radii: torch.Tensor, c: torch.Tensor):
    x = torch.randn(n, d, dtype=D, generator=gen)
    return x / x.norm(dim=-1, keepdim=True) * radii[:, None] / c.sqrt()


def _radii(gen: torch.Generator, n: int, near: bool) -> torch.Tensor:
    if near:
        return 1 - 10 ** (-3 - 2 * torch.rand(n, dtype=D, generator=gen))
    return 0.999 * torch.rand(n, dtype=D, generator=gen)


def _ops(g, c):
    """(name, ours, geoopt, uses artanh) on arguments (x, y, v, r)."""
    return [
        (
            "mobius_add",
            lambda x, y, v, r: hb.mobius_add(x, y, c),
            lambda x, y, v, r: g.mobius_add(x, y),
            False,
        ),
        (
            "gyration",
            lambda x, y, v, r: hb.gyration(x, y, v, c),
            lambda x, y, v, r: g.gyration(x, y, v),
            False,
        ),
        (
            "transp",
            lambda x, y, v, r: hb.transp(x, y, v, c),
            lambda x, y, v, r: g.transp(x, y, v),
            False,
        ),
        ("lambda_x", lambda x, y, v, r: hb.lambda_x(x, c), lambda x, y, v, r: g.lambda_x(x), False),
        ("expmap0", lambda x, y, v, r: hb.expmap0(v, c), lambda x, y, v, r: g.expmap0(v), False),
        ("expmap", lambda x, y, v, r: hb.expmap(x, v, c), lambda x, y, v, r: g.expmap(x, v), False),
        ("project", lambda x, y, v, r: hb.project(v, c), lambda x, y, v, r: g.projx(v), False),
        (
            "midpoint",
            lambda x, y, v, r: hb.weighted_midpoint(x, c, reduce_dim=0),
            lambda x, y, v, r: g.weighted_midpoint(x, reducedim=[0]),
            False,
        ),
        ("logmap0", lambda x, y, v, r: hb.logmap0(x, c), lambda x, y, v, r: g.logmap0(x), True),
        ("logmap", lambda x, y, v, r: hb.logmap(x, y, c), lambda x, y, v, r: g.logmap(x, y), True),
        ("dist", lambda x, y, v, r: hb.dist(x, y, c), lambda x, y, v, r: g.dist(x, y), True),
        (
            "mobius_scalar_mul",
            lambda x, y, v, r: hb.mobius_scalar_mul(r, x, c),
            lambda x, y, v, r: g.mobius_scalar_mul(r, x),
            True,
        ),
    ]


@pytest.mark.parametrize("cval", [1.0, 0.37, 2.5])
@pytest.mark.parametrize("near", [False, True], ids=["interior", "near_boundary"])
def test_equals_geoopt(cval: float, near: bool) -> None:
    """Every ball operation equals geoopt's PoincareBall (tolerances in the module docstring)."""
    g, c = _geo(cval)
    gen = torch.Generator().manual_seed(int(cval * 100) + near)
    n, d = 64, 7
    # y stays at radius <= 0.999 so that sqrt(c)||(-x)+y|| <= 1 - 1e-7, where geoopt's artanh
    # clamps (two points both at the margin are checked against mpmath below)
    rx, ry = _radii(gen, n, near), _radii(gen, n, False)
    x, y = _points(gen, n, d, rx, c), _points(gen, n, d, ry, c)
    v = 3 * torch.randn(n, d, dtype=D, generator=gen)
    r = torch.randn(n, 1, dtype=D, generator=gen)
    # condition of artanh at the largest argument it sees: sqrt(c)||x|| or sqrt(c)||(-x)+y||
    arg = torch.maximum(
        rx.max(), (c.sqrt() * g.mobius_add(-x, y, project=False).norm(dim=-1)).max()
    )
    kappa = 1 / (1 - arg).item()
    for name, ours, ref, uses_artanh in _ops(g, c):
        tol = 1e-12 * (kappa if (near and uses_artanh) else 1.0)
        torch.testing.assert_close(ours(x, y, v, r), ref(x, y, v, r), rtol=tol, atol=tol, msg=name)


def test_logmap0_matches_mpmath_near_boundary() -> None:
    """logmap0 at 1 - 1e-5 <= sqrt(c)||y|| <= 1 - 1e-3 equals mpmath (40 digits) to 1e-12."""
    gen = torch.Generator().manual_seed(3)
    c = torch.tensor(0.7, dtype=D)
    y = _points(gen, 40, 5, _radii(gen, 40, True), c)
    ours = hb.logmap0(y, c).numpy()
    with mpmath.workdps(40):
        s = mpmath.sqrt(mpmath.mpf(0.7))
        ref = []
        for row in y.numpy():
            pts = [mpmath.mpf(float(t)) for t in row]
            nrm = mpmath.sqrt(sum(t * t for t in pts))
            ref.append([float(mpmath.atanh(s * nrm) / (s * nrm) * t) for t in pts])
    np.testing.assert_allclose(ours, np.array(ref), rtol=1e-12, atol=1e-12)


def test_dist_matches_mpmath_both_points_near_boundary() -> None:
    """dist for two points at 1 - 1e-5 .. 1 - 1e-3 equals mpmath (40 digits) evaluated on the same
    float64 inputs to 1e-12 * kappa, kappa = 1/(1 - sqrt(c)||(-x)+y||) (up to 1e10 here; geoopt's
    artanh clamps at 1 - 1e-7 and is off by up to ~40 % on these pairs)."""
    gen = torch.Generator().manual_seed(11)
    cval = 0.8
    c = torch.tensor(cval, dtype=D)
    x = _points(gen, 30, 4, _radii(gen, 30, True), c)
    y = _points(gen, 30, 4, _radii(gen, 30, True), c)
    ours = hb.dist(x, y, c).numpy()
    with mpmath.workdps(40):
        cc = mpmath.mpf(cval)
        s = mpmath.sqrt(cc)
        ref, kap = [], []
        for a_row, b_row in zip(x.numpy(), y.numpy()):
            a = [-mpmath.mpf(float(t)) for t in a_row]
            b = [mpmath.mpf(float(t)) for t in b_row]
            ab, a2, b2 = (sum(p * q for p, q in zip(u, w)) for u, w in ((a, b), (a, a), (b, b)))
            den = 1 + 2 * cc * ab + cc**2 * a2 * b2
            w = [((1 + 2 * cc * ab + cc * b2) * p + (1 - cc * a2) * q) / den for p, q in zip(a, b)]
            nw = mpmath.sqrt(sum(t * t for t in w))
            ref.append(float(2 / s * mpmath.atanh(s * nw)))
            kap.append(float(1 / (1 - s * nw)))
    err = np.abs(ours - np.array(ref)) / np.array(ref)
    assert max(kap) > 1e8  # the pairs do reach the ill-conditioned zone
    assert np.all(err <= 1e-12 * np.array(kap)), float(np.max(err / np.array(kap)))


@settings(max_examples=25, deadline=None)
@given(
    d=st.integers(1, 9),
    n=st.integers(1, 6),
    cval=st.floats(0.05, 5.0),
    scale=st.floats(1e-6, 8.0),
    seed=st.integers(0, 2**16),
)
def test_identities(d: int, n: int, cval: float, scale: float, seed: int) -> None:
    """x⊕0 = x, (−x)⊕x = 0, log0(exp0(v)) = v, ||exp0 v|| < 1/sqrt(c), exp_x(log_x y) = y,
    d(x, y) = lambda_x ||log_x y||, gyr[u,v]w = ⊖(u⊕v)⊕(u⊕(v⊕w)), and parallel transport keeps
    the Riemannian norm (lambda_y ||P v|| = lambda_x ||v||); float64, tolerance 1e-9 (relative).
    The unprojected ||exp0 v|| < 1/sqrt(c) is checked for sqrt(c)||v|| < 18 (tanh < 1 in float64),
    the projected one always."""
    gen = torch.Generator().manual_seed(seed)
    c = torch.tensor(cval, dtype=D)
    v = scale * torch.randn(n, d, dtype=D, generator=gen)
    x = _points(gen, n, d, 0.95 * torch.rand(n, dtype=D, generator=gen), c)
    y = _points(gen, n, d, 0.95 * torch.rand(n, dtype=D, generator=gen), c)
    w = torch.randn(n, d, dtype=D, generator=gen)
    tol = {"rtol": 1e-9, "atol": 1e-9 / cval**0.5}
    torch.testing.assert_close(hb.mobius_add(x, torch.zeros_like(x), c), x, **tol)
    torch.testing.assert_close(hb.mobius_add(-x, x, c), torch.zeros_like(x), **tol)
    e = hb.expmap0(v, c, project=False)
    small = c.sqrt() * v.norm(dim=-1) < 18  # beyond, tanh rounds to 1 in float64: use project
    assert bool((e.norm(dim=-1)[small] < 1 / c.sqrt()).all())
    assert bool((hb.expmap0(v, c).norm(dim=-1) < 1 / c.sqrt()).all())
    if scale * d**0.5 * cval**0.5 < 5:  # tanh not saturated: log0 can invert it
        torch.testing.assert_close(hb.logmap0(e, c), v, rtol=1e-8, atol=1e-12)
    torch.testing.assert_close(hb.expmap(x, hb.logmap(x, y, c), c), y, **tol)
    torch.testing.assert_close(
        hb.dist(x, y, c), hb.lambda_x(x, c) * hb.logmap(x, y, c).norm(dim=-1), **tol
    )
    u_v = hb.mobius_add(x, y, c, project=False)
    rhs = hb.mobius_add(
        -u_v,
        hb.mobius_add(x, hb.mobius_add(y, w * 0.1, c, project=False), c, project=False),
        c,
        project=False,
    )
    torch.testing.assert_close(hb.gyration(x, y, w * 0.1, c), rhs, rtol=1e-7, atol=1e-9)
    pv = hb.transp(x, y, w, c)
    torch.testing.assert_close(
        hb.lambda_x(y, c) * pv.norm(dim=-1), hb.lambda_x(x, c) * w.norm(dim=-1), **tol
    )


def test_midpoint_of_pairs() -> None:
    """The midpoint of {x, x} is x and of {x, −x} is 0 (float64, 1e-12), geoopt agreeing."""
    gen = torch.Generator().manual_seed(5)
    c = torch.tensor(1.3, dtype=D)
    x = _points(gen, 10, 4, 0.99 * torch.rand(10, dtype=D, generator=gen), c)
    pair = torch.stack([x, x])
    torch.testing.assert_close(
        hb.weighted_midpoint(pair, c, reduce_dim=0), x, rtol=1e-12, atol=1e-12
    )
    anti = torch.stack([x, -x])
    mid = hb.weighted_midpoint(anti, c, reduce_dim=0)
    torch.testing.assert_close(mid, torch.zeros_like(x), rtol=0, atol=1e-12)


def test_projection_margins() -> None:
    """project caps the norm at (1 - BALL_EPS[dtype])/sqrt(c) and leaves inner points alone."""
    for dtype in (torch.float32, torch.float64):
        c = 2.0
        x = torch.randn(50, 3, dtype=dtype) * 5
        p = hb.project(x, c)
        bound = (1 - hb.BALL_EPS[dtype]) / c**0.5
        assert float(p.norm(dim=-1).max()) <= bound * (1 + 4 * torch.finfo(dtype).eps)
        inner = x / x.norm(dim=-1, keepdim=True) * 0.5 / c**0.5
        torch.testing.assert_close(hb.project(inner, c), inner, rtol=0, atol=0)


def test_learnable_curvature_gets_a_gradient() -> None:
    """A learnable ball keeps c = softplus(raw) > 0 and passes a finite gradient to it."""
    ball = PoincareBall(0.5, learnable=True, dtype=D)
    assert abs(float(ball.c.detach()) - 0.5) < 1e-14
    x = hb.expmap0(torch.randn(6, 3, dtype=D), 0.5)
    y = hb.expmap0(torch.randn(6, 3, dtype=D), 0.5)
    ball.dist(x, y).sum().backward()
    assert ball.raw_c.grad is not None and bool(torch.isfinite(ball.raw_c.grad))


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), torch.tensor(-0.5)])
def test_bad_curvature(bad) -> None:
    """c <= 0 (or not finite) raises ValueError naming c."""
    with pytest.raises(ValueError, match=r"\bc must"):
        hb.expmap0(torch.ones(2, 3), bad)
    with pytest.raises(ValueError, match=r"\bc must"):
        PoincareBall(bad if not isinstance(bad, torch.Tensor) else float(bad))


def test_bad_curvature_type() -> None:
    with pytest.raises(TypeError, match=r"\bc must"):
        hb.logmap0(torch.zeros(2, 3), "one")


@pytest.mark.parametrize(
    "call",
    [
        lambda out, inn: hb.logmap0(out, 1.0),
        lambda out, inn: hb.mobius_add(inn, out, 1.0),
        lambda out, inn: hb.dist(out, inn, 1.0),
        lambda out, inn: hb.logmap(inn, out, 1.0),
        lambda out, inn: hb.lambda_x(out, 1.0),
        lambda out, inn: hb.weighted_midpoint(out, 1.0),
    ],
)
def test_points_outside_the_ball(call) -> None:
    """A point of norm >= 1/sqrt(c) raises ValueError naming the argument and the value."""
    out = torch.tensor([[0.3, 0.2], [1.0, 0.0]], dtype=D)
    inn = torch.tensor([[0.1, 0.2], [0.0, 0.3]], dtype=D)
    with pytest.raises(ValueError, match=r"(x|y) must lie inside the Poincaré ball.*got max"):
        call(out, inn)
