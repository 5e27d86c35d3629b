"""Squeeze-and-excitation: channel gates from globally pooled features.

References
----------
Hu, Shen and Sun, "Squeeze-and-Excitation Networks", CVPR 2018. arXiv:1709.01507.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..validation import check_float_dtype, check_positive_int, describe

__all__ = ["SqueezeExcite"]


class SqueezeExcite(nn.Module):
    r"""Channel re-weighting :math:`y = x \odot \sigma(W_2\, \delta(W_1 \bar x + b_1) + b_2)`.

    Parameters
    ----------
    channels : int
        Channels ``C`` of the input ``(N, C, *spatial)``.
    reduction : int
        Hidden width ``max(1, C // reduction)``.
    device, dtype
        Factory arguments.

    Notes
    -----
    :math:`\bar x_{n,c}` is the spatial mean of channel :math:`c` of sample :math:`n`,
    :math:`\delta` the ReLU and :math:`\sigma` the logistic sigmoid; the gate is a Hadamard
    product broadcast over space. No statistic is shared across the batch.

    Examples
    --------
    >>> import torch
    >>> from sciconv.hadamard import SqueezeExcite
    >>> _ = torch.manual_seed(0)
    >>> se = SqueezeExcite(16, reduction=4)
    >>> x = torch.randn(2, 16, 8, 8)
    >>> s = se.gate(x)
    >>> s.shape, bool(((s > 0) & (s < 1)).all())
    (torch.Size([2, 16]), True)
    >>> torch.allclose(se(x), x * s[:, :, None, None])
    True
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 4,
        *,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        check_float_dtype("dtype", dtype)
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        hidden = max(1, channels // check_positive_int("reduction", reduction))
        self.fc1 = nn.Linear(channels, hidden, device=device, dtype=dtype)
        self.fc2 = nn.Linear(hidden, channels, device=device, dtype=dtype)

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The gates :math:`s_{n,c} \\in (0, 1)`, shape ``(N, C)``."""
        if not isinstance(x, torch.Tensor) or x.dim() < 3 or x.shape[1] != self.channels:
            raise ValueError(f"x must have shape (N, {self.channels}, *spatial), got {describe(x)}")
        squeezed = x.mean(dim=tuple(range(2, x.dim())))
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(squeezed))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Re-weight the channels of ``x``."""
        s = self.gate(x)
        return x * s.view(*s.shape, *(1,) * (x.dim() - 2))
