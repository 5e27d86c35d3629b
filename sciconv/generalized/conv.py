"""Kernel-generalized convolution layers: KernelConv1d and KernelConv2d.

The patch-filter inner product of a convolution is replaced by a kernel (kervolution) or a
weighted distance, followed by a monotone link (generalized convolution).

References
----------
Wang, Yang, Xie and Yuan, "Kervolutional Neural Networks", CVPR 2019. arXiv:1904.03955.

Ghiasi-Shirazi, "Generalizing the Convolution Operator in Convolutional Neural Networks", Neural
Processing Letters, 2019. arXiv:1707.09864.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..padding import resolve_padding
from ..validation import as_int_tuple, check_choice, check_float_dtype, check_positive_int, describe
from .functions import KERNELS, LINKS, apply_link, kernel_response
from .l1 import check_smooth

__all__ = ["PADDING_MODES", "KernelConv1d", "KernelConv2d"]

#: Padding modes, as in ``torch.nn.Conv2d``.
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _KernelConvNd(nn.Module):
    _ndim = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] | str = 0,
        dilation: int | tuple[int, ...] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        *,
        kernel: str = "linear",
        link: str | Callable[[torch.Tensor], torch.Tensor] = "identity",
        degree: int = 2,
        c: float = 1.0,
        gamma: float = 1.0,
        sigma: float = 1.0,
        learnable_hyper: bool = False,
        weighted: bool = False,
        max_chunk_bytes: int = 2**25,
        smooth: float = 0.0,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        check_float_dtype("dtype", dtype)
        super().__init__()
        nd = self._ndim
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.out_channels = check_positive_int("out_channels", out_channels)
        self.groups = check_positive_int("groups", groups)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"groups must divide in_channels ({in_channels}) and out_channels "
                f"({out_channels}), got {groups}"
            )
        self.kernel_size = as_int_tuple("kernel_size", kernel_size, nd)
        self.stride = as_int_tuple("stride", stride, nd)
        self.dilation = as_int_tuple("dilation", dilation, nd)
        if isinstance(padding, str):
            check_choice("padding", padding, ("same", "valid"))
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"padding='same' needs stride 1, got stride {self.stride}")
            self.padding: tuple[int, ...] | str = padding
        else:
            self.padding = as_int_tuple("padding", padding, nd, minimum=0)
        self.padding_mode = check_choice("padding_mode", padding_mode, PADDING_MODES)
        self.kernel = check_choice("kernel", kernel, KERNELS)
        if not callable(link):
            check_choice("link", link, LINKS)
        self.link = link
        self.degree = check_positive_int("degree", degree)
        for name, val in (("gamma", gamma), ("sigma", sigma)):
            if not isinstance(val, (int, float)) or isinstance(val, bool) or not val > 0:
                raise ValueError(f"{name} must be a positive number, got {describe(val)}")
        if not isinstance(c, (int, float)) or isinstance(c, bool):
            raise TypeError(f"c must be a number, got {describe(c)}")
        self.max_chunk_bytes = check_positive_int("max_chunk_bytes", max_chunk_bytes)
        self.smooth = check_smooth(smooth)
        fk = {"device": device, "dtype": dtype}
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = nn.Parameter(torch.empty(shape, **fk))
        self.bias: nn.Parameter | None
        self.register_parameter(
            "bias", nn.Parameter(torch.empty(out_channels, **fk)) if bias else None
        )
        # hyper-parameters: gamma and sigma are stored as logs so that they stay positive
        hyper = {"c": float(c), "log_gamma": math.log(gamma), "log_sigma": math.log(sigma)}
        for name, val in hyper.items():
            t = torch.tensor(val, **fk)
            if learnable_hyper:
                self.register_parameter(name, nn.Parameter(t))
            else:
                self.register_buffer(name, t)
        self.log_scale: nn.Parameter | None
        self.register_parameter(
            "log_scale", nn.Parameter(torch.zeros(shape, **fk)) if weighted else None
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise as ``torch.nn.Conv2d`` does (Kaiming-uniform weight, uniform bias)."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight[0].numel()
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            nn.init.uniform_(self.bias, -bound, bound)

    @property
    def scale(self) -> torch.Tensor | None:
        """Distance weights :math:`a = \\exp(\\text{log\\_scale})` (``None`` when unweighted)."""
        return None if self.log_scale is None else self.log_scale.exp()

    def _pads(self) -> list[int]:
        """Left/right pads in ``F.pad`` order for the 2-D view (last axis first)."""
        ks = self.kernel_size
        _, per_axis = resolve_padding(self.padding, None, ks, ks, self.dilation)  # shared rule
        out: list[int] = []
        for left, right in reversed(per_axis):
            out += [left, right]
        return out + [0, 0] * (2 - len(ks))

    def _check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"input must be a torch.Tensor, got {describe(x)}")
        nd = self._ndim
        if x.dim() != nd + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"input must have shape (N, {self.in_channels}, {', '.join(['L'] * nd)}) "
                f"for {type(self).__name__}, got {describe(x)}"
            )

    def _forward2d(self, x4: torch.Tensor) -> torch.Tensor:
        pads = self._pads()
        if any(pads):
            mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
            x4 = F.pad(x4, pads, mode=mode)
        w = self.weight.reshape(self.out_channels, -1, *self._kernel2d())
        scale = self.scale
        if scale is not None:
            scale = scale.reshape(w.shape)
        y = kernel_response(
            self.kernel,
            x4,
            w,
            self._as2d(self.stride),
            self._as2d(self.dilation),
            self.groups,
            scale=scale,
            degree=self.degree,
            c=self.c,
            gamma=self.log_gamma.exp(),
            sigma=self.log_sigma.exp(),
            max_chunk_bytes=self.max_chunk_bytes,
            smooth=self.smooth,
        )
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        return apply_link(self.link, y)

    def _kernel2d(self) -> tuple[int, int]:
        return self._as2d(self.kernel_size)

    def _as2d(self, t: tuple[int, ...]) -> tuple[int, int]:
        return (1, t[0]) if len(t) == 1 else (t[0], t[1])

    def extra_repr(self) -> str:
        link = self.link if isinstance(self.link, str) else getattr(self.link, "__name__", "fn")
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
            f"groups={self.groups}, bias={self.bias is not None}, kernel={self.kernel!r}, "
            f"link={link!r}" + (f", smooth={self.smooth}" if self.smooth else "")
        )


class KernelConv2d(_KernelConvNd):
    r"""2-D convolution whose inner product is replaced by a kernel or a distance.

    Parameters
    ----------
    in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode
        As in ``torch.nn.Conv2d`` (``padding`` may be 'same' or 'valid').
    kernel : {'linear', 'polynomial', 'gaussian', 'l2', 'l1', 'cauchy'}
        The response :math:`\kappa(x, w)` of a patch :math:`x` to a filter :math:`w`.
    link : str or callable
        Applied after the kernel and the bias, one of ``LINKS`` ('identity', 'negate',
        'sigmoid', 'tanh', 'softsign', 'atan', 'sine') or a callable.
    degree : int
        Polynomial degree :math:`p \ge 1`.
    c : float
        Polynomial offset.
    gamma, sigma : float
        Gaussian width and Cauchy scale, both :math:`> 0` (stored as logarithms).
    learnable_hyper : bool
        Make ``c``, ``log_gamma``, ``log_sigma`` parameters (else buffers).
    weighted : bool
        Learn non-negative per-tap distance weights :math:`a = e^{\text{log\_scale}}` (weighted
        L2 / L1 of Ghiasi-Shirazi); otherwise :math:`a = 1`.
    max_chunk_bytes : int
        Memory cap for the chunked unfold of the 'l1' kernel.
    smooth : float
        Smoothing width :math:`\varepsilon \ge 0` of the 'l1' kernel: each :math:`|x_t - w_t|`
        becomes :math:`\sqrt{(x_t - w_t)^2 + \varepsilon^2} - \varepsilon` (default 0, the
        exact L1 distance; ignored by the other kernels).
    device, dtype
        Factory arguments.

    Notes
    -----
    For output channel :math:`o` and position :math:`i` with patch
    :math:`x^{(i)}_t = \tilde x_{c,\, s i + d t}` of the padded input,
    :math:`y_{o,i} = \phi(\kappa(x^{(i)}, w_o) + b_o)`, with :math:`\phi` the link and
    :math:`\kappa` given in :func:`sciconv.generalized.functions.kernel_response`. The
    'linear' kernel with the identity link is ``torch.nn.Conv2d``. The distance kernels are
    computed without unfolding: :math:`\sum_t a_t (x_t - w_t)^2 = \mathrm{conv}(x^2, a) -
    2\,\mathrm{conv}(x, a \odot w) + \sum_t a_t w_t^2`.

    Examples
    --------
    The 'linear' kernel with the identity link is an ordinary convolution:

    >>> import torch
    >>> import torch.nn.functional as F
    >>> from sciconv.generalized import KernelConv2d
    >>> _ = torch.manual_seed(0)
    >>> x = torch.randn(2, 3, 8, 8)
    >>> lin = KernelConv2d(3, 4, 3, padding=1)
    >>> torch.allclose(lin(x), F.conv2d(x, lin.weight, lin.bias, padding=1), atol=1e-6)
    True

    A Gaussian kernel without bias responds in :math:`(0, 1]`, 1 for a patch equal to its filter:

    >>> gauss = KernelConv2d(3, 4, 3, padding="same", bias=False, kernel="gaussian", gamma=0.1)
    >>> y = gauss(x)
    >>> y.shape
    torch.Size([2, 4, 8, 8])
    >>> bool(((y > 0) & (y <= 1)).all())
    True

    Padding modes are those of ``torch.nn.Conv2d``:

    >>> from sciconv.generalized import PADDING_MODES
    >>> PADDING_MODES
    ('zeros', 'reflect', 'replicate', 'circular')
    >>> KernelConv2d(3, 4, 3, padding=1, padding_mode="circular", kernel="l2")(x).shape
    torch.Size([2, 4, 8, 8])
    """

    _ndim = 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the layer to ``x`` of shape ``(N, in_channels, H, W)``."""
        self._check_input(x)
        return self._forward2d(x)


