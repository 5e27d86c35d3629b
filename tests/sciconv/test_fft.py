"""FFT convolution against direct references (np.convolve, scipy direct, float64 loops)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sciconv.fft import MODES, FFTConvolver, fft_size, fftconv

RTOL = 1e-10


def assert_rel(y, ref, rtol=RTOL):
    """Normwise relative agreement ||y - ref|| <= rtol * ||ref||."""
    y = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    assert y.shape == ref.shape, (y.shape, ref.shape)
    err = np.linalg.norm((y - ref).ravel())
    assert err <= rtol * max(np.linalg.norm(ref.ravel()), 1e-300), err


def circular_loop_1d(x, k):
    """y[i] = sum_j k[j] x[(i - j) mod n], written out."""
    n = len(x)
    y = np.zeros(n, dtype=np.result_type(x, k))
    for i in range(n):
        for j in range(len(k)):
            y[i] += k[j] * x[(i - j) % n]
    return y


def circular_roll(x, k, axes):
    """N-d circular convolution: sum over taps j of k[j] * x shifted by j (mod n)."""
    kb = tuple(x.shape[d] if d in axes else s for d, s in enumerate(k.shape))
    y = np.zeros(np.broadcast_shapes(x.shape, kb), dtype=np.result_type(x, k))
    for j in itertools.product(*(range(k.shape[a]) for a in axes)):
        idx = [slice(None)] * k.ndim
        for a, ja in zip(axes, j):
            idx[a] = slice(ja, ja + 1)
        y = y + k[tuple(idx)] * np.roll(x, j, axis=axes)
    return y


def reference(x, k, mode, axes=(-1,)):
    """Direct reference for x, k of equal ndim (non-conv axes of k of size 1 or equal)."""
    axes = tuple(a % x.ndim for a in axes)
    if mode == "circular":
        return circular_roll(x, k, axes)
    batch = np.broadcast_shapes(
        *[tuple(1 if d in axes else s for d, s in enumerate(a.shape)) for a in (x, k)]
    )
    xb = np.broadcast_to(x, tuple(b if d not in axes else x.shape[d] for d, b in enumerate(batch)))
    kb = np.broadcast_to(k, tuple(b if d not in axes else k.shape[d] for d, b in enumerate(batch)))
    other = [d for d in range(x.ndim) if d not in axes]
    xs = np.moveaxis(xb, other, range(len(other)))
    ks = np.moveaxis(kb, other, range(len(other)))
    flat_x = xs.reshape((-1,) + xs.shape[len(other) :])
    flat_k = ks.reshape((-1,) + ks.shape[len(other) :])
    sm = "same" if mode == "same" else "full"
    outs = [scipy.signal.convolve(a, b, mode=sm, method="direct") for a, b in zip(flat_x, flat_k)]
    out = np.stack(outs).reshape(xs.shape[: len(other)] + outs[0].shape)
    out = np.moveaxis(out, range(len(other)), other)
    if mode == "causal":
        out = out[tuple(slice(0, x.shape[d]) if d in axes else slice(None) for d in range(x.ndim))]
    return out


def rand(rng, shape, complex_=False):
    a = rng.standard_normal(shape)
    return a + 1j * rng.standard_normal(shape) if complex_ else a


# ---------------------------------------------------------------- 1-D, all modes, both backends


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 12),
    m=st.integers(1, 16),
    mode=st.sampled_from(MODES),
    complex_=st.booleans(),
    backend=st.sampled_from(["numpy", "torch"]),
    seed=st.integers(0, 2**16),
)
def test_1d_matches_direct(n, m, mode, complex_, backend, seed):
    rng = np.random.default_rng(seed)
    x, k = rand(rng, n, complex_), rand(rng, m, complex_)
    full = np.convolve(x, k)
    expected = {
        "full": full,
        "same": scipy.signal.convolve(x, k, mode="same", method="direct"),
        "causal": full[:n],
        "circular": circular_loop_1d(x, k),
    }[mode]
    if backend == "torch":
        y = fftconv(torch.from_numpy(x), torch.from_numpy(k), mode)
        assert isinstance(y, torch.Tensor)
        assert y.dtype == (torch.complex128 if complex_ else torch.float64)
    else:
        y = fftconv(x, k, mode)
        assert isinstance(y, np.ndarray)
        assert y.dtype == (np.complex128 if complex_ else np.float64)
    assert_rel(y, expected)
    assert_rel(y, reference(x, k, mode))


def test_same_mode_is_scipy_fftconvolve():
    rng = np.random.default_rng(1)
    for n, m in [(8, 3), (8, 4), (3, 8), (5, 5)]:
        x, k = rng.standard_normal(n), rng.standard_normal(m)
        assert_rel(fftconv(x, k, "same"), scipy.signal.fftconvolve(x, k, mode="same"))


def test_circular_long_kernel_wraps_not_cropped():
    x = np.zeros(4)
    x[0] = 1.0
    k = np.arange(1.0, 11.0)  # 10 taps on n = 4: taps summed modulo 4
    np.testing.assert_allclose(fftconv(x, k, "circular"), [1 + 5 + 9, 2 + 6 + 10, 3 + 7, 4 + 8])


# ---------------------------------------------------------------- N-d, batched, broadcasting


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("complex_", [False, True])
def test_2d_batched(mode, complex_, device):
    rng = np.random.default_rng(2)
    x = rand(rng, (2, 3, 6, 5), complex_)
    for kshape in [(2, 3, 3, 2), (1, 3, 4, 7), (1, 1, 8, 2)]:  # includes m > n on both axes
        k = rand(rng, kshape, complex_)
        ref = reference(x, k, mode, axes=(-2, -1))
        assert_rel(fftconv(x, k, mode, axes=(-2, -1)), ref)
        xt, kt = torch.from_numpy(x).to(device), torch.from_numpy(k).to(device)
        yt = fftconv(xt, kt, mode, axes=(-2, -1))
        assert yt.device == xt.device
        assert_rel(yt, ref)
    # A kernel with k.ndim == len(axes) is shared by the batch.
    k = rand(rng, (3, 2), complex_)
    assert_rel(fftconv(x, k, mode, axes=(-2, -1)), reference(x, k[None, None], mode, (-2, -1)))


@pytest.mark.parametrize("mode", MODES)
def test_broadcasting_rules(mode):
    rng = np.random.default_rng(3)
    x, k = rng.standard_normal((3, 1, 7)), rng.standard_normal((1, 4, 5))
    y = fftconv(x, k, mode)
    assert y.shape[:2] == (3, 4)
    assert_rel(y, reference(x, k, mode))
    # Non-trailing axis with a 1-d kernel: placed on the convolution axis.
    x2 = rng.standard_normal((7, 3))
    k1 = rng.standard_normal(4)
    assert_rel(fftconv(x2, k1, mode, axes=0), reference(x2, k1[:, None], mode, axes=(0,)))
    # Fewer dims on x: numpy's rule prepends size-1 axes.
    assert_rel(fftconv(x2[:, 0], k, mode), reference(x2[None, None, :, 0], k, mode))


def test_mixed_backends_and_int_inputs():
    x, k = np.arange(5), np.array([1, 2])
    y = fftconv(x, k)
    assert y.dtype == np.float64
    assert_rel(y, np.convolve(x, k).astype(float))
    yt = fftconv(torch.arange(5.0, dtype=torch.float64), k)
    assert isinstance(yt, torch.Tensor) and yt.dtype == torch.float64
    assert_rel(yt, np.convolve(x, k).astype(float))


# ---------------------------------------------------------------- autograd


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n,m", [(5, 3), (4, 7)])
def test_gradcheck(mode, n, m, device):
    g = torch.Generator().manual_seed(4)

    def leaf(*shape, dtype=torch.float64):
        return torch.randn(*shape, dtype=dtype, generator=g).to(device).requires_grad_(True)

    x, k = leaf(2, n), leaf(m)
    assert torch.autograd.gradcheck(lambda a, b: fftconv(a, b, mode), (x, k))
    xc, kc = leaf(n, dtype=torch.complex128), leaf(m, dtype=torch.complex128)
    assert torch.autograd.gradcheck(lambda a, b: fftconv(a, b, mode), (xc, kc))


def test_gradcheck_2d():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(3, 4, dtype=torch.float64, generator=g, requires_grad=True)
    k = torch.randn(2, 5, dtype=torch.float64, generator=g, requires_grad=True)
    for mode in MODES:
        assert torch.autograd.gradcheck(lambda a, b, mode=mode: fftconv(a, b, mode, (0, 1)), (x, k))


# ---------------------------------------------------------------- cached convolver


@pytest.mark.parametrize("mode", MODES)
def test_convolver_matches_and_caches(mode):
    rng = np.random.default_rng(6)
    k = rng.standard_normal((3, 9))
    conv = FFTConvolver(k, 6, mode)
    n_out = 6 + 9 - 1 if mode == "full" else 6
    expected_fft = (
        6 if mode == "circular" else fft_size(6 + min(9, 6) - 1 if mode == "causal" else 14)
    )
    assert conv.fft_shape == (expected_fft,)
    for _ in range(3):
        x = rng.standard_normal((2, 3, 6))
        y = conv(x)
        assert y.shape == (2, 3, n_out)
        assert_rel(y, fftconv(x, k, mode))
    assert conv.spectra_computed == 1
    spec = next(iter(conv._cache.values()))[1]
    conv(x)
    assert next(iter(conv._cache.values()))[1] is spec
    xc = x + 1j  # complex signals need the full (not half) spectrum: one more, then cached
    assert_rel(conv(xc), fftconv(xc, k, mode))
    conv(xc)
    assert conv.spectra_computed == 2


def test_convolver_torch_grad_and_inplace(device):
    g = torch.Generator().manual_seed(7)
    k = torch.randn(2, 4, 3, dtype=torch.float64, generator=g).to(device)
    conv = FFTConvolver(k, (5, 6), "circular", axes=(-2, -1))
    assert conv.fft_shape == (5, 6)
    x = torch.randn(2, 5, 6, dtype=torch.float64, generator=g).to(device)
    assert conv(x).device == x.device
    assert_rel(conv(x), fftconv(x, k, "circular", (-2, -1)).cpu().numpy())
    conv(x)
    assert conv.spectra_computed == 1
    with torch.no_grad():
        k.mul_(2.0)  # in-place update is seen through the version counter
    assert_rel(conv(x), fftconv(x, k, "circular", (-2, -1)).cpu().numpy())
    assert conv.spectra_computed == 2
    kp = k.clone().requires_grad_(True)
    xp = x.clone().requires_grad_(True)
    conv2 = FFTConvolver(kp, (5, 6), "causal", axes=(-2, -1))
    assert torch.autograd.gradcheck(conv2, (xp,))
    conv2(xp).sum().backward()
    kq = k.clone().requires_grad_(True)
    fftconv(xp.detach(), kq, "causal", (-2, -1)).sum().backward()
    assert_rel(kp.grad, kq.grad.cpu().numpy())


# ---------------------------------------------------------------- fft_size


def test_fft_size_is_smallest_5_smooth():
    def smooth(v):
        for p in (2, 3, 5):
            while v % p == 0:
                v //= p
        return v == 1

    for n in list(range(1, 300)) + [1009, 4097, 65537, 10**6 + 1]:
        L = fft_size(n)
        assert L >= n and smooth(L)
        if n < 300:
            assert not any(smooth(v) for v in range(n, L))


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "call, exc, name",
    [
        (lambda: fftconv(np.ones(4), np.ones(2), mode="valid"), ValueError, "mode"),
        (lambda: fftconv(np.ones(4), np.ones(2), axes=1), ValueError, "axes"),
        (lambda: fftconv(np.ones(4), np.ones(2), axes=()), ValueError, "axes"),
        (lambda: fftconv(np.ones((3, 4)), np.ones((3, 2)), axes=(1, -1)), ValueError, "axes"),
        (lambda: fftconv(np.ones(4), np.ones(2), axes=1.5), TypeError, "axes"),
        (lambda: fftconv(np.ones((3, 4)), np.ones((2, 2))), ValueError, "k of shape"),
        (lambda: fftconv(np.ones(0), np.ones(2)), ValueError, "x and k"),
        (lambda: fftconv(np.ones(4), np.ones(0)), ValueError, "x and k"),
        (lambda: fftconv(np.array(["a", "b"]), np.ones(2)), TypeError, "x must"),
        (lambda: fftconv(np.ones(2), np.array([True])), TypeError, "k must"),
        (lambda: fft_size(0), ValueError, "n must"),
        (lambda: fft_size(2.5), TypeError, "n must"),
        (lambda: FFTConvolver(np.ones(2), 4)(np.ones(5)), ValueError, "x must"),
        (lambda: FFTConvolver(np.ones(2), 0), ValueError, "n must"),
        (lambda: FFTConvolver(np.ones(2), (4, 4)), ValueError, "n must"),
        (lambda: FFTConvolver(np.ones(2), 4, mode="x"), ValueError, "mode"),
        (lambda: FFTConvolver(np.ones(2), 4, axes="a"), TypeError, "axes"),
        (lambda: FFTConvolver(np.array(["a"]), 4), TypeError, "k must"),
        (lambda: FFTConvolver(np.ones((2, 3)), (4,), axes=(0, 1)), ValueError, "n must"),
    ],
)
def test_bad_input(call, exc, name):
    with pytest.raises(exc, match=name):
        call()


# ---------------------------------------------------------------- methods (issue 18)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    n=st.integers(1, 60),
    m=st.integers(1, 60),
    mode=st.sampled_from(MODES),
    method=st.sampled_from(["monarch", "direct"]),
    complex_=st.booleans(),
    backend=st.sampled_from(["numpy", "torch"]),
    seed=st.integers(0, 2**16),
)
def test_convolver_methods_match_direct(n, m, mode, method, complex_, backend, seed):
    """Every method of FFTConvolver against scipy's direct summation (one axis)."""
    rng = np.random.default_rng(seed)
    x, k = rand(rng, (2, n), complex_), rand(rng, (1, m), complex_)
    ref = reference(x, k, mode)
    conv = FFTConvolver(k[0], n, mode, method=method, order=2)
    got = conv(torch.as_tensor(x) if backend == "torch" else x)
    assert isinstance(got, torch.Tensor) == (backend == "torch")
    assert_rel(got, ref, 1e-12)


def test_convolver_dtype_promotion_without_result_type():
    """torch inputs promote with torch.promote_types (compile-friendly) as before."""
    x = torch.ones(2, 8, dtype=torch.float32)
    for method in ("fft", "monarch", "direct"):
        conv = FFTConvolver(np.ones(3), 8, "causal", method=method)  # float64 kernel
        assert conv(x).dtype == torch.float64
        half = FFTConvolver(torch.ones(3, dtype=torch.float16), 8, "causal", method=method)
        assert half(x.half()).dtype == torch.float32  # half is computed in float32
