"""Gated (GLU) convolution: one half of a convolution's channels gates the other half.

References
----------
Dauphin, Fan, Auli and Grangier, "Language Modeling with Gated Convolutional Networks", ICML 2017.
arXiv:1612.08083.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..validation import check_choice, check_conv_args, check_positive_int

__all__ = ["GATES", "GatedConv"]

#: Gate non-linearities.
GATES = ("sigmoid", "tanh", "identity")
_GATE = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "identity": lambda t: t}
_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


class GatedConv(nn.Module):
    r"""Gated linear unit convolution :math:`y = (W_a * x + b_a) \odot \sigma(W_b * x + b_b)`.

    Parameters
    ----------
    in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode
        As in ``torch.nn.Conv2d``; one convolution with ``2 * out_channels`` outputs computes
        the value (first half) and the gate (second half).
    gate : {'sigmoid', 'tanh', 'identity'}
        :math:`\sigma`; 'sigmoid' is the gated linear unit (GLU), 'identity' a bilinear
        unit.
    dim : {1, 2, 3}
        Number of spatial axes.
    device, dtype
        Factory arguments.

    Notes
    -----
    The Hadamard product makes the layer quadratic in :math:`x`; the gradient through the
    value path, :math:`\sigma(W_b * x)`, does not saturate (the motivation of the GLU). With
    ``groups > 1`` the value and gate halves each get ``groups`` blocks of the shared
    convolution, so pass ``groups`` dividing ``out_channels``.

    Examples
    --------
    >>> import torch
    >>> from sciconv.hadamard import GATES, GatedConv
    >>> GATES
    ('sigmoid', 'tanh', 'identity')
    >>> _ = torch.manual_seed(0)
    >>> glu = GatedConv(3, 8, 3, padding=1)
    >>> x = torch.randn(2, 3, 16, 16)
    >>> y = glu(x)
    >>> y.shape
    torch.Size([2, 8, 16, 16])
    >>> value, gate = glu.conv(x).split(8, dim=1)
    >>> torch.allclose(y, value * torch.sigmoid(gate))
    True
    >>> GatedConv(4, 4, 5, padding=2, gate="tanh", dim=1)(torch.randn(2, 4, 32)).shape
    torch.Size([2, 4, 32])
    """

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
        gate: str = "sigmoid",
        dim: int = 2,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if dim not in _CONV:
            raise ValueError(f"dim must be 1, 2 or 3, got {dim!r}")
        # groups divides in_channels and 2 * out_channels: torch checks that by name
        check_conv_args(
            dim, in_channels, out_channels, kernel_size, stride, dilation, 1, dtype, padding
        )
        self.out_channels = check_positive_int("out_channels", out_channels)
        self.gate = check_choice("gate", gate, GATES)
        self.conv = _CONV[dim](
            in_channels,
            2 * out_channels,
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the gated convolution to ``x`` of shape ``(N, in_channels, *spatial)``."""
        value, gate = self.conv(x).split(self.out_channels, dim=1)
        return value * _GATE[self.gate](gate)
