r"""``SubPixelConv2d``: a low-resolution convolution to ``C r**2`` channels, then a periodic
shuffle (ESPCN's upsampling layer), as a ``torch.nn`` module and as an operator.

References
----------
.. [1] W. Shi, J. Caballero, F. Huszár, J. Totz, A. P. Aitken, R. Bishop, D. Rueckert and
   Z. Wang, "Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel
   Convolutional Neural Network", CVPR 2016. arXiv:1609.05158.
.. [2] A. Aitken, C. Ledig, L. Theis, J. Caballero, Z. Wang and W. Shi, "Checkerboard artifact
   free sub-pixel convolution", 2017. arXiv:1707.02937.
.. [3] H. Sedghi, V. Gupta and P. M. Long, "The Singular Values of Convolutional Layers",
   ICLR 2019. arXiv:1805.10408.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..spectrum import conv_singular_values
from ..validation import (
    as_int_tuple,
    check_bool,
    check_choice,
    check_conv_args,
    check_positive_int,
    describe,
)
from .icnr import icnr_
from .polyphase import subpixel_to_transpose, transpose_to_subpixel

__all__ = ["SubPixelConv2d"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class SubPixelConv2d(nn.Module):
    r"""Sub-pixel convolution: ``pixel_shuffle(conv2d(x), r)`` with ``C_out r**2`` channels.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the low-resolution input and of the ``r``-times larger output.
    kernel_size : int or (int, int)
        Kernel of the low-resolution convolution.
    upscale_factor : int
        ``r``: the output is ``r`` times larger on both axes.
    stride : int or (int, int)
        Stride of the low-resolution convolution (the output then grows by ``r / stride``).
    padding : int or (int, int)
        Padding of the low-resolution convolution (ints; no ``'same'``).
    bias : bool
        Learn one bias per low-resolution channel (``C_out r**2`` of them).
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
        As in ``torch.nn.Conv2d``.
    device, dtype
        Where and in which floating dtype the parameters live (``torch.nn`` conventions).

    Attributes
    ----------
    weight : torch.nn.Parameter
        ``(C_out r**2, C_in, k_h, k_w)``; channel ``o r**2 + a r + b`` is output pixel
        ``(r i + a, r j + b)`` of channel ``o``.
    bias : torch.nn.Parameter or None
        ``(C_out r**2,)``.

    Notes
    -----
    The layer computes :math:`y_{o,\,ri+a,\,rj+b} = \beta_{o,a,b} + \sum_{c,u,v}
    w_{or^2+ar+b,\,c,\,u,\,v}\, x_{c,\,si+u-p,\,sj+v-p}`: feature extraction in low-resolution
    space and a periodic shuffle [1]_. With stride 1 its linear part is a transposed
    convolution of stride ``r`` (the polyphase identity, see
    :func:`~sciconv.subpixel.subpixel_to_transpose`): the ``r**2`` phases of the kernel are
    interleaved into one ``r k``-tap kernel, flipped. The bias is a transposed convolution's
    only when the ``r**2`` phase biases :math:`\beta_{o,a,b}` of each channel are equal;
    :meth:`reset_parameters` draws them so, and the weight by ICNR [2]_, so that a new layer
    is a convolution followed by nearest-neighbour upsampling. With circular padding and
    ``2p = k - 1`` the layer is periodic and :meth:`singular_values` gives its exact spectrum
    [3]_.

    References
    ----------
    .. [1] W. Shi et al., "Real-Time Single Image and Video Super-Resolution Using an Efficient
       Sub-Pixel Convolutional Neural Network", CVPR 2016. arXiv:1609.05158.
    .. [2] A. Aitken et al., "Checkerboard artifact free sub-pixel convolution", 2017.
       arXiv:1707.02937.
    .. [3] H. Sedghi, V. Gupta and P. M. Long, "The Singular Values of Convolutional Layers",
       ICLR 2019. arXiv:1805.10408.

    Examples
    --------
    >>> import torch
    >>> from sciconv.subpixel import SubPixelConv2d
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> layer = SubPixelConv2d(4, 2, 3, upscale_factor=3, padding=1, dtype=torch.float64)
    >>> layer
    SubPixelConv2d(4, 2, kernel_size=(3, 3), upscale_factor=3, stride=(1, 1), padding=(1, 1))
    >>> x = torch.randn(1, 4, 8, 8, dtype=torch.float64)
    >>> layer(x).shape
    torch.Size([1, 2, 24, 24])
    >>> convt = layer.to_conv_transpose()  # the same map: a stride-3 transposed convolution
    >>> convt
    ConvTranspose2d(4, 2, kernel_size=(9, 9), stride=(3, 3), padding=(3, 3))
    >>> float((layer(x) - convt(x)).detach().abs().max()) < 1e-12
    True
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        upscale_factor: int,
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if isinstance(padding, str):
            raise ValueError(f"padding must be an int or 2 ints >= 0, got {describe(padding)}")
        check_conv_args(2, in_channels, out_channels, kernel_size, stride, 1, 1, dtype, padding)
        check_bool("bias", bias)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = as_int_tuple("kernel_size", kernel_size, 2)
        self.upscale_factor = check_positive_int("upscale_factor", upscale_factor)
        self.stride = as_int_tuple("stride", stride, 2)
        self.padding = as_int_tuple("padding", padding, 2, minimum=0)
        self.padding_mode = check_choice("padding_mode", padding_mode, PADDING_MODES)
        factory = {"device": device, "dtype": dtype}
        r2 = self.upscale_factor**2
        self.weight = nn.Parameter(
            torch.empty(out_channels * r2, in_channels, *self.kernel_size, **factory)
        )
        self.bias = nn.Parameter(torch.empty(out_channels * r2, **factory)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """ICNR weight and phase-tied bias, each with ``torch.nn.Conv2d``'s default law.

        The sub-kernel is drawn by ``kaiming_uniform_(a=sqrt(5))`` and the ``C_out`` biases
        uniformly in ``±1/sqrt(fan_in)`` (``fan_in = C_in k_h k_w``, as ``nn.Conv2d``), then
        each is copied to the ``r**2`` phases of its channel.
        """
        r = self.upscale_factor
        icnr_(self.weight, r, init=functools.partial(nn.init.kaiming_uniform_, a=math.sqrt(5)))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_channels * math.prod(self.kernel_size))
            with torch.no_grad():
                b = self.bias.new_empty(self.out_channels).uniform_(-bound, bound)
                self.bias.copy_(b.repeat_interleave(r * r))

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"upscale_factor={self.upscale_factor}, stride={self.stride}, padding={self.padding}"
        )
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode!r}"
        return text

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``pixel_shuffle(conv2d(x), r)`` for ``x`` of shape ``(N, C_in, H, W)`` or
        ``(C_in, H, W)``."""
        if self.padding_mode == "zeros":
            z = F.conv2d(x, self.weight, self.bias, self.stride, self.padding)
        else:
            ph, pw = self.padding
            xp = F.pad(x, (pw, pw, ph, ph), mode=self.padding_mode)
            z = F.conv2d(xp, self.weight, self.bias, self.stride)
        return F.pixel_shuffle(z, self.upscale_factor)

    # ------------------------------------------------------------ the transposed convolution
    def _phase_bias(self) -> torch.Tensor | None:
        """The ``C_out`` biases if the ``r**2`` phases of each channel agree, else refuse."""
        if self.bias is None:
            return None
        b = self.bias.detach().reshape(self.out_channels, -1)
        if not bool((b == b[:, :1]).all()):
            spread = float((b.max(dim=1).values - b.min(dim=1).values).max())
            raise ValueError(
                f"bias differs between the {self.upscale_factor**2} phases of a channel "
                f"(largest spread {spread:.3g}): a periodic bias is no ConvTranspose2d bias; "
                f"tie the phases (bias.view({self.out_channels}, -1) equal along dim 1) or "
                f"use bias=False"
            )
        return b[:, 0].clone()

    def to_conv_transpose(self) -> nn.ConvTranspose2d:
        """The ``nn.ConvTranspose2d`` of stride ``r`` computing the same output.

        Returns
        -------
        torch.nn.ConvTranspose2d
            Kernel and padding from :func:`~sciconv.subpixel.subpixel_to_transpose`, output
            padding 0, on this layer's device and dtype.

        Raises
        ------
        ValueError
            If ``stride != 1`` (the map is then no transposed convolution), ``padding_mode``
            is not ``'zeros'`` (the only padding of ``ConvTranspose2d``), or the phase biases
            of a channel differ.

        Notes
        -----
        The weight map is the polyphase identity of
        :func:`~sciconv.subpixel.subpixel_to_transpose`; bias ``o`` is the common value of
        the ``r**2`` phase biases of channel ``o``.

        References
        ----------
        .. [1] W. Shi et al., CVPR 2016 (the sub-pixel layer). arXiv:1609.05158.

        Examples
        --------
        >>> import torch
        >>> from sciconv.subpixel import SubPixelConv2d
        >>> layer = SubPixelConv2d(8, 1, 3, upscale_factor=2, padding=2)  # p > k - 1
        >>> layer.to_conv_transpose()  # zero taps keep the output size
        ConvTranspose2d(8, 1, kernel_size=(6, 6), stride=(2, 2))
        """
        if self.stride != (1, 1):
            raise ValueError(
                f"to_conv_transpose needs stride=1, got stride={self.stride}: with stride s "
                f"the layer's period is r in the output but s in the input, which no "
                f"transposed convolution has"
            )
        if self.padding_mode != "zeros":
            raise ValueError(
                f"to_conv_transpose needs padding_mode='zeros' (ConvTranspose2d pads with "
                f"zeros only), got padding_mode={self.padding_mode!r}"
            )
        bias = self._phase_bias()
        v, pad = subpixel_to_transpose(self.weight.detach(), self.upscale_factor, self.padding)
        convt = nn.ConvTranspose2d(
            self.in_channels, self.out_channels, tuple(v.shape[2:]), stride=self.upscale_factor,
            padding=pad, bias=bias is not None, device=v.device, dtype=v.dtype,
        )  # fmt: skip
        with torch.no_grad():
            convt.weight.copy_(v)
            if bias is not None:
                convt.bias.copy_(bias)
        return convt

    @classmethod
    def from_conv_transpose(cls, convt: nn.ConvTranspose2d) -> SubPixelConv2d:
        """The sub-pixel layer computing the same output as a stride-``r`` ``ConvTranspose2d``.

        Parameters
        ----------
        convt : torch.nn.ConvTranspose2d
            Equal strides ``(r, r)``; any kernel size, padding, dilation and groups (the
            kernel is dilated, made block-diagonal and zero-padded to ``r K'`` taps).

        Returns
        -------
        SubPixelConv2d
            Stride 1, zero padding, kernel and padding from
            :func:`~sciconv.subpixel.transpose_to_subpixel`, each bias copied to the ``r**2``
            phases of its channel; on ``convt``'s device and dtype.

        Raises
        ------
        ValueError
            If the strides differ, or the output length is never a multiple of ``r``.

        Notes
        -----
        The weight map is :func:`~sciconv.subpixel.transpose_to_subpixel`, the inverse
        polyphase rearrangement.

        References
        ----------
        .. [1] W. Shi et al., CVPR 2016 (the sub-pixel layer). arXiv:1609.05158.

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> from sciconv.subpixel import SubPixelConv2d
        >>> SubPixelConv2d.from_conv_transpose(nn.ConvTranspose2d(16, 3, 4, stride=2, padding=1))
        SubPixelConv2d(16, 3, kernel_size=(3, 3), upscale_factor=2, stride=(1, 1), padding=(1, 1))
        """
        if not isinstance(convt, nn.ConvTranspose2d):
            raise TypeError(f"convt must be a torch.nn.ConvTranspose2d, got {describe(convt)}")
        if convt.stride[0] != convt.stride[1]:
            raise ValueError(
                f"convt must have equal strides (r, r) to be a periodic shuffle of factor r, "
                f"got stride={convt.stride}"
            )
        r = convt.stride[0]
        w, pad = transpose_to_subpixel(
            convt.weight.detach(), r, convt.padding, convt.output_padding, convt.dilation,
            convt.groups,
        )  # fmt: skip
        layer = cls(
            convt.in_channels, convt.out_channels, tuple(w.shape[2:]), r, padding=pad,
            bias=convt.bias is not None, device=w.device, dtype=w.dtype,
        )  # fmt: skip
        with torch.no_grad():
            layer.weight.copy_(w)
            if convt.bias is not None:
                layer.bias.copy_(convt.bias.detach().repeat_interleave(r * r))
        return layer

    # ------------------------------------------------------------------------- the spectrum
    def singular_values(self, input_shape: Sequence[int], *, flat: bool = True) -> np.ndarray:
        r"""Exact singular values of the (linear part of the) periodic layer.

        Parameters
        ----------
        input_shape : sequence of int
            ``(C_in, H, W)`` of one input.
        flat : bool
            True: all ``min(C_in, C_out r**2) H W`` values, descending. False: per frequency
            of the ``H x W`` grid, shape ``(H, W, min(C_in, C_out r**2))``.

        Returns
        -------
        numpy.ndarray
            float64 singular values.

        Raises
        ------
        ValueError
            Unless ``padding_mode='circular'``, ``stride=1`` and ``2 p = k - 1`` on both axes
            (the output is then ``r H x r W`` and the map is periodic), or if ``input_shape``
            does not match.

        Notes
        -----
        The layer is the stride-``r`` transposed convolution of kernel ``v`` from
        :func:`~sciconv.subpixel.subpixel_to_transpose`, with the same index map taken
        periodically: the adjoint of the periodic stride-``r`` correlation of ``v`` on the
        ``r H x r W`` grid. Adjoints share singular values, and that strided correlation's
        come from the polyphase symbol (:func:`sciconv.conv_singular_values`): one
        ``C_in x C_out r**2`` SVD per frequency of the ``H x W`` grid [1]_. A layer at its
        ICNR start has rank ``C_out H W`` at most (its ``r**2`` phases are equal), so
        ``sigma_min = 0`` whenever ``C_in > C_out``.

        References
        ----------
        .. [1] H. Sedghi, V. Gupta and P. M. Long, "The Singular Values of Convolutional
           Layers", ICLR 2019. arXiv:1805.10408.

        Examples
        --------
        >>> import numpy as np
        >>> import torch
        >>> from sciconv.subpixel import SubPixelConv2d
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> layer = SubPixelConv2d(
        ...     2, 1, 3, 2, padding=1, bias=False, padding_mode="circular", dtype=torch.float64
        ... )
        >>> s = layer.singular_values((2, 4, 4))
        >>> eye = torch.eye(32, dtype=torch.float64)
        >>> cols = [layer(e.reshape(1, 2, 4, 4)).detach().ravel() for e in eye]  # column by column
        >>> dense = np.linalg.svd(torch.stack(cols, 1).numpy(), compute_uv=False)
        >>> s.shape, bool(np.allclose(s, dense, rtol=0, atol=1e-12))
        ((32,), True)
        """
        if not isinstance(input_shape, Sequence) or isinstance(input_shape, str):
            raise TypeError(f"input_shape must be (C_in, H, W), got {describe(input_shape)}")
        check_bool("flat", flat)
        shape = as_int_tuple("input_shape", tuple(input_shape), len(input_shape))
        if len(shape) != 3 or shape[0] != self.in_channels:
            raise ValueError(
                f"input_shape must be (C_in, H, W) with C_in={self.in_channels}, got {shape}"
            )
        if self.padding_mode != "circular" or self.stride != (1, 1):
            raise ValueError(
                f"singular_values needs padding_mode='circular' and stride=1 (a periodic map), "
                f"got padding_mode={self.padding_mode!r}, stride={self.stride}"
            )
        if any(2 * p != k - 1 for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(
                f"singular_values needs padding = (kernel_size - 1) / 2 on both axes (an "
                f"output of r H x r W), got padding={self.padding}, "
                f"kernel_size={self.kernel_size}"
            )
        r = self.upscale_factor
        v, _ = subpixel_to_transpose(self.weight.detach(), r, self.padding)
        hr = (self.out_channels, r * shape[1], r * shape[2])
        return conv_singular_values(v, hr, stride=r, flat=flat)
