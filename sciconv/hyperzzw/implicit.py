"""The slow network: a coordinate-based implicit MLP with sinusoidal filters (hyper-kernels).

References
----------
Fathony, Sahu, Willmott and Kolter, "Multiplicative Filter Networks", ICLR 2021 (the multiplicative
filter network with sinusoidal filters, "FourierNet").

Zhang, "HyperZ·Z·W Operator Connects Slow-Fast Networks for Full Context Interaction",
arXiv:2401.17948, 2024 (coordinate MLPs as the slow network).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch
from torch import nn

from ..validation import check_float_dtype, check_positive_int, describe

__all__ = ["CoordinateMLP", "coordinate_grid"]


def coordinate_grid(
    size: tuple[int, ...], device: Any = None, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Normalised coordinates in :math:`[-1, 1]` of a grid, shape ``(*size, len(size))``.

    An axis of length one sits at 0.

    Examples
    --------
    >>> from sciconv.hyperzzw import coordinate_grid
    >>> coordinate_grid((2, 3))
    tensor([[[-1., -1.],
             [-1.,  0.],
             [-1.,  1.]],
    <BLANKLINE>
            [[ 1., -1.],
             [ 1.,  0.],
             [ 1.,  1.]]])
    >>> coordinate_grid((1,))
    tensor([[0.]])
    """
    axes = [
        torch.linspace(-1.0, 1.0, n, device=device, dtype=dtype)
        if n > 1
        else torch.zeros(1, device=device, dtype=dtype)
        for n in size
    ]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)


class CoordinateMLP(nn.Module):
    r"""Multiplicative filter network mapping coordinates to ``out_channels`` kernel values.

    Parameters
    ----------
    out_channels : int
        Channels of the hyper-kernel.
    coord_dim : int
        1 (sequences) or 2 (images) or 3.
    hidden : int
        Width :math:`h` of the hidden layers.
    layers : int
        Number :math:`l \ge 1` of sinusoidal filters.
    omega : float
        Frequency scale: the filter frequencies are drawn uniformly in
        :math:`[-\omega/\sqrt{l}, \omega/\sqrt{l}]` (so that the product of :math:`l` filters
        has bandwidth about :math:`\omega`).
    device, dtype
        Factory arguments.

    Notes
    -----
    With coordinates :math:`c \in [-1, 1]^{d}` and filters
    :math:`g_i(c) = \sin(\Omega_i c + \varphi_i)`,

    .. math:: h^{(1)} = g_1(c), \qquad h^{(i+1)} = (W_i h^{(i)} + b_i) \odot g_{i+1}(c),
              \qquad K(c) = W_o h^{(l)} + b_o .

    The kernel depends on the coordinates and the parameters only, never on the activations,
    so it is the same for every sample and every batch; it can be sampled at any size.

    Examples
    --------
    The same network sampled on a 3x3 and a 5x5 grid agrees where the coordinates coincide:

    >>> import torch
    >>> from sciconv.hyperzzw import CoordinateMLP
    >>> _ = torch.manual_seed(0)
    >>> mlp = CoordinateMLP(4, coord_dim=2, hidden=16)
    >>> k3, k5 = mlp((3, 3)), mlp((5, 5))
    >>> k3.shape, k5.shape
    (torch.Size([4, 3, 3]), torch.Size([4, 5, 5]))
    >>> torch.allclose(k3, k5[:, ::2, ::2], atol=1e-6)
    True
    """

    def __init__(
        self,
        out_channels: int,
        coord_dim: int = 2,
        hidden: int = 32,
        layers: int = 3,
        omega: float = 16.0,
        *,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        check_float_dtype("dtype", dtype)
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        self.out_channels = check_positive_int("out_channels", out_channels)
        self.coord_dim = check_positive_int("coord_dim", coord_dim)
        check_positive_int("hidden", hidden)
        self.layers = check_positive_int("layers", layers)
        if isinstance(omega, bool) or not isinstance(omega, numbers.Real):
            raise TypeError(f"omega must be a finite number > 0, got {describe(omega)}")
        # the first-layer weights are drawn from [-omega/sqrt(l), omega/sqrt(l)] in dtype
        limit = torch.finfo(dtype if dtype is not None else torch.get_default_dtype()).max
        if not (math.isfinite(omega) and 0 < omega <= limit):
            raise ValueError(f"omega must be a finite number in (0, {limit:.4g}], got {omega!r}")
        bound = float(omega) / math.sqrt(layers)
        self.filters = nn.ModuleList(nn.Linear(coord_dim, hidden, **fk) for _ in range(layers))
        for f in self.filters:
            nn.init.uniform_(f.weight, -bound, bound)
            nn.init.uniform_(f.bias, -math.pi, math.pi)
        self.linears = nn.ModuleList(nn.Linear(hidden, hidden, **fk) for _ in range(layers - 1))
        self.out = nn.Linear(hidden, out_channels, **fk)

    def forward(self, size: int | tuple[int, ...]) -> torch.Tensor:
        """Sample the hyper-kernel on a grid of ``size``; returns ``(out_channels, *size)``."""
        size = (size,) if isinstance(size, int) else tuple(size)
        if len(size) != self.coord_dim or any(
            not isinstance(n, int) or isinstance(n, bool) or n < 1 for n in size
        ):
            raise ValueError(
                f"size must be {self.coord_dim} positive integers, got {describe(size)}"
            )
        p = self.out.weight
        c = coordinate_grid(size, device=p.device, dtype=p.dtype)
        h = torch.sin(self.filters[0](c))
        for lin, f in zip(self.linears, self.filters[1:]):
            h = lin(h) * torch.sin(f(c))
        return self.out(h).movedim(-1, 0)
