"""sciconv: convolution as an operator.

The core package holds the shared primitives (:class:`ConvOperator`, :func:`dottest`, the
spectrum of circular convolutions, FFT convolution, Vandermonde matrices) and the convolution
families built on them. It never imports :mod:`tensors`, :mod:`pde` or :mod:`solvers`.
"""

from . import generalized, hadamard, hyperbolic, hyperzzw, orthogonal, ssm, winograd
from .dottest import dottest
from .fft import FFTConvolver, fft_size, fftconv
from .operator import DENSE_LIMIT, ConvOperator
from .padding import PADDING_MODES
from .spectrum import (
    condition_number,
    conv_singular_values,
    conv_symbol,
    operator_norm,
    spectral_norm_power,
)
from .vandermonde import (
    INF,
    cond,
    exact_det,
    exact_inverse,
    exact_solve,
    parse_point,
    vandermonde,
    vandermonde_apply,
    vandermonde_det,
)

__version__ = "0.1.0"

__all__ = [
    "DENSE_LIMIT",
    "INF",
    "PADDING_MODES",
    "ConvOperator",
    "FFTConvolver",
    "__version__",
    "cond",
    "condition_number",
    "conv_singular_values",
    "conv_symbol",
    "dottest",
    "exact_det",
    "exact_inverse",
    "exact_solve",
    "fft_size",
    "fftconv",
    "generalized",
    "hadamard",
    "hyperbolic",
    "hyperzzw",
    "operator_norm",
    "orthogonal",
    "parse_point",
    "spectral_norm_power",
    "ssm",
    "vandermonde",
    "vandermonde_apply",
    "vandermonde_det",
    "winograd",
]
