r"""Soft orthogonality for any boundary: L_orth-regularised convolutions and a σ report.

Where no exactly orthogonal layer exists (zero padding, see
:func:`sciconv.orthogonal.exists`), an ordinary convolution can be pushed towards
orthogonality by adding :math:`\lambda L_{orth}` [1]_ to the loss; :func:`sigma_report` then
says how far it got.

References
----------
.. [1] J. Wang, Y. Chen, R. Chakraborty and S. X. Yu, "Orthogonal Convolutional Neural
   Networks", IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR), 2020.
   arXiv:1911.12207.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from ..operator import ConvOperator
from ..spectrum import condition_number, conv_singular_values, operator_norm
from ..validation import as_int_tuple, check_conv_args, describe
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
    _ndim: int

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        # torch leaves negative sizes, a zero dilation and integer dtypes to deeper errors
        check_conv_args(
            self._ndim,
            in_channels,
            out_channels,
            kernel_size,
            stride,
            dilation,
            groups,
            dtype,
            padding,
        )
        super().__init__(  # type: ignore[call-arg]
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device=device,
            dtype=dtype,
        )

    def l_orth(self) -> torch.Tensor:
        r""":math:`L_{orth}` of the kernel (see :func:`sciconv.orthogonal.l_orth`)."""
        return l_orth(self.weight, self.stride)


class LOrthConv1d(_LOrthMixin, nn.Conv1d):
    """``torch.nn.Conv1d`` with an ``l_orth()`` regulariser (any padding mode).

    Examples
    --------
    The identity tap is orthogonal: its :math:`L_{orth}` vanishes.

    >>> import torch
    >>> from sciconv.orthogonal import LOrthConv1d
    >>> conv = LOrthConv1d(2, 2, 3, padding=1, bias=False)
    >>> with torch.no_grad():
    ...     _ = conv.weight.zero_()
    ...     conv.weight[:, :, 1] = torch.eye(2)
    >>> conv.l_orth().item()
    0.0
    """

    _ndim = 1


class LOrthConv2d(_LOrthMixin, nn.Conv2d):
    r"""``torch.nn.Conv2d`` with an ``l_orth()`` regulariser (any padding mode).

    Examples
    --------
    Add :math:`\lambda L_{orth}` of every such layer to the task loss; its gradient reaches
    the kernels, and a step against it brings them closer to orthogonal:

    >>> import torch
    >>> from sciconv.orthogonal import LOrthConv2d, l_orth_penalty
    >>> _ = torch.manual_seed(0)
    >>> conv = LOrthConv2d(4, 4, 3, padding=1)
    >>> model = torch.nn.Sequential(conv, torch.nn.ReLU())
    >>> penalty = l_orth_penalty(model)  # loss = task_loss + lam * penalty
    >>> penalty.backward()
    >>> with torch.no_grad():
    ...     _ = conv.weight.sub_(0.02 * conv.weight.grad)
    >>> l_orth_penalty(model).item() < penalty.item()
    True
    """

    _ndim = 2


class LOrthConv3d(_LOrthMixin, nn.Conv3d):
    """``torch.nn.Conv3d`` with an ``l_orth()`` regulariser (any padding mode).

    Examples
    --------
    A 1 x 1 x 1 kernel with orthonormal columns (4 outputs from 2 inputs: the
    column-orthogonal case) has :math:`L_{orth} = 0`:

    >>> import torch
    >>> from sciconv.orthogonal import LOrthConv3d
    >>> conv = LOrthConv3d(2, 4, 1, bias=False, dtype=torch.float64)
    >>> q, _ = torch.linalg.qr(torch.randn(4, 2, dtype=torch.float64))
    >>> with torch.no_grad():
    ...     _ = conv.weight.copy_(q.reshape(4, 2, 1, 1, 1))
    >>> abs(conv.l_orth().item()) < 1e-12
    True
    """

    _ndim = 3


def l_orth_penalty(module: nn.Module) -> torch.Tensor:
    r"""Sum of :math:`L_{orth}` over every ``LOrthConv*`` inside ``module`` (0 if none).

    Examples
    --------
    >>> import torch
    >>> from sciconv.orthogonal import LOrthConv1d, l_orth_penalty
    >>> a, b = LOrthConv1d(2, 4, 3), LOrthConv1d(4, 4, 3)
    >>> model = torch.nn.Sequential(a, torch.nn.Tanh(), b, torch.nn.Conv1d(4, 1, 1))
    >>> bool(torch.isclose(l_orth_penalty(model), a.l_orth() + b.l_orth()))
    True
    >>> l_orth_penalty(torch.nn.Linear(2, 2)).item()
    0.0
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {describe(module)}")
    terms = [m.l_orth() for m in module.modules() if isinstance(m, _LOrthMixin)]
    if not terms:
        return torch.zeros(())
    return torch.stack(terms).sum()


@dataclass(frozen=True)
class SigmaReport:
    """Extreme singular values of a convolution on a grid (returned by :func:`sigma_report`).

    Examples
    --------
    >>> from sciconv.orthogonal import SigmaReport
    >>> SigmaReport(0.5, 2.0, exact=True, padding="circular").condition
    4.0
    >>> SigmaReport(0.0, 2.0, exact=False, padding="zeros").condition
    inf
    """

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

    Examples
    --------
    An orthogonal layer on the periodic grid (exact), and an ordinary zero-padded
    ``nn.Conv2d`` (dense SVD of the small operator):

    >>> import torch
    >>> from sciconv.orthogonal import OrthogonalConv2d, sigma_report
    >>> _ = torch.manual_seed(0)
    >>> rep = sigma_report(OrthogonalConv2d(4, 4, 3), 8)
    >>> rep.exact, rep.padding, round(rep.sigma_min, 5), round(rep.sigma_max, 5)
    (True, 'circular', 1.0, 1.0)
    >>> rep = sigma_report(torch.nn.Conv2d(4, 4, 3, padding=1), 6)
    >>> rep.exact, rep.padding, bool(rep.condition > 1)
    (False, 'zeros', True)
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
