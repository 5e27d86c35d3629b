"""Winograd / Toom-Cook convolution: exact transforms, conditioning, error, point search, layer.

Built on :mod:`sciconv.vandermonde`: ``F(m, r)`` takes ``n - 1 = m + r - 2`` finite points plus
infinity; :func:`transforms` returns exact ``A^T, G, B^T``; :func:`verify` proves them;
:func:`balance` / :func:`rescale` / :func:`place_fractions` move exact diagonal factors;
:func:`kappa_table` and :func:`predictor_E` measure conditioning in mpmath;
:func:`winograd_error` measures fp16 / bf16 / fp32 error; :func:`search` looks for better
points; :class:`WinogradConv2d` is the ``nn.Conv2d`` that runs them.
"""

from .conditioning import kappa, kappa_table, kappa_vfin, predictor_E
from .error import DTYPES, ErrorReport, lowp_matmul, winograd_error
from .layers import WinogradConv2d, conv2d_elementwise
from .scaling import balance, place_fractions, rescale
from .search import OBJECTIVES, SearchResult, evaluate_points, search, simple_rationals
from .transforms import (
    PLACEMENTS,
    WinogradTransform,
    default_points,
    parse_points,
    transforms,
    verify,
)

__all__ = [
    "DTYPES",
    "OBJECTIVES",
    "PLACEMENTS",
    "ErrorReport",
    "SearchResult",
    "WinogradConv2d",
    "WinogradTransform",
    "balance",
    "conv2d_elementwise",
    "default_points",
    "evaluate_points",
    "kappa",
    "kappa_table",
    "kappa_vfin",
    "lowp_matmul",
    "parse_points",
    "place_fractions",
    "predictor_E",
    "rescale",
    "search",
    "simple_rationals",
    "transforms",
    "verify",
    "winograd_error",
]
