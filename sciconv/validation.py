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
    "check_conv_args",
    "check_finite",
    "check_float_dtype",
    "check_positive_int",
    "describe",
]


def describe(value: Any) -> str:
    """Short description of a value for error messages (arrays by shape and dtype).

    Examples
    --------
    >>> import numpy as np
    >>> from sciconv.validation import describe
    >>> describe(np.zeros((2, 3)))
    'ndarray of shape (2, 3) and dtype float64'
    >>> describe("abc"), len(describe(list(range(100))))  # long reprs are cut to 80
    ("'abc'", 80)
    """
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{type(value).__name__} of shape {tuple(shape)} and dtype {dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    """Return ``value`` as an ``int`` after checking it is an integer ``>= minimum``.

    Examples
    --------
    >>> import numpy as np
    >>> from sciconv.validation import check_positive_int
    >>> check_positive_int("trials", np.int64(3))
    3
    >>> check_positive_int("trials", 0)
    Traceback (most recent call last):
        ...
    ValueError: trials must be an integer >= 1, got 0
    >>> check_positive_int("trials", 2.0)
    Traceback (most recent call last):
        ...
    TypeError: trials must be an integer >= 1, got 2.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {describe(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def as_int_tuple(name: str, value: Any, ndim: int, minimum: int = 1) -> tuple[int, ...]:
    """Broadcast an int or a length-``ndim`` sequence of ints to a tuple, checking bounds.

    Examples
    --------
    >>> from sciconv.validation import as_int_tuple
    >>> as_int_tuple("stride", 2, 3), as_int_tuple("stride", [1, 2], 2)
    ((2, 2, 2), (1, 2))
    >>> as_int_tuple("stride", (1, 2), 3)
    Traceback (most recent call last):
        ...
    ValueError: stride must be an int or a sequence of 3 ints, got (1, 2)
    """
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
    """Check that ``value`` is one of the strings in ``choices``.

    Examples
    --------
    >>> from sciconv.validation import check_choice
    >>> check_choice("mode", "full", ("full", "same"))
    'full'
    >>> check_choice("mode", "valid", ("full", "same"))
    Traceback (most recent call last):
        ...
    ValueError: mode must be one of ['full', 'same'], got 'valid'
    """
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {describe(value)}")
    return value


def check_finite(name: str, array: Any) -> None:
    """Raise ``ValueError`` if a numpy array or torch tensor holds NaN or infinity.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sciconv.validation import check_finite
    >>> check_finite("weight", np.ones(3))  # returns None when finite
    >>> check_finite("weight", torch.tensor([1.0, float("nan")]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: weight must be finite, got NaN or infinity in Tensor of shape (2,) ...
    """
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


def check_float_dtype(name: str, dtype: Any) -> Any:
    """Return ``dtype`` after checking it is ``None`` or a floating (or complex) ``torch.dtype``.

    Layers create their parameters with ``torch.randn``-like initialisers, which have no
    integer or boolean kernels; this check refuses such a ``dtype`` by name, before torch does
    with an unrelated message.

    Examples
    --------
    >>> import torch
    >>> from sciconv.validation import check_float_dtype
    >>> check_float_dtype("dtype", torch.float64), check_float_dtype("dtype", None)
    (torch.float64, None)
    >>> check_float_dtype("dtype", torch.int64)
    Traceback (most recent call last):
        ...
    ValueError: dtype must be a floating torch.dtype (e.g. torch.float32), got torch.int64
    >>> check_float_dtype("dtype", "float64")
    Traceback (most recent call last):
        ...
    TypeError: dtype must be None or a torch.dtype, got 'float64'
    """
    if dtype is None:
        return None
    is_float = getattr(dtype, "is_floating_point", None)
    if type(dtype).__name__ != "dtype" or not isinstance(is_float, bool):
        raise TypeError(f"{name} must be None or a torch.dtype, got {describe(dtype)}")
    if not (is_float or dtype.is_complex):
        raise ValueError(
            f"{name} must be a floating torch.dtype (e.g. torch.float32), got {describe(dtype)}"
        )
    return dtype


def check_conv_args(
    ndim: int,
    in_channels: Any,
    out_channels: Any,
    kernel_size: Any,
    stride: Any = 1,
    dilation: Any = 1,
    groups: Any = 1,
    dtype: Any = None,
    padding: Any = 0,
) -> None:
    """Check the arguments a ``torch.nn.ConvNd``-like layer shares, naming the bad one.

    Channel counts and ``groups`` are integers >= 1, ``groups`` divides both channel counts,
    ``kernel_size``/``stride``/``dilation`` are ints or ``ndim`` ints >= 1, a numeric
    ``padding`` is an int or ``ndim`` ints >= 0 (a string is left to the layer) and ``dtype``
    is ``None`` or a floating ``torch.dtype``.

    Examples
    --------
    >>> from sciconv.validation import check_conv_args
    >>> check_conv_args(2, 4, 8, 3, groups=2)  # returns None when valid
    >>> check_conv_args(2, 4, -1, 3)
    Traceback (most recent call last):
        ...
    ValueError: out_channels must be an integer >= 1, got -1
    >>> check_conv_args(1, 3, 4, 3, groups=2)
    Traceback (most recent call last):
        ...
    ValueError: groups=2 must divide in_channels=3 and out_channels=4
    """
    cin = check_positive_int("in_channels", in_channels)
    cout = check_positive_int("out_channels", out_channels)
    as_int_tuple("kernel_size", kernel_size, ndim)
    as_int_tuple("stride", stride, ndim)
    as_int_tuple("dilation", dilation, ndim)
    g = check_positive_int("groups", groups)
    if cin % g or cout % g:
        raise ValueError(f"groups={g} must divide in_channels={cin} and out_channels={cout}")
    if not isinstance(padding, str):
        as_int_tuple("padding", padding, ndim, minimum=0)
    check_float_dtype("dtype", dtype)
