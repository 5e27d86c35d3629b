"""Every ``ssm_kernel`` method against the dense Krylov kernel, float64.

Reference: ``scipy.signal.cont2discrete`` for (Abar, Bbar) and a numpy loop
``K_l = C Abar^l Bbar`` on the dense matrix (independent of sciconv's discretisation).
Agreement: ``||K - K_ref|| / ||K_ref|| <= 1e-10`` for N <= 64, L <= 4096 (the issue's bar).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import cont2discrete

from sciconv.ssm import (
    dplr_to_dense,
    hippo,
    krylov,
    nplr,
    s4d_init,
    ssm_kernel,
)

TOL = 1e-10
SCIPY = {"zoh": "zoh", "bilinear": "bilinear", "forward_euler": "euler"}


def reference_kernel(A, B, C, dt, L, disc="bilinear"):
    """Dense Krylov kernel: scipy's discretisation, then a numpy loop of matrix products.

    The products are written as elementwise sums (no BLAS call: multithreaded BLAS on tiny
    matrices is slow on a shared machine)."""
    A = np.asarray(A)
    N = A.shape[0]
    system = (A, np.asarray(B).reshape(N, 1), np.ones((1, N)), 0)
    Ad, Bd, *_ = cont2discrete(system, dt, SCIPY[disc])
    x, out, C = Bd[:, 0], [], np.asarray(C)
    for _ in range(L):
        out.append((C * x).sum(-1))
        x = (Ad * x).sum(-1)
    return np.stack(out, axis=-1)


def rel(K, ref):
    return np.linalg.norm(np.asarray(K) - ref) / np.linalg.norm(ref)


@pytest.mark.parametrize("init", ["lin", "inv", "real"])
@pytest.mark.parametrize("disc", ["zoh", "bilinear"])
def test_diagonal_methods_equal_dense_krylov(init, disc):
    """S4D inits, N = 64, L = 4096: Vandermonde (materialised, chunked), Krylov (both)."""
    rng = np.random.default_rng(1)
    N, L, dt = 64, 4096, 0.01
    A = s4d_init(init, N)
    B = rng.standard_normal(N) + 1j * rng.standard_normal(N)
    C = rng.standard_normal((2, N)) + 1j * rng.standard_normal((2, N))
    ref = reference_kernel(np.diag(A), B, C, dt, L, disc)
    for method in ("vandermonde", "vandermonde_chunked", "krylov_doubling", "krylov"):
        K = ssm_kernel(A, B, C, dt, L, method, disc, chunk=100)
        assert K.shape == (2, L)
        assert rel(K, ref) <= TOL, method


@pytest.mark.parametrize("measure", ["legs", "legt", "lagt", "fout"])
def test_cauchy_dplr_equals_dense_krylov_of_hippo(measure):
    """HiPPO in NPLR form (eigenbasis), N = 64: Cauchy + Woodbury + iFFT vs dense Krylov of the
    real HiPPO matrix, L = 4096 and an odd L = 1001; FouT exercises the rho < 1 contour."""
    rng = np.random.default_rng(2)
    N = 64
    A, B = hippo(measure, N)
    C = rng.standard_normal(N)
    lam, Pt, Bt, V = nplr(measure, N)
    for L, dt in ((4096, 1 / 2048 if measure == "legs" else 0.01), (1001, 0.05)):
        ref = reference_kernel(A, B, C, dt, L)
        K = ssm_kernel(lam, Bt, C @ V, dt, L, "cauchy", P=Pt)
        assert rel(K, ref) <= TOL
        assert np.max(np.abs(K.imag)) <= TOL * np.linalg.norm(ref)
    K1 = ssm_kernel(lam, Bt, C @ V, 0.01, 1, "cauchy", P=Pt)
    np.testing.assert_allclose(K1.real, reference_kernel(A, B, C, 0.01, 1), rtol=TOL)


def test_random_complex_dplr_all_methods():
    """Random DPLR (rank 2, Q != P, complex), N = 16: cauchy and both Krylov methods (given
    P, they use diag(Lambda) - P^T conj(Q)) vs the dense reference."""
    rng = np.random.default_rng(3)
    N, r, L, dt = 16, 2, 300, 0.1
    lam = -rng.uniform(0.2, 1.0, N) + 1j * rng.uniform(-5, 5, N)
    P = 0.3 * (rng.standard_normal((r, N)) + 1j * rng.standard_normal((r, N)))
    Q = 0.3 * (rng.standard_normal((r, N)) + 1j * rng.standard_normal((r, N)))
    B = rng.standard_normal(N) + 1j * rng.standard_normal(N)
    C = rng.standard_normal((3, N)) + 1j * rng.standard_normal((3, N))
    A = dplr_to_dense(lam, P, Q)
    np.testing.assert_allclose(A, np.diag(lam) - P.T @ Q.conj())
    ref = reference_kernel(A, B, C, dt, L)
    for method in ("cauchy", "krylov", "krylov_doubling"):
        assert rel(ssm_kernel(lam, B, C, dt, L, method, P=P, Q=Q), ref) <= TOL, method


@pytest.mark.parametrize("disc", ["zoh", "bilinear", "forward_euler"])
def test_dense_doubling_and_batched_steps(disc):
    """LegT N = 32: doubling = reference; a step vector dt (H,) gives one kernel per channel.

    Forward Euler uses steps inside its stability region (|1 + dt lambda| < 1)."""
    rng = np.random.default_rng(4)
    A, B = hippo("legt", 32)
    C = rng.standard_normal((3, 32))
    dts = np.array([0.003, 0.03, 0.3]) if disc != "forward_euler" else np.array([1e-4, 1e-3, 3e-3])
    lam = np.linalg.eigvals(A)
    assert disc != "forward_euler" or np.all(np.abs(1 + dts[:, None] * lam) < 1)
    K = ssm_kernel(A, B, C, dts, 777, "krylov_doubling", disc)
    for h, dt in enumerate(dts):
        assert rel(K[h], reference_kernel(A, B, C[h], dt, 777, disc)) <= TOL


def test_batched_diagonal_per_channel_nodes():
    """A (H, N) with dt (H,): each row equals the single-channel kernel (the Vandermonde
    primitive is called per channel); diagonal=True needed when H == N."""
    rng = np.random.default_rng(5)
    H = N = 8
    A = np.stack([s4d_init("inv", N) * (1 + 0.1 * h) for h in range(H)])
    C = rng.standard_normal((H, N)) + 1j * rng.standard_normal((H, N))
    dts = np.geomspace(1e-3, 1e-1, H)
    K = ssm_kernel(A, 1.0, C, dts, 513, "vandermonde_chunked", "zoh", diagonal=True, chunk=64)
    for h in range(H):
        assert (
            rel(K[h], reference_kernel(np.diag(A[h]), np.ones(N), C[h], dts[h], 513, "zoh")) <= TOL
        )


@settings(max_examples=25, deadline=None)
@given(
    N=st.integers(1, 12),
    L=st.integers(1, 300),
    log_dt=st.floats(-3, 0),
    method=st.sampled_from(["vandermonde", "vandermonde_chunked", "krylov_doubling"]),
    disc=st.sampled_from(["zoh", "bilinear"]),
    seed=st.integers(0, 2**16),
)
def test_diagonal_kernel_identity_random_shapes(N, L, log_dt, method, disc, seed):
    """Random stable complex diagonal systems: every method = dense reference (1e-10)."""
    rng = np.random.default_rng(seed)
    A = -rng.uniform(0.05, 2, N) + 1j * rng.uniform(-10, 10, N)
    B = rng.standard_normal(N)
    C = rng.standard_normal(N) + 1j * rng.standard_normal(N)
    dt = 10.0**log_dt
    K = ssm_kernel(A, B, C, dt, L, method, disc, chunk=int(rng.integers(1, 40)))
    assert rel(K, reference_kernel(np.diag(A), B, C, dt, L, disc)) <= TOL


def test_krylov_reference_matches_matrix_powers():
    """The naive Krylov loop equals C Abar^l Bbar from numpy.linalg.matrix_power (1e-13)."""
    rng = np.random.default_rng(6)
    Ab = torch.as_tensor(rng.standard_normal((5, 5)) * 0.3)
    Bb, C = torch.as_tensor(rng.standard_normal(5)), torch.as_tensor(rng.standard_normal(5))
    K = krylov(Ab, Bb, C, 9).numpy()
    ref = [C.numpy() @ np.linalg.matrix_power(Ab.numpy(), l) @ Bb.numpy() for l in range(9)]
    np.testing.assert_allclose(K, ref, rtol=1e-13, atol=1e-15)


def test_torch_gradients_agree_across_methods():
    """Gradients w.r.t. A, C and dt through the chunked (checkpointed) Vandermonde kernel equal
    those through the Krylov loop (1e-10 relative)."""
    rng = np.random.default_rng(7)
    N, L = 6, 200
    A0 = -rng.uniform(0.1, 1, N) + 1j * np.arange(N)
    grads = {}
    for method in ("vandermonde_chunked", "krylov"):
        A = torch.tensor(A0, requires_grad=True)
        C = torch.tensor(np.ones(N) + 0.5j, requires_grad=True)
        dt = torch.tensor(0.05, dtype=torch.float64, requires_grad=True)
        K = ssm_kernel(A, 1.0, C, dt, L, method, "zoh", chunk=32)
        (K.real**2).sum().backward()
        grads[method] = [g.grad.clone() for g in (A, C, dt)]
    for ga, gb in zip(grads["vandermonde_chunked"], grads["krylov"]):
        assert torch.linalg.norm(ga - gb) <= 1e-10 * torch.linalg.norm(gb)


def test_bad_input_names_the_argument():
    A, B = hippo("legs", 4)
    C = np.ones(4)
    with pytest.raises(ValueError, match="L must be an integer >= 1"):
        ssm_kernel(A, B, C, 0.1, 0)
    with pytest.raises(ValueError, match="dt must be"):
        ssm_kernel(A, B, C, -0.1, 8)
    with pytest.raises(ValueError, match="C must have shape"):
        ssm_kernel(A, B, np.ones(3), 0.1, 8)
    with pytest.raises(ValueError, match="B must have shape"):
        ssm_kernel(A, np.ones(5), C, 0.1, 8)
    with pytest.raises(ValueError, match="needs a diagonal A"):
        ssm_kernel(A, B, C, 0.1, 8, "vandermonde")
    with pytest.raises(ValueError, match="needs the low-rank factor P"):
        ssm_kernel(A, B, C, 0.1, 8, "cauchy")
    lam, Pt, Bt, _ = nplr("legs", 4)
    with pytest.raises(ValueError, match="discretization must be 'bilinear'"):
        ssm_kernel(lam, Bt, C, 0.1, 8, "cauchy", "zoh", P=Pt)
    with pytest.raises(ValueError, match="P must have shape"):
        ssm_kernel(lam, Bt, C, 0.1, 8, "cauchy", P=np.ones((1, 3)))
    with pytest.raises(ValueError, match="method"):
        ssm_kernel(A, B, C, 0.1, 8, "fft")


def test_cauchy_gradients_equal_krylov_gradients():
    """d/d(dt, C) through the DPLR Cauchy kernel (0-d tensor dt) = through dense Krylov (1e-10)."""
    lam, P, B, _ = nplr("legs", 8)
    lam, P, B = (torch.as_tensor(x) for x in (lam, P, B))
    grads = []
    for method in ("cauchy", "krylov"):
        dt = torch.tensor(0.01, dtype=torch.float64, requires_grad=True)
        C = torch.ones(8, dtype=torch.complex128, requires_grad=True)
        K = ssm_kernel(lam, B, C, dt, 64, method, P=P)
        (K.real**2).sum().backward()
        grads.append((dt.grad, C.grad))
    for ga, gb in zip(*grads):
        assert torch.linalg.norm(ga - gb) <= 1e-10 * torch.linalg.norm(gb)


@settings(max_examples=20, deadline=None)
@given(
    N=st.integers(1, 10),
    r=st.integers(0, 3),
    L=st.integers(1, 200),
    log_dt=st.floats(-3, 0),
    seed=st.integers(0, 2**16),
)
def test_cauchy_kernel_identity_random_dplr(N, r, L, log_dt, seed):
    """Random stable DPLR systems of any rank (0 included): Cauchy = dense reference (1e-10)."""
    rng = np.random.default_rng(seed)
    lam = -rng.uniform(0.5, 2, N) + 1j * rng.uniform(-10, 10, N)
    P = 0.2 * (rng.standard_normal((r, N)) + 1j * rng.standard_normal((r, N)))
    B = rng.standard_normal(N) + 1j * rng.standard_normal(N)
    C = rng.standard_normal(N) + 1j * rng.standard_normal(N)
    dt = 10.0**log_dt
    ref = reference_kernel(dplr_to_dense(lam, P), B, C, dt, L)
    assert rel(ssm_kernel(lam, B, C, dt, L, "cauchy", P=P), ref) <= TOL
