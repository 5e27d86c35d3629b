"""Named factorized layers: ``CPConv{1,2,3}d``, ``TuckerConv{1,2,3}d``, ``TTConv{1,2,3}d``.

Each is :class:`tensors.factorized.FactorizedConv` with its kind and number of spatial axes
fixed, and the signature of ``nn.Conv{1,2,3}d`` plus the keyword ``rank``. The papers behind
each kind are listed under References in :mod:`tensors.factorized`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .factorized import FactorizedConv

__all__ = [
    "CPConv1d",
    "CPConv2d",
    "CPConv3d",
    "TTConv1d",
    "TTConv2d",
    "TTConv3d",
    "TuckerConv1d",
    "TuckerConv2d",
    "TuckerConv3d",
]


def _specialise(kind: str, ndim: int) -> type[FactorizedConv]:
    name = {"cp": "CP", "tucker": "Tucker", "tt": "TT"}[kind] + f"Conv{ndim}d"

    def __init__(
        self: FactorizedConv,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] | str = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        *,
        rank: int | Sequence[int] | str,
        implementation: str = "factorized",
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        FactorizedConv.__init__(
            self,
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            rank=rank,
            kind=kind,
            ndim=ndim,
            implementation=implementation,
            device=device,
            dtype=dtype,
        )

    spatial = ", ".join(["6"] * ndim)
    doc = (
        f"{kind.upper() if kind != 'tucker' else 'Tucker'}-factorized ``nn.Conv{ndim}d`` "
        f"(see :class:`FactorizedConv`, kind={kind!r}, ndim={ndim}); same signature as "
        f"``nn.Conv{ndim}d`` plus the keyword ``rank``.\n"
        "\n"
        "    Examples\n"
        "    --------\n"
        "    >>> import torch\n"
        "    >>> import torch.nn.functional as F\n"
        f"    >>> from tensors import {name}\n"
        "    >>> _ = torch.manual_seed(0)\n"
        f"    >>> layer = {name}(4, 8, 3, padding=1, rank=2)\n"
        f"    >>> x = torch.randn(2, 4, {spatial})\n"
        "    >>> layer(x).shape\n"
        f"    torch.Size([2, 8, {spatial}])\n"
        f"    >>> dense = F.conv{ndim}d(x, layer.weight, layer.bias, padding=1)\n"
        "    >>> torch.allclose(layer(x), dense, atol=1e-5)\n"
        "    True\n"
        "    >>> layer.n_parameters() < layer.dense_parameters()\n"
        "    True\n"
    )
    attrs = {"__init__": __init__, "__doc__": doc, "_KIND": kind, "_NDIM": ndim}
    return type(name, (FactorizedConv,), {**attrs, "__module__": __name__, "__qualname__": name})


CPConv1d = _specialise("cp", 1)
CPConv2d = _specialise("cp", 2)
CPConv3d = _specialise("cp", 3)
TuckerConv1d = _specialise("tucker", 1)
TuckerConv2d = _specialise("tucker", 2)
TuckerConv3d = _specialise("tucker", 3)
TTConv1d = _specialise("tt", 1)
TTConv2d = _specialise("tt", 2)
TTConv3d = _specialise("tt", 3)
