"""FFT convolution (full, same, circular, causal) for numpy arrays and torch tensors.

This module is the single place in sciconv that chooses FFT sizes (:func:`fft_size`).
:class:`FFTConvolver` computes the same convolution by torch/scipy FFTs (``method='fft'``),
by the matmul form of the DFT (``'monarch'``, :mod:`sciconv.monarch`), by direct summation
(``'direct'``), or by whichever of these was measured fastest (``'auto'``).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import scipy.fft
import torch
import torch.nn.functional as F

from .monarch import monarch_factors, monarch_fft, monarch_ifft, monarch_irfft, monarch_rfft
from .monarch.tune import DEFAULT_TABLE, TuningTable
from .validation import check_choice, check_positive_int, describe

__all__ = ["METHODS", "MODES", "FFTConvolver", "fft_size", "fftconv"]

MODES = ("full", "same", "circular", "causal")
METHODS = ("fft", "monarch", "direct", "auto")
#: ``method='auto'`` considers direct summation only up to this many kernel taps.
AUTO_DIRECT_TAPS = 512
Array = Any  # numpy.ndarray or torch.Tensor


def fft_size(n: int) -> int:
    """Smallest fast FFT length ``>= n`` (a 5-smooth number, from ``scipy.fft.next_fast_len``).

    Parameters
    ----------
    n : int
        Minimum length, ``n >= 1``.

    Returns
    -------
    int
        The smallest ``L >= n`` whose only prime factors are 2, 3 and 5.

    Examples
    --------
    >>> from sciconv import fft_size
    >>> fft_size(97), fft_size(1000), fft_size(1025)
    (100, 1000, 1080)
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be an integer >= 1, got {describe(n)}")
    if n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n}")
    return _next_fast_len(int(n))


@torch.compiler.assume_constant_result
def _next_fast_len(n: int) -> int:
    """scipy's ``next_fast_len`` (pocketfft C code): under ``torch.compile`` a constant of the
    static length ``n`` rather than an untraceable call."""
    return int(scipy.fft.next_fast_len(n, real=True))


#: Half-precision torch dtypes are transformed (and returned) in single precision, as scipy
#: does for numpy float16: torch's CPU FFT refuses them ("Unsupported dtype Half"), and its
#: CUDA one takes only power-of-two lengths.
_HALF_UPCAST = {
    torch.float16: torch.float32,
    torch.bfloat16: torch.float32,
    torch.complex32: torch.complex64,
}


def _as_arrays(x: Array, k: Array) -> tuple[Array, Array, bool]:
    """Bring x and k to one backend and one floating/complex dtype; return (x, k, is_torch)."""
    for name, a in (("x", x), ("k", k)):
        if isinstance(a, torch.Tensor):
            if a.dtype == torch.bool:
                raise TypeError(f"{name} must hold numbers, got {describe(a)}")
            continue
        kind = np.asarray(a).dtype.kind
        if kind not in "biufc" or kind == "b":
            raise TypeError(f"{name} must be a numeric array or tensor, got {describe(a)}")
    if isinstance(x, torch.Tensor) or isinstance(k, torch.Tensor):
        ref = x if isinstance(x, torch.Tensor) else k
        x = torch.as_tensor(x, device=ref.device)
        k = torch.as_tensor(k, device=ref.device)
        if x.device != k.device:
            raise ValueError(f"k must be on the device of x ({x.device}), got {k.device}")
        dtype = torch.promote_types(x.dtype, k.dtype)  # (torch.compile-friendly)
        if not (dtype.is_floating_point or dtype.is_complex):
            dtype = torch.get_default_dtype()
        dtype = _HALF_UPCAST.get(dtype, dtype)  # torch's CPU FFT has no half types
        return x.to(dtype), k.to(dtype), True
    x, k = np.asarray(x), np.asarray(k)
    dtype = np.result_type(x.dtype, k.dtype)
    if dtype.kind not in "fc":
        dtype = np.dtype(np.float64)
    return x.astype(dtype, copy=False), k.astype(dtype, copy=False), False


