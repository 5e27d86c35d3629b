"""Monarch convolver, partial and frequency-sparse convolutions (float64/complex128, 1e-12).

References: the FFT path of FFTConvolver (pocketfft/scipy) for the Monarch and direct methods;
np.convolve and an explicit circular sum for the truncated kernel; for the frequency-sparse
convolution a mask rebuilt here from its definition, the masked kernel by numpy's FFT and a
dense circulant matrix (scipy.linalg.circulant); sciconv.dottest for every adjoint.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sciconv import dottest
from sciconv.fft import MODES, FFTConvolver, fft_size
from sciconv.monarch.sparse import FreqSparseConv, PartialConv, freq_sparse_conv
from sciconv.monarch.tune import TuningTable

TOL = 1e-12


def rel(a, b) -> float:
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.linalg.norm((a - b).ravel()) / np.linalg.norm(b.ravel()))


# ------------------------------------------------------------------ Monarch convolver


@settings(deadline=None, max_examples=20, derandomize=True)
@given(
    n=st.integers(4, 300),
    m=st.integers(1, 300),
    mode=st.sampled_from(MODES),
    order=st.integers(2, 3),
    complex_=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_monarch_equals_fft_every_mode(n, m, mode, order, complex_, seed):
    rng = np.random.default_rng(seed)
    x, k = rng.standard_normal((3, n)), rng.standard_normal(m)
    if complex_:
        x = x + 1j * rng.standard_normal((3, n))
    ref = FFTConvolver(k, n, mode)(x)
    got = FFTConvolver(k, n, mode, method="monarch", order=order)(x)
    assert isinstance(got, np.ndarray) and got.dtype == ref.dtype
    assert rel(got, ref) < TOL
    xt = torch.as_tensor(x)
    assert rel(FFTConvolver(torch.as_tensor(k), n, mode, method="monarch")(xt), ref) < TOL


@pytest.mark.parametrize("mode", MODES)
def test_direct_equals_fft_every_mode(mode):
    rng = np.random.default_rng(1)
    for n, m in ((50, 7), (20, 45), (33, 33)):
        x = rng.standard_normal((2, 3, n)) + 1j * rng.standard_normal((2, 3, n))
        k = rng.standard_normal((3, m))  # one kernel per channel, broadcast over the batch
        ref = FFTConvolver(k, n, mode)(x)
        assert rel(FFTConvolver(k, n, mode, method="direct")(x), ref) < TOL


@pytest.mark.parametrize("mode", MODES)
def test_monarch_two_axes(mode):
    rng = np.random.default_rng(2)
    x, k = rng.standard_normal((2, 24, 30)), rng.standard_normal((5, 7))
    ref = FFTConvolver(k, (24, 30), mode, axes=(-2, -1))(x)
    got = FFTConvolver(k, (24, 30), mode, axes=(-2, -1), method="monarch")(x)
    assert rel(got, ref) < TOL


def test_long_causal_order_2_and_3():
    """The shape of the benchmark: 64 channels, L = 4096, a kernel per channel."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 64, 4096, dtype=torch.float64, generator=gen)
    k = torch.randn(64, 4096, dtype=torch.float64, generator=gen)
    ref = FFTConvolver(k, 4096, "causal")(x)
    for order in (2, 3):
        assert rel(FFTConvolver(k, 4096, "causal", method="monarch", order=order)(x), ref) < TOL


def test_monarch_gradients_match_fft():
    gen = torch.Generator().manual_seed(4)
    x0 = torch.randn(2, 3, 40, dtype=torch.float64, generator=gen)
    k0 = torch.randn(3, 40, dtype=torch.float64, generator=gen)
    w = torch.randn(2, 3, 40, dtype=torch.float64, generator=gen)
    grads = []
    for method in ("fft", "monarch", "direct"):
        x, k = x0.clone().requires_grad_(), k0.clone().requires_grad_()
        (FFTConvolver(k, 40, "causal", method=method)(x) * w).sum().backward()
        grads.append((x.grad, k.grad))
    for gx, gk in grads[1:]:
        assert rel(gx, grads[0][0]) < TOL and rel(gk, grads[0][1]) < TOL


