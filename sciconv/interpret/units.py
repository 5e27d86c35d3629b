"""Non-linear units frozen at their input: masks of piecewise-linear units, gates of smooth ones.

Gates are exact at the sample: ``g(z) * z`` (plus ``1/2`` for the sigmoid) equals the unit's
output at ``z``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .steps import Elementwise

__all__ = ["ACTIVATIONS", "freeze_activation"]


#: non-linear units and how they freeze: 'mask' (piecewise linear, the Jacobian) or 'gate'
ACTIVATIONS = {
    "relu": "mask",
    "leaky_relu": "mask",
    "prelu": "mask",
    "hardtanh": "mask",
    "silu": "gate",
    "gelu": "gate",
    "sigmoid": "gate",
    "tanh": "gate",
}


def _ratio(num: torch.Tensor, z: torch.Tensor, at_zero: float) -> torch.Tensor:
    safe = torch.where(z == 0, torch.ones_like(z), z)
    return torch.where(z == 0, torch.full_like(z, at_zero), num / safe)


def freeze_activation(
    kind: str,
    z: torch.Tensor,
    slope: Any = 0.01,
    approximate: str = "none",
    bounds: tuple[float, float] = (-1.0, 1.0),
) -> Elementwise:
    r"""The frozen form :math:`g \odot v + b` of a non-linear unit at its input ``z``.

    ReLU: :math:`g = 1_{z>0}`; LeakyReLU/PReLU: :math:`g = 1` for :math:`z>0`, the slope
    otherwise. Hardtanh (ReLU6 is ``bounds = (0, 6)``): :math:`g = 1_{lo<z<hi}` and offset
    ``lo`` below the band, ``hi`` above it. SiLU: :math:`g = \sigma(z)`; GELU:
    :math:`g = \Phi(z)` (or its tanh form); tanh: :math:`g = \tanh(z)/z`; sigmoid:
    :math:`\sigma(z) = \tfrac12 + g z` with :math:`g = \tanh(z/2)/(2z)` and offset
    :math:`\tfrac12`.
    """
    shape = tuple(z.shape)
    offset = None
    if kind == "relu":
        gain = (z > 0).to(z.dtype)
    elif kind in ("leaky_relu", "prelu"):
        a = torch.as_tensor(slope, dtype=z.dtype, device=z.device)
        if a.numel() > 1:  # PReLU with one slope per channel (axis 1)
            a = a.reshape(1, -1, *([1] * (z.ndim - 2)))
        gain = torch.where(z > 0, torch.ones_like(z), a.expand_as(z))
    elif kind == "hardtanh":
        lo, hi = bounds
        inside = (z > lo) & (z < hi)
        gain = inside.to(z.dtype)
        offset = torch.zeros_like(z)  # (not torch.where with scalars: float32 by default)
        offset = offset.masked_fill(z <= lo, lo).masked_fill(z >= hi, hi)
    elif kind == "silu":
        gain = torch.sigmoid(z)
    elif kind == "gelu":
        if approximate == "tanh":
            gain = 0.5 * (1 + torch.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)))
        else:
            gain = 0.5 * (1 + torch.erf(z / math.sqrt(2)))
    elif kind == "tanh":
        gain = _ratio(torch.tanh(z), z, 1.0)
    elif kind == "sigmoid":
        gain = _ratio(0.5 * torch.tanh(z / 2), z, 0.25)
        offset = 0.5
    else:  # pragma: no cover - callers check ACTIVATIONS
        raise ValueError(f"kind must be one of {sorted(ACTIVATIONS)}, got {kind!r}")
    step = Elementwise(gain, offset, shape, shape)
    step.gate = ACTIVATIONS[kind] == "gate"
    return step
