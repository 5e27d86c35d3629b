r"""The Poincaré ball of curvature :math:`-c` (:math:`c > 0`): gyrovector operations.

Every function here is plain torch (autograd differentiates it, also with respect to a
learnable curvature) and follows the formulas of geoopt's ``PoincareBall`` (the gyrovector
calculus of Ungar as used by Ganea et al.), so that the two agree to rounding. The hand-derived
backward passes of the hot operations live in :mod:`sciconv.hyperbolic.functions`.

Notes
-----
With :math:`\sqrt c` written :math:`s` and :math:`\langle\cdot,\cdot\rangle` the Euclidean
inner product over ``dim``:

* Möbius addition :math:`x\oplus y = \frac{(1+2c\langle x,y\rangle+c\|y\|^2)x
  +(1-c\|x\|^2)y}{1+2c\langle x,y\rangle+c^2\|x\|^2\|y\|^2}`;
* scalar multiplication :math:`r\otimes x=\tanh(r\,\operatorname{artanh}(s\|x\|))\,x/(s\|x\|)`;
* conformal factor :math:`\lambda_x = 2/(1-c\|x\|^2)`;
* :math:`\exp_0(u)=\tanh(s\|u\|)\,u/(s\|u\|)`, :math:`\log_0(y)=\operatorname{artanh}(s\|y\|)
  \,y/(s\|y\|)`; :math:`\exp_x(u)=x\oplus\tanh(s\lambda_x\|u\|/2)\,u/(s\|u\|)`,
  :math:`\log_x(y)=\frac{2}{s\lambda_x}\operatorname{artanh}(s\|w\|)\,w/\|w\|` with
  :math:`w=(-x)\oplus y`;
* distance :math:`d(x,y)=\frac2s\operatorname{artanh}(s\|(-x)\oplus y\|)`;
* gyration :math:`\operatorname{gyr}[u,v]w=\ominus(u\oplus v)\oplus(u\oplus(v\oplus w))`
  (closed form below) and parallel transport :math:`P_{x\to y}(v)=\operatorname{gyr}[y,-x]v\;
  \lambda_x/\lambda_y`;
* the gyromidpoint :math:`m=\tfrac12\otimes\frac{\sum_i w_i\lambda_{x_i}x_i}
  {\sum_i w_i(\lambda_{x_i}-1)}` (Ungar), which is the Einstein midpoint mapped to the ball.

Projection keeps points at norm at most :math:`(1-\varepsilon)/s`, with the dtype-aware
margin ``BALL_EPS`` (geoopt's values: 4e-3 in float32, 1e-5 in float64); ``artanh`` clamps
its argument to :math:`1-\text{eps}(\text{dtype})` and norms are clamped below at 1e-15.

References
----------
Ganea, Bécigneul and Hofmann, "Hyperbolic Neural Networks", NeurIPS 2018. arXiv:1805.09112.

Ungar, "Analytic Hyperbolic Geometry: Mathematical Foundations and Applications", World Scientific,
2005 (gyrovector spaces, Möbius addition and scalar multiplication, gyration).

Ungar, "Barycentric Calculus in Euclidean and Hyperbolic Geometry: A Comparative Introduction",
World Scientific, 2010 (the gyromidpoint).
"""

from __future__ import annotations

import numbers
from typing import Any

import torch
from torch import Tensor

from ..validation import check_finite, checking_values, describe, require, traced

__all__ = [
    "BALL_EPS",
    "artanh",
    "as_curvature",
    "check_in_ball",
    "check_tangent",
    "dist",
    "expmap",
    "expmap0",
    "gyration",
    "lambda_x",
    "logmap",
    "logmap0",
    "mobius_add",
    "mobius_scalar_mul",
    "project",
    "transp",
    "weighted_midpoint",
]

#: Relative margin kept from the boundary by :func:`project`, per dtype.
BALL_EPS: dict[torch.dtype, float] = {
    torch.float16: 1e-2,
    torch.bfloat16: 2e-2,
    torch.float32: 4e-3,
    torch.float64: 1e-5,
}
_MIN_NORM = 1e-15


def _refuse_curvature(c: Any, dtype: torch.dtype) -> None:
    if isinstance(c, numbers.Real) and 0 < float(c) < float("inf"):
        limit = torch.finfo(dtype).max ** 0.5
        raise ValueError(
            f"c must be a curvature whose square is finite in {dtype} (c < {limit:.4g}), got {c!r}"
        )
    raise ValueError(f"c must be a finite curvature > 0, got {c!r}")


