"""Input checks shared by every public function of sciconv.

Each check raises ``ValueError`` or ``TypeError`` with a message that names the argument,
the value received and what was expected, so that errors read the same across the package.

Checks that read tensor *values* (finiteness, a point inside the Poincaré ball, a positive
step) go through :func:`require`, which keeps layers deployable: in eager mode it raises the
named error (one host sync); while ``torch.compile`` or ``torch.export`` traces, or on the
``meta`` device, it becomes ``torch._assert_async`` (an assertion inside the graph, no
data-dependent Python branch), so ``fullgraph=True`` and ``torch.export`` succeed. Inside
``with value_checks(False):`` they are skipped altogether (no host synchronisation on CUDA, no
assertion in a traced graph); shape and dtype checks, which read no value, always run.
"""

from __future__ import annotations

import contextlib
import numbers
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

__all__ = [
    "as_int_tuple",
    "check_bool",
    "check_choice",
    "check_conv_args",
    "check_finite",
    "check_float_dtype",
    "check_input_dtype",
    "check_positive_int",
    "check_tensor",
    "checking_values",
    "describe",
    "require",
    "traced",
    "value_checks",
]

#: Whether :func:`require` checks values, per thread (attribute ``enabled``, absent = True).
#: ``torch.compile`` traces and guards a ``threading.local`` attribute (the guard reads the
#: calling thread's value), where it cannot trace a ``contextvars`` lookup.
_VALUE_CHECKS = threading.local()


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


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is a ``bool``, else ``TypeError`` naming ``name`` (no truthiness: ``1``,
    ``None``, ``"yes"`` and ``numpy.bool_`` are refused, as a flag that is not a bool is
    usually a misplaced argument).

    Examples
    --------
    >>> check_bool("strict", True)
    True
    >>> check_bool("strict", "yes")
    Traceback (most recent call last):
        ...
    TypeError: strict must be a bool (True or False), got 'yes'
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool (True or False), got {describe(value)}")
    return value


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


def check_tensor(name: str, value: Any, ndim: int | None = None, layout: str = "") -> Any:
    """``value`` if it is a ``torch.Tensor`` (else ``TypeError``) with ``ndim`` axes when given
    (else ``ValueError``); ``layout`` (e.g. ``"(B, C, L)"``) is named in both messages.

    Examples
    --------
    >>> import torch
    >>> from sciconv.validation import check_tensor
    >>> check_tensor("x", torch.zeros(2, 3, 4), 3, "(B, C, L)").shape
    torch.Size([2, 3, 4])
    >>> check_tensor("x", [1.0], 3, "(B, C, L)")
    Traceback (most recent call last):
        ...
    TypeError: x must be a torch.Tensor of shape (B, C, L), got [1.0]
    >>> check_tensor("x", torch.zeros(4), 3, "(B, C, L)")
    Traceback (most recent call last):
        ...
    ValueError: x must have shape (B, C, L), got shape (4,)
    """
    import torch

    shape = f" of shape {layout}" if layout else ""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor{shape}, got {describe(value)}")
    if ndim is not None and value.ndim != ndim:
        want = f"shape {layout}" if layout else f"{ndim} axes"
        raise ValueError(f"{name} must have {want}, got shape {tuple(value.shape)}")
    return value


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


def traced(tensor: Any) -> bool:
    """Whether ``tensor`` has no values to read: ``torch.compile``/``torch.export`` tracing,
    a fake tensor, or the ``meta`` device.

    Examples
    --------
    >>> import torch
    >>> from sciconv.validation import traced
    >>> traced(torch.ones(2)), traced(torch.ones(2, device="meta"))
    (False, True)
    """
    import torch

    if torch.compiler.is_compiling() or torch.compiler.is_exporting():
        return True
    if not isinstance(tensor, torch.Tensor):
        return False
    if tensor.device.type == "meta":
        return True
    from torch._subclasses.fake_tensor import is_fake

    return bool(is_fake(tensor))


@contextlib.contextmanager
def value_checks(enabled: bool = True) -> Iterator[None]:
    """Context in which the value checks of :func:`require` run (``True``) or are skipped.

    The layers check values inside ``forward`` (finite kernels, points inside the Poincaré
    ball, positive steps): one host synchronisation per check on a GPU in eager mode, one
    assertion per check in a compiled or exported graph. ``with value_checks(False):``
    switches them off for the code inside (for a deployed model whose inputs and parameters
    are known to be valid); checks of shapes and dtypes, which read no value, still run. The
    setting is per thread (as ``torch.no_grad``): other threads, including those started
    inside the block, keep checking; it is restored on exit. A function compiled under one
    setting is recompiled under the other (Dynamo guards it, in the calling thread).

    Examples
    --------
    >>> import torch
    >>> from sciconv.validation import check_finite, value_checks
    >>> bad = torch.tensor([float("nan")])
    >>> with value_checks(False):
    ...     check_finite("w", bad)  # skipped: returns None
    >>> check_finite("w", bad)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: w must be finite, got NaN or infinity in Tensor of shape (1,) ...
    """
    check_bool("enabled", enabled)
    before = checking_values()
    _VALUE_CHECKS.enabled = enabled
    try:
        yield
    finally:
        _VALUE_CHECKS.enabled = before


