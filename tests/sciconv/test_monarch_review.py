"""Review fixes of sciconv.monarch, FFTConvolver and LongConv/S4D (float64, 1e-12 relative).

References are independent of the code under test: numpy convolutions, numpy FFTs, the DFT
matrix from its formula, a loop-built spectrum mask.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sciconv.fft import FFTConvolver
from sciconv.monarch import dft_matrix, monarch_factors, monarch_fft, monarch_ifft, twiddle_matrix
from sciconv.monarch.rfft import monarch_irfft, monarch_rfft
from sciconv.monarch.sparse import FreqSparseConv, PartialConv, _Plan, freq_sparse_conv
from sciconv.monarch.tune import TuningTable
from sciconv.ssm import S4D, LongConv

TOL = 1e-12
F64 = torch.float64


def rel(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def loop_mask(N: int, N1: int, N2: int, sparsity: float) -> np.ndarray:
    """The frequency mask from its definition, one frequency at a time."""
    z = int(np.floor(sparsity * N2 + 1e-9))
    z -= (N2 - z) % 2
    c0 = (N2 - max(z, 0)) // 2
    return np.array(
        [
            0.0 if c0 <= k // N1 < N2 - c0 and c0 <= ((-k) % N) // N1 < N2 - c0 else 1.0
            for k in range(N)
        ]
    )


def masked_reference(x: np.ndarray, k: np.ndarray, sparsity: float) -> np.ndarray:
    """Causal freq-sparse convolution of broadcast (x, k): circular conv with the masked kernel."""
    n = x.shape[-1]
    xb, kb = np.broadcast_arrays(x, k)
    A = FreqSparseConv(np.ones(n), n, sparsity)  # only for N and the grid
    N, (N1, N2) = A.N, A.factors
    kt = np.fft.ifft(loop_mask(N, N1, N2, sparsity) * np.fft.fft(kb, N), axis=-1).real
    y = np.fft.ifft(np.fft.fft(xb, N) * np.fft.fft(kt), axis=-1).real
    return y[..., :n]


@pytest.mark.parametrize(
    "xs, ks",
    [((3, 1, 100), (4, 100)), ((2, 1, 100), (5, 100)), ((1, 100), (3, 100)), ((5, 100), (100,))],
)
@pytest.mark.parametrize("sparsity", [0.0, 0.5])
def test_freq_sparse_conv_broadcasts(xs, ks, sparsity):
    gen = torch.Generator().manual_seed(1)
    x, k = torch.randn(xs, dtype=F64, generator=gen), torch.randn(ks, dtype=F64, generator=gen)
    y = freq_sparse_conv(x, k, sparsity)
    ref = masked_reference(x.numpy(), k.numpy(), sparsity)
    assert y.shape == ref.shape and rel(y, ref) < TOL
    if sparsity == 0.0:  # the ordinary causal convolution
        xb, kb = np.broadcast_arrays(x.numpy(), k.numpy())
        conv = [np.convolve(a, b)[:100] for a, b in zip(xb.reshape(-1, 100), kb.reshape(-1, 100))]
        assert rel(y, np.reshape(conv, y.shape)) < TOL


def test_freq_sparse_conv_refuses_unbroadcastable_kernel():
    x, k = torch.randn(2, 4, 100, dtype=F64), torch.randn(4, 100, dtype=F64)
    with pytest.raises(ValueError, match=r"k's batch shape \(3,\) must broadcast against x's"):
        freq_sparse_conv(x, k[:3], 0.5)


@settings(deadline=None, max_examples=25, derandomize=True)
@given(st.sampled_from([16, 36, 64, 100, 120, 150, 1000, 1080]), st.floats(0.0, 0.99))
def test_plan_kept_blocks_are_the_masks_nonzero_columns(N, sparsity):
    """The kept columns come from the rule, not the mask: compare with the mask's columns."""
    plan = _Plan(N, sparsity, N // 2)
    mask = loop_mask(N, plan.N1, plan.N2, sparsity)
    assert np.array_equal(plan.mask.numpy(), mask)
    cols = np.nonzero(mask.reshape(plan.N2, plan.N1).any(1))[0].tolist()
    assert plan.kept_list == cols


def test_dft_matrix_dtype_and_size():
    n = 12
    j = np.arange(n)
    ref = np.exp(-2j * np.pi * np.outer(j, j) / n)
    assert rel(dft_matrix(n), ref) < TOL
    assert rel(dft_matrix(n, inverse=True), ref.conj()) < TOL
    for bad in (torch.float32, torch.int32, torch.float64, "complex128"):
        with pytest.raises(TypeError, match="dtype must be a complex torch dtype"):
            dft_matrix(n, dtype=bad)
        with pytest.raises(TypeError, match="dtype must be a complex torch dtype"):
            twiddle_matrix(3, 4, dtype=bad)
    with pytest.raises(ValueError, match=r"n=100000 exceeds DENSE_DFT_LIMIT=8192"):
        dft_matrix(100000)
    with pytest.raises(TypeError, match="inverse must be a bool \\(True or False\\), got None"):
        dft_matrix(4, inverse=None)


@pytest.mark.parametrize("n", [4, 6, 10, 14, 22, 26])
def test_rfft_of_twice_a_prime(n):
    gen = torch.Generator().manual_seed(n)
    x = torch.randn(3, n, dtype=F64, generator=gen)
    X = monarch_rfft(x)
    assert rel(X, np.fft.rfft(x.numpy())) < TOL
    assert rel(monarch_irfft(X, n), x) < TOL
    Z = torch.randn(3, n // 2 + 1, dtype=torch.complex128, generator=gen)
    assert rel(monarch_irfft(Z, n), np.fft.irfft(Z.numpy(), n)) < TOL
    assert rel(monarch_rfft(x.T.contiguous(), dim=0), np.fft.rfft(x.numpy()).T) < TOL


def test_rfft_error_names_the_users_length():
    with pytest.raises(ValueError, match="n=34 cannot be written as a product of 3 factors"):
        monarch_rfft(torch.randn(34, dtype=F64), order=3)  # 17 and 34 both have < 3 primes


@pytest.mark.parametrize("f", [monarch_fft, monarch_ifft, monarch_rfft, monarch_irfft])
def test_transform_input_shape_errors(f):
    with pytest.raises(ValueError, match=r"must have at least one axis to transform"):
        f(torch.tensor(1.0))
    with pytest.raises(ValueError, match=r"must have length >= 1 along dim=-1, got shape \(3, 0\)"):
        f(torch.zeros(3, 0))
    with pytest.raises(ValueError, match=r"dim must lie in \[-2, 2\)"):
        f(torch.zeros(3, 8), dim=5)


@pytest.mark.parametrize("bad", [None, 1, "yes", np.bool_(True)])
def test_flags_must_be_bool(bad):
    x = torch.randn(8, dtype=F64)
    for call in (
        lambda: monarch_fft(x, strict=bad),
        lambda: monarch_ifft(x, strict=bad),
        lambda: monarch_rfft(x, strict=bad),
        lambda: monarch_irfft(x.to(torch.complex128), strict=bad),
        lambda: monarch_factors(8, strict=bad),
    ):
        with pytest.raises(TypeError, match="strict must be a bool \\(True or False\\)"):
            call()
    with pytest.raises(TypeError, match="inverse must be a bool \\(True or False\\)"):
        twiddle_matrix(2, 4, inverse=bad)


def test_sparse_operators_refuse_non_finite_kernels():
    for bad in (float("nan"), float("inf")):
        k = np.ones(8)
        k[3] = bad
        with pytest.raises(ValueError, match="k must be finite"):
            FreqSparseConv(k, 16, 0.5)
        with pytest.raises(ValueError, match="k must be finite"):
            PartialConv(k, 16, 4)


def test_longconv_freq_sparsity_arguments():
    with pytest.raises(ValueError, match=r"freq_sparsity must lie in \[0, 1\), got 1.5"):
        LongConv(2, 8, freq_sparsity=1.5)
    for kw in ({"method": "direct"}, {"method": "auto"}, {"method": "monarch", "order": 3}):
        with pytest.raises(ValueError, match="freq_sparsity=0.5 is computed on the order-2"):
            LongConv(2, 8, freq_sparsity=0.5, **kw)
    u = torch.randn(2, 3, 40, dtype=F64)
    a = LongConv(3, 40, freq_sparsity=0.5, dtype=F64)
    b = LongConv(3, 40, freq_sparsity=0.5, method="monarch", dtype=F64)
    b.load_state_dict(a.state_dict())
    k, D = a.kernel().detach().numpy(), a.D.detach().numpy()
    ref = masked_reference(u.numpy(), k, 0.5) + D[:, None] * u.numpy()
    assert rel(a(u).detach(), ref) < TOL and rel(b(u).detach(), ref) < TOL


def test_freq_sparse_longconv_exports():
    """torch.export: the sparse plan has no data-dependent ops (kept blocks from the rule)."""
    torch.manual_seed(0)
    layer = LongConv(2, 16, freq_sparsity=0.5, dtype=F64).eval()
    u = torch.randn(2, 2, 16, dtype=F64)
    got = torch.export.export(layer, (u,)).module()(u)
    assert rel(got.detach(), layer(u).detach()) < TOL


@pytest.mark.slow
@pytest.mark.parametrize(
    "make",
    [
        lambda: LongConv(2, 16, method="monarch", dtype=F64),
        lambda: LongConv(2, 16, method="direct", dtype=F64),
        lambda: LongConv(2, 16, freq_sparsity=0.5, dtype=F64),
        lambda: S4D(2, 4, method="monarch", dtype=F64),
    ],
)
def test_compile_fullgraph_without_numpy_or_cache_warnings(make):
    torch.manual_seed(0)
    layer = make().eval()
    u = torch.randn(2, 2, 16, dtype=F64)
    torch._dynamo.reset()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = torch.compile(layer, fullgraph=True)(u)
    assert rel(got.detach(), layer(u).detach()) < TOL
    assert not [w for w in caught if "lru_cache" in str(w.message)]


@pytest.mark.slow
def test_auto_under_compile_uses_fft_for_an_untuned_key():
    """Timing cannot be traced: a compiled 'auto' call with an empty table is 'fft', unrecorded."""
    gen = torch.Generator().manual_seed(3)
    k, x = torch.randn(3, 20, dtype=F64, generator=gen), torch.randn(2, 3, 20, dtype=F64)
    table = TuningTable()

    def f(x, k):
        return FFTConvolver(k, 20, "causal", method="auto", tuning=table)(x)

    torch._dynamo.reset()
    got = torch.compile(f, fullgraph=True)(x, k)
    ref = [[np.convolve(x[b, h], k[h])[:20] for h in range(3)] for b in range(2)]
    assert rel(got, ref) < TOL and len(table) == 0
