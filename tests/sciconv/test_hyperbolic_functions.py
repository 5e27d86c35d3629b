"""Custom autograd Functions (hand-derived backward) against gradcheck and plain autograd.

Tolerances: ``torch.autograd.gradcheck`` in float64 with its defaults (eps 1e-6, atol 1e-5,
rtol 1e-3) on inputs covering the series branch (tiny norms), the generic range, the
clamped/projected branch (large tangent vectors) and points near the boundary; values and
gradients equal the plain-autograd formulas of ``sciconv.hyperbolic.ball`` / ``fc`` to 1e-10
(relative, float64). In float32, forward and backward stay finite for points at norm
``(1 - eps)/sqrt(c)`` with eps = 4e-3 (the projection margin), 1e-5 and 1e-7.
"""

from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck

from sciconv.hyperbolic import fc
from sciconv.hyperbolic import functions as hf

D = torch.float64
C = torch.tensor(0.8, dtype=D)


def _ball_points(gen, n, d, radii, c=C, dtype=D):
    x = torch.randn(n, d, dtype=D, generator=gen)
    x = x / x.norm(dim=-1, keepdim=True) * radii[:, None] / c.double().sqrt()
    return x.to(dtype)


def _mixed_points(seed: int = 0, n: int = 8, d: int = 5) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    radii = torch.tensor([1e-6, 1e-3, 0.05, 0.3, 0.6, 0.9, 0.99, 1 - 1e-4], dtype=D)[:n]
    return _ball_points(gen, n, d, radii)


def _mixed_tangents(seed: int = 1, d: int = 5) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(8, d, dtype=D, generator=gen)
    scales = torch.tensor([1e-7, 1e-3, 0.02, 0.3, 1.0, 2.0, 4.0, 20.0], dtype=D)
    return u / u.norm(dim=-1, keepdim=True) * scales[:, None]


def _fc_args(seed: int = 2, n: int = 5, m: int = 4):
    gen = torch.Generator().manual_seed(seed)
    w = 0.6 * torch.randn(m, n, dtype=D, generator=gen)
    b = 0.3 * torch.randn(m, dtype=D, generator=gen)
    return w, b


CASES = {
    "log0": (lambda x: hf.Log0Function.apply(x, C, -1), lambda: (_mixed_points(),)),
    "exp0": (lambda u: hf.Exp0Function.apply(u, C, -1, None), lambda: (_mixed_tangents(),)),
    "exp0_projected": (
        lambda u: hf.Exp0Function.apply(u, C, -1, 1e-5),
        lambda: (_mixed_tangents(),),
    ),
    "project": (
        lambda x: hf.ProjectFunction.apply(x, C, -1, 1e-3),
        lambda: (_mixed_tangents(),),
    ),
    "mobius_add": (
        lambda x, y: hf.MobiusAddFunction.apply(x, y, C, -1),
        lambda: (_mixed_points(0), _mixed_points(5).flip(0)),
    ),
    "poincare_fc": (
        lambda x, w, b: fc.PoincareFCFunction.apply(x, w, b, C),
        lambda: (_mixed_points(0)[:7], *_fc_args()),
    ),
    "poincare_fc_nobias": (
        lambda x, w: fc.PoincareFCFunction.apply(x, w, None, C),
        lambda: (_mixed_points(3)[:7], _fc_args()[0]),
    ),
}

REFERENCES = {
    "log0": lambda x: hf.logmap0(x, C, manual_backward=False),
    "exp0": lambda u: hf.expmap0(u, C, project=False, manual_backward=False),
    "exp0_projected": lambda u: hf.project(
        hf.expmap0(u, C, project=False, manual_backward=False), C, eps=1e-5, manual_backward=False
    ),
    "project": lambda x: hf.project(x, C, eps=1e-3, manual_backward=False),
    "mobius_add": lambda x, y: hf.mobius_add(x, y, C, project=False, manual_backward=False),
    "poincare_fc": lambda x, w, b: hf.poincare_fc(x, w, b, C, manual_backward=False),
    "poincare_fc_nobias": lambda x, w: hf.poincare_fc(x, w, None, C, manual_backward=False),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name: str) -> None:
    """gradcheck (float64) of every custom Function over tiny, generic and near-boundary inputs."""
    fn, make = CASES[name]
    args = tuple(a.clone().requires_grad_() for a in make())
    assert gradcheck(fn, args)


@pytest.mark.parametrize("name", sorted(CASES))
def test_equals_plain_autograd(name: str) -> None:
    """Values and gradients of the custom Function equal plain autograd's to 1e-10 (float64)."""
    fn, make = CASES[name]
    a1 = tuple(a.clone().requires_grad_() for a in make())
    a2 = tuple(a.clone().requires_grad_() for a in make())
    y1, y2 = fn(*a1), REFERENCES[name](*a2)
    torch.testing.assert_close(y1, y2, rtol=1e-10, atol=1e-12)
    g = torch.randn(y1.shape, dtype=D, generator=torch.Generator().manual_seed(9))
    (y1 * g).sum().backward()
    (y2 * g).sum().backward()
    for p1, p2 in zip(a1, a2):
        torch.testing.assert_close(p1.grad, p2.grad, rtol=1e-10, atol=1e-10)


