"""sciconv: convolution as an operator.

The core package holds the shared primitives (:class:`ConvOperator`, :func:`dottest`, the
spectrum of circular convolutions, FFT convolution, Vandermonde matrices) and the convolution
families built on them. It never imports :mod:`tensors`, :mod:`pde` or :mod:`solvers`.

``import sciconv`` is lazy (PEP 562): it imports neither torch nor any family. A name of
:data:`__all__` is imported from its module on first access (``sciconv.ConvOperator``,
``from sciconv import ssm``) and kept; any other submodule (``sciconv.validation``) is imported
when first read as an attribute (:func:`sciconv.lazy.attach`). So the ``sciconv`` command
answers ``--help`` without loading torch, and a script pays only for what it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import attach as _attach

if TYPE_CHECKING:  # the real imports, for type checkers and readers
    from . import (
        generalized,
        hadamard,
        hyperbolic,
        hyperzzw,
        interpret,
        monarch,
        orthogonal,
        ssm,
        streaming,
        subpixel,
        winograd,
    )
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

#: public name -> the submodule (relative to this package) that defines it
_ORIGIN: dict[str, str] = {
    "dottest": ".dottest",
    "FFTConvolver": ".fft",
    "fft_size": ".fft",
    "fftconv": ".fft",
    "DENSE_LIMIT": ".operator",
    "ConvOperator": ".operator",
    "PADDING_MODES": ".padding",
    "condition_number": ".spectrum",
    "conv_singular_values": ".spectrum",
    "conv_symbol": ".spectrum",
    "operator_norm": ".spectrum",
    "spectral_norm_power": ".spectrum",
    "INF": ".vandermonde",
    "cond": ".vandermonde",
    "exact_det": ".vandermonde",
    "exact_inverse": ".vandermonde",
    "exact_solve": ".vandermonde",
    "parse_point": ".vandermonde",
    "vandermonde": ".vandermonde",
    "vandermonde_apply": ".vandermonde",
    "vandermonde_det": ".vandermonde",
}

#: the convolution families (subpackages), imported on first access
_FAMILIES: tuple[str, ...] = (
    "generalized",
    "hadamard",
    "hyperbolic",
    "hyperzzw",
    "interpret",
    "monarch",
    "orthogonal",
    "ssm",
    "streaming",
    "subpixel",
    "winograd",
)

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
    "interpret",
    "monarch",
    "operator_norm",
    "orthogonal",
    "parse_point",
    "spectral_norm_power",
    "ssm",
    "streaming",
    "subpixel",
    "vandermonde",
    "vandermonde_apply",
    "vandermonde_det",
    "winograd",
]


__getattr__, __dir__ = _attach(__name__, _ORIGIN, _FAMILIES)