def _norm_axes(axes: Any, ndim: int) -> tuple[int, ...]:
    """Normalize ``axes`` (int or tuple of ints) to sorted-as-given non-negative ints."""
    seq = (axes,) if isinstance(axes, numbers.Integral) and not isinstance(axes, bool) else axes
    if not isinstance(seq, (tuple, list)):
        raise TypeError(f"axes must be an int or a tuple of ints, got {describe(axes)}")
    if len(seq) == 0:
        raise ValueError("axes must name at least one axis, got an empty sequence")
    out = []
    for a in seq:
        if isinstance(a, bool) or not isinstance(a, numbers.Integral):
            raise TypeError(f"axes must contain integers, got {describe(axes)}")
        if not -ndim <= a < ndim:
            raise ValueError(f"axes must lie in [-{ndim}, {ndim}) for {ndim}-d input, got {axes}")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"axes must not repeat an axis, got {axes}")
    return tuple(out)


def _align(x: Array, k: Array, axes: Any) -> tuple[Array, Array, tuple[int, ...]]:
    """Apply the broadcasting rule of :func:`fftconv`; return x, k of equal ndim and the axes."""
    ndim = max(x.ndim, k.ndim)
    ax = _norm_axes(axes, ndim)
    if k.ndim == len(ax) < ndim:  # kernel given along the convolution axes only
        shape = [1] * ndim
        for a, s in zip(ax, k.shape):
            shape[a] = s
        k = k.reshape(tuple(shape))
    x = x.reshape((1,) * (ndim - x.ndim) + tuple(x.shape))
    k = k.reshape((1,) * (ndim - k.ndim) + tuple(k.shape))
    for d in range(ndim):
        if d in ax:
            if x.shape[d] < 1 or k.shape[d] < 1:
                raise ValueError(
                    f"x and k must have length >= 1 along axes {axes}, got x of shape "
                    f"{tuple(x.shape)} and k of shape {tuple(k.shape)}"
                )
        elif x.shape[d] != k.shape[d] and 1 not in (x.shape[d], k.shape[d]):
            raise ValueError(
                f"k of shape {tuple(k.shape)} does not broadcast against x of shape "
                f"{tuple(x.shape)} outside axes {axes} (sizes must match or be 1)"
            )
    return x, k, ax


def _pad_axis(a: Array, axis: int, size: int) -> Array:
    """Zero-pad ``a`` at the end of ``axis`` to length ``size``."""
    extra = size - a.shape[axis]
    if extra <= 0:
        return a
    shape = list(a.shape)
    shape[axis] = extra
    if isinstance(a, torch.Tensor):
        return torch.cat([a, a.new_zeros(shape)], dim=axis)
    return np.concatenate([a, np.zeros(shape, dtype=a.dtype)], axis=axis)


