"""Real-input DFTs as one half-length complex Monarch transform (``rfft``/``irfft``) [1]_.

The complex transform and its matrices are :mod:`sciconv.monarch.dft`; this module packs
even/odd samples into one complex signal of half the length and untangles the spectrum.

References
----------
.. [1] D. Y. Fu, H. Kumbong, E. Nguyen and C. Ré, "FlashFFTConv: Efficient Convolutions for
   Long Sequences with Tensor Cores", International Conference on Learning Representations
   (ICLR), 2024. arXiv:2311.05908.
"""

from __future__ import annotations

from typing import Any

import torch

from ..validation import check_positive_int, describe
from .dft import _check_tensor, _compute_dtype, _fft_last, _plan, _roots, _round, monarch_fft
from .factors import monarch_factors

__all__ = ["monarch_irfft", "monarch_rfft"]


def _rfft_factors(n: int, factors: Any, order: int, strict: bool) -> tuple[int, ...] | None:
    """Factors of the half-length complex transform (None: the full transform of length n).

    None for odd ``n``, for ``n = 2``, and for default factors when ``n/2`` does not factor
    (``n = 2p``, ``p`` prime, under ``strict``): the full length ``n`` then does, or its
    :func:`monarch_factors` error names the user's ``n``.
    """
    if n % 2 or n < 4:
        return None
    if factors is None:
        try:
            return monarch_factors(n // 2, order, strict=strict)
        except ValueError:
            return None
    return _plan(n // 2, factors, order, strict)


def monarch_rfft(
    x: torch.Tensor,
    factors: tuple[int, ...] | None = None,
    *,
    order: int = 2,
    dim: int = -1,
    strict: bool = True,
) -> torch.Tensor:
    r"""Real-input DFT (the ``n//2 + 1`` non-negative frequencies; equals ``torch.fft.rfft``).

    For even ``n`` it is one complex Monarch transform of half length ``n/2`` (``factors``
    are then factors of ``n/2``); odd ``n``, ``n = 2`` and (with default ``factors``) a half
    length that does not factor (``n = 2p``, ``p`` prime) take the full complex transform of
    length ``n``.

    Parameters
    ----------
    x : torch.Tensor
        Real input, any device.
    factors : tuple of int, optional
        Factors of ``n/2`` for even ``n >= 4``, of ``n`` otherwise (default
        :func:`monarch_factors`).
    order : int
        Number of factors when ``factors`` is not given.
    dim : int
        Transform axis.
    strict : bool
        See :func:`monarch_factors`.

    Returns
    -------
    torch.Tensor
        ``n//2 + 1`` frequencies along ``dim``; complex128 for float64 input, else complex64.

    Notes
    -----
    With :math:`z_j = x_{2j} + i x_{2j+1}` and :math:`Z = \mathrm{DFT}_{n/2}(z)`, the
    transforms of the even and odd samples are :math:`E_k = (Z_k + \bar Z_{n/2-k})/2` and
    :math:`O_k = (Z_k - \bar Z_{n/2-k})/(2i)`, and :math:`X_k = E_k + \omega_n^k O_k` for
    :math:`k = 0..n/2` (indices mod ``n/2``); the post-processing is elementwise, the
    transform a Monarch one [1]_.

    References
    ----------
    .. [1] D. Y. Fu, H. Kumbong, E. Nguyen and C. Ré, "FlashFFTConv: Efficient Convolutions
       for Long Sequences with Tensor Cores", ICLR 2024. arXiv:2311.05908.

    Examples
    --------
    >>> import torch
    >>> from sciconv.monarch import monarch_irfft, monarch_rfft
    >>> x = torch.randn(2, 2048, dtype=torch.float64)
    >>> X = monarch_rfft(x)  # one complex transform of length 1024 = 32 * 32
    >>> X.shape, bool((X - torch.fft.rfft(x)).abs().max() < 1e-11)
    (torch.Size([2, 1025]), True)
    >>> bool((monarch_irfft(X, 2048) - x).abs().max() < 1e-12)
    True
    """
    x = _check_tensor("x", x, dim, strict)
    if x.is_complex():
        raise TypeError(f"x must be real for monarch_rfft (use monarch_fft), got {describe(x)}")
    x = x.movedim(dim, -1)
    n = x.shape[-1]
    fs = _rfft_factors(n, factors, order, strict)
    if fs is None:
        return monarch_fft(x, factors, order=order, strict=strict)[..., : n // 2 + 1].movedim(
            -1, dim
        )
    cdtype, half = _compute_dtype(x.dtype)
    rdtype = torch.float64 if cdtype == torch.complex128 else torch.float32
    z = _round(torch.complex(x[..., 0::2].to(rdtype), x[..., 1::2].to(rdtype)), half)
    Z = _fft_last(z, fs, -1, half)
    Z = torch.cat([Z, Z[..., :1]], dim=-1)  # Z_k for k = 0..n/2
    Zr = Z.flip(-1).conj()  # conj(Z_{n/2 - k})
    w = _roots(2, n // 2 + 1, n, -1, str(x.device), cdtype)[1]  # w_n^k
    X = 0.5 * (Z + Zr) - 0.5j * w * (Z - Zr)
    return X.movedim(-1, dim)


def monarch_irfft(
    X: torch.Tensor,
    n: int | None = None,
    factors: tuple[int, ...] | None = None,
    *,
    order: int = 2,
    dim: int = -1,
    strict: bool = True,
) -> torch.Tensor:
    """Inverse of :func:`monarch_rfft` (equals ``torch.fft.irfft``): a real signal of length ``n``.

    ``X`` holds frequencies ``0..n//2`` (cut or zero-padded to ``n//2 + 1``, default
    ``n = 2 (len - 1)``); as in ``torch.fft.irfft`` the imaginary parts of the zero (and, for
    even ``n``, the Nyquist) frequency are ignored. Returns float64 for complex128 input,
    float32 otherwise.

    Parameters
    ----------
    X : torch.Tensor
        Non-negative frequencies along ``dim``.
    n : int, optional
        Output length (default ``2 (len - 1)``).
    factors : tuple of int, optional
        As for :func:`monarch_rfft` (factors of ``n/2`` for even ``n >= 4``).
    order : int
        Number of factors when ``factors`` is not given.
    dim : int
        Transform axis.
    strict : bool
        See :func:`monarch_factors`.

    Returns
    -------
    torch.Tensor
        Real, length ``n`` along ``dim``.

    Notes
    -----
    For even ``n`` the inverse of the packing of :func:`monarch_rfft` [1]_: with
    :math:`E_k = (X_k + \\bar X_{n/2-k})/2` and :math:`O_k = (X_k - \\bar X_{n/2-k})
    \\omega_n^{-k}/2`, :math:`z = \\mathrm{IDFT}_{n/2}(E + iO)` gives
    :math:`x_{2j} = \\mathrm{Re}\\,z_j`, :math:`x_{2j+1} = \\mathrm{Im}\\,z_j`. Odd ``n``
    rebuilds the Hermitian spectrum and takes one complex inverse of length ``n``.

    References
    ----------
    .. [1] D. Y. Fu, H. Kumbong, E. Nguyen and C. Ré, "FlashFFTConv: Efficient Convolutions
       for Long Sequences with Tensor Cores", ICLR 2024. arXiv:2311.05908.

    Examples
    --------
    >>> import torch
    >>> from sciconv.monarch import monarch_irfft
    >>> X = torch.randn(5, 65, dtype=torch.complex128)
    >>> bool((monarch_irfft(X, 128) - torch.fft.irfft(X, 128)).abs().max() < 1e-12)
    True
    """
    X = _check_tensor("X", X, dim, strict).movedim(dim, -1)
    n = 2 * (X.shape[-1] - 1) if n is None else check_positive_int("n", n)
    cdtype, half = _compute_dtype(X.dtype)
    X = X.to(cdtype)
    keep = n // 2 + 1
    X = (
        X[..., :keep]
        if X.shape[-1] >= keep
        else torch.nn.functional.pad(X, (0, keep - X.shape[-1]))
    )
    dc = X[..., :1].real.to(cdtype)
    fs = _rfft_factors(n, factors, order, strict)
    if fs is None:  # odd n (or 2): the full Hermitian spectrum, one complex transform
        body = X[..., 1:] if n % 2 else torch.cat([X[..., 1:-1], X[..., -1:].real.to(cdtype)], -1)
        full = torch.cat([dc, body, X[..., 1 : n - n // 2].flip(-1).conj()], dim=-1)
        y = _fft_last(_round(full, half), _plan(n, factors, order, strict), 1, half).real / n
        return y.movedim(-1, dim)
    m = n // 2
    X = torch.cat([dc, X[..., 1:m], X[..., m:].real.to(cdtype)], dim=-1)
    Xr = X.flip(-1).conj()
    w = _roots(2, m + 1, n, 1, str(X.device), cdtype)[1]  # w_n^-k
    Z = (0.5 * (X + Xr) + 0.5j * w * (X - Xr))[..., :m]  # E_k + i O_k
    z = _fft_last(_round(Z, half), fs, 1, half) / m
    y = torch.stack([z.real, z.imag], dim=-1).reshape(z.shape[:-1] + (n,))
    return y.movedim(-1, dim)
