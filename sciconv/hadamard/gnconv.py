"""Recursive gated convolution gnConv (HorNet) and its FFT global filter (GFNet).

References
----------
Rao, Zhao, Tang, Zhou, Lim and Lu, "HorNet: Efficient High-Order Spatial Interactions with
Recursive Gated Convolutions", NeurIPS 2022. arXiv:2207.14284.

Rao, Zhao, Zhu, Lu and Zhou, "Global Filter Networks for Image Classification", NeurIPS 2021.
arXiv:2107.00645 (the spectral global filter).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..fft import fftconv
from ..validation import (
    as_int_tuple,
    check_choice,
    check_float_dtype,
    check_input_dtype,
    check_positive_int,
    describe,
)

__all__ = ["GlobalFilter", "RecursiveGatedConv"]


class GlobalFilter(nn.Module):
    r"""Depthwise full-size filter applied by FFT: :math:`y_c = k_c * x_c + b_c` (true convolution).

    Parameters
    ----------
    channels : int
    filter_size : int or (int, int)
        Spatial size of each :math:`k_c`; any input size is accepted (see ``mode``).
    mode : {'circular', 'same'}
        'circular' (periodic, the spectral global filter of GFNet/HorNet; a filter larger than
        the map wraps) or 'same' (zero boundary, centred, :func:`sciconv.fft.fftconv`).
    device, dtype
        Factory arguments.

    Examples
    --------
    A unit impulse at the origin is the identity filter of the circular mode:

    >>> import torch
    >>> from sciconv.hadamard import GlobalFilter
    >>> _ = torch.manual_seed(0)
    >>> gf = GlobalFilter(4, 8)
    >>> x = torch.randn(2, 4, 8, 8)
    >>> gf(x).shape
    torch.Size([2, 4, 8, 8])
    >>> with torch.no_grad():
    ...     _ = gf.weight.zero_()
    ...     gf.weight[:, 0, 0] = 1.0
    >>> torch.allclose(gf(x), x, atol=1e-6)
    True
    """

    def __init__(
        self,
        channels: int,
        filter_size: int | tuple[int, int],
        mode: str = "circular",
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        check_float_dtype("dtype", dtype)
        super().__init__()
        channels = check_positive_int("channels", channels)
        size = as_int_tuple("filter_size", filter_size, 2)
        self.mode = check_choice("global_mode", mode, ("circular", "same"))
        self.weight = nn.Parameter(0.02 * torch.randn(channels, *size, device=device, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(channels, device=device, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Filter ``x`` of shape ``(N, channels, H, W)`` (of the weight's dtype)."""
        check_input_dtype("x", x, self.weight.dtype, "GlobalFilter")
        # fftconv computes half-precision inputs in float32 (no half FFT on every device);
        # the layer answers in x's dtype, as the convolutions around it expect
        y = fftconv(x, self.weight, mode=self.mode, axes=(-2, -1)).to(x.dtype)
        return y + self.bias.view(-1, 1, 1)