def as_curvature(c: Any, like: Tensor | None = None) -> Tensor:
    """Check ``c > 0`` and return it as a tensor (on ``like``'s device and dtype if given).

    Examples
    --------
    >>> import torch
    >>> from sciconv.hyperbolic import as_curvature
    >>> as_curvature(0.5)
    tensor(0.5000, dtype=torch.float64)
    >>> as_curvature(2, like=torch.zeros(3)).dtype
    torch.float32
    >>> as_curvature(torch.tensor([1.0])).shape  # a one-element tensor becomes 0-dim
    torch.Size([])
    >>> as_curvature(0.0)
    Traceback (most recent call last):
        ...
    ValueError: c must be a finite curvature > 0, got 0.0
    """
    if isinstance(c, Tensor):
        if c.numel() != 1:
            raise ValueError(f"c must be a positive scalar curvature, got {describe(c)}")
        # one sync: c**2 finite (Möbius addition uses it; beyond sqrt(max) all is NaN) and c > 0
        cd = c.detach()
        ok = torch.isfinite(cd * cd) & (cd > 0)
        if traced(cd) or not checking_values():
            require(ok, "c must be a finite curvature > 0 whose square is finite")
        elif not bool(ok.all()):
            _refuse_curvature(cd.item(), cd.dtype)
        out = c.reshape(())
    elif isinstance(c, numbers.Real) and not isinstance(c, bool):
        if not (float(c) > 0 and float(c) * float(c) < float("inf")):
            _refuse_curvature(c, torch.float64)
        out = torch.tensor(float(c), dtype=torch.float64)
    else:
        raise TypeError(f"c must be a positive float or a scalar tensor, got {describe(c)}")
    if like is not None:
        out = out.to(device=like.device, dtype=like.dtype)
    return out


