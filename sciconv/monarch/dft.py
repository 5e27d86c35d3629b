"""The DFT as a product of small dense matrices and twiddle factors (the Monarch form) [1]_.

Cooley-Tukey written as reshape -> DFT-matrix matmul -> twiddle -> matmul -> transpose, so
that matrix-multiply units do the work. Transform lengths are not chosen here (that is
:func:`sciconv.fft.fft_size`); this module only factors a given length.

References
----------
.. [1] D. Y. Fu, H. Kumbong, E. Nguyen and C. Ré, "FlashFFTConv: Efficient Convolutions for
   Long Sequences with Tensor Cores", International Conference on Learning Representations
   (ICLR), 2024. arXiv:2311.05908.
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import Any

import torch

from ..validation import check_bool, check_positive_int, check_tensor, describe
from .factors import DENSE_DFT_LIMIT, monarch_factors

__all__ = ["dft_matrix", "monarch_fft", "monarch_ifft", "twiddle_matrix"]

_HALF = (torch.float16, torch.bfloat16, torch.complex32)


def _roots(rows: int, cols: int, n: int, sign: int, device: str, dtype: torch.dtype):
    """``exp(sign * 2 pi i * (r c mod n) / n)`` for r < rows, c < cols, exact index reduction.

    Cached per argument tuple in eager mode; under ``torch.compile`` built in the graph (no
    ``lru_cache`` wrapper for Dynamo to warn about; the compiled graph computes it once).
    """
    if torch.compiler.is_compiling():
        return _build_roots(rows, cols, n, sign, device, dtype)
    return _cached_roots(rows, cols, n, sign, device, dtype)


def _build_roots(rows: int, cols: int, n: int, sign: int, device: str, dtype: torch.dtype):
    r = torch.arange(rows, dtype=torch.int64)[:, None]
    c = torch.arange(cols, dtype=torch.int64)[None, :]
    ang = (r * c % n).to(torch.float64) * (sign * 2.0 * math.pi / n)
    w = torch.polar(torch.ones_like(ang), ang)
    if dtype in (torch.complex32, torch.float16, torch.bfloat16):  # half operands
        half = torch.float16 if dtype == torch.complex32 else dtype
        w = torch.complex(w.real.to(half).float(), w.imag.to(half).float())
        dtype = torch.complex64
    return w.to(device=device, dtype=dtype)


_cached_roots = functools.lru_cache(maxsize=128)(_build_roots)


def _check_matrix_args(inverse: Any, dtype: Any) -> None:
    check_bool("inverse", inverse)
    if not isinstance(dtype, torch.dtype) or not dtype.is_complex:
        raise TypeError(
            f"dtype must be a complex torch dtype (complex64, complex128, complex32), got "
            f"{describe(dtype)}: a real dtype would silently drop the imaginary part"
        )


def dft_matrix(
    n: int, *, inverse: bool = False, device: Any = None, dtype: torch.dtype = torch.complex128
) -> torch.Tensor:
    """The ``n x n`` DFT matrix ``F[j, k] = exp(-2 pi i j k / n)`` (``+`` and unscaled if inverse).

    Built in float64 from ``j k mod n`` (no large angles), cached per (n, device, dtype).

    Parameters
    ----------
    n : int
        Size, ``1 <= n <= DENSE_DFT_LIMIT``.
    inverse : bool
        Conjugate roots (the unscaled inverse DFT).
    device : torch.device or str, optional
        Default CPU.
    dtype : torch.dtype
        A complex dtype (complex128 default); a real dtype raises ``TypeError``.

    Returns
    -------
    torch.Tensor
        ``(n, n)``, symmetric.

    Notes
    -----
    As used by the Monarch DFT [1]_: reducing :math:`jk` modulo :math:`n` before forming the
    angle keeps every entry within a
    rounding of the exact root (``exp(-2j*pi*j*k/n)`` with large :math:`jk` loses digits).

    References
    ----------
    .. [1] D. Y. Fu, H. Kumbong, E. Nguyen and C. Ré, "FlashFFTConv: Efficient Convolutions
       for Long Sequences with Tensor Cores", ICLR 2024. arXiv:2311.05908.

    Examples
    --------
    >>> import torch
    >>> from sciconv.monarch import dft_matrix
    >>> x = torch.randn(6, dtype=torch.complex128)
    >>> bool(torch.allclose(x @ dft_matrix(6), torch.fft.fft(x)))
    True
    """
    n = check_positive_int("n", n)
    _check_matrix_args(inverse, dtype)
    if n > DENSE_DFT_LIMIT:
        raise ValueError(
            f"n={n} exceeds DENSE_DFT_LIMIT={DENSE_DFT_LIMIT} (the dense matrix would take "
            f"{16 * n * n / 1e9:.3g} GB in complex128); use monarch_fft for long transforms"
        )
    dev = str(torch.device(device) if device is not None else torch.device("cpu"))
    return _roots(n, n, n, 1 if inverse else -1, dev, dtype)


def twiddle_matrix(
    n1: int,
    m: int,
    *,
    inverse: bool = False,
    device: Any = None,
    dtype: torch.dtype = torch.complex128,
) -> torch.Tensor:
    """Twiddle factors ``T[k1, j2] = exp(-2 pi i k1 j2 / (n1 m))`` (``+`` if inverse), cached.

    Parameters
    ----------
    n1, m : int
        Rows (first factor) and columns (the rest) of the order-2 grid, ``n = n1 m``.
    inverse : bool
        Conjugate roots.
    device : torch.device or str, optional
        Default CPU.
    dtype : torch.dtype
        A complex dtype (complex128 default); a real dtype raises ``TypeError``.

    Returns
    -------
    torch.Tensor
        ``(n1, m)``.

    Notes
    -----
    The diagonal between the two matmuls of an order-2 step of :func:`monarch_fft` [1]_:
    :math:`\\omega_n^{k_1 j_2}` with :math:`n = n_1 m` (built from :math:`k_1 j_2 \\bmod n`).

    References
    ----------
    .. [1] D. Y. Fu, H. Kumbong, E. Nguyen and C. Ré, "FlashFFTConv: Efficient Convolutions
       for Long Sequences with Tensor Cores", ICLR 2024. arXiv:2311.05908.

    Examples
    --------
    >>> from sciconv.monarch import twiddle_matrix
    >>> T = twiddle_matrix(2, 2)  # exp(-2 pi i k1 j2 / 4): only k1 = j2 = 1 is not 1
    >>> [complex(v).real.__round__(12) + 0.0 for v in T.flatten()], T[1, 1].imag.item()
    ([1.0, 1.0, 1.0, 0.0], -1.0)
    """
    n1, m = check_positive_int("n1", n1), check_positive_int("m", m)
    _check_matrix_args(inverse, dtype)
    if n1 * m > DENSE_DFT_LIMIT**2:
        raise ValueError(
            f"n1 * m = {n1 * m} exceeds DENSE_DFT_LIMIT**2 = {DENSE_DFT_LIMIT**2}, got n1={n1}, "
            f"m={m}"
        )
    dev = str(torch.device(device) if device is not None else torch.device("cpu"))
    return _roots(n1, m, n1 * m, 1 if inverse else -1, dev, dtype)


def _check_tensor(name: str, x: Any, dim: Any = -1, strict: Any = True) -> torch.Tensor:
    """``x`` checked: a floating/complex tensor with a non-empty axis ``dim``; flags checked."""
    check_tensor(name, x)
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        raise TypeError(f"{name} must have a floating or complex dtype, got {describe(x)}")
    check_bool("strict", strict)
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"dim must be an integer, got {describe(dim)}")
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least one axis to transform, got {describe(x)}")
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(f"dim must lie in [{-x.ndim}, {x.ndim}) for {name}, got dim={dim}")
    if x.shape[dim] == 0:
        raise ValueError(
            f"{name} must have length >= 1 along dim={dim}, got shape {tuple(x.shape)}"
        )
    return x


def _compute_dtype(dtype: torch.dtype) -> tuple[torch.dtype, torch.dtype | None]:
    """(complex dtype of the matmuls, half dtype whose rounding is emulated or None)."""
    if dtype in _HALF:
        return torch.complex64, torch.float16 if dtype == torch.complex32 else dtype
    if dtype in (torch.float64, torch.complex128):
        return torch.complex128, None
    return torch.complex64, None


def _round(z: torch.Tensor, half: torch.dtype | None) -> torch.Tensor:
    if half is None:
        return z
    return torch.complex(z.real.to(half).float(), z.imag.to(half).float())


def _fft_last(z: torch.Tensor, factors: tuple[int, ...], sign: int, half) -> torch.Tensor:
    """Unscaled DFT (sign -1) or inverse DFT (sign +1) along the last axis of complex ``z``."""
    if not factors:  # length 1: the identity
        return z
    n, dev, mat_dtype = z.shape[-1], str(z.device), (half or z.dtype)
    if half is not None and half != torch.bfloat16:
        mat_dtype = torch.complex32
    if len(factors) == 1:
        return _round(z @ _roots(n, n, n, sign, dev, mat_dtype), half)
    n1, m = factors[0], n // factors[0]
    a = z.reshape(z.shape[:-1] + (n1, m))  # a[n1, n2] = z[m n1 + n2]
    a = _round(_roots(n1, n1, n1, sign, dev, mat_dtype) @ a, half)  # DFT over n1 -> k1
    a = _round(a * _roots(n1, m, n, sign, dev, mat_dtype), half)  # twiddle w^(k1 n2)
    b = _fft_last(a, factors[1:], sign, half)  # DFT over n2 -> k2: b[k1, k2]
    return b.transpose(-1, -2).reshape(z.shape)  # X[k1 + n1 k2]


def _plan(n: int, factors: Any, order: int, strict: bool) -> tuple[int, ...]:
    if n == 1 and factors is None:
        return ()
    if factors is None:
        return monarch_factors(n, order, strict=strict)
    if not isinstance(factors, (tuple, list)) or not factors:
        raise TypeError(f"factors must be None or a tuple of ints, got {describe(factors)}")
    fs = tuple(check_positive_int("factors", f, minimum=2) for f in factors)
    if math.prod(fs) != n:
        raise ValueError(f"factors {fs} must multiply to the transform length {n}")
    return fs


def _transform(x, factors, order, dim, strict, sign) -> torch.Tensor:
    x = _check_tensor("x", x, dim, strict)
    cdtype, half = _compute_dtype(x.dtype)
    z = _round(x.movedim(dim, -1).to(cdtype), half)
    y = _fft_last(z, _plan(z.shape[-1], factors, order, strict), sign, half)
    return y.movedim(-1, dim)


def monarch_fft(
    x: torch.Tensor,
    factors: tuple[int, ...] | None = None,
    *,
    order: int = 2,
    dim: int = -1,
    strict: bool = True,
) -> torch.Tensor:
    r"""Discrete Fourier transform along ``dim`` as batched matmuls (equals ``torch.fft.fft``).

    Parameters
    ----------
    x : torch.Tensor
        Real or complex input, any device.
    factors : tuple of int, optional
        ``n = n_1 \cdots n_p`` (default :func:`monarch_factors` ``(n, order)``).
    order : int
        Number of factors when ``factors`` is not given (2 or 3 in [1]_).
    dim : int
        Transform axis.
    strict : bool
        See :func:`monarch_factors`.

    Returns
    -------
    torch.Tensor
        complex128 for float64/complex128 input, complex64 otherwise. float16/bfloat16 (and
        complex32) inputs return complex64 computed as tensor cores do: every matmul operand
        (data, DFT matrices, twiddles) is rounded to the half dtype, products are accumulated
        in float32, and each stage's result is rounded to the half dtype again.

    Notes
    -----
    With :math:`n = n_1 m`, input index :math:`j = m j_1 + j_2` and output index
    :math:`k = k_1 + n_1 k_2` (:math:`\omega_n = e^{-2\pi i/n}`),

    .. math:: X_{k_1 + n_1 k_2} = \sum_{j_2} \omega_m^{j_2 k_2}\,
              \Big[\omega_n^{j_2 k_1} \sum_{j_1} \omega_{n_1}^{j_1 k_1} x_{m j_1 + j_2}\Big].

    So [1]_: reshape ``x`` to ``(n_1, m)``, multiply by the ``n_1 x n_1`` DFT matrix from the
    left, multiply elementwise by the twiddles :math:`\omega_n^{k_1 j_2}`, apply the length
    ``m`` DFT along rows (recursively: a dense matmul when ``m`` is the last factor) and
    read the result out transposed. The work is :math:`n \sum_i n_i` complex multiply-adds
    (:math:`2 n^{3/2}` for order 2) against :math:`O(n \log n)` for an FFT; the DFT matrices
    and twiddles are built in float64 from exact ``jk mod n`` and cached per (size, device,
    dtype).

    References
    ----------
    .. [1] D. Y. Fu, H. Kumbong, E. Nguyen and C. Ré, "FlashFFTConv: Efficient Convolutions
       for Long Sequences with Tensor Cores", ICLR 2024. arXiv:2311.05908.

    Examples
    --------
    >>> import torch
    >>> from sciconv.monarch import monarch_fft, monarch_ifft
    >>> x = torch.randn(4, 4096, dtype=torch.complex128)
    >>> X = monarch_fft(x)  # factors (64, 64)
    >>> bool((X - torch.fft.fft(x)).abs().max() < 1e-10)
    True
    >>> bool((monarch_ifft(monarch_fft(x, order=3)) - x).abs().max() < 1e-12)
    True
    """
    return _transform(x, factors, order, dim, strict, -1)


def monarch_ifft(
    X: torch.Tensor,
    factors: tuple[int, ...] | None = None,
    *,
    order: int = 2,
    dim: int = -1,
    strict: bool = True,
) -> torch.Tensor:
    """Inverse DFT along ``dim`` (equals ``torch.fft.ifft``; scaled by ``1/n``).

    Same dtypes as :func:`monarch_fft` (the conjugate roots, then ``1/n``).

    Parameters
    ----------
    X : torch.Tensor
        Spectrum (real or complex), any device.
    factors : tuple of int, optional
        ``n = n_1 \\cdots n_p`` (default :func:`monarch_factors` ``(n, order)``).
    order : int
        Number of factors when ``factors`` is not given.
    dim : int
        Transform axis.
    strict : bool
        See :func:`monarch_factors`.

    Returns
    -------
    torch.Tensor
        complex128 for float64/complex128 input, complex64 otherwise.

    Notes
    -----
    :math:`x_j = \\frac1n \\sum_k X_k \\omega_n^{-jk}`: the factorisation of
    :func:`monarch_fft` [1]_ with :math:`\\omega_n` replaced by :math:`\\bar\\omega_n` in every
    DFT matrix and twiddle, and one scaling by :math:`1/n` at the end.

    References
    ----------
    .. [1] D. Y. Fu, H. Kumbong, E. Nguyen and C. Ré, "FlashFFTConv: Efficient Convolutions
       for Long Sequences with Tensor Cores", ICLR 2024. arXiv:2311.05908.

    Examples
    --------
    >>> import torch
    >>> from sciconv.monarch import monarch_ifft
    >>> X = torch.randn(3, 360, dtype=torch.complex128)
    >>> bool((monarch_ifft(X, (18, 20)) - torch.fft.ifft(X)).abs().max() < 1e-12)
    True
    """
    y = _transform(X, factors, order, dim, strict, 1)
    return y / y.shape[dim]
