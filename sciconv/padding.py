"""Boundary handling for convolution operators: padding widths and index maps.

A padded signal is described, axis by axis, by an integer index map ``idx`` of length
``n + left + right``: entry ``p`` tells which input sample sits at padded position ``p``
(``-1`` for a zero). Padding is then a gather and its adjoint a scatter-add, which works for
every boundary mode and for pads wider than the grid (circular taps wrap modulo ``n``).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .validation import describe

__all__ = ["PADDING_MODES", "index_map", "resolve_padding"]

#: Boundary modes understood by :class:`sciconv.ConvOperator`.
PADDING_MODES = ("circular", "zeros", "same", "valid", "reflect")


def resolve_padding(
    padding: Any,
    pad_width: Any,
    input_size: Sequence[int],
    kernel_size: Sequence[int],
    dilation: Sequence[int],
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Turn ``padding`` / ``pad_width`` arguments into a mode and ``(left, right)`` per axis.

    Parameters
    ----------
    padding : str or int or sequence
        One of :data:`PADDING_MODES`, or integer zero-padding widths as in
        ``torch.nn.Conv2d`` (an int, or one int per spatial axis, or one ``(left, right)``
        pair per axis).
    pad_width : None, int or sequence
        Explicit widths for the modes 'zeros', 'circular' and 'reflect'. ``None`` selects the
        "same" widths ``left = d(k-1)//2``, ``right = d(k-1) - left`` (torch's convention),
        which give ``ceil(n / stride)`` outputs along each axis.
    input_size, kernel_size, dilation : sequence of int
        Spatial sizes, one entry per axis.

    Returns
    -------
    mode : str
        'zeros', 'circular' or 'reflect' ('same' and 'valid' are zero padding).
    widths : tuple of (int, int)
        Left and right padding per spatial axis.

    Examples
    --------
    >>> from sciconv.padding import resolve_padding
    >>> resolve_padding("same", None, (10,), (4,), (1,))  # torch's split of d(k-1) = 3
    ('zeros', ((1, 2),))
    >>> resolve_padding("circular", None, (8, 8), (3, 3), (2, 1))
    ('circular', ((2, 2), (1, 1)))
    >>> resolve_padding([(0, 2), 1], None, (8, 8), (3, 3), (1, 1))  # explicit zero widths
    ('zeros', ((0, 2), (1, 1)))
    """
    ndim = len(input_size)
    if isinstance(padding, str):
        if padding not in PADDING_MODES:
            raise ValueError(
                f"padding must be one of {list(PADDING_MODES)} or integer widths, got {padding!r}"
            )
        if padding == "valid":
            if pad_width is not None:
                raise ValueError(f"pad_width must be None with padding='valid', got {pad_width!r}")
            return "zeros", ((0, 0),) * ndim
        mode = "zeros" if padding == "same" else padding
        if padding == "same" and pad_width is not None:
            raise ValueError(f"pad_width must be None with padding='same', got {pad_width!r}")
        if pad_width is None:
            widths = []
            for k, d in zip(kernel_size, dilation):
                total = d * (k - 1)
                widths.append((total // 2, total - total // 2))
            return mode, tuple(widths)
        return mode, _as_widths("pad_width", pad_width, ndim)
    if pad_width is not None:
        raise ValueError(
            f"pad_width must be None when padding gives the widths, got pad_width={pad_width!r}"
        )
    return "zeros", _as_widths("padding", padding, ndim)


def _as_widths(name: str, value: Any, ndim: int) -> tuple[tuple[int, int], ...]:
    def _int(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
            raise ValueError(
                f"{name} must hold non-negative integers (an int, one per axis, or one "
                f"(left, right) pair per axis), got {describe(value)}"
            )
        return int(v)

    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        w = _int(value)
        return ((w, w),) * ndim
    if (
        ndim == 1
        and isinstance(value, Sequence)
        and len(value) == 2
        and all(isinstance(v, numbers.Integral) for v in value)
    ):
        return ((_int(value[0]), _int(value[1])),)  # 1D: a bare (left, right) pair
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != ndim:
        raise ValueError(
            f"{name} must be an int, {ndim} ints or {ndim} (left, right) pairs, "
            f"got {describe(value)}"
        )
    out = []
    for v in value:
        if isinstance(v, Sequence) and not isinstance(v, str):
            if len(v) != 2:
                raise ValueError(f"{name} pairs must be (left, right), got {describe(value)}")
            out.append((_int(v[0]), _int(v[1])))
        else:
            w = _int(v)
            out.append((w, w))
    return tuple(out)


def index_map(n: int, left: int, right: int, mode: str) -> np.ndarray:
    """Index map of a padded axis of length ``n + left + right``.

    Notes
    -----
    For padded position ``p`` (input coordinate ``q = p - left``):

    * zeros: ``q`` if ``0 <= q < n`` else ``-1`` (a zero);
    * circular: ``q mod n`` (pads wider than ``n`` wrap again);
    * reflect: reflection without repeating the edge sample (numpy's and torch's
      'reflect'), i.e. ``q mod 2(n-1)`` folded back into ``[0, n)``.

    Examples
    --------
    Two samples of padding on each side of a grid of 5:

    >>> from sciconv.padding import index_map
    >>> index_map(5, 2, 2, "zeros")
    array([-1, -1,  0,  1,  2,  3,  4, -1, -1])
    >>> index_map(5, 2, 2, "circular")
    array([3, 4, 0, 1, 2, 3, 4, 0, 1])
    >>> index_map(5, 2, 2, "reflect")
    array([2, 1, 0, 1, 2, 3, 4, 3, 2])
    """
    q = np.arange(-left, n + right, dtype=np.int64)
    if mode == "zeros":
        return np.where((q >= 0) & (q < n), q, -1)
    if mode == "circular":
        return np.mod(q, n)
    if mode == "reflect":
        if n == 1:
            if left or right:
                raise ValueError(
                    "padding='reflect' needs at least 2 samples along each padded axis, got 1"
                )
            return q
        period = 2 * (n - 1)
        r = np.mod(q, period)
        return np.where(r < n, r, period - r)
    raise ValueError(f"mode must be 'zeros', 'circular' or 'reflect', got {mode!r}")