def _prepare_kernel(k: Array, ax: tuple[int, ...], n: tuple[int, ...], mode: str) -> Array:
    """Fold the kernel modulo n (circular) or drop taps that cannot reach the output (causal)."""
    for a, na in zip(ax, n):
        m = k.shape[a]
        if mode == "causal" and m > na:
            k = k[(slice(None),) * a + (slice(0, na),)]
        elif mode == "circular" and m > na:
            q = -(-m // na)
            k = _pad_axis(k, a, q * na)
            k = k.reshape(tuple(k.shape[:a]) + (q, na) + tuple(k.shape[a + 1 :])).sum(a)
    return k


def _fft_shape(n: tuple[int, ...], m: tuple[int, ...], mode: str) -> tuple[int, ...]:
    if mode == "circular":
        return n
    return tuple(fft_size(na + ma - 1) for na, ma in zip(n, m))


def _out_slices(ax, n, m, mode, ndim) -> tuple[slice, ...]:
    sl = [slice(None)] * ndim
    for a, na, ma in zip(ax, n, m):
        start = (ma - 1) // 2 if mode == "same" else 0
        stop = start + (na + ma - 1 if mode == "full" else na)
        sl[a] = slice(start, stop)
    return tuple(sl)


def _monarch_forward(a, shape, ax, real, order):
    for d, size in zip(ax, shape):
        a = _pad_axis(a, d, size)
    if real:
        a = monarch_rfft(a, order=order, dim=ax[-1], strict=False)
    for d in ax[:-1] if real else ax:
        a = monarch_fft(a, order=order, dim=d, strict=False)
    return a


def _monarch_inverse(a, shape, ax, real, order):
    for d in ax[:-1] if real else ax:
        a = monarch_ifft(a, order=order, dim=d, strict=False)
    if real:
        a = monarch_irfft(a, shape[-1], order=order, dim=ax[-1], strict=False)
    return a


def _direct(x: torch.Tensor, kp: torch.Tensor, a: int, mode: str) -> torch.Tensor:
    """Direct summation along axis ``a`` (grouped ``conv1d``): the full convolution, wrapped
    modulo ``n`` in circular mode (``kp`` is the prepared kernel: folded or truncated)."""
    n, mp = x.shape[a], kp.shape[a]
    xm, km = x.movedim(a, -1), kp.movedim(a, -1)
    batch = torch.broadcast_shapes(xm.shape[:-1], km.shape[:-1])
    xb = xm.expand(batch + (n,)).reshape(-1, n)
    kb = km.expand(batch + (mp,)).reshape(-1, mp)
    full = F.conv1d(xb[None], kb.flip(-1)[:, None], padding=mp - 1, groups=xb.shape[0])[0]
    if mode == "circular" and mp > 1:  # wrap the tail t >= n onto t - n
        full = full[:, :n] + F.pad(full[:, n:], (0, n - mp + 1))
    return full.reshape(batch + (full.shape[-1],)).movedim(-1, a)


def _forward(
    a: Array,
    shape: tuple[int, ...],
    ax: tuple[int, ...],
    real: bool,
    method: str = "fft",
    order: int = 2,
) -> Array:
    if method == "monarch":
        return _monarch_forward(a, shape, ax, real, order)
    if isinstance(a, torch.Tensor):
        f = torch.fft.rfftn if real else torch.fft.fftn
        return f(a, s=shape, dim=ax)
    return (scipy.fft.rfftn if real else scipy.fft.fftn)(a, s=shape, axes=ax)


def _inverse(
    a: Array,
    shape: tuple[int, ...],
    ax: tuple[int, ...],
    real: bool,
    method: str = "fft",
    order: int = 2,
) -> Array:
    if method == "monarch":
        return _monarch_inverse(a, shape, ax, real, order)
    if isinstance(a, torch.Tensor):
        f = torch.fft.irfftn if real else torch.fft.ifftn
        return f(a, s=shape, dim=ax)
    return (scipy.fft.irfftn if real else scipy.fft.ifftn)(a, s=shape, axes=ax)


def _is_complex(a: Array) -> bool:
    return a.is_complex() if isinstance(a, torch.Tensor) else np.iscomplexobj(a)


def fftconv(x: Array, k: Array, mode: str = "full", axes: int | tuple[int, ...] = -1) -> Array:
    """Convolve ``x`` with ``k`` along ``axes`` by FFT (true convolution, not correlation).

    Parameters
    ----------
    x : numpy.ndarray or torch.Tensor
        Signal. Along the convolution axes it has lengths ``n``.
    k : numpy.ndarray or torch.Tensor
        Kernel, with lengths ``m`` along the convolution axes. Broadcasting rule: if ``k.ndim ==
        len(axes) < x.ndim`` the kernel's axes are the convolution axes (in the order given) and it
        is shared by every other index of ``x``; otherwise the array with fewer dimensions gets
        leading size-1 axes (numpy's rule), ``axes`` refer to the common shape, and outside
        ``axes`` the sizes must be equal or 1.
    mode : {'full', 'same', 'circular', 'causal'}
        Output extent along each axis: ``n + m - 1`` ('full'), ``n`` otherwise.
    axes : int or tuple of int
        Convolution axes (default the last).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        A torch tensor if either input is one (on its device, differentiable w.r.t. ``x`` and
        ``k``), else a numpy array. The dtype is the promoted floating or complex dtype;
        half precision (torch float16/bfloat16, numpy float16) is computed and returned in
        float32 (complex32 in complex64).

    Notes
    -----
    In one dimension, with ``x`` and ``k`` zero outside ``0..n-1`` and ``0..m-1``,

    * full: :math:`y_t = \\sum_j k_j x_{t-j}` for :math:`t = 0, \\dots, n+m-2`;
    * same: the centred part :math:`y_{s+t}`, :math:`s = \\lfloor (m-1)/2 \\rfloor`,
      :math:`t < n`, as ``scipy.signal.fftconvolve(..., mode='same')``;
    * causal: :math:`y_t = \\sum_{j \\le t} k_j x_{t-j}` for :math:`t < n` (taps ``j >= n``
      are dropped, they cannot reach the output);
    * circular: :math:`y_t = \\sum_j k_j x_{(t-j) \\bmod n}`, :math:`t < n`; a kernel longer than
      ``n`` wraps: it is folded to :math:`\\tilde k_r = \\sum_{j \\equiv r \\pmod n} k_j`.

    Linear modes zero-pad both factors to an FFT length :math:`L \\ge n + m' - 1` (``m' = m``,
    or ``min(m, n)`` for causal) chosen by :func:`fft_size`, so that the circular convolution of
    length ``L`` has no wrap-around; circular mode uses ``L = n`` exactly. Real inputs use
    ``rfftn``, complex ones ``fftn``. Several axes apply the same rule per axis.

    Examples
    --------
    The difference filter ``[1, -1]`` in each mode:

    >>> import numpy as np
    >>> import torch
    >>> from sciconv import fftconv
    >>> x, k = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, -1.0])
    >>> fftconv(x, k).round(12)
    array([ 1.,  1.,  1.,  1., -4.])
    >>> fftconv(x, k, mode="circular").round(12)
    array([-3.,  1.,  1.,  1.])
    >>> bool(np.allclose(fftconv(x, k, mode="same"), np.convolve(x, k, mode="same")))
    True

    A batch of signals shares one kernel along the last axis; torch input keeps autograd
    (the causal differences telescope to ``x[3]``, so the gradient is ``e_3``):

    >>> xb = np.random.default_rng(0).standard_normal((3, 50))
    >>> fftconv(xb, k).shape
    (3, 51)
    >>> xt = torch.tensor(x, requires_grad=True)
    >>> fftconv(xt, k, mode="causal").sum().backward()
    >>> xt.grad.numpy().round(12) + 0.0
    array([0., 0., 0., 1.])
    """
    check_choice("mode", mode, MODES)
    x, k, _ = _as_arrays(x, k)
    x, k, ax = _align(x, k, axes)
    n = tuple(x.shape[a] for a in ax)
    m = tuple(k.shape[a] for a in ax)
    kp = _prepare_kernel(k, ax, n, mode)
    shape = _fft_shape(n, tuple(kp.shape[a] for a in ax), mode)
    real = not (_is_complex(x) or _is_complex(k))
    y = _inverse(_forward(x, shape, ax, real) * _forward(kp, shape, ax, real), shape, ax, real)
    return y[_out_slices(ax, n, m, mode, y.ndim)]


class FFTConvolver:
    """Convolution with a fixed kernel whose spectrum is computed once and reused.

    ``FFTConvolver(k, n, mode, axes)(x)`` equals ``fftconv(x, k, mode, axes)`` for every ``x``
    with lengths ``n`` along ``axes``, whichever ``method`` computes it.

    Parameters
    ----------
    k : numpy.ndarray or torch.Tensor
        Kernel (same broadcasting rule as :func:`fftconv`).
    n : int or tuple of int
        Signal lengths along ``axes``.
    mode : {'full', 'same', 'circular', 'causal'}
    axes : int or tuple of int
    method : {'fft', 'monarch', 'direct', 'auto'}
        'fft' (default): torch/scipy FFTs, as :func:`fftconv`. 'monarch': the DFT as batched
        matmuls (:func:`sciconv.monarch.monarch_fft`, real input through
        :func:`~sciconv.monarch.monarch_rfft`), on the same transform lengths. 'direct':
        summation by a grouped ``conv1d`` (one axis only). 'auto': the fastest of these,
        measured once per key in a :class:`~sciconv.monarch.tune.TuningTable` (see Notes).
        numpy input to 'monarch'/'direct' is computed with torch and returned as numpy.
    order : int
        Number of factors of each Monarch transform (2 or 3 in [1]_); a length with fewer
        prime factors uses fewer.
    tuning : TuningTable, optional
        The table 'auto' reads and fills (default: the module-wide ``DEFAULT_TABLE``; inject
        a filled one for a deterministic choice).

    Attributes
    ----------
    fft_shape : tuple of int
        Transform lengths along ``axes`` (chosen by :func:`fft_size`; ``n`` for circular).
    spectra_computed : int
        How many kernel spectra were computed so far (one per method/backend/device/dtype).
    last_method : str or None
        The method the last call used (what 'auto' chose).

    Notes
    -----
    The spectrum is cached per (method, backend, device, dtype, real/complex). A torch kernel
    that requires grad is re-transformed on each call while grad mode is on (so autograd sees
    a fresh graph and an optimizer's updates); a torch kernel modified in place is detected by
    its version counter. A numpy kernel is copied at construction.

    'auto' keys the table on (device type, transform shape, mode, kernel lengths, dtype,
    real/complex). On the first call with a new key it runs every candidate on the call's own
    input under ``torch.no_grad()`` (a warm-up, then the best of ``tuning.repeats``; device
    synchronised on CUDA) and keeps the fastest; later calls with the key read the table.
    Candidates: 'fft', 'monarch', and 'direct' when there is one axis and at most
    ``AUTO_DIRECT_TAPS`` taps. Once tuned, 'auto' is the measured-fastest of the candidates,
    'fft' included, so it is not slower than 'fft' beyond timing noise. :meth:`tune` re-times
    a key on demand. Timing cannot be traced: under ``torch.compile`` a key not yet in the
    table uses 'fft' (same output) and records nothing; a key tuned by an earlier eager call
    is read as usual.

    References
    ----------
    .. [1] D. Y. Fu, H. Kumbong, E. Nguyen and C. Ré, "FlashFFTConv: Efficient Convolutions
       for Long Sequences with Tensor Cores", ICLR 2024. arXiv:2311.05908.

    Examples
    --------
    A causal filter applied to many signals of one length transforms its kernel once:

    >>> import numpy as np
    >>> from sciconv import FFTConvolver, fftconv
    >>> rng = np.random.default_rng(0)
    >>> k = rng.standard_normal(64)
    >>> conv = FFTConvolver(k, 1000, mode="causal")
    >>> conv.fft_shape  # fft_size(1000 + 64 - 1)
    (1080,)
    >>> xs = rng.standard_normal((5, 1000))
    >>> all(np.allclose(conv(x), fftconv(x, k, mode="causal")) for x in xs)
    True
    >>> conv.spectra_computed
    1

    The same convolution through matmuls (1080 = 2 * 540, 540 = 18 * 30) and by direct
    summation; 'auto' with an injected table is deterministic:

    >>> from sciconv.monarch.tune import TuningTable
    >>> mono = FFTConvolver(k, 1000, mode="causal", method="monarch")
    >>> bool(np.allclose(mono(xs), conv(xs), rtol=0, atol=1e-12))
    True
    >>> direct = FFTConvolver(k, 1000, mode="causal", method="direct")
    >>> bool(np.allclose(direct(xs), conv(xs), rtol=0, atol=1e-12))
    True
    >>> table = TuningTable()
    >>> auto = FFTConvolver(k, 1000, mode="causal", method="auto", tuning=table)
    >>> table[auto.tuning_key(xs)] = "monarch"
    >>> _ = auto(xs)
    >>> auto.last_method
    'monarch'
    """

    def __init__(
        self,
        k: Array,
        n: int | tuple[int, ...],
        mode: str = "full",
        axes: Any = -1,
        method: str = "fft",
        *,
        order: int = 2,
        tuning: TuningTable | None = None,
    ) -> None:
        self.mode = check_choice("mode", mode, MODES)
        self.method = check_choice("method", method, METHODS)
        self.order = check_positive_int("order", order)
        if tuning is not None and not isinstance(tuning, TuningTable):
            raise TypeError(f"tuning must be None or a TuningTable, got {describe(tuning)}")
        self.tuning = DEFAULT_TABLE if tuning is None else tuning
        if not isinstance(k, torch.Tensor):
            k = np.array(k, copy=True)
        self.kernel = k
        if not isinstance(axes, (numbers.Integral, tuple, list)) or isinstance(axes, bool):
            raise TypeError(f"axes must be an int or a tuple of ints, got {describe(axes)}")
        ndim_axes = 1 if isinstance(axes, numbers.Integral) else len(axes)
        if method == "direct" and ndim_axes != 1:
            raise ValueError(f"method='direct' takes one convolution axis, got axes={axes!r}")
        if isinstance(n, numbers.Integral) and not isinstance(n, bool):
            n = (n,) * ndim_axes
        if not isinstance(n, (tuple, list)) or len(n) != ndim_axes:
            raise ValueError(f"n must be an int or a tuple of {ndim_axes} ints, got {n!r}")
        for v in n:
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"n must contain integers >= 1, got {n!r}")
        self.n, self.axes = tuple(int(v) for v in n), axes
        # k must be numeric; its lengths m along axes (shape-only probes: for a torch kernel
        # no numpy call, so that a layer building a convolver in forward stays traceable)
        if isinstance(k, torch.Tensor):
            if k.dtype == torch.bool:
                raise TypeError(f"k must hold numbers, got {describe(k)}")
            x_probe = torch.empty([1] * max(k.ndim, ndim_axes), device="meta")
            k_probe = torch.empty(tuple(k.shape), dtype=torch.int8, device="meta")
        else:
            _as_arrays(np.zeros(()), k)
            x_probe = np.zeros([1] * max(np.ndim(k), ndim_axes), dtype=np.float64)
            k_probe = np.empty(np.shape(k), dtype=np.int8)
        _, kk, ax = _align(x_probe, k_probe, axes)
        self._m = tuple(kk.shape[a] for a in ax)
        kp_len = tuple(min(ma, na) if mode == "causal" else ma for ma, na in zip(self._m, self.n))
        self.fft_shape = _fft_shape(self.n, kp_len, mode)
        if method == "monarch":
            for size in self.fft_shape:
                if size > 1:  # refuses a dense factor beyond DENSE_DFT_LIMIT, by name
                    monarch_factors(
                        size // 2 if size % 2 == 0 and size >= 4 else size, self.order, strict=False
                    )
        self._cache: dict[tuple, tuple[Any, Array]] = {}
        self.spectra_computed = 0
        self.last_method: str | None = None

    def _inputs(self, x: Array, method: str) -> tuple[Array, Array, tuple[int, ...], bool]:
        x, k, _ = _as_arrays(x, self.kernel)
        if method != "fft" and not isinstance(x, torch.Tensor):  # torch computes these
            x, k = (torch.tensor(a) for a in (x, k))
            x, k = (a.to(_HALF_UPCAST.get(a.dtype, a.dtype)) for a in (x, k))
        x, k, ax = _align(x, k, self.axes)
        got = tuple(x.shape[a] for a in ax)
        if got != self.n:
            raise ValueError(f"x must have lengths {self.n} along axes {self.axes}, got {got}")
        if tuple(k.shape[a] for a in ax) != self._m:
            raise ValueError(
                f"x of shape {tuple(x.shape)} changes which axes of the kernel are convolved "
                f"(use negative axes, or a kernel with k.ndim == len(axes))"
            )
        return x, k, ax, not (_is_complex(x) or _is_complex(k))

    def _spectrum(
        self, x: Array, method: str = "fft"
    ) -> tuple[Array, Array, tuple[int, ...], bool]:
        x, k, ax, real = self._inputs(x, method)
        is_t = isinstance(k, torch.Tensor)
        key = (method, is_t, str(k.device) if is_t else "cpu", str(k.dtype), real)
        version = self.kernel._version if isinstance(self.kernel, torch.Tensor) else 0
        fresh = is_t and k.requires_grad and torch.is_grad_enabled()
        if fresh or key not in self._cache or self._cache[key][0] != version:
            kp = _prepare_kernel(k, ax, self.n, self.mode)
            if method != "direct":
                kp = _forward(kp, self.fft_shape, ax, real, method, self.order)
            self._cache[key] = (version, kp)
            self.spectra_computed += 1
        return x, self._cache[key][1], ax, real

    def _apply(self, x: Array, method: str) -> Array:
        numpy_in = not isinstance(x, torch.Tensor) and not isinstance(self.kernel, torch.Tensor)
        x, spec, ax, real = self._spectrum(x, method)
        if method == "direct":
            y = _direct(x, spec, ax[0], self.mode)
        else:
            y = _forward(x, self.fft_shape, ax, real, method, self.order) * spec
            y = _inverse(y, self.fft_shape, ax, real, method, self.order)
        y = y[_out_slices(ax, self.n, self._m, self.mode, y.ndim)]
        if numpy_in and isinstance(y, torch.Tensor):
            y = y.numpy()
        return y

    def _candidates(self) -> tuple[str, ...]:
        direct = len(self.n) == 1 and self._m[0] <= AUTO_DIRECT_TAPS
        return ("fft", "monarch") + (("direct",) if direct else ())

    def tuning_key(self, x: Array) -> tuple:
        """The key of ``x`` in the tuning table (device type, shapes, mode, dtype, real)."""
        xx, k, _, real = self._inputs(x, "fft")
        dev = xx.device.type if isinstance(xx, torch.Tensor) else "numpy"
        return (dev, self.fft_shape, self.mode, self._m, str(xx.dtype), real)

    def tune(self, x: Array) -> dict[str, float]:
        """Time every candidate method on ``x`` now, store the fastest; return the timings (s)."""

        def run(m: str):
            return lambda: self._apply(x, m)

        is_cuda = isinstance(x, torch.Tensor) and x.device.type == "cuda"
        sync = (lambda: torch.cuda.synchronize(x.device)) if is_cuda else None
        with torch.no_grad():
            return self.tuning.measure(
                self.tuning_key(x), {m: run(m) for m in self._candidates()}, sync
            )

    def __call__(self, x: Array) -> Array:
        """Return ``fftconv(x, k, mode, axes)`` using the cached kernel spectrum."""
        method = self.method
        if method == "auto":
            key = self.tuning_key(x)
            if key in self.tuning:
                method = self.tuning[key]
            elif torch.compiler.is_compiling():  # no timing in a traced graph (see Notes)
                method = "fft"
            else:
                self.tune(x)
                method = self.tuning[key]
            allowed = ("fft", "monarch", "direct") if len(self.n) == 1 else ("fft", "monarch")
            if method not in allowed:
                raise ValueError(
                    f"the tuning table's entry for {key} is {method!r}; expected one of "
                    f"{list(allowed)}"
                )
        self.last_method = method
        return self._apply(x, method)

    def __repr__(self) -> str:
        return (
            f"FFTConvolver(kernel={describe(self.kernel)}, n={self.n}, mode={self.mode!r}, "
            f"axes={self.axes!r}, method={self.method!r}, fft_shape={self.fft_shape})"
        )
