"""Partial and frequency-sparse long convolutions (FlashFFTConv's sparse convolutions) [1]_.

Both are ordinary convolutions with a modified kernel, computed so that the modification saves
work: a kernel truncated to ``K`` taps needs a shorter transform, and a kernel spectrum that is
zero on whole blocks of the order-2 Monarch grid lets the matmuls skip those blocks.

References
----------
.. [1] D. Y. Fu, H. Kumbong, E. Nguyen and C. Ré, "FlashFFTConv: Efficient Convolutions for
   Long Sequences with Tensor Cores", International Conference on Learning Representations
   (ICLR), 2024. arXiv:2311.05908.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch

from ..validation import check_choice, check_positive_int, describe
from ._linop import SPARSE_MODES, _kernel_1d, _prepare, _SparseOp
from .dft import dft_matrix, twiddle_matrix
from .factors import monarch_factors
from .partial import PartialConv

__all__ = [
    "FreqSparseConv",
    "PartialConv",
    "check_sparsity",
    "freq_sparse_conv",
    "freq_sparse_mask",
]


def check_sparsity(sparsity: Any, name: str = "sparsity") -> float:
    """Return ``sparsity`` as a float after checking it lies in ``[0, 1)``.

    Parameters
    ----------
    sparsity : float
        Requested fraction of zeroed spectrum blocks.
    name : str
        The argument's name in error messages (e.g. ``'freq_sparsity'`` for a layer).

    Returns
    -------
    float

    Examples
    --------
    >>> from sciconv.monarch.sparse import check_sparsity
    >>> check_sparsity(0.5)
    0.5
    >>> check_sparsity(1.0)
    Traceback (most recent call last):
        ...
    ValueError: sparsity must lie in [0, 1), got 1.0
    """
    if isinstance(sparsity, bool) or not isinstance(sparsity, numbers.Real):
        raise TypeError(f"{name} must be a number in [0, 1), got {describe(sparsity)}")
    if not 0 <= sparsity < 1:
        raise ValueError(f"{name} must lie in [0, 1), got {sparsity!r}")
    return float(sparsity)


def freq_sparse_mask(N: int, sparsity: float) -> tuple[torch.Tensor, tuple[int, int]]:
    r"""Hermitian block mask of a length-``N`` spectrum on the order-2 grid ``N = N_1 N_2``.

    Parameters
    ----------
    N : int
        Transform length (with at least two prime factors).
    sparsity : float
        Requested fraction of zeroed blocks, in ``[0, 1)``.

    Returns
    -------
    mask : torch.Tensor
        float64 of length ``N``: 0 on the zeroed frequencies, 1 elsewhere.
    factors : tuple of int
        ``(N_1, N_2)`` from :func:`~sciconv.monarch.monarch_factors`.

    Notes
    -----
    After the frequency-sparse convolutions of [1]_: frequency :math:`k = k_1 + N_1 k_2` lies in
    block :math:`b(k) = k_2 = \lfloor k/N_1
    \rfloor` (``N_2`` blocks of ``N_1`` consecutive frequencies). The central band
    :math:`C = [c_0, N_2 - c_0)` holds the :math:`z` highest-frequency blocks, :math:`z` the
    largest count :math:`\le` ``sparsity`` :math:`N_2` with the parity of :math:`N_2`. A
    frequency is zeroed when :math:`b(k) \in C` and :math:`b(N - k) \in C`: the rule is
    symmetric under :math:`k \leftrightarrow N-k`, so the mask is Hermitian and a real kernel
    stays real. Every column :math:`c_0 < k_2 < N_2 - c_0` of the grid is zero (for
    :math:`k_1 \ne 0` the mirror lies in block :math:`N_2 - 1 - k_2`, for :math:`k_1 = 0` in
    :math:`N_2 - k_2`); column :math:`c_0` keeps one entry.

    References
    ----------
    .. [1] D. Y. Fu, H. Kumbong, E. Nguyen and C. Ré, "FlashFFTConv: Efficient Convolutions
       for Long Sequences with Tensor Cores", ICLR 2024. arXiv:2311.05908.

    Examples
    --------
    >>> from sciconv.monarch.sparse import freq_sparse_mask
    >>> mask, (N1, N2) = freq_sparse_mask(64, 0.5)
    >>> (N1, N2), mask.reshape(N2, N1).sum(1).tolist()  # kept frequencies per block
    ((8, 8), [8.0, 8.0, 1.0, 0.0, 0.0, 0.0, 8.0, 8.0])
    """
    N1, N2, c0 = _band(N, sparsity)
    k = torch.arange(N)
    block, mirror = k // N1, ((N - k) % N) // N1
    inband = lambda b: (b >= c0) & (b < N2 - c0)  # noqa: E731
    zero = inband(block) & inband(mirror)  # empty band when c0 = N2 / 2 (nothing zeroed)
    mask = torch.where(zero, 0.0, 1.0).to(torch.float64)  # no data-dependent indexing
    return mask, (N1, N2)


def _band(N: int, sparsity: float) -> tuple[int, int, int]:
    """``(N_1, N_2, c_0)``: the grid and the start of the central band ``[c_0, N_2 - c_0)``."""
    sparsity = check_sparsity(sparsity)
    N1, N2 = monarch_factors(N, 2)
    z = math.floor(sparsity * N2 + 1e-9)
    if (N2 - z) % 2:
        z -= 1
    return N1, N2, (N2 - max(z, 0)) // 2


class _Plan:
    """Order-2 grid of one frequency-sparse convolution: matrices restricted to kept blocks."""

    def __init__(self, N: int, sparsity: float, n: int) -> None:
        self.N, self.n = N, n
        self.mask, (self.N1, self.N2) = freq_sparse_mask(N, sparsity)
        # kept grid columns, from the rule (Notes of freq_sparse_mask: every column strictly
        # inside the band is zero, column c0 keeps one entry) in Python, so that tracing
        # (torch.export) sees constants, not a data-dependent nonzero()
        _, _, c0 = _band(N, sparsity)
        self.kept_list = [k2 for k2 in range(self.N2) if not c0 < k2 < self.N2 - c0]
        self.kept = torch.tensor(self.kept_list, dtype=torch.int64)
        self.rows = -(-n // self.N2)  # grid rows j1 holding samples j < n
        self._mats: dict[tuple, tuple[torch.Tensor, ...]] = {}

    @property
    def sparsity(self) -> float:
        """Fraction of the spectrum zeroed (eager only: reads the mask)."""
        return 1.0 - float(self.mask.mean())

    def mats(self, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
        key = (str(device), dtype)
        if key not in self._mats:
            kw = {"device": device, "dtype": dtype}
            F1, F2 = dft_matrix(self.N1, **kw), dft_matrix(self.N2, **kw)
            kept = self.kept.to(device)
            self._mats[key] = (
                F1[:, : self.rows],  # forward stage 1: zero-padded rows skipped
                twiddle_matrix(self.N1, self.N2, **kw),
                F2[:, kept],  # forward stage 2: zero blocks skipped
                F2.conj()[kept, :],  # inverse stage 1: zero blocks skipped
                F1.conj()[: self.rows, :],  # inverse stage 2: only outputs j < n
            )
        return self._mats[key]

    def grid_spectrum(self, H: torch.Tensor) -> torch.Tensor:
        """Masked spectrum (..., N) -> (..., N1, kept) on the grid."""
        m = self.mask.to(device=H.device, dtype=H.real.dtype)
        g = (H * m).reshape(H.shape[:-1] + (self.N2, self.N1)).transpose(-1, -2)
        return g[..., self.kept.to(H.device)]

    def apply(self, x: torch.Tensor, Hg: torch.Tensor) -> torch.Tensor:
        """First ``n`` samples of the length-N circular convolution of zero-padded ``x``."""
        F1r, T, F2k, G2k, G1r = self.mats(x.device, Hg.dtype)
        rows, n = self.rows, self.n
        xp = torch.nn.functional.pad(x, (0, rows * self.N2 - n)).to(Hg.dtype)
        a = F1r @ xp.reshape(x.shape[:-1] + (rows, self.N2))  # (..., N1, N2)
        b = ((a * T) @ F2k) * Hg  # (..., N1, kept)
        c = (b @ G2k) * T.conj()  # (..., N1, N2)
        y = (G1r @ c).reshape(c.shape[:-2] + (rows * self.N2,))[..., :n]
        return y / self.N


def freq_sparse_conv(
    x: torch.Tensor, k: torch.Tensor, sparsity: float, mode: str = "causal"
) -> torch.Tensor:
    r"""Causal or circular convolution along the last axis with a block-masked kernel spectrum.

    Parameters
    ----------
    x : torch.Tensor
        Signals (..., n).
    k : torch.Tensor
        Kernel (..., m), broadcast against ``x`` outside the last axis.
    sparsity : float
        Requested fraction of zeroed spectrum blocks (:func:`freq_sparse_mask`), in [0, 1).
    mode : {'causal', 'circular'}

    Returns
    -------
    torch.Tensor
        (..., n); real for real ``x`` and ``k`` (the mask is Hermitian), complex otherwise;
        float64/complex128 for float64 input, else single precision. Differentiable.

    Notes
    -----
    Let ``N`` be the transform length (``fft_size(n + min(m, n) - 1)`` causal, ``n``
    circular), :math:`M` the mask of :func:`freq_sparse_mask` and :math:`\tilde k =
    \mathrm{IDFT}_N(M \odot \mathrm{DFT}_N(k_{\mathrm{pad}}))` the spectrum-masked kernel
    (real for real ``k``). The result is exactly

    .. math:: y_t = \sum_{j=0}^{N-1} \tilde k_j\, \tilde x_{(t-j) \bmod N}, \qquad t < n,

    with :math:`\tilde x` the zero-padded ``x``: the circular convolution of length ``N``,
    cut to ``n`` samples (for circular mode ``N = n``: the circular convolution with
    :math:`\tilde k`). :math:`\tilde k` fills all ``N`` taps, so the causal result also has
    wrap-around terms from taps :math:`j > N - n`; for ``sparsity = 0`` it is the causal
    convolution.

    On the grid [1]_ :math:`j = N_2 j_1 + j_2`, :math:`k = k_1 + N_1 k_2` the forward transform is
    :math:`F_{N_1}` from the left, twiddles :math:`\omega_N^{k_1 j_2}`, :math:`F_{N_2}` from
    the right; the inverse the same backwards with conjugates. The spectrum product is zero
    on every column :math:`k_2` of :math:`\tilde H` that the mask zeroes, so the forward
    :math:`F_{N_2}` keeps only the kept columns and the inverse :math:`\bar F_{N_2}` only the
    kept rows: those two matmuls shrink by the zeroed fraction. No transposes are needed (the
    product is taken in grid order). Besides, the rows :math:`j_1 \ge \lceil n/N_2 \rceil`
    of the zero-padded input and of the discarded output are skipped in the two
    :math:`F_{N_1}` products. Real signals with a batch axis the kernel does not vary along
    are packed in pairs as real and imaginary parts of one complex signal (valid because
    :math:`\tilde k` is real).

    References
    ----------
    .. [1] D. Y. Fu, H. Kumbong, E. Nguyen and C. Ré, "FlashFFTConv: Efficient Convolutions
       for Long Sequences with Tensor Cores", ICLR 2024. arXiv:2311.05908.

    Examples
    --------
    At sparsity 0 it is the ordinary causal convolution:

    >>> import numpy as np
    >>> import torch
    >>> from sciconv.monarch.sparse import freq_sparse_conv
    >>> x, k = torch.randn(3, 100, dtype=torch.float64), torch.randn(100, dtype=torch.float64)
    >>> y = freq_sparse_conv(x, k, 0.0)
    >>> ref = np.stack([np.convolve(r, k.numpy())[:100] for r in x.numpy()])
    >>> bool(np.abs(y.numpy() - ref).max() < 1e-12), y.dtype
    (True, torch.float64)
    >>> tuple(freq_sparse_conv(x, k, 0.9).shape)
    (3, 100)
    """
    check_choice("mode", mode, SPARSE_MODES)
    for name, a in (("x", x), ("k", k)):
        if not isinstance(a, torch.Tensor) or not (a.dtype.is_floating_point or a.is_complex()):
            raise TypeError(f"{name} must be a floating or complex torch.Tensor, got {describe(a)}")
        if a.ndim < 1 or a.shape[-1] < 1:
            raise ValueError(f"{name} must have a last axis of length >= 1, got {describe(a)}")
    try:
        batch = torch.broadcast_shapes(x.shape[:-1], k.shape[:-1])
    except RuntimeError:
        raise ValueError(
            f"k's batch shape {tuple(k.shape[:-1])} must broadcast against x's "
            f"{tuple(x.shape[:-1])} (shapes outside the last axis), got {describe(k)}"
        ) from None
    x = x.expand(batch + x.shape[-1:])  # pairing below packs along an x-only axis
    n = x.shape[-1]
    kp, N = _prepare(k, n, mode)
    plan = _Plan(N, sparsity, n)
    double = torch.float64 in (x.dtype, k.dtype) or torch.complex128 in (x.dtype, k.dtype)
    cdtype = torch.complex128 if double else torch.complex64
    H = torch.fft.fft(kp.to(cdtype), n=N)
    Hg = plan.grid_spectrum(H)
    real = not (x.is_complex() or k.is_complex())
    kb = k.ndim - 1  # kernel batch axes; pack along an axis of x in front of them
    if real and x.ndim - 1 > kb and x.shape[0] > 1:
        x0 = torch.nn.functional.pad(x, (0,) * (2 * x.ndim - 1) + (x.shape[0] % 2,))
        z = torch.complex(x0[0::2], x0[1::2]).to(cdtype)
        y = plan.apply(z, Hg)
        y = torch.stack([y.real, y.imag], dim=1).reshape(x0.shape)[: x.shape[0]]
        return y
    y = plan.apply(x.to(cdtype), Hg)
    return y.real if real else y


class FreqSparseConv(_SparseOp):
    """:func:`freq_sparse_conv` with a fixed 1-d kernel as a ``LinearOperator`` (n -> n).

    Parameters
    ----------
    k : array_like or torch.Tensor
        1-d kernel (float64 or complex128 internally).
    n : int
        Signal length.
    sparsity : float
        Requested fraction of zeroed spectrum blocks, in [0, 1).
    mode : {'causal', 'circular'}

    Attributes
    ----------
    sparsity : float
        The fraction of the length-``N`` spectrum actually zeroed.
    N : int
        Transform length.
    factors : tuple of int
        The order-2 grid ``(N_1, N_2)``.
    kept_blocks : int
        Columns of the grid (blocks of ``N_1`` frequencies) the matmuls compute, of ``N_2``.
    masked_kernel : numpy.ndarray
        :math:`\\tilde k` (length ``N``): the operator is the convolution with it (Notes of
        :func:`freq_sparse_conv`).

    Notes
    -----
    The operator of [1]_'s frequency-sparse convolution. The adjoint is the same computation with
    the conjugate masked spectrum
    :math:`\\overline{M \\odot H}` (the correlation with :math:`\\tilde k`), restricted and
    padded the same way, so it is exact; :func:`sciconv.dottest` checks it.

    References
    ----------
    .. [1] D. Y. Fu, H. Kumbong, E. Nguyen and C. Ré, "FlashFFTConv: Efficient Convolutions
       for Long Sequences with Tensor Cores", ICLR 2024. arXiv:2311.05908.

    Examples
    --------
    >>> import numpy as np
    >>> from sciconv import dottest
    >>> from sciconv.monarch.sparse import FreqSparseConv
    >>> A = FreqSparseConv(np.random.default_rng(0).standard_normal(64), 64, 0.5)
    >>> A.shape, round(A.sparsity, 3), bool(dottest(A, rng=0) < 1e-13)
    ((64, 64), 0.492, True)
    """

    def __init__(self, k: Any, n: int, sparsity: float, mode: str = "causal") -> None:
        self.mode = check_choice("mode", mode, SPARSE_MODES)
        n = check_positive_int("n", n)
        kt = _kernel_1d(k)
        kp, N = _prepare(kt, n, mode)
        self._plan = _Plan(N, sparsity, n)
        H = torch.fft.fft(kp.to(torch.complex128), n=N)
        self._Hg = self._plan.grid_spectrum(H)
        self._Hg_adj = self._plan.grid_spectrum(H.conj())
        self._real = not kt.is_complex()
        self.sparsity, self.N = self._plan.sparsity, N
        self.factors = (self._plan.N1, self._plan.N2)
        self.kept_blocks = int(self._plan.kept.numel())
        mk = torch.fft.ifft(H * self._plan.mask)
        self.masked_kernel = (mk.real if self._real else mk).numpy()
        super().__init__(np.float64 if self._real else np.complex128, (n, n))

    def _apply(self, x: torch.Tensor, adjoint: bool) -> torch.Tensor:
        y = self._plan.apply(x.to(torch.complex128), self._Hg_adj if adjoint else self._Hg)
        return y.real if self._real and not x.is_complex() else y