class RecursiveGatedConv(nn.Module):
    r"""gnConv of order :math:`n`: high-order spatial interactions by recursive gating.

    Parameters
    ----------
    channels : int
        Input and output channels ``C``; divisible by :math:`2^{n-1}`.
    order : int
        Interaction order :math:`n \ge 1`.
    spatial : {'dw', 'global'}
        Spatial mixing: depthwise ``kernel_size`` convolution (HorNet's 7x7), or a depthwise
        full-size filter applied by FFT (:class:`GlobalFilter`, through :func:`sciconv.fftconv`).
    kernel_size : int
        Depthwise kernel size for 'dw' (odd; "same" zero padding).
    filter_size : int or (int, int)
        Filter size for 'global'.
    global_mode : {'circular', 'same'}
        Boundary of the global filter.
    scale : float
        Factor :math:`s` on the depthwise outputs (HorNet uses 1/3 with the global filter).
    device, dtype
        Factory arguments.

    Notes
    -----
    With channel widths :math:`C_k = C / 2^{n-1-k}`, :math:`k = 0..n-1`, a 1x1 projection
    splits :math:`x` into :math:`p_0` (:math:`C_0` channels) and :math:`q` (:math:`\sum C_k`),
    :math:`q` is mixed spatially, :math:`s\,\mathrm{dw}(q) = (q_0, \dots, q_{n-1})`, and

    .. math:: p_{k+1} = g_k(p_k) \odot q_{k}, \quad k = 0, \dots, n-1,
              \qquad y = \mathrm{proj}_{out}(p_n),

    with 1x1 maps :math:`g_0 = \mathrm{id}` and :math:`g_k: C_{k-1} \to C_k`. Order 1 is
    :math:`y = \mathrm{proj}_{out}(p_0 \odot s\,\mathrm{dw}(q))`, a pointwise map times a
    depthwise convolution; each extra order multiplies in one more gated term (interaction of
    order :math:`k+1`) at the cost of a 1x1 convolution.

    Examples
    --------
    >>> import torch
    >>> from sciconv.hadamard import RecursiveGatedConv
    >>> _ = torch.manual_seed(0)
    >>> gn = RecursiveGatedConv(8, order=3)  # 7x7 depthwise spatial mixing
    >>> gn.dims  # channel widths C_k = C / 2^(n-1-k)
    [2, 4, 8]
    >>> x = torch.randn(2, 8, 8, 8)
    >>> gn(x).shape
    torch.Size([2, 8, 8, 8])
    >>> gf = RecursiveGatedConv(8, order=2, spatial="global", filter_size=8, scale=1 / 3)
    >>> gf(x).shape
    torch.Size([2, 8, 8, 8])
    >>> torch.allclose(gn(x)[:1], gn(x[:1]), atol=1e-6)  # no batch mixing
    True
    """

    def __init__(
        self,
        channels: int,
        order: int = 3,
        *,
        spatial: str = "dw",
        kernel_size: int = 7,
        filter_size: int | tuple[int, int] = 14,
        global_mode: str = "circular",
        scale: float = 1.0,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        check_float_dtype("dtype", dtype)
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        self.channels = check_positive_int("channels", channels)
        self.order = check_positive_int("order", order)
        if channels % 2 ** (order - 1):
            raise ValueError(
                f"channels must be divisible by 2**(order-1) = {2 ** (order - 1)}, got {channels}"
            )
        self.spatial = check_choice("spatial", spatial, ("dw", "global"))
        self.dims = [channels // 2 ** (order - 1 - k) for k in range(order)]
        self.scale = float(scale)
        self.proj_in = nn.Conv2d(channels, 2 * channels, 1, **fk)
        total = sum(self.dims)
        if spatial == "dw":
            k = check_positive_int("kernel_size", kernel_size)
            if k % 2 == 0:
                raise ValueError(f"kernel_size must be odd, got {k}")
            self.dw: nn.Module = nn.Conv2d(total, total, k, padding=k // 2, groups=total, **fk)
        else:
            self.dw = GlobalFilter(total, filter_size, global_mode, **fk)
        self.pws = nn.ModuleList(
            nn.Conv2d(self.dims[k], self.dims[k + 1], 1, **fk) for k in range(order - 1)
        )
        self.proj_out = nn.Conv2d(channels, channels, 1, **fk)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply gnConv to ``x`` of shape ``(N, channels, H, W)``."""
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"x must have shape (N, {self.channels}, H, W), got {describe(x)}")
        p, q = self.proj_in(x).split([self.dims[0], sum(self.dims)], dim=1)
        qs = (self.dw(q) * self.scale).split(self.dims, dim=1)
        y = p * qs[0]
        for k, pw in enumerate(self.pws):
            y = pw(y) * qs[k + 1]
        return self.proj_out(y)