def test_fc_core_gradcheck_conv_layout() -> None:
    """The FC core (as PoincareConv2d calls it: vectors along dim 1, broadcast norms/offsets)."""
    gen = torch.Generator().manual_seed(4)
    a = torch.randn(3, 4, 2, 3, dtype=D, generator=gen).requires_grad_()
    usq = (0.9 * torch.rand(3, 1, 2, 3, dtype=D, generator=gen) / C).requires_grad_()
    nz = (0.2 + torch.rand(4, 1, 1, dtype=D, generator=gen)).requires_grad_()
    r = (0.3 * torch.randn(4, 1, 1, dtype=D, generator=gen)).requires_grad_()
    assert gradcheck(lambda *t: fc.FCCoreFunction.apply(*t, C, 1), (a, usq, nz, r))
    y1 = fc.FCCoreFunction.apply(a, usq, nz, r, C, 1)
    y2 = fc.poincare_fc_core_reference(a, usq, nz, r, C, 1)
    g1 = torch.autograd.grad(y1.sum(), (a, usq, nz, r))
    g2 = torch.autograd.grad(y2.sum(), (a, usq, nz, r))
    for p, q in zip(g1, g2):
        torch.testing.assert_close(p, q, rtol=1e-10, atol=1e-10)


def test_zero_orientation_has_finite_gradient() -> None:
    """A zero weight row (identity initialisation with more outputs than inputs) gets a finite,
    autograd-equal gradient: the factor ||z_k|| cancels in d y / d a."""
    x = _mixed_points(0)[2:6].requires_grad_()
    w = torch.zeros(6, 5, dtype=D)
    w[:5, :5] = 0.5 * torch.eye(5, dtype=D)
    w1, w2 = w.clone().requires_grad_(), w.clone().requires_grad_()
    g = torch.randn(4, 6, dtype=D, generator=torch.Generator().manual_seed(8))
    (hf.poincare_fc(x, w1, None, C) * g).sum().backward()
    g1 = w1.grad
    assert bool(torch.isfinite(g1).all()) and float(g1[5].abs().max()) > 0
    (hf.poincare_fc(x.detach(), w2, None, C, manual_backward=False) * g).sum().backward()
    torch.testing.assert_close(g1, w2.grad, rtol=1e-10, atol=1e-10)


def test_learnable_curvature_falls_back_to_autograd() -> None:
    """With c requiring a gradient the dispatchers use plain autograd and c gets a gradient."""
    c = torch.tensor(0.8, dtype=D, requires_grad=True)
    x = _mixed_points(0)
    y = hf.mobius_add(hf.expmap0(_mixed_tangents(), c), x, c)
    hf.logmap0(y, c).sum().backward()
    assert c.grad is not None and bool(torch.isfinite(c.grad))


@pytest.mark.parametrize("eps", [4e-3, 1e-5, 1e-7])
def test_float32_near_boundary_is_finite(eps: float) -> None:
    """float32 forward and backward of every Function at norm (1 - eps)/sqrt(c): no NaN or Inf."""
    c = torch.tensor(1.7, dtype=torch.float32)
    gen = torch.Generator().manual_seed(6)
    x = _ball_points(gen, 16, 8, torch.full((16,), 1 - eps, dtype=D), c, torch.float32)
    y = _ball_points(gen, 16, 8, torch.full((16,), 1 - eps, dtype=D), c, torch.float32)
    w = torch.randn(5, 8, generator=gen)
    b = 0.5 * torch.randn(5, generator=gen)
    xs = [t.clone().requires_grad_() for t in (x, y, w, b)]
    outs = [
        hf.logmap0(xs[0], c, check=False),
        hf.expmap0(100 * xs[0], c),
        hf.project(xs[0] * 2, c),
        hf.mobius_add(xs[0], xs[1], c, check=False),
        hf.mobius_add(xs[0], -xs[0], c, check=False),
        hf.poincare_fc(xs[0], xs[2], xs[3], c),
        hf.poincare_fc(xs[0], 30 * xs[2], xs[3], c),
    ]
    for out in outs:
        assert bool(torch.isfinite(out).all())
    sum(o.sum() for o in outs).backward()
    for t in xs:
        assert bool(torch.isfinite(t.grad).all())


def test_log0_series_matches_mpmath() -> None:
    """The small-norm branch of the log0/exp0 backward: h(n) against mpmath derivatives (1e-13)."""
    import mpmath

    c = torch.tensor(0.8, dtype=D)
    x = torch.zeros(6, 1, dtype=D)
    ns = [1e-7, 1e-4, 1e-2, 0.05, 0.1, 0.5]
    x[:, 0] = torch.tensor(ns, dtype=D)
    _, h_log = hf.Log0Function._coefficients(x, c, -1)
    _, h_exp, _ = hf.Exp0Function._coefficients(x, c, -1, None)
    with mpmath.workdps(40):
        s = mpmath.sqrt(mpmath.mpf(0.8))
        for i, n in enumerate(ns):
            n = mpmath.mpf(n)
            ref_log = mpmath.diff(lambda t: mpmath.atanh(s * t) / (s * t), n) / n
            ref_exp = mpmath.diff(lambda t: mpmath.tanh(s * t) / (s * t), n) / n
            assert abs(float(h_log[i, 0]) - float(ref_log)) <= 1e-13 * abs(float(ref_log))
            assert abs(float(h_exp[i, 0]) - float(ref_exp)) <= 1e-13 * abs(float(ref_exp))
