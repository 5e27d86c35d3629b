"""The Poincaré ball as a ``torch.nn.Module`` holding a (possibly learnable) curvature.

References
----------
Ganea, Bécigneul and Hofmann, "Hyperbolic Neural Networks", NeurIPS 2018. arXiv:1805.09112.
"""

from __future__ import annotations

import numbers
from typing import Any

import torch
from torch import Tensor, nn

from .ball import (
    as_curvature,
    dist,
    expmap,
    expmap0,
    gyration,
    lambda_x,
    logmap,
    logmap0,
    mobius_add,
    mobius_scalar_mul,
    project,
    transp,
    weighted_midpoint,
)

__all__ = ["PoincareBall"]


class PoincareBall(nn.Module):
    """The Poincaré ball of curvature ``-c`` as a module (``c`` optionally learnable).

    Parameters
    ----------
    c : float
        Curvature magnitude, ``> 0``.
    learnable : bool
        If true, ``c = softplus(raw)`` with a trainable ``raw`` (stays positive).

    Notes
    -----
    The methods call the functions of :mod:`sciconv.hyperbolic.ball` with ``self.c``; they
    validate that inputs lie in the ball (a reduction and a host sync per argument).

    Dtype of ``c``: it is stored in the module's dtype (``dtype``, default
    ``torch.get_default_dtype()``) and follows ``.double()``, ``.float()``, ``.to(dtype)``.
    A curvature given as a Python number is re-rounded *from that number* on a dtype change,
    so ``PoincareBall(0.7).double().c`` is ``0.7`` in float64, not float32's
    ``0.699999988079071`` widened (geoopt keeps the widened float32 value). This holds while
    ``c`` (or the learnable ``raw_c``) still has its initial value; a trained or loaded value
    is converted like any tensor.

    Examples
    --------
    >>> import torch
    >>> from sciconv.hyperbolic import BALL_EPS, PoincareBall
    >>> ball = PoincareBall(c=1.0, dtype=torch.float64)
    >>> x = torch.tensor([0.3, -0.2], dtype=torch.float64)
    >>> y = torch.tensor([-0.1, 0.4], dtype=torch.float64)
    >>> origin = torch.zeros(2, dtype=torch.float64)
    >>> torch.allclose(ball.logmap0(ball.expmap0(x)), x)
    True
    >>> torch.allclose(ball.mobius_add(-x, ball.mobius_add(x, y)), y)  # left cancellation
    True
    >>> bool(torch.isclose(ball.dist(origin, x), 2 * torch.atanh(x.norm())))
    True

    Projection keeps the dtype's margin ``BALL_EPS`` from the boundary:

    >>> BALL_EPS[torch.float64]
    1e-05
    >>> round(ball.projx(torch.tensor([3.0, 4.0], dtype=torch.float64)).norm().item(), 10)
    0.99999

    A learnable curvature is a parameter that stays positive:

    >>> learned = PoincareBall(0.5, learnable=True)
    >>> [name for name, _ in learned.named_parameters()], round(learned.c.item(), 6)
    (['raw_c'], 0.5)
    """

    def __init__(
        self,
        c: float = 1.0,
        learnable: bool = False,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        c0 = as_curvature(c)
        self.learnable = bool(learnable)
        # the exact curvature, re-rounded into each new dtype while raw_c is untouched
        self._c_exact = float(c) if isinstance(c, numbers.Real) else None
        raw = self._raw_from(c0.to(device=device, dtype=dtype or torch.get_default_dtype()))
        if self.learnable:
            self.raw_c = nn.Parameter(raw)
        else:
            self.register_buffer("raw_c", raw)

    def _raw_from(self, c0: Tensor) -> Tensor:
        """``raw_c`` for the curvature ``c0`` (inverse softplus when learnable)."""
        return c0 + torch.log(-torch.expm1(-c0)) if self.learnable else c0

    def _exact_raw(self, like: Tensor) -> Tensor | None:
        if self._c_exact is None or not like.is_floating_point():
            return None
        c0 = torch.tensor(self._c_exact, dtype=torch.float64, device=like.device)
        return self._raw_from(c0.to(like.dtype))

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        before = self.raw_c.detach()
        ref = self._exact_raw(before)
        # a meta tensor has no value to compare (``.to("meta")`` keeps the stored curvature)
        pristine = (
            ref is not None and before.device.type != "meta" and bool(torch.equal(before, ref))
        )
        out = super()._apply(fn, *args, **kwargs)
        after = self.raw_c
        if pristine and after.dtype != before.dtype:
            exact = self._exact_raw(after)
            if exact is not None:
                with torch.no_grad():
                    after.copy_(exact)
        return out

    @property
    def c(self) -> Tensor:
        """The curvature magnitude (a 0-dim tensor, > 0)."""
        return nn.functional.softplus(self.raw_c) if self.learnable else self.raw_c

    def extra_repr(self) -> str:
        return f"c={float(self.c.detach()):.4g}, learnable={self.learnable}"

    def projx(self, x: Tensor, dim: int = -1) -> Tensor:
        return project(x, self.c, dim)

    def lambda_x(self, x: Tensor, dim: int = -1, keepdim: bool = False) -> Tensor:
        return lambda_x(x, self.c, dim, keepdim)

    def mobius_add(self, x: Tensor, y: Tensor, dim: int = -1, project: bool = True) -> Tensor:
        return mobius_add(x, y, self.c, dim, project)

    def mobius_scalar_mul(
        self, r: Tensor | float, x: Tensor, dim: int = -1, project: bool = True
    ) -> Tensor:
        return mobius_scalar_mul(r, x, self.c, dim, project)

    def expmap0(self, u: Tensor, dim: int = -1, project: bool = True) -> Tensor:
        return expmap0(u, self.c, dim, project)

    def logmap0(self, y: Tensor, dim: int = -1) -> Tensor:
        return logmap0(y, self.c, dim)

    def expmap(self, x: Tensor, u: Tensor, dim: int = -1, project: bool = True) -> Tensor:
        return expmap(x, u, self.c, dim, project)

    def logmap(self, x: Tensor, y: Tensor, dim: int = -1) -> Tensor:
        return logmap(x, y, self.c, dim)

    def dist(self, x: Tensor, y: Tensor, dim: int = -1, keepdim: bool = False) -> Tensor:
        return dist(x, y, self.c, dim, keepdim)

    def gyration(self, u: Tensor, v: Tensor, w: Tensor, dim: int = -1) -> Tensor:
        return gyration(u, v, w, self.c, dim)

    def transp(self, x: Tensor, y: Tensor, v: Tensor, dim: int = -1) -> Tensor:
        return transp(x, y, v, self.c, dim)

    def weighted_midpoint(
        self, x: Tensor, weights: Tensor | None = None, reduce_dim: int = 0, dim: int = -1
    ) -> Tensor:
        return weighted_midpoint(x, self.c, weights, reduce_dim, dim)