def test_auto_reads_an_injected_table_and_tunes_once():
    rng = np.random.default_rng(5)
    x, k = rng.standard_normal((4, 256)), rng.standard_normal(16)
    ref = FFTConvolver(k, 256, "causal")(x)
    for choice in ("fft", "monarch", "direct"):
        table = TuningTable()
        conv = FFTConvolver(k, 256, "causal", method="auto", tuning=table)
        table[conv.tuning_key(x)] = choice
        assert rel(conv(x), ref) < TOL and conv.last_method == choice
    table = TuningTable(repeats=1)
    conv = FFTConvolver(k, 256, "causal", method="auto", tuning=table)
    assert rel(conv(x), ref) < TOL
    key = conv.tuning_key(x)
    times = table.timings[key]
    assert set(times) == {"fft", "monarch", "direct"}  # 16 taps: direct is a candidate
    assert conv.last_method == min(times, key=times.__getitem__) == table[key]
    conv(x)
    assert table.timings[key] is times  # not re-timed
    long_k = FFTConvolver(rng.standard_normal(600), 256, "causal", method="auto", tuning=table)
    assert set(long_k.tune(x)) == {"fft", "monarch"}  # too many taps for direct


def test_tuning_table_picks_the_measured_fastest():
    calls = []
    table = TuningTable(repeats=3)

    def cost(name, seconds):
        def run():
            calls.append(name)
            time.sleep(seconds)

        return run

    assert table.choose("k", {"slow": cost("slow", 0.01), "fast": cost("fast", 0.0)}) == "fast"
    assert calls.count("slow") == 4 and calls.count("fast") == 4  # warm-up + 3 repeats
    assert table.choose("k", {"slow": cost("slow", 0.0)}) == "fast" and len(calls) == 8


def test_bad_method_and_arguments_raise():
    with pytest.raises(ValueError, match=r"method must be one of .*got 'butterfly'"):
        FFTConvolver(np.ones(3), 10, method="butterfly")
    with pytest.raises(ValueError, match="method='direct' takes one convolution axis"):
        FFTConvolver(np.ones((3, 3)), (10, 10), axes=(0, 1), method="direct")
    with pytest.raises(ValueError, match="order must be an integer >= 1"):
        FFTConvolver(np.ones(3), 10, method="monarch", order=0)
    with pytest.raises(TypeError, match="tuning must be None or a TuningTable"):
        FFTConvolver(np.ones(3), 10, method="auto", tuning={})
    with pytest.raises(ValueError, match="DENSE_DFT_LIMIT"):
        FFTConvolver(np.ones(3), 8209, "circular", method="monarch")  # prime length
    with pytest.raises(TypeError, match="method must be a string"):
        TuningTable()["k"] = 3


# ------------------------------------------------------------------ partial convolution


def circular_sum(x, k, n):
    return np.array([sum(k[j] * x[(t - j) % n] for j in range(len(k))) for t in range(n)])


@pytest.mark.parametrize("method", ["monarch", "fft", "direct"])
def test_partial_equals_truncated_kernel(method):
    rng = np.random.default_rng(6)
    k = rng.standard_normal(300) + 1j * rng.standard_normal(300)
    x = rng.standard_normal(200) + 1j * rng.standard_normal(200)
    for K in (1, 37, 250):
        A = PartialConv(k, 200, K, "causal", method)
        assert A.fft_shape == (fft_size(200 + min(K, 200) - 1),)
        assert rel(A @ x, np.convolve(x, k[:K])[:200]) < TOL
        assert dottest(A, dtype="complex128", rng=0) < TOL
        C = PartialConv(k, 50, K, "circular", method)
        assert rel(C @ x[:50], circular_sum(x[:50], k[:K], 50)) < TOL
        assert dottest(C, dtype="complex128", rng=1) < TOL


def test_partial_bad_inputs():
    with pytest.raises(ValueError, match="K must be at most the kernel length 10, got 11"):
        PartialConv(np.ones(10), 20, 11)
    with pytest.raises(ValueError, match="K must be an integer >= 1"):
        PartialConv(np.ones(10), 20, 0)
    with pytest.raises(ValueError, match="mode must be one of"):
        PartialConv(np.ones(10), 20, 5, mode="full")
    with pytest.raises(ValueError, match="k must be a non-empty 1-d"):
        PartialConv(np.ones((2, 10)), 20, 5)


# ------------------------------------------------------------------ frequency-sparse


def mask_reference(N, N1, N2, sparsity):
    """The documented rule, written out: zero k when its block and its mirror's block lie in
    the central band of z blocks (z <= sparsity N2, z of the parity of N2)."""
    z = int(np.floor(sparsity * N2 + 1e-9))
    z -= (N2 - z) % 2
    mask = np.ones(N)
    if z <= 0:
        return mask
    c0 = (N2 - z) // 2
    for k in range(N):
        if c0 <= k // N1 < N2 - c0 and c0 <= ((-k) % N) // N1 < N2 - c0:
            mask[k] = 0.0
    return mask


