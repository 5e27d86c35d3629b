"""Low-rank bilinear (Hadamard-product) fusion of two feature vectors.

References
----------
Kim, On, Lim, Kim, Ha and Zhang, "Hadamard Product for Low-rank Bilinear Pooling", ICLR 2017.
arXiv:1610.04325.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..validation import check_choice, check_float_dtype, check_positive_int, describe

__all__ = ["LowRankBilinear"]

_ACT = {"identity": lambda t: t, "tanh": torch.tanh, "relu": torch.relu}


class LowRankBilinear(nn.Module):
    r"""Low-rank bilinear pooling :math:`z = P\,(\sigma(U x) \odot \sigma(V y)) + b`.

    Parameters
    ----------
    in1_features, in2_features : int
        Sizes of ``x`` and ``y`` (last axis; leading axes broadcast, e.g. pixels).
    out_features : int
        Size of ``z``.
    rank : int
        Inner (Hadamard) dimension :math:`R`.
    activation : {'tanh', 'relu', 'identity'}
        :math:`\sigma` on each projection.
    bias : bool
        Output bias :math:`b`.
    device, dtype
        Factory arguments.

    Notes
    -----
    With :math:`\sigma` the identity the layer is the bilinear form
    :math:`z_k = x^\top W_k y + b_k` with the rank-:math:`R` tensor
    :math:`W_{k,i,j} = \sum_r P_{k,r} U_{r,i} V_{r,j}` (``torch.nn.Bilinear`` with that weight),
    at cost :math:`O(R(d_1 + d_2 + d_o))` per pair instead of :math:`O(d_1 d_2 d_o)`.

    Examples
    --------
    With the identity activation the layer is ``torch.nn.Bilinear`` with a rank-``R`` weight:

    >>> import torch
    >>> import torch.nn.functional as F
    >>> from sciconv.hadamard import LowRankBilinear
    >>> _ = torch.manual_seed(0)
    >>> fuse = LowRankBilinear(5, 4, 3, rank=2, activation="identity", dtype=torch.float64)
    >>> x = torch.randn(7, 5, dtype=torch.float64)
    >>> y = torch.randn(7, 4, dtype=torch.float64)
    >>> z = fuse(x, y)
    >>> z.shape
    torch.Size([7, 3])
    >>> torch.allclose(z, F.bilinear(x, y, fuse.bilinear_weight(), fuse.p.bias))
    True
    """

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        rank: int,
        activation: str = "tanh",
        bias: bool = True,
        *,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        check_float_dtype("dtype", dtype)
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        self.in1_features = check_positive_int("in1_features", in1_features)
        self.in2_features = check_positive_int("in2_features", in2_features)
        check_positive_int("out_features", out_features)
        check_positive_int("rank", rank)
        self.activation = check_choice("activation", activation, tuple(_ACT))
        self.u = nn.Linear(in1_features, rank, bias=False, **fk)
        self.v = nn.Linear(in2_features, rank, bias=False, **fk)
        self.p = nn.Linear(rank, out_features, bias=bias, **fk)

    def bilinear_weight(self) -> torch.Tensor:
        """The equivalent ``torch.nn.Bilinear`` weight ``(out, in1, in2)`` (identity activation)."""
        return torch.einsum("kr,ri,rj->kij", self.p.weight, self.u.weight, self.v.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Fuse ``x`` ``(..., in1_features)`` with ``y`` ``(..., in2_features)``."""
        if not isinstance(x, torch.Tensor) or x.dim() < 1 or x.shape[-1] != self.in1_features:
            raise ValueError(f"x must have shape (..., {self.in1_features}), got {describe(x)}")
        if not isinstance(y, torch.Tensor) or y.dim() < 1 or y.shape[-1] != self.in2_features:
            raise ValueError(f"y must have shape (..., {self.in2_features}), got {describe(y)}")
        if x.shape[:-1] != y.shape[:-1]:
            raise ValueError(
                f"x and y must have the same leading shape, got {tuple(x.shape)} and "
                f"{tuple(y.shape)}"
            )
        act = _ACT[self.activation]
        return self.p(act(self.u(x)) * act(self.v(y)))
