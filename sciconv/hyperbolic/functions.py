r"""Custom autograd Functions with hand-derived backward passes for the hot ball operations.

Each public function here takes ``manual_backward`` (default ``True``): with it, a
:class:`torch.autograd.Function` whose backward is written out below runs (it saves only its
inputs and recomputes the rest); without it, or when the curvature ``c`` requires a gradient,
the plain-autograd formulas of :mod:`sciconv.hyperbolic.ball` run instead. Both give the same
values; the tests check the gradients agree and pass ``gradcheck`` in float64.

Notes
-----
For a radial map :math:`y = f(\|x\|)\,x` (``expmap0``, ``logmap0``) the vector-Jacobian product
is :math:`\bar x = f\,\bar y + h\,\langle x,\bar y\rangle\,x` with :math:`h = f'(n)/n`:

* ``logmap0``: :math:`f = \operatorname{artanh}(sn)/(sn)`,
  :math:`h = (1/(1-cn^2) - f)/n^2 = c\sum_{k\ge1}\frac{2k}{2k+1}(cn^2)^{k-1}`;
* ``expmap0``: :math:`f = \tanh(sn)/(sn)`,
  :math:`h = (\operatorname{sech}^2(sn) - f)/n^2 = c(-\tfrac23+\tfrac8{15}u-\tfrac{34}{105}u^2
  +\tfrac{496}{2835}u^3-\dots)`, :math:`u = cn^2`;

the series are used for small :math:`cn^2` where the closed forms cancel. A clamped artanh or a
projected tanh makes :math:`f = \text{const}/n`, so :math:`h = -f/n^2` there.

Möbius addition :math:`x\oplus y = (Ax + By)/D` with :math:`A = 1+2c\langle x,y\rangle+c\|y\|^2`,
:math:`B = 1-c\|x\|^2`, :math:`D = 1+2c\langle x,y\rangle+c^2\|x\|^2\|y\|^2`:
:math:`\bar x = (A\bar y + 2c\langle\bar y,x\rangle y - 2c\langle\bar y,y\rangle x)/D
- \langle\bar y,x\oplus y\rangle(2cy + 2c^2\|y\|^2x)/D` and
:math:`\bar y = (B\bar y + 2c\langle\bar y,x\rangle(x+y))/D
- \langle\bar y,x\oplus y\rangle(2cx + 2c^2\|x\|^2y)/D`.

Projection to radius :math:`M`: :math:`\bar x = (M/n)(\bar y - \hat x\langle\hat x,\bar y\rangle)`
where it acts, :math:`\bar x = \bar y` elsewhere. The Poincaré fully connected map is in
:mod:`sciconv.hyperbolic.fc`.

References
----------
van Spengler, Berkhout and Mettes, "Poincaré ResNet", ICCV 2023. arXiv:2303.14027 (manual backward
derivations of the core hyperbolic operations).

Ganea, Bécigneul and Hofmann, "Hyperbolic Neural Networks", NeurIPS 2018. arXiv:1805.09112.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from . import ball
from .ball import BALL_EPS, _floor, as_curvature, check_in_ball
from .fc import poincare_fc, poincare_fc_core

__all__ = [
    "Exp0Function",
    "Log0Function",
    "MobiusAddFunction",
    "ProjectFunction",
    "expmap0",
    "logmap0",
    "mobius_add",
    "poincare_fc",
    "poincare_fc_core",
    "project",
]

_MIN_NORM = 1e-15
_LOG0_SERIES = [2 * k / (2 * k + 1) for k in range(1, 9)]
_EXP0_SERIES = [-2 / 3, 8 / 15, -34 / 105, 496 / 2835]


def _poly(u: Tensor, coeffs: list[float]) -> Tensor:
    out = torch.full_like(u, coeffs[-1])
    for a in reversed(coeffs[:-1]):
        out = out * u + a
    return out


def _norm(x: Tensor, dim: int) -> Tensor:
    # sum of squares + sqrt: as accurate as Tensor.norm here and much faster on CPU along dim 1
    return _floor(x.pow(2).sum(dim=dim, keepdim=True).sqrt())


def _use_autograd(c: Tensor, manual_backward: bool) -> bool:
    return (not manual_backward) or (c.requires_grad and torch.is_grad_enabled())


def _margin(x: Tensor) -> float:
    return BALL_EPS.get(x.dtype, 4e-3)


class Log0Function(torch.autograd.Function):
    """``logmap0`` along ``dim`` with the backward of the module Notes."""

    @staticmethod
    def _coefficients(x: Tensor, c: Tensor, dim: int) -> tuple[Tensor, Tensor]:
        s = c.sqrt()
        e = torch.finfo(x.dtype).eps
        n = _norm(x, dim)
        z = s * n
        clamped = z >= 1 - e
        f = torch.atanh(z.clamp(max=1 - e)) / z
        u = c * n * n
        h_closed = (1 / (1 - u).clamp_min(e) - f) / (n * n)
        h = torch.where(u < 1e-2, c * _poly(u, _LOG0_SERIES), h_closed)
        h = torch.where(clamped, -f / (n * n), h)
        return f, h

    @staticmethod
    def forward(ctx: Any, x: Tensor, c: Tensor, dim: int) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, c)
        ctx.dim = dim
        s = c.sqrt()
        e = torch.finfo(x.dtype).eps
        n = _norm(x, dim)
        return (x / (n * s)) * torch.atanh((s * n).clamp(-1 + e, 1 - e))

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, None, None]:  # type: ignore[override]
        x, c = ctx.saved_tensors
        f, h = Log0Function._coefficients(x, c, ctx.dim)
        return f * g + h * (x * g).sum(dim=ctx.dim, keepdim=True) * x, None, None


class Exp0Function(torch.autograd.Function):
    """``expmap0`` along ``dim`` (optionally projected) with the backward of the module Notes."""

    @staticmethod
    def _coefficients(
        u: Tensor, c: Tensor, dim: int, margin: float | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        s = c.sqrt()
        n = _norm(u, dim)
        z = s * n
        t = torch.tanh(z)
        if margin is None:
            clamped = torch.zeros_like(t, dtype=torch.bool)
        else:
            clamped = t > 1 - margin
            t = t.clamp(max=1 - margin)
        f = t / z
        w = c * n * n
        h_closed = ((1 - t) * (1 + t) - f) / (n * n)
        h = torch.where(w < 1e-3, c * _poly(w, _EXP0_SERIES), h_closed)
        h = torch.where(clamped, -f / (n * n), h)
        return f, h, n

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, u: Tensor, c: Tensor, dim: int, margin: float | None
    ) -> Tensor:
        ctx.save_for_backward(u, c)
        ctx.dim, ctx.margin = dim, margin
        s = c.sqrt()
        n = _norm(u, dim)
        t = torch.tanh(s * n)
        if margin is not None:
            t = t.clamp(max=1 - margin)
        return t * (u / (s * n))

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, None, None, None]:  # type: ignore[override]
        u, c = ctx.saved_tensors
        f, h, _ = Exp0Function._coefficients(u, c, ctx.dim, ctx.margin)
        return f * g + h * (u * g).sum(dim=ctx.dim, keepdim=True) * u, None, None, None


class ProjectFunction(torch.autograd.Function):
    """Radial projection to norm ``(1 - margin)/sqrt(c)`` with the backward of the Notes."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, c: Tensor, dim: int, margin: float) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, c)
        ctx.dim, ctx.margin = dim, margin
        m = (1 - margin) / c.sqrt()
        n = _norm(x, dim)
        return torch.where(n > m, x / n * m, x)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, None, None, None]:  # type: ignore[override]
        x, c = ctx.saved_tensors
        m = (1 - ctx.margin) / c.sqrt()
        n = _norm(x, ctx.dim)
        xh = x / n
        gp = (m / n) * (g - xh * (xh * g).sum(dim=ctx.dim, keepdim=True))
        return torch.where(n > m, gp, g), None, None, None