def check_in_ball(name: str, x: Tensor, c: Tensor, dim: int = -1) -> None:
    """Raise ``ValueError`` unless every point of ``x`` (along ``dim``) has norm < 1/sqrt(c).

    Examples
    --------
    >>> import torch
    >>> from sciconv.hyperbolic import as_curvature, check_in_ball
    >>> c = as_curvature(1.0)
    >>> check_in_ball("x", torch.tensor([[0.5, 0.5]]), c)  # inside: returns None
    >>> check_in_ball("x", torch.tensor([[0.8, 0.8]]), c)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: x must lie inside the Poincaré ball (c*||x||^2 < 1 along dim -1), got max ...
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {describe(x)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {describe(x)}")
    if x.numel() == 0:
        return
    sq = (c.detach() * x.detach().pow(2).sum(dim=dim)).max()
    require(
        sq < 1,
        f"{name} must lie inside the Poincaré ball (c*||{name}||^2 < 1 along dim {dim})",
        lambda: f"got max c*||{name}||^2 = {float(sq):.6g} in {describe(x)}",
    )


def _floor(t: Tensor) -> Tensor:
    """``t`` clamped below at ``_MIN_NORM``, or at the dtype's smallest normal number where
    ``_MIN_NORM`` underflows to 0 (float16: the origin's norm then gave 0/0 = NaN)."""
    return t.clamp_min(max(_MIN_NORM, torch.finfo(t.dtype).tiny))


def _norm(x: Tensor, dim: int) -> Tensor:
    return _floor(x.norm(dim=dim, keepdim=True, p=2))


def _dot(x: Tensor, y: Tensor, dim: int) -> Tensor:
    return (x * y).sum(dim=dim, keepdim=True)


def artanh(x: Tensor) -> Tensor:
    """``artanh`` with its argument clamped to ``[-1 + eps, 1 - eps]`` (eps of the dtype)."""
    e = torch.finfo(x.dtype).eps
    return torch.atanh(x.clamp(-1 + e, 1 - e))


def project(x: Tensor, c: Any, dim: int = -1, eps: float | None = None) -> Tensor:
    """Pull points of norm above ``(1 - eps)/sqrt(c)`` radially back to that norm."""
    c = as_curvature(c, x)
    return _project(x, c, dim, eps)


def _project(x: Tensor, c: Tensor, dim: int = -1, eps: float | None = None) -> Tensor:
    e = BALL_EPS.get(x.dtype, 4e-3) if eps is None else eps
    maxnorm = (1 - e) / c.sqrt()
    norm = _norm(x, dim)
    return torch.where(norm > maxnorm, x / norm * maxnorm, x)


def lambda_x(x: Tensor, c: Any, dim: int = -1, keepdim: bool = False, check: bool = True) -> Tensor:
    """Conformal factor ``2 / (1 - c ||x||^2)``."""
    c = as_curvature(c, x)
    if check:
        check_in_ball("x", x, c, dim)
    return _lambda(x, c, dim, keepdim)


def _lambda(x: Tensor, c: Tensor, dim: int = -1, keepdim: bool = True) -> Tensor:
    e = torch.finfo(x.dtype).eps
    return 2 / (1 - c * x.pow(2).sum(dim=dim, keepdim=keepdim)).clamp_min(e)


def mobius_add(
    x: Tensor, y: Tensor, c: Any, dim: int = -1, project: bool = True, check: bool = True
) -> Tensor:
    """Möbius addition ``x ⊕ y``."""
    c = as_curvature(c, x)
    if check:
        check_in_ball("x", x, c, dim)
        check_in_ball("y", y, c, dim)
    out = _mobius_add(x, y, c, dim)
    return _project(out, c, dim) if project else out


def _mobius_add(x: Tensor, y: Tensor, c: Tensor, dim: int = -1) -> Tensor:
    x2 = x.pow(2).sum(dim=dim, keepdim=True)
    y2 = y.pow(2).sum(dim=dim, keepdim=True)
    xy = _dot(x, y, dim)
    num = (1 + 2 * c * xy + c * y2) * x + (1 - c * x2) * y
    den = 1 + 2 * c * xy + c**2 * x2 * y2
    return num / _floor(den)


def mobius_scalar_mul(
    r: Tensor | float, x: Tensor, c: Any, dim: int = -1, project: bool = True, check: bool = True
) -> Tensor:
    """Möbius scalar multiplication ``r ⊗ x``."""
    c = as_curvature(c, x)
    if check:
        check_in_ball("x", x, c, dim)
    s = c.sqrt()
    xn = _norm(x, dim)
    out = torch.tanh(r * artanh(s * xn)) * (x / (xn * s))
    return _project(out, c, dim) if project else out


def check_tangent(name: str, u: Tensor) -> None:
    """Raise unless ``u`` is a floating-point tensor of finite tangent vectors.

    Examples
    --------
    >>> import torch
    >>> from sciconv.hyperbolic.ball import check_tangent
    >>> check_tangent("u", torch.tensor([[0.5, 3.0]]))  # any finite vector: returns None
    >>> check_tangent("u", torch.tensor([float("nan"), 0.0]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: u must be finite, got NaN or infinity in Tensor of shape (2,) ...
    """
    if not isinstance(u, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {describe(u)}")
    if not (u.is_floating_point() or u.is_complex()):
        raise TypeError(f"{name} must be a floating-point tensor, got {describe(u)}")
    check_finite(name, u)


def expmap0(u: Tensor, c: Any, dim: int = -1, project: bool = True, check: bool = True) -> Tensor:
    """Exponential map at the origin, ``tanh(sqrt(c)||u||) u / (sqrt(c)||u||)``.

    With ``check`` (default), ``u`` must be finite (``ValueError`` for NaN or infinity, as
    :func:`logmap0` refuses points outside the ball) — a host sync per call.
    """
    if check:
        check_tangent("u", u)
    c = as_curvature(c, u)
    s = c.sqrt()
    un = _norm(u, dim)
    out = torch.tanh(s * un) * (u / (s * un))
    return _project(out, c, dim) if project else out


def logmap0(y: Tensor, c: Any, dim: int = -1, check: bool = True) -> Tensor:
    """Logarithmic map at the origin, ``artanh(sqrt(c)||y||) y / (sqrt(c)||y||)``."""
    c = as_curvature(c, y)
    if check:
        check_in_ball("y", y, c, dim)
    s = c.sqrt()
    yn = _norm(y, dim)
    return (y / (yn * s)) * artanh(s * yn)


def expmap(
    x: Tensor, u: Tensor, c: Any, dim: int = -1, project: bool = True, check: bool = True
) -> Tensor:
    """Exponential map at ``x`` (with ``check``: ``x`` in the ball, ``u`` finite)."""
    c = as_curvature(c, x)
    if check:
        check_in_ball("x", x, c, dim)
        check_tangent("u", u)
    s = c.sqrt()
    un = _norm(u, dim)
    second = torch.tanh(s * _lambda(x, c, dim) * un / 2) * (u / (s * un))
    out = _mobius_add(x, second, c, dim)
    return _project(out, c, dim) if project else out


def logmap(x: Tensor, y: Tensor, c: Any, dim: int = -1, check: bool = True) -> Tensor:
    """Logarithmic map at ``x`` of ``y``."""
    c = as_curvature(c, x)
    if check:
        check_in_ball("x", x, c, dim)
        check_in_ball("y", y, c, dim)
    s = c.sqrt()
    w = _mobius_add(-x, y, c, dim)
    wn = _norm(w, dim)
    return (2 / (s * _lambda(x, c, dim))) * artanh(s * wn) * (w / wn)


def dist(
    x: Tensor, y: Tensor, c: Any, dim: int = -1, keepdim: bool = False, check: bool = True
) -> Tensor:
    """Geodesic distance ``2/sqrt(c) artanh(sqrt(c) ||(-x) ⊕ y||)``."""
    c = as_curvature(c, x)
    if check:
        check_in_ball("x", x, c, dim)
        check_in_ball("y", y, c, dim)
    s = c.sqrt()
    w = _mobius_add(-x, y, c, dim).norm(dim=dim, keepdim=keepdim)
    return (2 / s) * artanh(s * w)


def gyration(u: Tensor, v: Tensor, w: Tensor, c: Any, dim: int = -1, check: bool = True) -> Tensor:
    """Gyration ``gyr[u, v] w = ⊖(u ⊕ v) ⊕ (u ⊕ (v ⊕ w))`` in closed form."""
    c = as_curvature(c, u)
    if check:
        check_in_ball("u", u, c, dim)
        check_in_ball("v", v, c, dim)
    return _gyration(u, v, w, c, dim)


def _gyration(u: Tensor, v: Tensor, w: Tensor, c: Tensor, dim: int = -1) -> Tensor:
    u2 = u.pow(2).sum(dim=dim, keepdim=True)
    v2 = v.pow(2).sum(dim=dim, keepdim=True)
    uv, uw, vw = _dot(u, v, dim), _dot(u, w, dim), _dot(v, w, dim)
    c2 = c**2
    a = -c2 * uw * v2 + c * vw + 2 * c2 * uv * vw
    b = -c2 * vw * u2 - c * uw
    d = 1 + 2 * c * uv + c2 * u2 * v2
    return w + 2 * (a * u + b * v) / _floor(d)


def transp(x: Tensor, y: Tensor, v: Tensor, c: Any, dim: int = -1, check: bool = True) -> Tensor:
    """Parallel transport of the tangent vector ``v`` from ``x`` to ``y``."""
    c = as_curvature(c, x)
    if check:
        check_in_ball("x", x, c, dim)
        check_in_ball("y", y, c, dim)
    return _gyration(y, -x, v, c, dim) * _lambda(x, c, dim) / _lambda(y, c, dim)


def weighted_midpoint(
    x: Tensor,
    c: Any,
    weights: Tensor | None = None,
    reduce_dim: int | tuple[int, ...] = 0,
    dim: int = -1,
    keepdim: bool = False,
    project: bool = True,
    check: bool = True,
) -> Tensor:
    """Gyromidpoint of the points ``x`` over ``reduce_dim`` (points along ``dim``).

    ``weights`` (optional) broadcasts against ``x`` with size 1 along ``dim``.
    """
    c = as_curvature(c, x)
    if check:
        check_in_ball("x", x, c, dim)
    dim = dim % x.dim()
    rdims = (reduce_dim,) if isinstance(reduce_dim, int) else tuple(reduce_dim)
    rdims = tuple(d % x.dim() for d in rdims)
    if dim in rdims:
        raise ValueError(f"reduce_dim must not contain the point dimension {dim}, got {rdims}")
    lam = _lambda(x, c, dim)
    w = torch.ones_like(lam) if weights is None else weights
    num = (w * lam * x).sum(dim=rdims, keepdim=True)
    den = (w * (lam - 1)).sum(dim=rdims, keepdim=True)
    k = num / _floor(den)
    s = c.sqrt()
    kn = _norm(k, dim)
    mid = torch.tanh(0.5 * artanh(s * kn)) * (k / (kn * s))
    if project:
        mid = _project(mid, c, dim)
    return mid if keepdim else mid.squeeze(rdims)