def checking_values() -> bool:
    """Whether value checks run here (``False`` inside ``with value_checks(False):``).

    Examples
    --------
    >>> from sciconv.validation import checking_values, value_checks
    >>> with value_checks(False):
    ...     inside = checking_values()
    >>> inside, checking_values()
    (False, True)
    """
    return getattr(_VALUE_CHECKS, "enabled", True)


def require(
    ok: Any,
    message: str,
    detail: Callable[[], str] | None = None,
    error: type[Exception] = ValueError,
) -> None:
    """Assert a condition held in a boolean tensor, without breaking tracing.

    Parameters
    ----------
    ok : torch.Tensor or bool
        Boolean tensor, the check holding when all of its entries are true, or a Python (or
        numpy) bool, checked at once, also while traced (a constant of the trace).
    message : str
        What must hold, naming the argument (``"x must be finite"``).
    detail : callable, optional
        Returns the value found (``"got ..."``); called only in eager mode on failure, so it
        may read tensor values.
    error : type
        Exception raised in eager mode (``ValueError`` by default).

    Notes
    -----
    Eager: ``bool(ok.all())`` (one host synchronisation) and ``error(message + detail())`` on
    failure. Traced (:func:`traced`: ``torch.compile``, ``torch.export``, a fake or ``meta``
    tensor): ``torch._assert_async(ok.all(), message)``, an operator of the graph, so there is
    no data-dependent Python branch; a failure then raises ``RuntimeError`` carrying
    ``message`` when the compiled or exported program runs (a device-side assertion on CUDA).
    Inside ``with value_checks(False):`` nothing is checked. Any other ``ok`` raises
    ``TypeError``.

    Examples
    --------
    >>> import torch
    >>> from sciconv.validation import require
    >>> x = torch.tensor([1.0, -2.0])
    >>> require(x > -5, "x must be > -5")  # holds: returns None
    >>> require(x.shape[0] == 2, "x must have 2 entries")  # a Python bool too
    >>> require(x > 0, "x must be > 0", lambda: f"got min {x.min().item()}")
    Traceback (most recent call last):
        ...
    ValueError: x must be > 0, got min -2.0
    """
    import torch

    if not isinstance(ok, (bool, np.bool_, torch.Tensor)):
        raise TypeError(f"ok must be a torch.Tensor or a bool, got {describe(ok)}")
    if not checking_values():
        return
    if not isinstance(ok, torch.Tensor):
        if not ok:
            raise error(message if detail is None else f"{message}, {detail()}")
        return
    cond = ok.all() if ok.numel() != 1 else ok.reshape(())
    if traced(ok):
        torch._assert_async(cond, message)
        return
    if not bool(cond):
        raise error(message if detail is None else f"{message}, {detail()}")


def check_finite(name: str, array: Any) -> None:
    """Raise ``ValueError`` if a numpy array or torch tensor holds NaN or infinity.

    A tensor is checked through :func:`require` (an in-graph assertion while traced).

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
            require(
                torch.isfinite(array.detach()),
                f"{name} must be finite",
                lambda: f"got NaN or infinity in {describe(array)}",
            )
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


def check_input_dtype(name: str, x: Any, expected: Any, layer: str) -> None:
    """Raise ``TypeError`` unless the tensor ``x`` has the dtype ``expected`` of a layer.

    ``torch.nn.Conv2d`` refuses an input whose dtype differs from its weight's (a float32
    batch through a float64 layer) instead of silently promoting; the layers of sciconv do the
    same through this check, which reads only the dtype (no value: it traces and compiles).

    Examples
    --------
    >>> import torch
    >>> from sciconv.validation import check_input_dtype
    >>> check_input_dtype("x", torch.zeros(2, dtype=torch.float64), torch.float64, "S4D")
    >>> check_input_dtype("x", torch.zeros(2), torch.float64, "S4D")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    TypeError: x must have the dtype of the S4D parameters, torch.float64 ... got torch.float32; ...
    """
    dtype = getattr(x, "dtype", None)
    if dtype != expected:
        raise TypeError(
            f"{name} must have the dtype of the {layer} parameters, {expected} (as torch.nn "
            f"layers require), got {dtype}; convert {name} with .to({expected}) or the layer "
            f"with .to({dtype})"
        )


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
