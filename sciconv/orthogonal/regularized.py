r"""Soft orthogonality for any boundary: L_orth-regularised convolutions and a σ report.

Where no exactly orthogonal layer exists (zero padding, see
:func:`sciconv.orthogonal.exists`), an ordinary convolution can be pushed towards
orthogonality by adding :math:`\lambda L_{orth}` (Wang et al. 2020) to the loss;
:func:`sigma_report` then says how far it got.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from ..validation import as_int_tuple, describe
from ..operator import ConvOperator
from ..spectrum import condition_number, conv_singular_values, operator_norm
from .measures import l_orth

__all__ = [
    "LOrthConv1d",
    "LOrthConv2d",
    "LOrthConv3d",
    "SigmaReport",
    "l_orth_penalty",
    "sigma_report",
]


class _LOrthMixin:
    """``l_orth()`` of the layer's kernel with its stride (differentiable)."""

    weight: torch.Tensor
    stride: tuple[int, ...]

    def l_orth(self) -> torch.Tensor:
        r""":math:`L_{orth}` of the kernel (see :func:`sciconv.orthogonal.l_orth`)."""
        return l_orth(self.weight, self.stride)


class LOrthConv1d(_LOrthMixin, nn.Conv1d):
    """``torch.nn.Conv1d`` with an ``l_orth()`` regulariser (any padding mode)."""


class LOrthConv2d(_LOrthMixin, nn.Conv2d):
    """``torch.nn.Conv2d`` with an ``l_orth()`` regulariser (any padding mode).

    Examples
    --------
    >>> conv = LOrthConv2d(8, 16, 3, padding=1)
    >>> loss = task_loss + 0.1 * l_orth_penalty(model)  # doctest: +SKIP
    """


class LOrthConv3d(_LOrthMixin, nn.Conv3d):
    """``torch.nn.Conv3d`` with an ``l_orth()`` regulariser (any padding mode)."""


def l_orth_penalty(module: nn.Module) -> torch.Tensor:
    r"""Sum of :math:`L_{orth}` over every ``LOrthConv*`` inside ``module`` (0 if none)."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {describe(module)}")
    terms = [m.l_orth() for m in module.modules() if isinstance(m, _LOrthMixin)]
    if not terms:
        return torch.zeros(())
    return torch.stack(terms).sum()


@dataclass(frozen=True)
class SigmaReport:
    """Extreme singular values of a convolution on a grid."""

    sigma_min: float
    sigma_max: float
    exact: bool
    padding: str

    @property
    def condition(self) -> float:
        return self.sigma_max / self.sigma_min if self.sigma_min > 0 else float("inf")


def _padding_of(module: nn.Module) -> tuple[str, Any]:
    mode = getattr(module, "padding_mode", "circular")
    pad = getattr(module, "padding", "circular")
    if mode == "circular" or pad == "circular":
        return "circular", None
    if isinstance(pad, str):
        return pad, None
    return "zeros", tuple(pad)


def sigma_report(
    conv: Any,
    input_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: str | None = None,
) -> SigmaReport:
    r"""σ_min and σ_max of a convolution layer or kernel on the input grid ``input_size``.

    Parameters
    ----------
    conv : torch.nn.Module or array_like
        A layer with ``weight`` and ``stride`` (``torch.nn.ConvNd``, ``LOrthConvNd``,
        ``OrthogonalConvNd``) or a kernel ``(M, C, *k)``.
    input_size : int or sequence of int
        Spatial input size.
    stride, padding : optional
        Override (default: the layer's, or 1 and 'circular' for a kernel).

    Notes
    -----
    Circular: exact and cheap by :func:`sciconv.conv_singular_values` (one small SVD per
    frequency). Other boundaries: :func:`sciconv.operator_norm` and
    :func:`sciconv.condition_number` on the :class:`sciconv.ConvOperator` (dense SVD when
    small, ARPACK beyond).
    """
    pad_width = None
    if isinstance(conv, nn.Module):
        w = conv.weight
        stride = conv.stride if stride is None else stride
        if padding is None:
            padding, pad_width = _padding_of(conv)
    else:
        w = conv
    w = w.detach().cpu().to(torch.float64) if isinstance(w, torch.Tensor) else np.asarray(w)
    d = w.ndim - 2
    n = as_int_tuple("input_size", input_size, d)
    s = as_int_tuple("stride", 1 if stride is None else stride, d)
    padding = padding or "circular"
    if padding == "circular":
        sv = conv_singular_values(w, (w.shape[1], *n), stride=s, flat=True)
        return SigmaReport(float(sv[-1]), float(sv[0]), True, padding)
    op = ConvOperator(w, (w.shape[1], *n), stride=s, padding=padding, pad_width=pad_width)
    smax = operator_norm(op)
    cond = condition_number(op)
    smin = 0.0 if not np.isfinite(cond) else smax / cond
    return SigmaReport(smin, smax, False, padding)