class MobiusAddFunction(torch.autograd.Function):
    """Möbius addition along ``dim`` with the backward of the module Notes."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, y: Tensor, c: Tensor, dim: int) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, y, c)
        ctx.dim = dim
        return ball._mobius_add(x, y, c, dim)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, Tensor | None, None, None]:  # type: ignore[override]
        x, y, c = ctx.saved_tensors
        d = ctx.dim

        def dot(a: Tensor, b: Tensor) -> Tensor:
            return (a * b).sum(dim=d, keepdim=True)

        x2, y2, xy = dot(x, x), dot(y, y), dot(x, y)
        a = 1 + 2 * c * xy + c * y2
        b = 1 - c * x2
        den = _floor(1 + 2 * c * xy + c**2 * x2 * y2)
        out = (a * x + b * y) / den
        gx, gy, go = dot(g, x), dot(g, y), dot(g, out)
        grad_x = (
            a * g + 2 * c * gx * y - 2 * c * gy * x - go * (2 * c * y + 2 * c**2 * y2 * x)
        ) / den
        grad_y = (b * g + 2 * c * gx * (x + y) - go * (2 * c * x + 2 * c**2 * x2 * y)) / den
        grad_x = grad_x.sum_to_size(x.shape) if grad_x.shape != x.shape else grad_x
        grad_y = grad_y.sum_to_size(y.shape) if grad_y.shape != y.shape else grad_y
        return grad_x, grad_y, None, None


def project(
    x: Tensor, c: Any, dim: int = -1, eps: float | None = None, *, manual_backward: bool = True
) -> Tensor:
    """Projection into the ball (see :func:`sciconv.hyperbolic.ball.project`)."""
    c = as_curvature(c, x)
    if _use_autograd(c, manual_backward):
        return ball._project(x, c, dim, eps)
    return ProjectFunction.apply(x, c, dim, _margin(x) if eps is None else eps)


def expmap0(
    u: Tensor, c: Any, dim: int = -1, project: bool = True, *, manual_backward: bool = True
) -> Tensor:
    """Exponential map at the origin; with ``project`` the norm is capped at (1-eps)/sqrt(c)."""
    c = as_curvature(c, u)
    if _use_autograd(c, manual_backward):
        return ball.expmap0(u, c, dim, project)
    return Exp0Function.apply(u, c, dim, _margin(u) if project else None)


def logmap0(
    y: Tensor, c: Any, dim: int = -1, check: bool = True, *, manual_backward: bool = True
) -> Tensor:
    """Logarithmic map at the origin (``y`` must lie in the ball when ``check``)."""
    c = as_curvature(c, y)
    if check:
        check_in_ball("y", y, c, dim)
    if _use_autograd(c, manual_backward):
        return ball.logmap0(y, c, dim, check=False)
    return Log0Function.apply(y, c, dim)


def mobius_add(
    x: Tensor,
    y: Tensor,
    c: Any,
    dim: int = -1,
    project: bool = True,
    check: bool = True,
    *,
    manual_backward: bool = True,
) -> Tensor:
    """Möbius addition ``x ⊕ y`` (optionally projected)."""
    c = as_curvature(c, x)
    if check:
        check_in_ball("x", x, c, dim)
        check_in_ball("y", y, c, dim)
    if _use_autograd(c, manual_backward):
        return ball.mobius_add(x, y, c, dim, project, check=False)
    out = MobiusAddFunction.apply(x, y, c, dim)
    return ProjectFunction.apply(out, c, dim, _margin(out)) if project else out
