"""The DFT as matrix products (the Monarch decomposition of FlashFFTConv) and what builds on it.

* :mod:`sciconv.monarch.factors`, :mod:`sciconv.monarch.dft` and :mod:`sciconv.monarch.rfft`
  (re-exported here): ``monarch_factors``, ``monarch_fft``/``ifft`` with the DFT and twiddle
  matrices, ``monarch_rfft``/``irfft``;
* :mod:`sciconv.monarch.tune`: the timing table of ``FFTConvolver(method='auto')``;
* :mod:`sciconv.monarch.sparse`: partial and frequency-sparse convolutions (import it by name:
  it builds on :mod:`sciconv.fft`, which itself imports this package's transforms).

References
----------
.. [1] D. Y. Fu, H. Kumbong, E. Nguyen and C. Ré, "FlashFFTConv: Efficient Convolutions for
   Long Sequences with Tensor Cores", International Conference on Learning Representations
   (ICLR), 2024. arXiv:2311.05908.
"""

from .dft import dft_matrix, monarch_fft, monarch_ifft, twiddle_matrix
from .factors import DENSE_DFT_LIMIT, monarch_factors
from .rfft import monarch_irfft, monarch_rfft

__all__ = [
    "DENSE_DFT_LIMIT",
    "dft_matrix",
    "monarch_factors",
    "monarch_fft",
    "monarch_ifft",
    "monarch_irfft",
    "monarch_rfft",
    "twiddle_matrix",
]
