"""Input checks shared by every public function of sciconv.

Each check raises ``ValueError`` or ``TypeError`` with a message that names the argument,
the value received and what was expected, so that errors read the same across the package.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "as_int_tuple",
    "check_choice",
    "check_finite",
    "check_positive_int",
    "describe",
]


def describe(value: Any) -> str:
    """Short description of a value for error messages (arrays by shape and dtype)."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{type(value).__name__} of shape {tuple(shape)} and dtype {dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    """Return ``value`` as an ``int`` after checking it is an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {describe(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def as_int_tuple(name: str, value: Any, ndim: int, minimum: int = 1) -> tuple[int, ...]:
    """Broadcast an int or a length-``ndim`` sequence of ints to a tuple, checking bounds."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        values: Sequence[Any] = (value,) * ndim
    elif isinstance(value, Sequence) and not isinstance(value, str):
        values = tuple(value)
        if len(values) != ndim:
            raise ValueError(
                f"{name} must be an int or a sequence of {ndim} ints, got {describe(value)}"
            )
    else:
        raise TypeError(
            f"{name} must be an int or a sequence of {ndim} ints, got {describe(value)}"
        )
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must contain integers, got {describe(value)}")
        if v < minimum:
            raise ValueError(f"{name} must contain integers >= {minimum}, got {tuple(values)}")
        out.append(int(v))
    return tuple(out)


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """Check that ``value`` is one of the strings in ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {describe(value)}")
    return value


def check_finite(name: str, array: Any) -> None:
    """Raise ``ValueError`` if a numpy array or torch tensor holds NaN or infinity."""
    try:
        import torch

        if isinstance(array, torch.Tensor):
            if not bool(torch.isfinite(array.detach()).all()):
                raise ValueError(f"{name} must be finite, got NaN or infinity in {describe(array)}")
            return
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    if not np.all(np.isfinite(np.asarray(array))):
        raise ValueError(f"{name} must be finite, got NaN or infinity in {describe(array)}")
