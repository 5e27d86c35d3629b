"""Tensor-decomposed convolution kernels (CP, Tucker, tensor train) and factorized layers.

Kernels ``(out, in, *kernel_size)`` are decomposed with tensorly (:func:`decompose`); the layers
(:class:`CPConv2d`, :class:`TuckerConv2d`, :class:`TTConv2d` and their 1D/3D siblings) keep only
the factors and run them as sequences of small convolutions.
"""

from .cost import conv_flops, count_parameters, parameter_bytes, saved_activation_bytes
from .decompose import (
    KINDS,
    Decomposition,
    cp_to_kernel,
    decompose,
    max_rank,
    resolve_rank,
    tt_to_kernel,
    tucker_to_kernel,
)
from .factorized import FactorizedConv
from .layers import (
    CPConv1d,
    CPConv2d,
    CPConv3d,
    TTConv1d,
    TTConv2d,
    TTConv3d,
    TuckerConv1d,
    TuckerConv2d,
    TuckerConv3d,
)

__all__ = [
    "KINDS",
    "CPConv1d",
    "CPConv2d",
    "CPConv3d",
    "Decomposition",
    "FactorizedConv",
    "TTConv1d",
    "TTConv2d",
    "TTConv3d",
    "TuckerConv1d",
    "TuckerConv2d",
    "TuckerConv3d",
    "conv_flops",
    "count_parameters",
    "cp_to_kernel",
    "decompose",
    "max_rank",
    "parameter_bytes",
    "resolve_rank",
    "saved_activation_bytes",
    "tt_to_kernel",
    "tucker_to_kernel",
]
