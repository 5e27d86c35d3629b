r"""The Poincaré fully connected map of HNN++, with a hand-derived backward.

Notes
-----
For a point :math:`x` of the ball, hyperplane orientations :math:`z_k` and offsets :math:`r_k`
(:math:`s=\sqrt c`, :math:`\lambda=2/(1-c\|x\|^2)`), the signed distances and the output are

.. math::

    v_k = \frac{2\|z_k\|}{s}\operatorname{arsinh}(q_k),\quad
    q_k = s\lambda\frac{\langle x,z_k\rangle}{\|z_k\|}\cosh(2sr_k) - (\lambda-1)\sinh(2sr_k),

    w_k = \sinh(s v_k)/s,\qquad y = \frac{w}{1+\sqrt{1+c\|w\|^2}}.

The map only sees :math:`x` through :math:`a_k=\langle x,z_k\rangle` and :math:`\|x\|^2`, so the
*core* takes :math:`(a, \|x\|^2, \|z\|, r)`; a convolution supplies :math:`a` from ``conv2d``.
With :math:`t=\sinh(sv)` (clamped to :math:`|sv|\le\log(\text{max})-2`),
:math:`S=\sqrt{1+\|t\|^2}` and :math:`\mu=\max(\max_k|t_k|,1)`, :math:`y=(t/\mu)/(s(1/\mu+S/\mu))`
never overflows. Backward, with :math:`\bar y` given and :math:`\gamma=\langle\bar y,y\rangle`:

.. math::

    \overline{sv} = \Big[\bar y\frac{\cosh(sv)}{1+S} - s\gamma\frac{t\cosh(sv)}{S(1+S)}\Big]/s,\quad
    \bar a = \overline{sv}\,\frac{2s\lambda\cosh(2sr)}{\sqrt{1+q^2}},

    \overline{\|z\|} = \overline{sv}\Big(2\operatorname{arsinh} q
    - \frac{2s\lambda\cosh(2sr)\,a/\|z\|}{\sqrt{1+q^2}}\Big),\quad
    \bar r = \overline{sv}\,\frac{4c\lambda a\sinh(2sr) - 4s\|z\|(\lambda-1)\cosh(2sr)}
    {\sqrt{1+q^2}},

    \overline{\|x\|^2} = \frac{c\lambda^2}{2}\sum_k \overline{sv}_k\,
    \frac{2\|z_k\|(s\,a_k\cosh(2sr_k)/\|z_k\| - \sinh(2sr_k))}{\sqrt{1+q_k^2}}.

The factor :math:`\|z_k\|` cancels in :math:`\bar a`, so a zero column (identity initialisation)
has a finite gradient.

References
----------
Shimizu, Mukuta and Harada, "Hyperbolic Neural Networks++", ICLR 2021. arXiv:2006.08210.

van Spengler, Berkhout and Mettes, "Poincaré ResNet", ICCV 2023. arXiv:2303.14027 (manual backward
passes of the hyperbolic operations).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from .ball import _floor, as_curvature

__all__ = [
    "FCCoreFunction",
    "PoincareFCFunction",
    "hyperplane_dists",
    "poincare_fc",
    "poincare_fc_core",
]

_MIN_NORM = 1e-15


def _asinh(q: Tensor) -> Tensor:
    """arsinh as log1p(|q| + q^2/(1 + sqrt(1 + q^2))): accurate, and much faster than
    torch.asinh on CPU; used inside the Functions only (its autograd is 0 at q = 0)."""
    a = q.abs()
    return torch.copysign(torch.log1p(a + a * (a / (1 + torch.hypot(torch.ones_like(a), a)))), q)


def _lam(usq: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    e = torch.finfo(usq.dtype).eps
    den = 1 - c * usq
    return 2 / den.clamp_min(e), den > e


def _q(a: Tensor, usq: Tensor, nz: Tensor, r: Tensor | None, c: Tensor):
    s = c.sqrt()
    lam, free = _lam(usq, c)
    if r is None:
        ch, sh = torch.ones_like(nz), torch.zeros_like(nz)
    else:
        ch, sh = torch.cosh(2 * s * r), torch.sinh(2 * s * r)
    q = s * lam * (a / nz) * ch - (lam - 1) * sh
    return q, lam, free, ch, sh


def _vmax(dtype: torch.dtype) -> float:
    return math.log(torch.finfo(dtype).max) - 2.0


def _core_forward(a, usq, nz, r, c, dim, asinh=torch.asinh):
    q, lam, free, ch, sh = _q(a, usq, nz, r, c)
    vm = _vmax(a.dtype)
    sv_raw = 2 * nz * asinh(q)
    sv = sv_raw.clamp(-vm, vm)
    t = torch.sinh(sv)
    mu = t.detach().abs().amax(dim=dim, keepdim=True).clamp_min(1.0)
    tm = t / mu
    ssc = (1 / mu**2 + tm.pow(2).sum(dim=dim, keepdim=True)).sqrt()
    y = tm / (c.sqrt() * (1 / mu + ssc))
    return y, (q, lam, free, ch, sh, sv_raw, sv, mu, tm, ssc)


def poincare_fc_core_reference(
    a: Tensor, usq: Tensor, nz: Tensor, r: Tensor | None, c: Tensor, dim: int = -1
) -> Tensor:
    """The core map in plain autograd (the reference for :class:`FCCoreFunction`)."""
    return _core_forward(a, usq, nz, r, c, dim)[0]


def _core_backward(g, a, usq, nz, r, c, dim):
    s = c.sqrt()
    y, (q, lam, free, ch, sh, sv_raw, sv, mu, tm, ssc) = _core_forward(
        a, usq, nz, r, c, dim, _asinh
    )
    vm = _vmax(a.dtype)
    den = 1 / mu + ssc
    cosh_m = torch.cosh(sv) / mu
    gam = (g * y).sum(dim=dim, keepdim=True)
    gsv = (g * cosh_m / den - s * gam * tm * cosh_m / (ssc * den)) / s
    gsv = torch.where(sv_raw.abs() <= vm, gsv, torch.zeros_like(gsv))
    hyp = torch.hypot(torch.ones_like(q), q)
    k = gsv * 2 / hyp  # d(sv)/dq = 2 nz / hyp; the nz is applied per term below
    ga = k * s * lam * ch
    gnz = gsv * sv_raw / nz - k * s * lam * ch * (a / nz)
    glam = k * nz * (s * (a / nz) * ch - sh)
    gusq = (glam * c * lam**2 / 2).sum(dim=dim, keepdim=True)
    gusq = torch.where(free, gusq, torch.zeros_like(gusq))
    gr = None
    if r is not None:
        gr = k * (2 * c * lam * a * sh - 2 * s * nz * (lam - 1) * ch)
    return ga, gusq, gnz, gr


class FCCoreFunction(torch.autograd.Function):
    """The core map ``(a, ||x||^2, ||z||, r) -> y`` with the backward of the module Notes."""

    @staticmethod
    def forward(ctx: Any, a, usq, nz, r, c, dim):  # type: ignore[override]
        ctx.save_for_backward(a, usq, nz, r, c)
        ctx.dim = dim
        return _core_forward(a, usq, nz, r, c, dim, _asinh)[0]

    @staticmethod
    def backward(ctx: Any, g):  # type: ignore[override]
        a, usq, nz, r, c = ctx.saved_tensors
        ga, gusq, gnz, gr = _core_backward(g, a, usq, nz, r, c, ctx.dim)
        gusq = gusq.sum_to_size(usq.shape) if ctx.needs_input_grad[1] else None
        gnz = gnz.sum_to_size(nz.shape) if ctx.needs_input_grad[2] else None
        if gr is not None and ctx.needs_input_grad[3]:
            gr = gr.sum_to_size(r.shape)
        else:
            gr = None
        return ga.sum_to_size(a.shape), gusq, gnz, gr, None, None


class PoincareFCFunction(torch.autograd.Function):
    """Poincaré FC ``x (..., n) -> y (..., m)`` for ``weight (m, n)``, ``bias (m,)`` or None."""

    @staticmethod
    def forward(ctx: Any, x, weight, bias, c):  # type: ignore[override]
        ctx.save_for_backward(x, weight, bias, c)
        a = x @ weight.t()
        usq = x.pow(2).sum(dim=-1, keepdim=True)
        nz = _floor(weight.norm(dim=1))
        return _core_forward(a, usq, nz, bias, c, -1, _asinh)[0]

    @staticmethod
    def backward(ctx: Any, g):  # type: ignore[override]
        x, weight, bias, c = ctx.saved_tensors
        a = x @ weight.t()
        usq = x.pow(2).sum(dim=-1, keepdim=True)
        nzr = weight.norm(dim=1)
        nz = _floor(nzr)
        ga, gusq, gnz, gr = _core_backward(g, a, usq, nz, bias, c, -1)
        gx = ga @ weight + 2 * gusq * x
        ga2, x2 = ga.reshape(-1, ga.shape[-1]), x.reshape(-1, x.shape[-1])
        gnz = gnz.reshape(-1, gnz.shape[-1]).sum(0)
        gnz = torch.where(nzr > _MIN_NORM, gnz, torch.zeros_like(gnz))
        gw = ga2.t() @ x2 + (gnz / nz)[:, None] * weight
        gb = gr.reshape(-1, gr.shape[-1]).sum(0) if gr is not None else None
        return gx, gw, gb, None


def _use_autograd(c: Tensor, manual_backward: bool) -> bool:
    return (not manual_backward) or (c.requires_grad and torch.is_grad_enabled())


def poincare_fc_core(
    a: Tensor,
    usq: Tensor,
    nz: Tensor,
    bias: Tensor | None,
    c: Any,
    dim: int = -1,
    *,
    manual_backward: bool = True,
) -> Tensor:
    """The Poincaré FC map from ``a = <x, z_k>`` (along ``dim``), ``usq = ||x||^2`` (size 1
    along ``dim``), ``nz = ||z_k||`` and offsets ``bias`` (broadcastable to ``a``).

    A convolution supplies ``a`` from ``conv2d`` (:class:`~sciconv.hyperbolic.PoincareConv2d`
    calls it with ``dim=1``).

    Examples
    --------
    >>> import torch
    >>> from sciconv.hyperbolic import poincare_fc, poincare_fc_core
    >>> _ = torch.manual_seed(0)
    >>> x = 0.2 * torch.randn(5, 3, dtype=torch.float64)
    >>> w = torch.randn(2, 3, dtype=torch.float64)
    >>> a = x @ w.T
    >>> usq = x.pow(2).sum(-1, keepdim=True)
    >>> y = poincare_fc_core(a, usq, w.norm(dim=1), None, 1.0)
    >>> torch.allclose(y, poincare_fc(x, w, None, 1.0))
    True
    """
    c = as_curvature(c, a)
    if _use_autograd(c, manual_backward):
        return poincare_fc_core_reference(a, usq, nz, bias, c, dim)
    return FCCoreFunction.apply(a, usq, nz, bias, c, dim)


def poincare_fc(
    x: Tensor, weight: Tensor, bias: Tensor | None, c: Any, *, manual_backward: bool = True
) -> Tensor:
    """The HNN++ Poincaré fully connected map on the last dimension of ``x``.

    ``weight`` has shape ``(out_features, in_features)`` (rows are the orientations ``z_k``)
    and ``bias`` shape ``(out_features,)`` (the offsets ``r_k``) or is ``None``.

    Examples
    --------
    The orientations :math:`z_k = e_k / 2` without offsets give the identity; any map sends the
    ball into the ball:

    >>> import torch
    >>> from sciconv.hyperbolic import poincare_fc
    >>> _ = torch.manual_seed(0)
    >>> x = 0.2 * torch.randn(5, 3, dtype=torch.float64)
    >>> torch.allclose(poincare_fc(x, 0.5 * torch.eye(3, dtype=torch.float64), None, 1.0), x)
    True
    >>> w, r = torch.randn(4, 3, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    >>> y = poincare_fc(x, w, r, c=1.0)
    >>> y.shape, bool((y.norm(dim=-1) < 1).all())
    (torch.Size([5, 4]), True)
    """
    c = as_curvature(c, x)
    if _use_autograd(c, manual_backward):
        a = x @ weight.t()
        usq = x.pow(2).sum(dim=-1, keepdim=True)
        nz = _floor(weight.norm(dim=1))
        return poincare_fc_core_reference(a, usq, nz, bias, c, -1)
    return PoincareFCFunction.apply(x, weight, bias, c)


def hyperplane_dists(x: Tensor, weight: Tensor, bias: Tensor | None, c: Any) -> Tensor:
    r"""Signed distances ``v_k(x)`` to the HNN++ hyperplanes (the logits of hyperbolic MLR).

    ``v_k`` is :math:`2\|z_k\|` times the geodesic distance to the hyperplane with normal
    :math:`z_k` and offset :math:`r_k`, signed by the side of :math:`x`.

    Examples
    --------
    For the hyperplane through the origin with normal :math:`z = e_1 / 2`, a point on the
    :math:`e_1` axis is at its distance from the origin, :math:`2\operatorname{artanh}|x|`:

    >>> import math
    >>> import torch
    >>> from sciconv.hyperbolic import hyperplane_dists
    >>> z = torch.tensor([[0.5, 0.0]], dtype=torch.float64)
    >>> x = torch.tensor([[0.5, 0.0], [-0.5, 0.0], [0.0, 0.3]], dtype=torch.float64)
    >>> v = hyperplane_dists(x, z, None, c=1.0)
    >>> [round(t, 6) for t in v[:, 0].tolist()]
    [1.098612, -1.098612, 0.0]
    >>> round(2 * math.atanh(0.5), 6)
    1.098612
    """
    c = as_curvature(c, x)
    a = x @ weight.t()
    usq = x.pow(2).sum(dim=-1, keepdim=True)
    nz = _floor(weight.norm(dim=1))
    q = _q(a, usq, nz, bias, c)[0]
    return 2 * nz / c.sqrt() * torch.asinh(q)
