"""Long convolutions with squash and smooth regularisers [1]_.

References
----------
.. [1] D. Y. Fu, E. L. Epstein, E. Nguyen, A. W. Thomas, M. Zhang, T. Dao, A. Rudra and
   C. Ré, "Simple Hardware-Efficient Long Convolutions for Sequence Modeling", International
   Conference on Machine Learning (ICML), 2023. arXiv:2302.06646.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..fft import METHODS, FFTConvolver
from ..monarch.sparse import check_sparsity, freq_sparse_conv
from ..validation import check_float_dtype, check_input_dtype, check_positive_int, describe
from .apply import causal_conv

__all__ = ["LongConv", "smooth", "squash"]


def squash(k: torch.Tensor, lam: float) -> torch.Tensor:
    """Soft-threshold ``sign(k) * max(|k| - lam, 0)``, the proximal map of ``lam * |k|_1``.

    Examples
    --------
    >>> import torch
    >>> from sciconv.ssm import squash
    >>> squash(torch.tensor([-2.0, 0.5, 1.5, 3.0]), 1.0).tolist()
    [-1.0, 0.0, 0.5, 2.0]
    """
    if not lam >= 0:
        raise ValueError(f"lam must be a number >= 0, got {lam!r}")
    return torch.sign(k) * F.relu(k.abs() - lam)


def smooth(k: torch.Tensor, width: int) -> torch.Tensor:
    """Centred moving average of odd ``width`` along the last axis, zero padded (avg pool).

    Examples
    --------
    >>> import torch
    >>> from sciconv.ssm import smooth
    >>> smooth(torch.tensor([0.0, 0.0, 3.0, 0.0, 0.0]), 3).tolist()
    [0.0, 1.0, 1.0, 1.0, 0.0]
    >>> smooth(torch.ones(2, 3, 8), 5).shape  # any leading axes
    torch.Size([2, 3, 8])
    """
    width = check_positive_int("width", width)
    if width % 2 == 0:
        raise ValueError(f"width must be an odd integer >= 1, got {width}")
    shape = k.shape
    out = F.avg_pool1d(
        k.reshape(-1, 1, shape[-1]), width, stride=1, padding=width // 2, count_include_pad=True
    )
    return out.reshape(shape)


class LongConv(nn.Module):
    """Depthwise causal convolution with a learned kernel as long as the input.

    Parameters
    ----------
    channels : int
        Channels ``H`` (``in_channels = out_channels``, ``groups = channels``).
    kernel_size : int
        Kernel length ``L_k`` (inputs may be shorter or longer; taps beyond the input are unused).
    squash_lambda : float
        Soft-threshold applied to the kernel on every call (0 disables).
    smooth_width : int
        Odd width of the moving average applied before squashing (1 disables).
    bias : bool
        Skip term ``D u``.
    method : {'fft', 'monarch', 'direct', 'auto'}
        How the causal convolution is computed (:class:`sciconv.FFTConvolver`); every method
        gives the same output. 'auto' measures the methods on the first eager call of each
        input shape; under ``torch.compile`` an untuned shape uses 'fft' (timing cannot be
        traced; see :class:`sciconv.FFTConvolver`).
    order : int
        Monarch order for ``method='monarch'`` (and 'auto').
    freq_sparsity : float
        In [0, 1): if positive, the kernel's spectrum is block-masked and the convolution
        computed by :func:`sciconv.monarch.sparse.freq_sparse_conv` (zero blocks skipped); the
        layer is then a different (sparser) model, not an approximation of the dense one.
        That computation is always the order-2 Monarch grid, so it takes only the default
        ``method='fft'`` or ``'monarch'`` (both mean that grid here) and ``order=2``; 'direct'
        and 'auto' (which would be silently ignored) raise ``ValueError``.
    device, dtype

    Notes
    -----
    The effective kernel is :math:`k = S_\\lambda(\\mathrm{avg}_w(W))` with
    :math:`S_\\lambda(x) = \\mathrm{sign}(x)\\max(|x|-\\lambda, 0)`, and
    :math:`y = k * u + D u` causally, by FFT [1]_. With ``freq_sparsity = s > 0`` the output
    is :math:`y = \\tilde k \\circledast u + D u`, :math:`\\tilde k` the kernel with its
    spectrum masked on the central (high-frequency) blocks of the Monarch grid, convolved
    circularly at the zero-padded length and cut to ``L`` (see
    :func:`~sciconv.monarch.sparse.freq_sparse_conv`, after FlashFFTConv [2]_).

    References
    ----------
    .. [1] D. Y. Fu, E. L. Epstein, E. Nguyen, A. W. Thomas, M. Zhang, T. Dao, A. Rudra and
       C. Ré, "Simple Hardware-Efficient Long Convolutions for Sequence Modeling", International
       Conference on Machine Learning (ICML), 2023. arXiv:2302.06646.
    .. [2] D. Y. Fu, H. Kumbong, E. Nguyen and C. Ré, "FlashFFTConv: Efficient Convolutions
       for Long Sequences with Tensor Cores", ICLR 2024. arXiv:2311.05908.

    Examples
    --------
    The output at time ``t`` depends only on inputs up to ``t``:

    >>> import torch
    >>> from sciconv.ssm import LongConv
    >>> _ = torch.manual_seed(0)
    >>> layer = LongConv(4, 64, squash_lambda=1e-3, smooth_width=3, dtype=torch.float64)
    >>> u = torch.randn(2, 4, 64, dtype=torch.float64)
    >>> y = layer(u)
    >>> u2 = u.clone()
    >>> u2[..., 40:] = 0.0
    >>> tuple(y.shape), bool(torch.allclose(layer(u2)[..., :40], y[..., :40]))
    ((2, 4, 64), True)

    The Monarch method computes the same layer; a frequency-sparse one is another layer:

    >>> mono = LongConv(4, 64, squash_lambda=1e-3, smooth_width=3,
    ...                 method="monarch", dtype=torch.float64)
    >>> _ = mono.load_state_dict(layer.state_dict())
    >>> bool(torch.allclose(mono(u), y, atol=1e-12))
    True
    >>> tuple(LongConv(4, 64, freq_sparsity=0.5, dtype=torch.float64)(u).shape)
    (2, 4, 64)
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int,
        *,
        squash_lambda: float = 0.0,
        smooth_width: int = 1,
        bias: bool = True,
        method: str = "fft",
        order: int = 2,
        freq_sparsity: float = 0.0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        check_float_dtype("dtype", dtype)
        if method not in METHODS:
            raise ValueError(f"method must be one of {sorted(METHODS)}, got {describe(method)}")
        self.method, self.order = method, check_positive_int("order", order)
        self.freq_sparsity = check_sparsity(freq_sparsity, "freq_sparsity")
        if self.freq_sparsity > 0 and (method not in ("fft", "monarch") or self.order != 2):
            raise ValueError(
                f"freq_sparsity={self.freq_sparsity} is computed on the order-2 Monarch grid: it "
                f"requires method 'fft' or 'monarch' and order=2, got method={method!r}, "
                f"order={self.order}"
            )
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        if not squash_lambda >= 0:
            raise ValueError(f"squash_lambda must be a number >= 0, got {squash_lambda!r}")
        smooth(torch.zeros(1), smooth_width)  # validates the width
        self.squash_lambda, self.smooth_width = float(squash_lambda), int(smooth_width)
        fk = {"device": device, "dtype": dtype or torch.get_default_dtype()}
        decay = torch.exp(-torch.arange(kernel_size, **fk) / (kernel_size / 8))
        self.weight = nn.Parameter(torch.randn(channels, kernel_size, **fk) * decay * 0.1)
        self.D = nn.Parameter(torch.randn(channels, **fk)) if bias else None

    def kernel(self) -> torch.Tensor:
        """Effective kernel (H, L_k): smoothed, then squashed."""
        k = self.weight
        if self.smooth_width > 1:
            k = smooth(k, self.smooth_width)
        return squash(k, self.squash_lambda) if self.squash_lambda > 0 else k

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """Causal output (B, H, L) for ``u`` (B, H, L)."""
        if u.ndim != 3 or u.shape[1] != self.channels:
            raise ValueError(f"u must have shape (batch, {self.channels}, L), got {describe(u)}")
        check_input_dtype("u", u, self.weight.dtype, "LongConv")
        k = self.kernel()
        if self.freq_sparsity > 0:
            y = freq_sparse_conv(u, k, self.freq_sparsity)
            return y if self.D is None else y + self.D[:, None] * u
        if self.method == "fft":
            return causal_conv(u, k, self.D)
        conv = FFTConvolver(k, u.shape[-1], "causal", method=self.method, order=self.order)
        return causal_conv(u, k, self.D, convolver=conv)

    def extra_repr(self) -> str:
        return (
            f"{self.channels}, kernel_size={self.kernel_size}, squash_lambda={self.squash_lambda}"
            f", smooth_width={self.smooth_width}"
        )
