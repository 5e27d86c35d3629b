"""What a layer costs: parameters, FLOPs, parameter bytes, activations kept for backward."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from sciconv.padding import resolve_padding
from sciconv.validation import as_int_tuple, describe

from .factorized import NN_CONV, FactorizedConv, out_size

__all__ = ["conv_flops", "count_parameters", "parameter_bytes", "saved_activation_bytes"]


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters of ``module``.

    Examples
    --------
    >>> from torch import nn
    >>> from tensors import CPConv2d, count_parameters
    >>> count_parameters(nn.Conv2d(4, 8, 3))  # 8 * 4 * 3 * 3 weights + 8 biases
    296
    >>> count_parameters(CPConv2d(4, 8, 3, rank=2))  # factors (8, 2), (4, 2), (3, 2), (3, 2)
    44
    """
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def conv_flops(module: nn.Module, input_size: Sequence[int]) -> int:
    """FLOPs (2 per multiply-add) of one sample through a dense or factorized convolution.

    Examples
    --------
    >>> from torch import nn
    >>> from tensors import CPConv2d, conv_flops
    >>> conv_flops(nn.Conv2d(4, 8, 3, padding=1), (6, 6))  # 2 * (8 * 4 * 9) * 36
    20736
    >>> conv_flops(CPConv2d(4, 8, 3, padding=1, rank=2), (6, 6))  # 4 small convolutions
    2592
    """
    if isinstance(module, FactorizedConv):
        return module.flops(input_size)
    if not isinstance(module, tuple(NN_CONV.values())):
        raise TypeError(f"module must be an nn.ConvNd or a FactorizedConv, got {describe(module)}")
    nd = module.weight.ndim - 2
    size = as_int_tuple("input_size", input_size, nd)
    k, s, d = module.kernel_size, module.stride, module.dilation
    if isinstance(module.padding, str):
        _, widths = resolve_padding(module.padding, None, size, k, d)
    else:
        widths = tuple((p, p) for p in module.padding)
    out = [out_size(n, k[a], s[a], widths[a], d[a]) for a, n in enumerate(size)]
    macs = module.out_channels * (module.in_channels // module.groups) * math.prod(k)
    return 2 * macs * math.prod(out)


def parameter_bytes(module: nn.Module) -> int:
    """Bytes of all parameters and buffers of ``module``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from tensors import parameter_bytes
    >>> parameter_bytes(nn.Conv2d(4, 8, 3))  # 296 float32 numbers
    1184
    >>> parameter_bytes(nn.Conv2d(4, 8, 3, dtype=torch.float64))
    2368
    """
    tensors = [*module.parameters(), *module.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def saved_activation_bytes(module: nn.Module, *inputs: torch.Tensor) -> int:
    """Bytes of the tensors autograd saves for the backward pass of ``module(*inputs)``.

    Counted with ``torch.autograd.graph.saved_tensors_hooks`` during one forward pass; each
    storage is counted once and parameters (already in :func:`parameter_bytes`) are excluded.
    This is the activation memory of training, independent of the device allocator.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from tensors import CPConv2d, saved_activation_bytes
    >>> x = torch.randn(2, 4, 6, 6)  # 288 float32 numbers
    >>> saved_activation_bytes(nn.Conv2d(4, 8, 3, padding=1), x)  # the input
    1152
    >>> # the input and three (2, 2, 6, 6) intermediates: fewer parameters, more activations
    >>> saved_activation_bytes(CPConv2d(4, 8, 3, padding=1, rank=2), x)
    2880
    """
    params = {p.untyped_storage().data_ptr() for p in module.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in params:
            seen[ptr] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        module(*inputs)
    return sum(seen.values())
