"""Tests of the byte counters of :mod:`tensors.cost`, against counts worked out by hand."""

from __future__ import annotations

import torch
from torch import nn

from tensors import CPConv2d
from tensors.cost import parameter_bytes, saved_activation_bytes


def test_parameter_bytes():
    """float32 conv 3->4, 3x3 with bias: (108 + 4) * 4 bytes; float64 doubles it."""
    assert parameter_bytes(nn.Conv2d(3, 4, 3)) == 112 * 4
    assert parameter_bytes(nn.Conv2d(3, 4, 3, dtype=torch.float64)) == 112 * 8


def test_saved_activations_of_a_chain():
    """conv -> GELU -> conv saves the input, the GELU input and the GELU output (weights are
    parameters, not counted): 2*3*8*8 + 2 * (2*5*8*8) floats."""
    net = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), nn.GELU(), nn.Conv2d(5, 2, 3, padding=1))
    x = torch.randn(2, 3, 8, 8)
    assert saved_activation_bytes(net, x) == 4 * (2 * 3 * 64 + 2 * 2 * 5 * 64)


def test_saved_activations_of_a_cp_layer_exceed_its_input():
    """A factorized layer also keeps its intermediate (rank-channel) maps: input 2x6x8x8, then
    three maps of 2x4x8x8 (1x1 out, kx1 out, 1xk out) for the next convolutions, plus the small
    reshaped factors (views of parameters are counted once per storage, so not at all)."""
    layer = CPConv2d(6, 6, 3, padding=1, rank=4)
    x = torch.randn(2, 6, 8, 8)
    got = saved_activation_bytes(layer, x)
    maps = 4 * (2 * 6 * 64 + 3 * 2 * 4 * 64)
    assert maps <= got <= maps + 4 * 6 * 4 * 4  # + at most the transposed factor copies
