"""sciconv: convolution as an operator.

The core package holds the shared primitives (:class:`ConvOperator`, :func:`dottest`, the
spectrum of circular convolutions, FFT convolution, Vandermonde matrices) and the convolution
families built on them. It never imports :mod:`tensors`, :mod:`pde` or :mod:`solvers`.

``import sciconv`` is lazy (PEP 562): it imports neither torch nor any family. A name of
:data:`__all__` is imported from its module on first access (``sciconv.ConvOperator``,
``from sciconv import ssm``) and kept; any other submodule (``sciconv.validation``) is imported
when first read as an attribute. So the ``sciconv`` command answers ``--help`` without loading
torch, and a script pays only for what it uses.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real imports, for type checkers and readers
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
    "orthogonal",
    "ssm",
    "winograd",
)
#: families being added (issue 19's time): public, and in ``__all__``, once their package exists
_NEW_FAMILIES: tuple[str, ...] = ("interpret", "monarch", "streaming", "subpixel")

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


def _is_submodule(name: str) -> bool:
    """Whether ``sciconv.<name>`` is a module or a regular package on disk (found, not imported).

    A folder without ``__init__.py`` (a family being written) does not count.
    """
    if name.startswith("__") or "." in name:  # never run ``sciconv.__main__`` by accident
        return False
    spec = importlib.util.find_spec(f"{__name__}.{name}")
    return spec is not None and spec.origin is not None


__all__ += [name for name in _NEW_FAMILIES if _is_submodule(name)]
_FAMILIES += tuple(name for name in _NEW_FAMILIES if name in __all__)


def __getattr__(name: str) -> Any:
    """Import a public name (or a submodule) on first access and keep it (PEP 562)."""
    if name in _ORIGIN:
        value = getattr(importlib.import_module(_ORIGIN[name], __name__), name)
    elif name in _FAMILIES or _is_submodule(name):
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """This package's module type: a function keeps the name of the submodule defining it.

    Importing a submodule binds it on its package (``sciconv.dottest = <module>``). Two
    public functions are named like their modules (:func:`dottest`, :func:`vandermonde`), so
    once any module had imported ``sciconv.dottest`` the package attribute would be the module.
    Here the package keeps the function instead, as eager ``from .dottest import dottest``
    made it; the module stays reachable as ``sys.modules["sciconv.dottest"]`` and through
    ``from sciconv.dottest import ...``.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if (
            isinstance(value, types.ModuleType)
            and _ORIGIN.get(name) == f".{name}"
            and value.__name__ == f"{__name__}.{name}"
        ):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
