"""``WinogradConv2d``: a stride-1 ``nn.Conv2d`` computed by nested Winograd transforms.

The layer is the tiled ``F(m x m, r x r)`` algorithm of [1]_: filter and input tiles are
transformed, multiplied elementwise (a batched matrix product over channels) and transformed
back.

References
----------
.. [1] A. Lavin and S. Gray, "Fast Algorithms for Convolutional Neural Networks", IEEE
   Conference on Computer Vision and Pattern Recognition (CVPR), 2016. arXiv:1509.09308.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..validation import (
    as_int_tuple,
    check_choice,
    check_conv_args,
    check_input_dtype,
    describe,
)
from .scaling import balance as _balance
from .transforms import WinogradTransform, transforms

__all__ = ["WinogradConv2d", "conv2d_elementwise"]

_ARITHMETIC = ("native", "elementwise")


def _left(A: torch.Tensor, X: torch.Tensor, lowp: bool) -> torch.Tensor:
    """``A @ X`` for ``X`` of shape ``(q, R)``; with ``lowp`` every op rounded to ``X.dtype``."""
    if not lowp:
        return A @ X
    acc = A[:, 0:1] * X[0:1]
    for k in range(1, A.shape[1]):
        acc = acc + A[:, k : k + 1] * X[k : k + 1]
    return acc


def _apply2(Ah: torch.Tensor, Aw: torch.Tensor, X: torch.Tensor, lowp: bool) -> torch.Tensor:
    """``Ah X Aw^T`` over the first two axes of ``X`` (shape ``(p, q, *rest)``)."""
    p, q, *rest = X.shape
    a, b = Ah.shape[0], Aw.shape[0]
    Y = _left(Ah, X.reshape(p, -1), lowp).reshape(a, q, -1).transpose(0, 1).reshape(q, -1)
    return _left(Aw, Y, lowp).reshape(b, a, *rest).transpose(0, 1)


def conv2d_elementwise(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, padding: int = 0
) -> torch.Tensor:
    """Direct ``F.conv2d`` (stride 1, groups 1) with every product and partial sum in ``x.dtype``.

    The reference for low-precision direct convolution on devices whose fp16 convolution
    accumulates in float32 (the CPU kernels do): taps ``(c, a, b)`` are summed sequentially,
    each step a rounded elementwise op, like :func:`~sciconv.winograd.error.lowp_matmul`.

    Examples
    --------
    In float64 it is ``F.conv2d``; in float16 its error against the float64 result is that
    of a float16 accumulator:

    >>> import torch
    >>> import torch.nn.functional as F
    >>> from sciconv.winograd import conv2d_elementwise
    >>> gen = torch.Generator().manual_seed(0)
    >>> x = torch.randn(1, 4, 8, 8, generator=gen, dtype=torch.float64)
    >>> w = torch.randn(2, 4, 3, 3, generator=gen, dtype=torch.float64)
    >>> ref = F.conv2d(x, w, padding=1)
    >>> bool(torch.allclose(conv2d_elementwise(x, w, padding=1), ref))
    True
    >>> y16 = conv2d_elementwise(x.half(), w.half(), padding=1)
    >>> y16.dtype, bool((y16.double() - ref).abs().max() < 0.1)
    (torch.float16, True)
    """
    if x.ndim != 4 or weight.ndim != 4 or weight.shape[1] != x.shape[1]:
        raise ValueError(
            "x must be (N, C, H, W) and weight (O, C, kh, kw), "
            f"got {describe(x)}, {describe(weight)}"
        )
    x = F.pad(x, (padding,) * 4)
    _, C, H, W = x.shape
    _, _, kh, kw = weight.shape
    Ho, Wo = H - kh + 1, W - kw + 1
    w = weight.to(x.dtype)
    acc = None
    for c in range(C):
        for a in range(kh):
            for b in range(kw):
                term = w[None, :, c, a, b, None, None] * x[:, None, c, a : a + Ho, b : b + Wo]
                acc = term if acc is None else acc + term
    return acc if bias is None else acc + bias.to(x.dtype)[None, :, None, None]


class WinogradConv2d(nn.Conv2d):
    """A 2D convolution layer (stride 1, dilation 1) computed as ``F(m x m, r x r)`` Winograd.

    Same parameters, initialisation and state dict as :class:`torch.nn.Conv2d`, so
    ``F.conv2d(x, layer.weight, layer.bias, padding=...)`` is its reference.

    Parameters
    ----------
    in_channels, out_channels, kernel_size, padding, groups, bias, padding_mode, device, dtype
        As :class:`torch.nn.Conv2d`.
    stride, dilation : int
        As :class:`torch.nn.Conv2d`; both must be 1.
    m : int or (int, int)
        Outputs per tile along (H, W).
    points : sequence or str or (points_h, points_w), optional
        Interpolation points (default :func:`~sciconv.winograd.default_points`).
    transform : WinogradTransform or (t_h, t_w), optional
        Ready transforms (override ``m``/``points``); their ``r`` must match ``kernel_size``.
    balance : bool
        Apply power-of-two balancing (:func:`~sciconv.winograd.balance`) to built transforms.
    arithmetic : {'native', 'elementwise'}
        'native': matmuls in the input dtype (whatever accumulator the backend uses);
        'elementwise': every product and partial sum rounded to the input dtype (emulates
        true fp16 / bf16 Winograd on any device).

    Notes
    -----
    The (padded) input is cut into overlapping ``n_h x n_w`` tiles with stride ``m``; per tile
    ``Y = A_h^T [ sum_c (G_h w_{oc} G_w^T) * (B_h^T d_c B_w) ] A_w``. The filter transform
    ``U = G w G^T`` is computed in float64 and rounded once to the input dtype (as weights are
    transformed offline); everything after it runs in the input dtype.

    Examples
    --------
    A drop-in ``nn.Conv2d``: same weights, same output as ``F.conv2d`` (to rounding), with
    ``F(4 x 4, 3 x 3)`` tiles (36 multiplications per tile instead of 144):

    >>> import torch
    >>> import torch.nn.functional as F
    >>> from sciconv.winograd import WinogradConv2d
    >>> _ = torch.manual_seed(0)
    >>> layer = WinogradConv2d(3, 8, 3, padding=1, m=4, dtype=torch.float64)
    >>> layer.transform_h.label()
    'F(4,3) {0, 1, -1, 2, -2}'
    >>> x = torch.randn(2, 3, 10, 10, dtype=torch.float64)
    >>> y = layer(x)
    >>> tuple(y.shape)
    (2, 8, 10, 10)
    >>> bool(torch.allclose(y, F.conv2d(x, layer.weight, layer.bias, padding=1)))
    True
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: torch.dtype | None = None,
        *,
        m: int | tuple[int, int] = 4,
        points: Any = None,
        transform: Any = None,
        balance: bool = True,
        arithmetic: str = "native",
    ) -> None:
        check_conv_args(2, in_channels, out_channels, kernel_size, 1, 1, 1, dtype, padding)
        if as_int_tuple("stride", stride, 2) != (1, 1):
            raise ValueError(f"stride must be 1 for Winograd convolution, got {stride!r}")
        if as_int_tuple("dilation", dilation, 2) != (1, 1):
            raise ValueError(f"dilation must be 1 for Winograd convolution, got {dilation!r}")
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            1,
            padding,
            1,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )
        self.arithmetic = check_choice("arithmetic", arithmetic, _ARITHMETIC)
        kh, kw = self.kernel_size
        if transform is None:
            mh, mw = as_int_tuple("m", m, 2)
            ph, pw = points if isinstance(points, tuple) and len(points) == 2 else (points, points)
            th, tw = transforms(mh, kh, ph), transforms(mw, kw, pw)
            if balance:
                th, tw = _balance(th), _balance(tw)
        else:
            th, tw = transform if isinstance(transform, tuple) else (transform, transform)
        for name, t, k in (("transform", th, kh), ("transform", tw, kw)):
            if not isinstance(t, WinogradTransform) or t.r != k:
                raise ValueError(
                    f"{name} must be a WinogradTransform with r={k}, got {describe(t)}"
                )
        self.transform_h, self.transform_w = th, tw
        self._mats = (th.numpy(), tw.numpy())
        self._cache: dict[tuple, tuple] = {}

    def _matrices(self, device: torch.device, dtype: torch.dtype) -> tuple:
        key = (device, dtype)
        if key not in self._cache:
            self._cache[key] = tuple(
                tuple(torch.as_tensor(np.ascontiguousarray(X), device=device).to(dt) for X in mats)
                for mats in self._mats
                for dt in (torch.float64, dtype)
            )
        return self._cache[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must have shape (N, {self.in_channels}, H, W), got {describe(x)}")
        check_input_dtype("x", x, self.weight.dtype, "WinogradConv2d")
        (_, Gh64, _), (ATh, _, BTh), (_, Gw64, _), (ATw, _, BTw) = self._matrices(x.device, x.dtype)
        th, tw = self.transform_h, self.transform_w
        lowp = self.arithmetic == "elementwise"
        mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
        size = tuple(x.shape[2:])
        x = F.pad(x, self._reversed_padding_repeated_twice, mode=mode)
        N, C, H, W = x.shape
        Ho, Wo = H - th.r + 1, W - tw.r + 1
        if Ho < 1 or Wo < 1:
            raise ValueError(
                f"x of spatial size {size}, padded by {self.padding!r} to {(H, W)}, is "
                f"smaller than kernel_size {self.kernel_size}: no output fits"
            )
        nth, ntw = math.ceil(Ho / th.m), math.ceil(Wo / tw.m)
        x = F.pad(x, (0, ntw * tw.m + tw.r - 1 - W, 0, nth * th.m + th.r - 1 - H))
        d = x.unfold(2, th.n, th.m).unfold(3, tw.n, tw.m)  # (N, C, nth, ntw, n_h, n_w)
        P = N * nth * ntw
        d = d.permute(4, 5, 1, 0, 2, 3).reshape(th.n, tw.n, C, P)
        g, O = self.groups, self.out_channels
        Cg, Og = C // g, O // g
        V = _apply2(BTh, BTw, d, lowp).reshape(th.n * tw.n * g, Cg, P)
        U = (Gh64 @ self.weight.double() @ Gw64.T).to(x.dtype)  # (O, C/g, n_h, n_w)
        U = U.reshape(g, Og, Cg, th.n, tw.n).permute(3, 4, 0, 1, 2).reshape(-1, Og, Cg)
        if lowp:
            Mx = U[:, :, 0:1] * V[:, 0:1, :]
            for c in range(1, Cg):
                Mx = Mx + U[:, :, c : c + 1] * V[:, c : c + 1, :]
        else:
            Mx = torch.bmm(U, V)  # (n_h n_w g, O/g, P)
        Y = _apply2(ATh, ATw, Mx.reshape(th.n, tw.n, O, N, nth, ntw), lowp)
        Y = Y.permute(3, 2, 4, 0, 5, 1).reshape(N, O, nth * th.m, ntw * tw.m)[:, :, :Ho, :Wo]
        if self.bias is not None:
            Y = Y + self.bias.to(Y.dtype)[None, :, None, None]
        return Y

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, m=({self.transform_h.m}, {self.transform_w.m}), "
            f"arithmetic={self.arithmetic!r}"
        )
