"""Named factorized layers: ``CPConv{1,2,3}d``, ``TuckerConv{1,2,3}d``, ``TTConv{1,2,3}d``.

Each is :class:`tensors.factorized.FactorizedConv` with its kind and number of spatial axes
fixed, and the signature of ``nn.Conv{1,2,3}d`` plus the keyword ``rank``.
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

    doc = (
        f"{kind.upper() if kind != 'tucker' else 'Tucker'}-factorized ``nn.Conv{ndim}d`` "
        f"(see :class:`FactorizedConv`, kind={kind!r}, ndim={ndim}); same signature as "
        f"``nn.Conv{ndim}d`` plus the keyword ``rank``."
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
