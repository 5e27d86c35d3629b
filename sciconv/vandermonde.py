"""Vandermonde matrices: exact (Fraction), high precision (mpmath) and floating (numpy/torch).

Toom-Cook and Winograd transforms are Vandermonde matrices of interpolation points, possibly
including the point at infinity; diagonal state-space kernels are Vandermonde products.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
import torch

from .dtypes import result_dtype
from .validation import check_choice, check_positive_int, describe

__all__ = [
    "APPLY_LIMIT",
    "INF",
    "VANDERMONDE_LIMIT",
    "cond",
    "exact_det",
    "exact_inverse",
    "exact_solve",
    "parse_point",
    "vandermonde",
    "vandermonde_apply",
    "vandermonde_det",
]


class _PointAtInfinity:
    """The point at infinity of the projective line (one point: +inf and -inf are the same)."""

    def __repr__(self) -> str:
        return "INF"

    def __reduce__(self) -> str:  # pickles as the module constant, so identity survives
        return "INF"


#: The point at infinity of the projective line, as :func:`parse_point` returns it.
INF = _PointAtInfinity()

#: Largest ``len(points) * ncols`` that :func:`vandermonde` builds: each entry is an exact
#: rational power first, so the cost grows like ``N * ncols**2`` digit operations (512 x 512
#: takes a few seconds; 5000 points would take hours).
VANDERMONDE_LIMIT = 2**18

#: Largest number of entries of the output, or of one block of powers, that
#: :func:`vandermonde_apply` allocates (2**28: 2 GiB in float64, 4 GiB in complex128).
APPLY_LIMIT = 2**28
_INF_TEXT = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "∞", "+∞", "-∞"}


def parse_point(p: Any) -> Fraction | _PointAtInfinity:
    """Parse one interpolation point to a ``Fraction`` or the sentinel :data:`INF`.

    Accepts an integer, a ``Fraction`` (any ``numbers.Rational``), a ``Decimal``, a string such
    as ``"5/6"``, ``"-7/6"``, ``"0.5"``, ``"inf"`` or ``"∞"``, a float, or ``INF``. A float is
    converted *exactly* with ``Fraction(float)``, so ``0.1`` becomes
    ``3602879701896397/36028797018963968``; pass ``"1/10"`` for one tenth. ``±inf`` (float or
    string) is the single projective point at infinity. Wrong types raise ``TypeError``, bad
    values (NaN, unparsable strings) ``ValueError``; both messages name ``points``.

    Examples
    --------
    >>> from sciconv import INF, parse_point
    >>> parse_point("5/6"), parse_point(-2), parse_point(0.5)
    (Fraction(5, 6), Fraction(-2, 1), Fraction(1, 2))
    >>> parse_point(0.1)  # the float nearest to 1/10, exactly
    Fraction(3602879701896397, 36028797018963968)
    >>> parse_point("-inf") is INF, parse_point(float("inf")) is INF
    (True, True)
    """
    if p is INF:
        return INF
    if isinstance(p, bool):
        raise TypeError(f"points must be numbers, strings or INF, got {p!r}")
    if isinstance(p, numbers.Rational):
        return Fraction(p)
    if isinstance(p, (float, np.floating, Decimal)):
        if p != p:
            raise ValueError(f"points must not contain NaN, got {p!r}")
        if p in (float("inf"), float("-inf")):
            return INF
        return Fraction(p if isinstance(p, Decimal) else float(p))  # float(np.float32) is exact
    if isinstance(p, str):
        text = p.strip()
        if text.lower() in _INF_TEXT:
            return INF
        try:
            return Fraction(text)
        except (ValueError, ZeroDivisionError):
            raise ValueError(
                f"points must hold rationals like '5/6', '-7/6' or 'inf', got {p!r}"
            ) from None
    raise TypeError(f"points must be numbers, strings or INF, got {describe(p)}")


def _parse_points(points: Any) -> list:
    if isinstance(points, (str, bytes)) or not isinstance(points, Iterable):
        raise TypeError(f"points must be a sequence of points, got {describe(points)}")
    pts = [parse_point(p) for p in points]
    if not pts:
        raise ValueError("points must contain at least one point, got an empty sequence")
    if len(set(pts)) != len(pts):
        raise ValueError(f"points must be distinct (else V is singular), got {pts}")
    return pts


def _exact_rows(pts: list, ncols: int) -> list[list[Fraction]]:
    one, zero = Fraction(1), Fraction(0)
    return [[zero] * (ncols - 1) + [one] if p is INF else [p**j for j in range(ncols)] for p in pts]


def vandermonde(
    points: Iterable,
    ncols: int | None = None,
    kind: str = "exact",
    dps: int = 50,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Any:
    """Vandermonde matrix ``V[i, j] = p_i ** j``, ``j = 0..ncols-1``.

    Parameters
    ----------
    points : sequence
        Distinct points, each accepted by :func:`parse_point`; :data:`INF` gives the row
        ``[0, ..., 0, 1]`` (it picks the leading coefficient: the Toom-Cook convention).
    ncols : int, optional
        Number of columns (default ``len(points)``).
    kind : {'exact', 'mp', 'float', 'torch'}
        numpy object array of ``Fraction``; ``mpmath.matrix`` with entries rounded once to
        ``dps`` digits (computed in a local ``mpmath.workdps``); float64 numpy array; torch tensor.
    dps : int
        Decimal digits for ``kind='mp'``.
    dtype, device
        Only for ``kind='torch'`` (default ``torch.float64`` on the CPU).

    Notes
    -----
    Every entry is computed exactly in rationals and rounded once, so the 'mp', 'float' and
    'torch' matrices are the correctly rounded exact one. Duplicate points raise ``ValueError``;
    so do more than :data:`VANDERMONDE_LIMIT` entries, and an entry that overflows the
    floating dtype (rather than an ``OverflowError`` or ``inf``).

    Examples
    --------
    The points of Winograd's ``F(2, 3)``, the last one at infinity:

    >>> from sciconv import INF, vandermonde
    >>> vandermonde([0, 1, -1, INF]).astype(int)
    array([[ 1,  0,  0,  0],
           [ 1,  1,  1,  1],
           [ 1, -1,  1, -1],
           [ 0,  0,  0,  1]])
    >>> vandermonde(["1/2", 2], ncols=3, kind="float")
    array([[1.  , 0.5 , 0.25],
           [1.  , 2.  , 4.  ]])
    """
    check_choice("kind", kind, ("exact", "mp", "float", "torch"))
    if kind != "torch" and (dtype is not None or device is not None):
        raise ValueError(f"dtype and device are only for kind='torch', got kind={kind!r}")
    pts = _parse_points(points)
    ncols = len(pts) if ncols is None else check_positive_int("ncols", ncols)
    if len(pts) * ncols > VANDERMONDE_LIMIT:
        raise ValueError(
            f"points ({len(pts)} of them) with ncols={ncols} give {len(pts) * ncols} entries, "
            f"more than VANDERMONDE_LIMIT={VANDERMONDE_LIMIT}: every entry is an exact "
            f"rational power first, which would take hours; use fewer points or columns (for "
            f"a product with a Vandermonde matrix, vandermonde_apply is matrix free)"
        )
    rows = _exact_rows(pts, ncols)
    if kind == "exact":
        out = np.empty((len(pts), ncols), dtype=object)
        out[:, :] = rows
        return out
    if kind == "mp":
        dps = check_positive_int("dps", dps)
        with mpmath.workdps(dps):
            return mpmath.matrix(
                [[mpmath.mpf(v.numerator) / v.denominator for v in r] for r in rows]
            )
    floats = np.empty((len(pts), ncols), dtype=np.float64)
    for i, r in enumerate(rows):
        try:
            floats[i] = [float(v) for v in r]
        except OverflowError:
            j = next(j for j, v in enumerate(r) if abs(v) > _FLOAT_MAX)
            raise ValueError(
                f"points: entry ({i}, {j}) = {_short(pts[i])}**{j} overflows float64 "
                f"(largest {float(_FLOAT_MAX):.3e}); use kind='exact' or kind='mp', fewer "
                f"columns, or points of smaller magnitude"
            ) from None
    if kind == "float":
        return floats
    out = torch.as_tensor(floats, dtype=dtype or torch.float64, device=device)
    if out.is_floating_point() or out.is_complex():
        bad = ~torch.isfinite(out)
        if bool(bad.any()):
            i, j = (int(v) for v in bad.nonzero()[0])
            raise ValueError(
                f"points: entry ({i}, {j}) = {_short(pts[i])}**{j} = {floats[i, j]:.6g} "
                f"overflows dtype={out.dtype}; use torch.float64 or points of smaller magnitude"
            )
    return out


_FLOAT_MAX = Fraction(np.finfo(np.float64).max)


def _short(p: Fraction) -> str:
    """A point for a message: its float value (an exact fraction may be thousands of digits)."""
    text = str(p)
    return text if len(text) <= 40 else f"{float(p):.6g}"


def vandermonde_det(points: Iterable) -> Fraction:
    """Exact determinant of the square matrix ``vandermonde(points)``.

    Notes
    -----
    For finite points, :math:`\\det V = \\prod_{i<j} (p_j - p_i)`. If :data:`INF` sits at
    position ``r`` of ``N`` points, expanding along its row ``e_{N-1}`` gives
    :math:`\\det V = (-1)^{(N-1)-r} \\prod_{i<j} (q_j - q_i)` over the finite points ``q`` in
    order: the sign is ``(-1)`` to the number of points after ``INF`` (``+`` when it is last).

    Examples
    --------
    >>> from sciconv import INF, exact_det, vandermonde, vandermonde_det
    >>> vandermonde_det([0, 1, -1, INF]), exact_det(vandermonde([0, 1, -1, INF]))
    (Fraction(2, 1), Fraction(2, 1))
    >>> vandermonde_det([INF, 0, 1, -1])  # INF first: three points after it, sign -1
    Fraction(-2, 1)
    """
    pts = _parse_points(points)
    finite = [p for p in pts if p is not INF]
    det = Fraction(1)
    for j, pj in enumerate(finite):
        for pi in finite[:j]:
            det *= pj - pi
    if len(finite) < len(pts):
        det *= (-1) ** (len(pts) - 1 - pts.index(INF))
    return det


def _to_fraction(value: Any, name: str) -> Fraction:
    if isinstance(value, numbers.Rational) and not isinstance(value, bool):
        return Fraction(value)
    if isinstance(value, (float, np.floating)) and np.isfinite(value):
        return Fraction(float(value))
    if isinstance(value, mpmath.mpf) and mpmath.isfinite(value):
        man, exp = int(value.man) * (-1 if value < 0 else 1), int(value.exp)  # man is unsigned
        return Fraction(man * 2**exp) if exp >= 0 else Fraction(man, 2**-exp)
    raise TypeError(f"{name} must hold finite rationals (int, Fraction, float), got {value!r}")


def _rows(matrix: Any, name: str) -> list[list[Any]]:
    """Rows of a 2-d numpy array, list of lists or mpmath.matrix, as Python lists."""
    if isinstance(matrix, mpmath.matrix):
        return [[matrix[i, j] for j in range(matrix.cols)] for i in range(matrix.rows)]
    arr = np.asarray(matrix, dtype=object) if not isinstance(matrix, np.ndarray) else matrix
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-d matrix, got {describe(matrix)}")
    return [list(r) for r in arr.tolist()]


def _square_fractions(matrix: Any, name: str = "matrix") -> list[list[Fraction]]:
    rows = _rows(matrix, name)
    n = len(rows)
    if n == 0 or any(len(r) != n for r in rows):
        raise ValueError(f"{name} must be a non-empty square matrix, got {describe(matrix)}")
    return [[_to_fraction(v, name) for v in r] for r in rows]


def _eliminate(a: list[list[Fraction]], ncols_left: int) -> tuple[Fraction, bool]:
    """Gauss-Jordan in place on the augmented rows; return (det of left block, nonsingular)."""
    n, det = len(a), Fraction(1)
    for c in range(ncols_left):
        piv = next((r for r in range(c, n) if a[r][c] != 0), None)
        if piv is None:
            return Fraction(0), False
        if piv != c:
            a[c], a[piv] = a[piv], a[c]
            det = -det
        p = a[c][c]
        det *= p
        a[c] = [v / p for v in a[c]]
        for r in range(n):
            if r != c and a[r][c] != 0:
                f = a[r][c]
                a[r] = [vr - f * vc for vr, vc in zip(a[r], a[c])]
    return det, True


def exact_det(matrix: Any) -> Fraction:
    """Exact determinant by Fraction Gaussian elimination (floats are taken exactly).

    Examples
    --------
    >>> from sciconv import exact_det
    >>> exact_det([[2, 1], [1, 3]]), exact_det([[0.5, 1], [1, 2]]), exact_det([[1, 2], [2, 4]])
    (Fraction(5, 1), Fraction(0, 1), Fraction(0, 1))
    """
    a = _square_fractions(matrix)
    return _eliminate(a, len(a))[0]


def exact_solve(matrix: Any, rhs: Any) -> np.ndarray:
    """Solve ``matrix @ X = rhs`` exactly; returns an object array of ``Fraction``.

    ``rhs`` is a vector of shape ``(n,)`` or a matrix ``(n, k)``; the result has its shape.
    A singular matrix raises ``numpy.linalg.LinAlgError`` (a ``ValueError``).

    Examples
    --------
    Interpolation in exact arithmetic: the quadratic through ``(0, 1), (1, 2), (2, 5)`` has
    the coefficients ``1, 0, 1``:

    >>> from sciconv import exact_solve, vandermonde
    >>> exact_solve(vandermonde([0, 1, 2]), [1, 2, 5])
    array([Fraction(1, 1), Fraction(0, 1), Fraction(1, 1)], dtype=object)
    >>> exact_solve([[2, 1], [1, 3]], [1, 2])
    array([Fraction(1, 5), Fraction(3, 5)], dtype=object)
    """
    a = _square_fractions(matrix)
    n = len(a)
    b = np.asarray(rhs, dtype=object)
    if b.ndim not in (1, 2) or b.shape[0] != n:
        raise ValueError(f"rhs must have shape ({n},) or ({n}, k), got {describe(rhs)}")
    b2 = b.reshape(n, -1)
    aug = [row + [_to_fraction(v, "rhs") for v in b2[i]] for i, row in enumerate(a)]
    _, ok = _eliminate(aug, n)
    if not ok:
        raise np.linalg.LinAlgError(f"matrix is singular, got {describe(matrix)}")
    out = np.empty(b2.shape, dtype=object)
    out[:, :] = [r[n:] for r in aug]
    return out.reshape(b.shape)


def exact_inverse(matrix: Any) -> np.ndarray:
    """Exact inverse (object array of ``Fraction``); singular raises ``LinAlgError``.

    Examples
    --------
    The inverse of the Vandermonde matrix of ``F(2, 3)``'s points (its transpose is the
    Winograd input transform ``B^T`` before the Lagrange normalisers are moved):

    >>> import numpy as np
    >>> from sciconv import INF, exact_inverse, vandermonde
    >>> V = vandermonde([0, 1, -1, INF])
    >>> Vinv = exact_inverse(V)
    >>> bool((Vinv.dot(V) == np.eye(4)).all())
    True
    >>> [str(v) for v in Vinv[:, 1]]
    ['0', '1/2', '1/2', '0']
    >>> exact_inverse([[1, 2], [2, 4]])
    Traceback (most recent call last):
        ...
    numpy.linalg.LinAlgError: matrix is singular, got [[1, 2], [2, 4]]
    """
    n = len(_square_fractions(matrix))
    eye = np.empty((n, n), dtype=object)
    eye[:, :] = [[Fraction(int(i == j)) for j in range(n)] for i in range(n)]
    return exact_solve(matrix, eye)


def _to_mp(v: Any, name: str) -> Any:
    if isinstance(v, (mpmath.mpf, mpmath.mpc)):
        return +v
    if isinstance(v, numbers.Rational) and not isinstance(v, bool):
        return mpmath.mpf(v.numerator) / v.denominator
    if isinstance(v, (numbers.Real, numbers.Complex)) and not isinstance(v, bool):
        return mpmath.mpmathify(complex(v) if np.iscomplexobj(v) else float(v))
    raise TypeError(f"{name} must hold numbers, got {v!r}")


def cond(matrix: Any, norm: int | str = 2, dps: int = 50) -> mpmath.mpf:
    """Condition number ``||A|| ||A^{-1}||`` of a matrix, in mpmath at ``dps`` digits.

    Parameters
    ----------
    matrix : numpy array (float, complex or object/Fraction), list of lists or mpmath.matrix
        Square; for ``norm=2`` also rectangular (then ``sigma_max / sigma_min`` over the
        ``min(rows, cols)`` singular values, the 2-norm condition number of the pseudo-inverse).
    norm : {2, 1, 'inf', 'fro'}
        2: ratio of extreme singular values (``mpmath.svd_r``/``svd_c``); 1, 'inf', 'fro': the
        matrix norm of ``A`` times that of the explicit inverse.
    dps : int
        Working precision in decimal digits (a local ``mpmath.workdps``).

    Returns
    -------
    mpmath.mpf
        ``mpmath.inf`` for a singular matrix: exactly singular when every entry is rational
        (int, Fraction, float, mpf; checked by :func:`exact_det`), else numerically singular at
        ``dps`` digits.

    Examples
    --------
    The 2-norm condition number of the Vandermonde matrix of the finite points of
    ``F(4, 3)``, and of an exactly singular matrix:

    >>> from sciconv import cond, vandermonde
    >>> round(float(cond(vandermonde([0, 1, -1, "1/2", "-1/2"]))), 4)
    23.5309
    >>> cond([[1, 2], [2, 4]])
    mpf('+inf')
    >>> float(cond([[2, 0], [0, 1]], norm=1)), float(cond([[2, 0], [0, 1]], norm="fro"))
    (2.0, 2.5)
    """
    if norm not in (1, 2, "inf", "fro") or isinstance(norm, bool):
        raise ValueError(f"norm must be one of 1, 2, 'inf', 'fro', got {norm!r}")
    dps = check_positive_int("dps", dps)
    rows = _rows(matrix, "matrix")
    n = len(rows)
    square = n > 0 and all(len(r) == n for r in rows)
    if n == 0 or not rows[0] or any(len(r) != len(rows[0]) for r in rows):
        raise ValueError(f"matrix must be a non-empty 2-d matrix, got {describe(matrix)}")
    if not square and norm != 2:
        raise ValueError(
            f"matrix must be square for norm={norm!r} (only norm=2 takes a rectangular "
            f"matrix), got {describe(matrix)}"
        )
    try:
        if square and exact_det(rows) == 0:
            return mpmath.inf
    except TypeError:
        pass  # complex or non-finite entries: rely on the numerical test below
    with mpmath.workdps(dps):
        a = mpmath.matrix([[_to_mp(v, "matrix") for v in r] for r in rows])
        if norm == 2:
            svd = mpmath.svd_c if any(isinstance(v, mpmath.mpc) for v in a) else mpmath.svd_r
            s = svd(a, compute_uv=False)
            smax, smin = max(s), min(s)
            return mpmath.inf if smin == 0 else +(smax / smin)
        try:
            inv = mpmath.inverse(a)
        except ZeroDivisionError:
            return mpmath.inf
        p = {1: 1, "inf": "inf", "fro": "f"}[norm]
        return +(mpmath.mnorm(a, p) * mpmath.mnorm(inv, p))


def vandermonde_apply(
    z: Any, c: Any, L: int, chunk: int | None = None, *, log_nodes: bool = False
) -> Any:
    """Vandermonde product ``K[..., l] = sum_n c[..., n] * z[..., n] ** l`` for ``l = 0..L-1``.

    Parameters
    ----------
    z : array or tensor, shape (N,) or (..., N)
        Nodes (real or complex); a batch of node sets (e.g. one per channel) broadcasts
        against ``c``'s leading axes. With ``log_nodes=True``, ``z`` holds ``log`` of the nodes
        and the powers are ``exp(l * z)`` (the stable form for state-space kernels
        ``exp(l dt A)``).
    c : array or tensor, shape (..., N)
        Coefficients.
    L : int
        Number of powers.
    chunk : int, optional
        Compute ``chunk`` powers at a time, so the power matrix takes ``O(N * chunk)`` memory
        instead of ``O(N * L)``; under torch autograd each chunk is checkpointed (recomputed in
        the backward pass) so the saved memory is ``O(N * chunk)`` too.
        ``ValueError`` if the output or one block of powers would exceed
        :data:`APPLY_LIMIT` entries.

    Returns
    -------
    numpy.ndarray or torch.Tensor of shape (..., L)
        Torch if ``z`` or ``c`` is a tensor (differentiable w.r.t. both).

    Notes
    -----
    Equal to ``c @ V`` with ``V = vandermonde(z, L)`` of shape ``(N, L)``. In torch, ``z ** l``
    for a complex node ``z = 0`` has a NaN gradient; use ``log_nodes`` for decaying state-space
    nodes.

    Examples
    --------
    The kernel ``K_l = 2 (1/2)^l + (-1)^l`` of a two-mode diagonal system:

    >>> import numpy as np
    >>> from sciconv import vandermonde, vandermonde_apply
    >>> z, c = np.array([0.5, -1.0]), np.array([2.0, 1.0])
    >>> vandermonde_apply(z, c, 4)
    array([ 3.  ,  0.  ,  1.5 , -0.75])
    >>> bool(np.allclose(vandermonde_apply(z, c, 4), c @ vandermonde(z, 4, kind="float")))
    True

    Decaying complex nodes given by their logarithms, four powers at a time:

    >>> logz = np.array([-0.1 + 1.0j, -0.2 - 0.5j])
    >>> K = vandermonde_apply(logz, c, 10, chunk=4, log_nodes=True)
    >>> bool(np.allclose(K, vandermonde_apply(np.exp(logz), c, 10)))
    True
    """
    L = check_positive_int("L", L)
    chunk = L if chunk is None else check_positive_int("chunk", chunk)
    if L > APPLY_LIMIT:  # the output alone has L entries per batch index
        raise ValueError(
            f"L={L} powers are more than APPLY_LIMIT={APPLY_LIMIT} output entries; use a smaller L"
        )
    if isinstance(z, torch.Tensor) or isinstance(c, torch.Tensor):
        ref = z if isinstance(z, torch.Tensor) else c
        z, c = torch.as_tensor(z, device=ref.device), torch.as_tensor(c, device=ref.device)
        dtype = torch.promote_types(result_dtype(z, c), torch.get_default_dtype())
        z, c = z.to(dtype), c.to(dtype)
    else:
        z, c = np.asarray(z), np.asarray(c)
        dtype = np.result_type(z.dtype, c.dtype, np.float64)
        z, c = z.astype(dtype, copy=False), c.astype(dtype, copy=False)
    if z.ndim < 1:
        raise ValueError(f"z must be an array of nodes of shape (..., N), got {describe(z)}")
    if c.ndim < 1 or c.shape[-1] != z.shape[-1]:
        raise ValueError(f"c must have shape (..., {z.shape[-1]}) to match z, got {describe(c)}")
    try:
        lead = np.broadcast_shapes(tuple(z.shape[:-1]), tuple(c.shape[:-1]))
    except ValueError:
        raise ValueError(
            f"the leading axes of z {tuple(z.shape)} and c {tuple(c.shape)} must broadcast"
        ) from None
    out_entries = math.prod(lead) * L
    block_entries = math.prod(tuple(z.shape)) * min(chunk, L)
    if max(out_entries, block_entries) > APPLY_LIMIT:
        raise ValueError(
            f"L={L} with chunk={chunk} needs an output of {out_entries} entries and blocks of "
            f"{block_entries} powers (z {tuple(z.shape)}, c {tuple(c.shape)}), more than "
            f"APPLY_LIMIT={APPLY_LIMIT}; use a smaller L, or a smaller chunk"
        )
    if isinstance(z, torch.Tensor):
        use_ckpt = chunk < L and torch.is_grad_enabled() and (z.requires_grad or c.requires_grad)

        def block(zz: torch.Tensor, cc: torch.Tensor, l0: int, l1: int) -> torch.Tensor:
            ls = torch.arange(l0, l1, device=zz.device, dtype=zz.real.dtype)
            p = torch.exp(zz[..., :, None] * ls) if log_nodes else zz[..., :, None] ** ls
            return cc @ p if zz.ndim == 1 else (cc[..., None, :] @ p)[..., 0, :]

        parts = []
        for l0 in range(0, L, chunk):
            l1 = min(l0 + chunk, L)
            if use_ckpt:
                from torch.utils.checkpoint import checkpoint

                parts.append(checkpoint(block, z, c, l0, l1, use_reentrant=False))
            else:
                parts.append(block(z, c, l0, l1))
        return torch.cat(parts, dim=-1)
    out = np.empty(lead + (L,), dtype=dtype)
    for l0 in range(0, L, chunk):
        ls = np.arange(l0, min(l0 + chunk, L))
        p = np.exp(z[..., :, None] * ls) if log_nodes else z[..., :, None] ** ls
        out[..., l0 : l0 + len(ls)] = c @ p if z.ndim == 1 else (c[..., None, :] @ p)[..., 0, :]
    return out
