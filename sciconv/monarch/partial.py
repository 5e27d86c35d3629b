"""Partial convolution: the kernel truncated to its first ``K`` taps (FlashFFTConv) [1]_.

References
----------
.. [1] D. Y. Fu, H. Kumbong, E. Nguyen and C. Ré, "FlashFFTConv: Efficient Convolutions for
   Long Sequences with Tensor Cores", International Conference on Learning Representations
   (ICLR), 2024. arXiv:2311.05908.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..fft import FFTConvolver, _prepare_kernel
from ..validation import check_choice, check_positive_int
from ._linop import SPARSE_MODES, _kernel_1d, _SparseOp

__all__ = ["PartialConv"]


class PartialConv(_SparseOp):
    """Convolution with the kernel truncated to its first ``K`` taps, as a ``LinearOperator``.

    Parameters
    ----------
    k : array_like or torch.Tensor
        1-d kernel of ``m >= K`` taps.
    n : int
        Signal length.
    K : int
        Taps kept, ``1 <= K <= m``.
    mode : {'causal', 'circular'}
    method : {'monarch', 'fft', 'direct', 'auto'}
        How the convolution is computed (:class:`sciconv.FFTConvolver`).
    order : int
        Monarch order.

    Notes
    -----
    A partial convolution [1]_ is exactly the causal (or circular) convolution with
    :math:`k_{0..K-1}`. The saving is the transform length: causal mode zero-pads to
    ``fft_size(n + K - 1)`` instead of ``fft_size(n + m - 1)``, and only ``K`` taps are stored.
    On the order-2 grid the truncated kernel fills only rows :math:`j_1 < \\lceil K/N_2
    \\rceil`. The adjoint is the correlation with the same taps:
    :math:`(A^H y)_s = \\sum_{i<K} \\bar k_i y_{s+i}` (causal: the ``full`` convolution with
    the reversed conjugate kernel, cut at ``K - 1``), or the circular convolution with
    :math:`\\bar k_{-j \\bmod n}` (circular).

    References
    ----------
    .. [1] D. Y. Fu, H. Kumbong, E. Nguyen and C. Ré, "FlashFFTConv: Efficient Convolutions
       for Long Sequences with Tensor Cores", ICLR 2024. arXiv:2311.05908.

    Examples
    --------
    >>> import numpy as np
    >>> from sciconv import dottest
    >>> from sciconv.monarch.sparse import PartialConv
    >>> k = np.random.default_rng(0).standard_normal(1000)
    >>> A = PartialConv(k, 1000, K=100)
    >>> x = np.random.default_rng(1).standard_normal(1000)
    >>> bool(np.abs(A @ x - np.convolve(x, k[:100])[:1000]).max() < 1e-12)
    True
    >>> A.fft_shape, bool(dottest(A, rng=0) < 1e-13)  # fft_size(1099), not fft_size(1999)
    ((1125,), True)
    """

    def __init__(
        self,
        k: Any,
        n: int,
        K: int,
        mode: str = "causal",
        method: str = "monarch",
        *,
        order: int = 2,
    ) -> None:
        self.mode = check_choice("mode", mode, SPARSE_MODES)
        n = check_positive_int("n", n)
        kt = _kernel_1d(k)
        K = check_positive_int("K", K)
        if K > kt.shape[0]:
            raise ValueError(f"K must be at most the kernel length {kt.shape[0]}, got {K}")
        self.K, self.kernel = K, kt[:K]
        self._fwd = FFTConvolver(self.kernel, n, mode, method=method, order=order)
        if mode == "causal":
            self._adj = FFTConvolver(
                self.kernel.flip(0).conj(), n, "full", method=method, order=order
            )
        else:
            folded = _prepare_kernel(self.kernel, (0,), (n,), "circular")
            folded = torch.nn.functional.pad(folded, (0, n - folded.shape[0]))
            rev = torch.roll(folded.flip(0), 1).conj()  # rev[j] = conj(folded[-j mod n])
            self._adj = FFTConvolver(rev, n, "circular", method=method, order=order)
        self.fft_shape = self._fwd.fft_shape
        super().__init__(np.complex128 if kt.is_complex() else np.float64, (n, n))

    def _apply(self, x: torch.Tensor, adjoint: bool) -> torch.Tensor:
        if not adjoint:
            return self._fwd(x)
        y = self._adj(x)
        return y[..., self.K - 1 : self.K - 1 + self.shape[0]] if self.mode == "causal" else y