class KernelConv1d(_KernelConvNd):
    r"""1-D kernel-generalized convolution (arguments as :class:`KernelConv2d` and ``nn.Conv1d``).

    Notes
    -----
    A 1-D convolution is computed as a 2-D one of height one: the input ``(N, C, L)`` is viewed
    as ``(N, C, 1, L)`` and the filter ``(O, C/g, k)`` as ``(O, C/g, 1, k)``.

    Examples
    --------
    The negated L1 distance (an adder layer) is never positive; its maximum, 0, is reached by a
    patch equal to its filter:

    >>> import torch
    >>> from sciconv.generalized import KernelConv1d
    >>> _ = torch.manual_seed(0)
    >>> adder = KernelConv1d(2, 3, 5, padding="same", bias=False, kernel="l1", link="negate")
    >>> x = torch.randn(4, 2, 16)
    >>> y = adder(x)
    >>> y.shape
    torch.Size([4, 3, 16])
    >>> bool((y <= 0).all())
    True
    >>> valid = KernelConv1d(2, 3, 5, bias=False, kernel="l1", link="negate")
    >>> w0 = valid.weight[:1].detach()  # filter 0 as an input of shape (1, 2, 5)
    >>> valid(w0)[0, 0].item() == 0
    True
    """

    _ndim = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the layer to ``x`` of shape ``(N, in_channels, L)``."""
        self._check_input(x)
        return self._forward2d(x.unsqueeze(2)).squeeze(2)