@pytest.mark.parametrize("mode", ["causal", "circular"])
@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9])
def test_freq_sparse_equals_masked_kernel_convolution(mode, sparsity):
    rng = np.random.default_rng(7)
    for n, m in ((120, 120), (96, 20), (64, 200)):
        k = rng.standard_normal(m)
        A = FreqSparseConv(k, n, sparsity, mode)
        N = A.N
        if mode == "circular":
            kf = np.zeros(n)
            np.add.at(kf, np.arange(m) % n, k)  # fold
        else:
            kf = np.zeros(N)
            kf[: min(m, n)] = k[: min(m, n)]  # taps >= n cannot reach the output
        assert N == (n if mode == "circular" else fft_size(n + min(m, n) - 1))
        mask = mask_reference(N, *A.factors, sparsity)
        kt = np.fft.ifft(mask * np.fft.fft(kf))
        assert np.abs(kt.imag).max() < 1e-13  # Hermitian mask: a real masked kernel
        assert abs(A.sparsity - (1 - mask.mean())) < 1e-15
        if sparsity > 0:
            assert A.sparsity > 0.5 * sparsity and A.kept_blocks < A.factors[1]
        dense = scipy.linalg.circulant(kt.real)[:n, :n]  # (C x)_t = sum_j kt_j x_(t-j mod N)
        assert rel(A.to_dense(), dense) < TOL
        x = rng.standard_normal(n)
        assert rel(A @ x, dense @ x) < TOL
        assert dottest(A, rng=0) < TOL and dottest(A, dtype="complex128", rng=1) < TOL


def test_freq_sparse_gradcheck():
    gen = torch.Generator().manual_seed(10)
    x = torch.randn(3, 2, 12, dtype=torch.float64, generator=gen, requires_grad=True)
    k = torch.randn(2, 12, dtype=torch.float64, generator=gen, requires_grad=True)
    for mode in ("causal", "circular"):
        assert torch.autograd.gradcheck(lambda a, b, m=mode: freq_sparse_conv(a, b, 0.5, m), (x, k))


def test_auto_refuses_a_bad_table_entry():
    table = TuningTable()
    conv = FFTConvolver(np.ones((3, 3)), (8, 8), "causal", axes=(0, 1), method="auto", tuning=table)
    x = np.ones((8, 8))
    table[conv.tuning_key(x)] = "direct"  # direct takes one axis only
    with pytest.raises(ValueError, match="the tuning table's entry for .* is 'direct'"):
        conv(x)


def test_freq_sparse_zero_sparsity_is_the_causal_convolution():
    rng = np.random.default_rng(8)
    x, k = rng.standard_normal((5, 3, 100)), rng.standard_normal((3, 100))
    y = freq_sparse_conv(torch.as_tensor(x), torch.as_tensor(k), 0.0)
    ref = np.stack([[np.convolve(x[b, h], k[h])[:100] for h in range(3)] for b in range(5)])
    assert rel(y, ref) < TOL


@pytest.mark.parametrize("batch", [1, 4, 5])
def test_freq_sparse_batched_function_matches_operator(batch):
    """Packing real signals in pairs (odd batches padded) equals one operator per signal."""
    gen = torch.Generator().manual_seed(9)
    x = torch.randn(batch, 3, 150, dtype=torch.float64, generator=gen)
    k = torch.randn(3, 150, dtype=torch.float64, generator=gen)
    y = freq_sparse_conv(x, k, 0.5)
    assert y.dtype == torch.float64 and y.shape == x.shape
    ops = [FreqSparseConv(k[h], 150, 0.5) for h in range(3)]
    ref = np.stack([[ops[h] @ x[b, h].numpy() for h in range(3)] for b in range(batch)])
    assert rel(y, ref) < TOL
    yc = freq_sparse_conv(x.to(torch.complex128), k, 0.5)  # complex path, no packing
    assert rel(yc.real, ref) < TOL


@pytest.mark.parametrize("bad", [1.0, -0.1, float("nan"), 2])
def test_freq_sparse_sparsity_out_of_range(bad):
    with pytest.raises(ValueError, match=r"sparsity must lie in \[0, 1\)"):
        FreqSparseConv(np.ones(8), 16, bad)


def test_freq_sparse_bad_inputs():
    with pytest.raises(TypeError, match="sparsity must be a number"):
        freq_sparse_conv(torch.ones(16), torch.ones(4), "half")
    with pytest.raises(TypeError, match="x must be a floating or complex torch.Tensor"):
        freq_sparse_conv(np.ones(16), torch.ones(4), 0.5)
    with pytest.raises(ValueError, match="n=13 cannot be written as a product of 2 factors"):
        FreqSparseConv(np.ones(4), 13, 0.5, "circular")
