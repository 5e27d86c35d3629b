"""Hadamard-product (multiplicative) convolution layers.

Gated convolution (GLU), HorNet's recursive gated convolution gnConv, FiLM, squeeze-and-
excitation and low-rank bilinear fusion: each multiplies two feature paths elementwise. Each
module names its paper under References.
"""

from .bilinear import LowRankBilinear
from .film import FiLM, film
from .gated import GATES, GatedConv
from .gnconv import GlobalFilter, RecursiveGatedConv
from .se import SqueezeExcite

__all__ = [
    "GATES",
    "FiLM",
    "GatedConv",
    "GlobalFilter",
    "LowRankBilinear",
    "RecursiveGatedConv",
    "SqueezeExcite",
    "film",
]
