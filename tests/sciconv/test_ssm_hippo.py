"""HiPPO matrices against closed forms and independent references.

References: the LegS entries from an explicit loop over the published formula; LegS
eigenvalues ``-1..-N`` (triangular, exact); the LegT/LMU similarity (Gu et al. 2022, appendix);
the LMU transfer function against ``scipy.interpolate.pade`` of ``exp(-s)``; the LegS ODE
against quadrature of the scaled Legendre projection (``solve_ivp`` with rtol 1e-11).
Tolerances are stated per test (float64).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.polynomial import legendre
from scipy.integrate import quad, solve_ivp
from scipy.interpolate import pade

from sciconv.ssm import hippo, hippo_rank_correction, nplr, s4d_init


def test_legs_entries_match_the_published_formula():
    """A_nk = -sqrt((2n+1)(2k+1)) (n > k), -(n+1) (n = k), 0 (n < k); B_n = sqrt(2n+1).

    Tolerance 4e-16 relative (sqrt(a) sqrt(b) vs sqrt(ab): one rounding each)."""
    N = 7
    A, B = hippo("legs", N)
    ref = np.zeros((N, N))
    for n in range(N):
        for k in range(N):
            if n > k:
                ref[n, k] = -math.sqrt((2 * n + 1) * (2 * k + 1))
            elif n == k:
                ref[n, k] = -(n + 1)
    np.testing.assert_allclose(A, ref, rtol=4e-16, atol=0)
    np.testing.assert_array_equal(B, [math.sqrt(2 * n + 1) for n in range(N)])


@pytest.mark.parametrize("N", [1, 5, 32])
def test_legs_eigenvalues_are_minus_one_to_minus_n(N):
    """LegS is lower triangular with diagonal -(n+1): eigenvalues -1..-N (to 1e-12 relative)."""
    A, _ = hippo("legs", N)
    assert np.allclose(np.triu(A, 1), 0)
    ev = np.sort(np.linalg.eigvals(A).real)
    np.testing.assert_allclose(ev, -np.arange(N, 0, -1), rtol=1e-12)


@pytest.mark.parametrize("N", [1, 4, 9, 16])
def test_legt_is_half_a_similarity_of_lmu(N):
    """A_LegT = 1/2 D^-1 A_LMU D and B_LegT = 1/2 D^-1 B_LMU, D = diag((-1)^n sqrt(2n+1)).

    Tolerance 1e-13 relative (one product of rounded square roots).
    """
    A_t, B_t = hippo("legt", N)
    A_l, B_l = hippo("lmu", N)
    n = np.arange(N)
    D = np.diag((-1.0) ** n * np.sqrt(2 * n + 1))
    Dinv = np.linalg.inv(D)
    np.testing.assert_allclose(A_t, 0.5 * Dinv @ A_l @ D, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(B_t, 0.5 * Dinv @ B_l, rtol=1e-13)


@pytest.mark.parametrize("N", [2, 5, 8])
def test_lmu_transfer_function_is_the_pade_approximant_of_a_delay(N):
    """C (sI - A)^-1 B with C = 1 equals the [N-1/N] Pade approximant of exp(-theta s).

    Reference: scipy.interpolate.pade of the Taylor series of exp(-theta s); 1e-9 relative.
    """
    theta = 1.7
    A, B = hippo("lmu", N, theta=theta)
    taylor = [(-theta) ** k / math.factorial(k) for k in range(2 * N)]
    p, q = pade(taylor, N, N - 1)
    for s in (0.3, 1.0 + 2.0j, -0.4 + 0.5j, 3.0j):
        H = np.ones(N) @ np.linalg.solve(s * np.eye(N) - A, B)
        assert abs(H - p(s) / q(s)) <= 1e-9 * abs(p(s) / q(s))


def test_lagt_and_fout_closed_forms():
    """LagT: lower triangular, eigenvalues all -1/2. FouT: A + e e^T is skew with eigenvalues
    {0, 0, +-2 pi i k (k = 1..N/2-1)}. Tolerance 1e-10 absolute."""
    A, B = hippo("lagt", 6, beta=0.3)
    np.testing.assert_allclose(np.diag(A), -0.5)
    assert np.allclose(np.triu(A, 1), 0) and np.allclose(B, 0.3)
    N = 10
    A, B = hippo("fout", N)
    S = A + np.outer(B, B)
    np.testing.assert_allclose(S, -S.T, atol=1e-15)
    ev = np.sort(np.linalg.eigvals(S).imag)
    k = np.arange(1, N // 2)
    ref = np.sort(np.concatenate([[0.0, 0.0], 2 * np.pi * k, -2 * np.pi * k]))
    np.testing.assert_allclose(ev, ref, atol=1e-10)


@pytest.mark.parametrize("measure", ["legs", "legt", "lagt", "fout"])
@pytest.mark.parametrize("N", [4, 16])
def test_nplr_normal_part_and_reconstruction(measure, N):
    """A + P^T P is normal (commutes with its transpose, 1e-12 relative), V is unitary and
    V (Lambda - Pt Pt^*) V^* = A, V B~ = B (1e-12 relative)."""
    A, B = hippo(measure, N)
    P = hippo_rank_correction(measure, N)
    S = A + P.T @ P
    scale = np.linalg.norm(S) ** 2
    assert np.linalg.norm(S @ S.T - S.T @ S) <= 1e-12 * scale
    lam, Pt, Bt, V = nplr(measure, N)
    np.testing.assert_allclose(V.conj().T @ V, np.eye(N), atol=1e-12)
    recon = V @ (np.diag(lam) - Pt.T @ Pt.conj()) @ V.conj().T
    np.testing.assert_allclose(recon, A, atol=1e-12 * np.linalg.norm(A))
    np.testing.assert_allclose(V @ Bt, B, atol=1e-12 * np.linalg.norm(B))
    if measure == "legs":
        np.testing.assert_allclose(lam.real, -0.5, atol=1e-12)


def test_legs_ode_tracks_the_scaled_legendre_projection():
    """x' = (A x + B f) / t keeps x_n(t) = int_0^t f(s) sqrt(2n+1) P_n(2s/t - 1) ds / t.

    Integrated by solve_ivp (DOP853, rtol 1e-11) from t = 0.5 to 2 starting at the quadrature
    coefficients; compared with quadrature at t = 2: 1e-7 absolute (HiPPO-LegS is exact for any f).
    """
    N = 6
    A, B = hippo("legs", N)

    def f(s):
        return np.sin(3 * s) + s**2

    def coeffs(t):
        out = []
        for n in range(N):
            c = np.zeros(n + 1)
            c[n] = 1.0
            val = quad(lambda s, c=c: f(s) * legendre.legval(2 * s / t - 1, c), 0, t, epsabs=1e-13)[
                0
            ]
            out.append(math.sqrt(2 * n + 1) * val / t)
        return np.array(out)

    sol = solve_ivp(
        lambda t, x: (A @ x + B * f(t)) / t,
        (0.5, 2.0),
        coeffs(0.5),
        method="DOP853",
        rtol=1e-11,
        atol=1e-12,
    )
    np.testing.assert_allclose(sol.y[:, -1], coeffs(2.0), atol=1e-7)


def test_s4d_inits():
    """S4D-Lin, -Inv, -Real against their formulas; S4D-LegS: real parts -1/2, N values."""
    N = 8
    n = np.arange(N)
    np.testing.assert_allclose(s4d_init("lin", N), -0.5 + 1j * np.pi * n)
    np.testing.assert_allclose(s4d_init("inv", N), -0.5 + 1j * N / np.pi * (N / (2 * n + 1) - 1))
    np.testing.assert_array_equal(s4d_init("real", N), -(n + 1.0))
    legs = s4d_init("legs", N)
    assert legs.shape == (N,) and np.allclose(legs.real, -0.5) and np.all(legs.imag > 0)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="N must be even"):
        hippo("fout", 5)
    with pytest.raises(ValueError, match="measure"):
        hippo("legx", 4)
    with pytest.raises(ValueError, match="N must be an integer >= 1"):
        hippo("legs", 0)
    with pytest.raises(TypeError, match="N must be an integer"):
        hippo("legs", 2.5)
    with pytest.raises(ValueError, match="theta"):
        hippo("lmu", 4, theta=0.0)
    with pytest.raises(ValueError, match="measure"):
        hippo_rank_correction("lmu", 4)
    with pytest.raises(ValueError, match="kind"):
        s4d_init("foo", 4)
