"""The symbol of a circular convolution as a linear function of its kernel (numpy and torch)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..spectrum import conv_symbol

__all__ = ["symbol_from_taps", "tap_symbols"]


def tap_symbols(
    kernel_size: Sequence[int], grid: Sequence[int], stride: Sequence[int]
) -> np.ndarray:
    r"""Symbols of the unit taps: ``E[*f, t, r]`` with :math:`K(f)_{m,(c,r)} = \sum_t
    w_{m,c,t} E_{f,t,r}`.

    Built by :func:`sciconv.spectrum.conv_symbol` on the kernel ``eye(T)`` of shape
    ``(T, 1, *kernel_size)`` (``T = prod(kernel_size)``), so the layout (columns
    ``c * prod(stride) + r``) is the primitive's. Shape ``(*(grid // stride), T, prod(stride))``.
    """
    t = math.prod(kernel_size)
    eye = np.eye(t).reshape(t, 1, *kernel_size)
    return conv_symbol(eye, (1, *grid), stride=tuple(stride))


def symbol_from_taps(weight: Any, taps: Any) -> Any:
    """``K(f)`` of shape ``(*freq, M, C * R)`` from ``weight (M, C, *k)`` and :func:`tap_symbols`.

    numpy in, numpy out; torch in, torch out (differentiable in ``weight``).
    """
    m, c = weight.shape[:2]
    r = taps.shape[-1]
    if isinstance(weight, torch.Tensor):
        e = torch.as_tensor(taps, device=weight.device)
        wc = weight.reshape(m, c, -1).to(e.dtype)
        k = torch.einsum("mct,...tr->...mcr", wc, e)
    else:
        k = np.einsum("mct,...tr->...mcr", weight.reshape(m, c, -1), taps)
    return k.reshape(*k.shape[:-3], m, c * r)
