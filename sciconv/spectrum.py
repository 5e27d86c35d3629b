r"""Spectrum of convolution operators: exact singular values, norms and condition numbers.

Circular (periodic) convolutions are block-diagonalised by the DFT [1]_, so their singular
values come from one small SVD per frequency; strided ones reduce to that case by the
polyphase split. Other boundaries (zeros, valid, reflect) fall back to a dense SVD for small
operators and to ARPACK (Lanczos) for large ones.

References
----------
.. [1] H. Sedghi, V. Gupta and P. M. Long, "The Singular Values of Convolutional Layers",
   International Conference on Learning Representations (ICLR), 2019. arXiv:1805.10408.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse.linalg as spla
import torch

from .operator import SPARSE_LIMIT, ConvOperator
from .validation import as_int_tuple, check_finite, check_positive_int, describe

__all__ = [
    "DENSE_SVD_LIMIT",
    "ITERATIVE_LIMIT",
    "SYMBOL_LIMIT",
    "condition_number",
    "conv_singular_values",
    "conv_symbol",
    "operator_norm",
    "spectral_norm_power",
]

#: Largest ``rows * cols`` for which :func:`operator_norm` / :func:`condition_number` use a
#: dense SVD of a non-circular operator (4e6 entries: 32 MB, under a second for an SVD).
DENSE_SVD_LIMIT = 4_000_000

#: Largest number of entries of the symbol array (``M * C/groups * prod(n)`` complex128 values,
#: 4 GiB) that :func:`conv_symbol` / :func:`conv_singular_values` build by default.
SYMBOL_LIMIT = 2**28

#: Largest ``max(rows, cols)`` for which :func:`operator_norm` / :func:`condition_number` run
#: ARPACK on a non-circular operator: its ~20 Lanczos vectors of that length take ~5 GiB.
ITERATIVE_LIMIT = 2**25


def _prepare(
    weight: Any, input_shape: Any, stride: Any, dilation: Any, groups: Any
) -> tuple[np.ndarray, tuple[int, ...], tuple[int, ...], tuple[int, ...], int]:
    """Validate the arguments; return the weight as float64/complex128 numpy and tuples."""
    if isinstance(weight, torch.Tensor):
        t = weight.detach().cpu().resolve_conj()
        w = t.to(torch.complex128 if t.is_complex() else torch.float64).numpy()
    elif isinstance(weight, np.ndarray | Sequence) and not isinstance(weight, str):
        w = np.asarray(weight)
    else:
        raise TypeError(f"weight must be a numpy array or a torch tensor, got {describe(weight)}")
    if w.dtype.kind not in "iufc":
        raise TypeError(f"weight must hold real or complex numbers, got {describe(w)}")
    w = w.astype(np.complex128 if w.dtype.kind == "c" else np.float64)
    if not isinstance(input_shape, Sequence) or isinstance(input_shape, str):
        raise TypeError(
            f"input_shape must be a sequence (in_channels, *spatial), got {describe(input_shape)}"
        )
    shape = as_int_tuple("input_shape", tuple(input_shape), len(input_shape))
    d = len(shape) - 1
    if d not in (1, 2, 3):
        raise ValueError(
            f"input_shape must be (in_channels, *spatial) with 1, 2 or 3 spatial axes, got {shape}"
        )
    if w.ndim != d + 2:
        raise ValueError(
            f"weight must have {d + 2} dimensions (out_channels, in_channels/groups, *kernel) "
            f"for input_shape {shape}, got {describe(w)}"
        )
    if w.size == 0:
        raise ValueError(f"weight must not be empty, got {describe(w)}")
    check_finite("weight", w)
    groups = check_positive_int("groups", groups)
    if w.shape[0] % groups or w.shape[1] * groups != shape[0]:
        raise ValueError(
            f"weight of shape {w.shape} with groups={groups} expects in_channels="
            f"{w.shape[1] * groups} and out_channels divisible by {groups}; got input_shape "
            f"{shape}"
        )
    stride_t = as_int_tuple("stride", stride, d)
    dil_t = as_int_tuple("dilation", dilation, d)
    for n, s in zip(shape[1:], stride_t):
        if n % s:
            raise ValueError(
                f"stride {stride_t} must divide every spatial size of input_shape {shape} "
                f"(the periodic polyphase split needs n % stride == 0)"
            )
    return w, shape, stride_t, dil_t, groups


def _check_symbol_size(
    w: np.ndarray, shape: tuple[int, ...], groups: int, max_entries: Any, full: bool
) -> None:
    """Refuse, before any allocation, a symbol array of more than ``max_entries`` entries."""
    max_entries = check_positive_int("max_entries", max_entries, minimum=0)
    cols = int(w.shape[1]) * (groups if full else 1)  # conv_symbol fills the zero blocks
    entries = int(w.shape[0]) * cols * math.prod(shape[1:])
    if entries > max_entries:
        raise ValueError(
            f"input_shape {shape} with a weight of shape {tuple(w.shape)} needs a symbol of "
            f"{entries} complex entries ({entries * 16 / 2**30:.3g} GiB), more than "
            f"max_entries={max_entries}; use a smaller grid or fewer channels, or raise "
            f"max_entries"
        )


def _group_symbols(
    w: np.ndarray, shape: tuple[int, ...], stride: tuple[int, ...], dil: tuple[int, ...], g: int
) -> np.ndarray:
    """Symbols per group, shape ``(groups, *freq_grid, M/groups, (C/groups) * prod(stride))``."""
    d = len(shape) - 1
    n = shape[1:]
    out = w
    for a in range(d):  # wrap tap t of axis a to grid position (dil * t) mod n (sums overlaps)
        k = w.shape[2 + a]
        emb = np.zeros((k, n[a]))
        emb[np.arange(k), (dil[a] * np.arange(k)) % n[a]] = 1.0
        out = np.moveaxis(np.tensordot(out, emb, axes=([2 + a], [0])), -1, 2 + a)
    m, cg = w.shape[:2]
    coarse = [na // s for na, s in zip(n, stride)]
    split = [v for pair in zip(coarse, stride) for v in pair]  # index j = S q + r -> (q, r)
    out = out.reshape(g, m // g, cg, *split)
    q_axes = tuple(3 + 2 * a for a in range(d))
    out = np.fft.ifftn(out, axes=q_axes, norm="forward")  # sum_q k_r[q] exp(+2 pi i f q / N)
    r_axes = [4 + 2 * a for a in range(d)]
    out = out.transpose(0, *q_axes, 1, 2, *r_axes)
    return out.reshape(g, *coarse, m // g, cg * int(np.prod(stride)))


def conv_symbol(
    weight: Any,
    input_shape: Sequence[int],
    stride: int | Sequence[int] = 1,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    *,
    max_entries: int = SYMBOL_LIMIT,
) -> np.ndarray:
    r"""Symbol of a periodic convolution: one ``M x (C prod(stride))`` matrix per frequency.

    Parameters
    ----------
    weight : array_like or torch.Tensor
        Kernel of shape ``(M, C // groups, *kernel_size)`` (as :class:`ConvOperator`).
    input_shape : sequence of int
        ``(C, *n)`` with 1, 2 or 3 spatial axes; ``stride`` must divide every ``n``.
    stride, dilation : int or sequence of int
        As in :class:`ConvOperator`.
    groups : int
        Channel groups; the symbol is block diagonal (zeros between groups).
    max_entries : int
        Largest number of entries of the returned array (``ValueError`` above it, before
        anything is allocated).

    Returns
    -------
    numpy.ndarray
        complex128 array of shape ``(*(n // stride), M, C * prod(stride))``. Column
        ``c * prod(stride) + r`` holds input channel ``c`` and polyphase component ``r``
        (the C-order flat index of ``r`` in ``[0, stride)``).

    Notes
    -----
    See :func:`conv_singular_values` for the derivation. With ``x_r[c, p] = x[c, S p + r]``
    and ``Y = fftn(y)``, ``X_r = fftn(x_r)`` over the spatial axes of the ``n / S`` grid,
    ``Y[:, f] = K(f) @ [X_r[:, f]]_{c, r}`` holds exactly for the correlation
    ``y[m, i] = sum_{c,t} w[m, c, t] x[c, (S i + D t) mod n]``, i.e. the
    :class:`ConvOperator` with ``padding='circular'`` and no left pad.

    Examples
    --------
    The DFT of the output is the symbol times the DFTs of the input's polyphase components
    (here stride 2 in 1D: ``x_r[c, p] = x[c, 2p + r]``, columns ordered ``c * 2 + r``):

    >>> import numpy as np
    >>> from sciconv import ConvOperator, conv_symbol
    >>> rng = np.random.default_rng(0)
    >>> w = rng.standard_normal((2, 3, 4))
    >>> K = conv_symbol(w, (3, 8), stride=2)
    >>> K.shape
    (4, 2, 6)
    >>> A = ConvOperator(w, (3, 8), stride=2, padding="circular", pad_width=(0, 3))
    >>> x = rng.standard_normal((3, 8))
    >>> Y = np.fft.fft(A.apply(x), axis=-1)  # (M, n / S)
    >>> X = np.fft.fft(x.reshape(3, 4, 2), axis=1)  # X[c, f, r]
    >>> KX = K @ X.transpose(1, 0, 2).reshape(4, 6, 1)  # K(f) @ [X_r(f)]_(c, r)
    >>> bool(np.allclose(Y.T, KX[..., 0]))
    True
    """
    w, shape, stride_t, dil_t, g = _prepare(weight, input_shape, stride, dilation, groups)
    _check_symbol_size(w, shape, g, max_entries, full=True)
    blocks = _group_symbols(w, shape, stride_t, dil_t, g)
    mg, cols = blocks.shape[-2:]
    out = np.zeros((*blocks.shape[1:-2], g * mg, g * cols), dtype=np.complex128)
    for i in range(g):
        out[..., i * mg : (i + 1) * mg, i * cols : (i + 1) * cols] = blocks[i]
    return out


def conv_singular_values(
    weight: Any,
    input_shape: Sequence[int],
    stride: int | Sequence[int] = 1,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    *,
    flat: bool = False,
    max_entries: int = SYMBOL_LIMIT,
) -> np.ndarray:
    r"""Exact singular values of a periodic (circular) multi-channel convolution.

    Parameters
    ----------
    weight : array_like or torch.Tensor
        Kernel of shape ``(M, C // groups, *kernel_size)``; detached and cast to float64
        (complex128 if complex). A kernel wider than the grid wraps (taps summed mod ``n``).
    input_shape : sequence of int
        ``(C, *n)`` with 1, 2 or 3 spatial axes.
    stride : int or sequence of int
        Must divide every spatial size (``ValueError`` otherwise).
    dilation : int or sequence of int
        Tap spacing.
    groups : int
        Blocked channel connections as in ``torch.nn.Conv2d``.
    flat : bool
        If True return all values as one 1-D array sorted in descending order.
    max_entries : int
        Largest number of entries ``M * (C / groups) * prod(n)`` of the symbols
        (``ValueError`` above it, before anything is allocated).

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``(*(n // stride), min(M, C * prod(stride)))``: the singular
        values at each frequency of the coarse grid, descending along the last axis; or,
        with ``flat=True``, the ``min(M prod(n/stride), C prod(n))`` singular values of the
        operator, descending.

    Notes
    -----
    Write the operator as :class:`ConvOperator` does with ``padding='circular'``,

    .. math:: y_{m,i} = \sum_{c,t} w_{m,c,t}\, x_{c,\,(S i + D t - L) \bmod n}.

    The shift by the left pad :math:`L` is a permutation of the input (unitary), so it does
    not change singular values; nor does correlation vs convolution (flipping the kernel is
    a permutation of frequencies :math:`f \to -f`). Summing taps at equal positions mod
    :math:`n` gives the wrapped kernel :math:`k_j = \sum_{t:\, Dt \equiv j} w_t` on the grid.
    With :math:`j = S q + r`, :math:`r \in [0, S)^d` and :math:`q` on the coarse grid
    :math:`N = n / S`, and the polyphase components :math:`x_r[p] = x[Sp + r]`,
    :math:`k_r[q] = k[Sq + r]`,

    .. math:: y_i = \sum_r \sum_q k_r[q]\, x_r[(i + q) \bmod N],

    a sum of stride-1 circular correlations on the :math:`N` grid. The DFT on that grid
    diagonalises each of them: :math:`\hat y(f) = \sum_r \hat k_r(f)\, \hat x_r(f)` with
    :math:`\hat k_r(f) = \sum_q k_r[q]\, e^{2\pi i f\cdot q / N}`. As the polyphase split
    and the normalised DFT are unitary, the operator is unitarily equivalent to the block
    diagonal matrix of the symbols :math:`K(f) = [\hat k_r(f)]_r \in \mathbb{C}^{M \times
    C S^d}`, and its singular values are the union over :math:`f` of those of
    :math:`K(f)` ([1]_ for :math:`S = 1`). With groups, :math:`K(f)` is block
    diagonal; each group's ``(M/g) x (C S^d / g)`` block is decomposed on its own (cheaper
    than the zero-filled full matrix) and the values are merged. Cost:
    :math:`O(M C n^d \log n)` for the FFTs plus :math:`N^d` small batched SVDs.

    References
    ----------
    .. [1] H. Sedghi, V. Gupta and P. M. Long, "The Singular Values of Convolutional Layers",
       ICLR 2019. arXiv:1805.10408.

    Examples
    --------
    The two-tap kernel ``[1, 1]`` on a periodic grid of 4 has the symbol
    :math:`1 + e^{2\pi i f/4}`, of modulus :math:`2|\cos(\pi f/4)|`:

    >>> import numpy as np
    >>> from sciconv import ConvOperator, conv_singular_values
    >>> conv_singular_values(np.ones((1, 1, 2)), (1, 4), flat=True).round(4) + 0.0
    array([2.    , 1.4142, 1.4142, 0.    ])

    A strided multi-channel kernel gives the singular values of its dense matrix:

    >>> w = np.random.default_rng(0).standard_normal((4, 3, 3, 3))
    >>> s = conv_singular_values(w, (3, 8, 8), stride=2)
    >>> s.shape  # (n / S) frequencies, min(M, C S^2) values each
    (4, 4, 4)
    >>> A = ConvOperator(w, (3, 8, 8), stride=2, padding="circular")
    >>> dense = np.linalg.svd(A.to_dense(), compute_uv=False)
    >>> bool(np.allclose(np.sort(s, axis=None)[::-1], dense))
    True
    """
    w, shape, stride_t, dil_t, g = _prepare(weight, input_shape, stride, dilation, groups)
    _check_symbol_size(w, shape, g, max_entries, full=False)
    blocks = _group_symbols(w, shape, stride_t, dil_t, g)
    sv = np.linalg.svd(blocks, compute_uv=False)  # (g, *coarse, min(M/g, C S^d / g))
    sv = np.moveaxis(sv, 0, -2).reshape(*sv.shape[1:-1], -1)
    if flat:
        return np.sort(sv, axis=None)[::-1].copy()
    return -np.sort(-sv, axis=-1)


# ---------------------------------------------------------------------------- any boundary
def _normal(op: ConvOperator) -> Any:
    """Sparse normal matrix of the smaller side, ``A A^H`` (wide) or ``A^H A`` (tall)."""
    a = op.to_sparse()
    return (a @ a.conj().T if op.shape[0] < op.shape[1] else a.conj().T @ a).tocsc()


def _start(size: int, dtype: np.dtype) -> np.ndarray:
    """Seeded random start vector, so that ARPACK results are reproducible."""
    return np.random.default_rng(0).standard_normal(size).astype(np.result_type(dtype, float))


def _extremes(
    op: Any, tol: Any, maxiter: Any, dense_limit: Any, smallest: bool
) -> tuple[float, float]:
    """Validate; return (largest, smallest) singular value (smallest: NaN unless asked)."""
    if not isinstance(op, ConvOperator):
        raise TypeError(f"op must be a sciconv.ConvOperator, got {describe(op)}")
    if not isinstance(tol, int | float) or isinstance(tol, bool) or not tol >= 0:
        raise ValueError(f"tol must be a float >= 0, got {describe(tol)}")
    if maxiter is not None:
        check_positive_int("maxiter", maxiter)
    dense_limit = check_positive_int("dense_limit", dense_limit, minimum=0)
    m, n = op.shape
    if op.is_circular:
        s = conv_singular_values(op.weight, op.in_shape, op.stride, op.dilation, op.groups)
        return float(s.max()), float(s.min())
    if m * n <= dense_limit:
        s = np.linalg.svd(op.to_dense(max_entries=m * n), compute_uv=False)
        return float(s[0]), float(s[-1])
    if max(m, n) > ITERATIVE_LIMIT:
        raise ValueError(
            f"op is a {m} x {n} non-circular operator (input_shape {op.in_shape}): too large "
            f"for a dense SVD (dense_limit={dense_limit}) and for ARPACK, whose Lanczos "
            f"vectors would hold about 20 x {max(m, n)} entries (ITERATIVE_LIMIT="
            f"{ITERATIVE_LIMIT}); use spectral_norm_power for a lower bound of the norm, a "
            f"circular operator (exact by the symbol), or a smaller grid"
        )
    if smallest and op.n_taps > SPARSE_LIMIT:
        raise ValueError(
            f"op has {op.n_taps} kernel taps: its sparse normal matrix, needed for the "
            f"smallest singular value, exceeds SPARSE_LIMIT={SPARSE_LIMIT}; use a smaller grid"
        )
    if min(m, n) < 3:  # ARPACK needs k < min(m, n); the normal matrix is at most 2 x 2
        s = np.sqrt(np.clip(np.linalg.eigvalsh(_normal(op).toarray()), 0.0, None))
        return float(s[-1]), float(s[0])
    smax = spla.svds(
        op.to_scipy(), k=1, tol=tol, maxiter=maxiter, return_singular_vectors=False,
        v0=_start(min(m, n), op.dtype),
    )[0]  # fmt: skip
    smin = np.nan
    if smallest:
        b = _normal(op)
        try:
            lam = spla.eigsh(
                b, k=1, sigma=0.0, which="LM", tol=tol, maxiter=maxiter,
                v0=_start(b.shape[0], b.dtype), return_eigenvectors=False,
            )[0]  # fmt: skip
            smin = float(np.sqrt(max(float(np.real(lam)), 0.0)))
        except RuntimeError:  # the sparse LU found the normal matrix exactly singular
            smin = 0.0
        # the normal matrix resolves eigenvalues only down to ~ size * eps * smax^2
        if smin**2 <= b.shape[0] * np.finfo(float).eps * smax**2:
            smin = 0.0
    return float(smax), smin


def operator_norm(
    op: ConvOperator,
    *,
    tol: float = 1e-8,
    maxiter: int | None = None,
    dense_limit: int = DENSE_SVD_LIMIT,
) -> float:
    r"""Spectral norm :math:`\|A\|_2 = \sigma_{\max}(A)` of a :class:`ConvOperator`.

    Parameters
    ----------
    op : ConvOperator
        Any boundary, stride, dilation and groups.
    tol : float
        Relative tolerance of ARPACK on the iterative path (0: machine precision).
    maxiter : int, optional
        Iteration cap of ARPACK on the iterative path.
    dense_limit : int
        Largest ``rows * cols`` handled by a dense SVD (0 forces the iterative path for
        non-circular operators).

    Returns
    -------
    float
        The largest singular value.

    Notes
    -----
    Exact by :func:`conv_singular_values` when ``op`` is periodic and its rows are the
    ``n / stride`` outputs of the coarse grid (any split of the circular pad widths is a
    cyclic shift, which is unitary). Otherwise a dense SVD up to ``dense_limit`` entries,
    else ``scipy.sparse.linalg.svds(k=1)`` on the matrix-free ``op.to_scipy()``.

    Examples
    --------
    The kernel ``[1, 1]``: periodic, the norm is the symbol's peak 2; without padding
    ('valid', 3 x 4) it is :math:`2\cos(\pi/8)`, the largest singular value of the
    incidence matrix of a path of 4 nodes:

    >>> import numpy as np
    >>> from sciconv import ConvOperator, operator_norm
    >>> w = np.ones((1, 1, 2))
    >>> round(operator_norm(ConvOperator(w, (1, 4), padding="circular")), 6)
    2.0
    >>> round(operator_norm(ConvOperator(w, (1, 4), padding="valid")), 6)
    1.847759
    >>> round(float(2 * np.cos(np.pi / 8)), 6)
    1.847759
    """
    return _extremes(op, tol, maxiter, dense_limit, smallest=False)[0]


def condition_number(
    op: ConvOperator,
    *,
    tol: float = 1e-8,
    maxiter: int | None = None,
    dense_limit: int = DENSE_SVD_LIMIT,
) -> float:
    r"""Condition number :math:`\sigma_{\max} / \sigma_{\min(m, n)}` of a :class:`ConvOperator`.

    Parameters
    ----------
    op, tol, maxiter, dense_limit
        As in :func:`operator_norm`.

    Returns
    -------
    float
        The 2-norm condition number; ``inf`` for a (numerically) singular operator.

    Notes
    -----
    :math:`\sigma_{\min(m,n)}` is the smallest of the ``min(m, n)`` singular values, so a
    wide or tall operator of full rank has a finite condition number. It is treated as zero
    when below ``max(m, n) * eps * sigma_max`` (the rank rule of ``numpy.linalg.matrix_rank``).
    The iterative path finds it by shift-invert Lanczos (``eigsh``, ``sigma=0``) on the
    sparse normal matrix of the smaller side, :math:`AA^H` or :math:`A^HA`; as that matrix
    squares the condition number, it resolves condition numbers up to about
    :math:`1/\sqrt{n\,\epsilon}` (~1e7) and reports ``inf`` beyond.

    Examples
    --------
    The periodic kernel ``[1, 1]`` has singular values :math:`2|\cos(\pi f/n)|`: on 4 points
    one vanishes (at :math:`f = 2`), on 5 points the ratio is :math:`1/\cos(2\pi/5) = 1 +
    \sqrt 5`; the 'valid' 3 x 4 operator has condition number :math:`\cot(\pi/8) = 1 + \sqrt 2`:

    >>> import numpy as np
    >>> from sciconv import ConvOperator, condition_number
    >>> w = np.ones((1, 1, 2))
    >>> condition_number(ConvOperator(w, (1, 4), padding="circular"))
    inf
    >>> round(condition_number(ConvOperator(w, (1, 5), padding="circular")), 6)
    3.236068
    >>> round(condition_number(ConvOperator(w, (1, 4), padding="valid")), 6)
    2.414214
    """
    smax, smin = _extremes(op, tol, maxiter, dense_limit, smallest=True)
    if smax == 0.0 or smin <= max(op.shape) * np.finfo(float).eps * smax:
        return float("inf")
    return smax / smin


def spectral_norm_power(
    op: ConvOperator, iters: int = 100, rng: int | np.random.Generator | None = None
) -> float:
    r"""Power-iteration estimate of :math:`\|A\|_2` (a lower bound, cheap, matrix free).

    Parameters
    ----------
    op : ConvOperator
        The operator, applied through ``apply`` / ``apply_adjoint``.
    iters : int
        Number of :math:`A^H A` products.
    rng : int or numpy.random.Generator, optional
        Seed or generator of the random start.

    Returns
    -------
    float
        :math:`\|A v\|` for the last unit iterate :math:`v`; converges from below at the
        rate :math:`(\sigma_2 / \sigma_1)^{2k}`.

    Examples
    --------
    A lower bound that approaches the exact norm of a periodic convolution:

    >>> import numpy as np
    >>> from sciconv import ConvOperator, operator_norm, spectral_norm_power
    >>> w = np.random.default_rng(0).standard_normal((4, 4, 3, 3))
    >>> A = ConvOperator(w, (4, 16, 16), padding="circular")
    >>> exact = operator_norm(A)  # one small SVD per frequency
    >>> est = spectral_norm_power(A, iters=100, rng=0)
    >>> bool(est <= exact * (1 + 1e-12)), bool(est > 0.999 * exact)
    (True, True)
    """
    if not isinstance(op, ConvOperator):
        raise TypeError(f"op must be a sciconv.ConvOperator, got {describe(op)}")
    iters = check_positive_int("iters", iters)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    v = gen.standard_normal(op.in_shape).astype(np.result_type(op.dtype, np.float64))
    v /= np.linalg.norm(v)
    est = 0.0
    for _ in range(iters):
        av = np.asarray(op.apply(v))
        est = float(np.linalg.norm(av))
        if est == 0.0:
            return 0.0
        v = np.asarray(op.apply_adjoint(av))
        v /= np.linalg.norm(v)
    return float(np.linalg.norm(np.asarray(op.apply(v))))
