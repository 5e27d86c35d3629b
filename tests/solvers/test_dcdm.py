"""DCDM against exact solves and against our CG (the f = identity, k = 1 special case)."""

import numpy as np
import pyamg  # noqa: F401 - required: a missing pyamg fails, never skips
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from pde import poisson_problem
from solvers.dcdm import dcdm
from solvers.krylov import cg
from solvers.maps import make_map


@pytest.fixture(scope="module")
def prob():
    return poisson_problem("obstacles", 16, 2, seed=0)


@pytest.mark.parametrize("x0", [None, "random"])
def test_exact_inverse_converges_in_one_iteration(prob, x0):
    """f = A^{-1}: one iteration, and x equals the sparse direct solve to 1e-10."""
    b = prob.rhs_divergence(1)
    start = None if x0 is None else np.random.default_rng(2).standard_normal(prob.n)
    x, info = dcdm(prob.matrix, b, start, rtol=1e-10, M=make_map("exact", prob.matrix))
    ref = spla.spsolve(prob.matrix.tocsc(), b)
    assert info.converged and info.iterations == 1
    assert np.linalg.norm(x - ref) <= 1e-10 * np.linalg.norm(ref)


def test_identity_map_k1_reproduces_cg_iterates(prob):
    """f = I, k = 1: every iterate equals our CG's to 1e-10 (relative), same iteration count."""
    b = prob.rhs_random(3)
    xs_d, xs_c = [], []
    _, info_d = dcdm(
        prob.matrix,
        b,
        rtol=1e-8,
        directions=1,
        stagnation=None,
        callback=lambda x: xs_d.append(x.copy()),
    )
    _, info_c = cg(prob.matrix, b, rtol=1e-8, callback=lambda x: xs_c.append(x.copy()))
    assert info_d.converged and info_c.converged
    assert info_d.iterations == info_c.iterations == len(xs_d)
    for xd, xc in zip(xs_d, xs_c):
        assert np.linalg.norm(xd - xc) <= 1e-10 * np.linalg.norm(xc)


@pytest.mark.parametrize("spec", ["identity", "jacobi:3", "pyamg"])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_converged_means_true_residual(prob, spec, k):
    """Whenever info says converged, ||b - Ax|| <= rtol ||b|| holds for the returned x."""
    b = prob.rhs_divergence(4)
    x, info = dcdm(prob.matrix, b, rtol=1e-7, M=make_map(spec, prob.matrix), directions=k)
    assert info.converged, info.message
    assert np.linalg.norm(b - prob.matrix @ x) <= 1e-7 * np.linalg.norm(b)
    assert len(info.residuals) == info.iterations + 1


def test_better_map_fewer_iterations(prob):
    """A V-cycle needs fewer iterations than 3 Jacobi sweeps, which need fewer than none."""
    b = prob.rhs_divergence(5)
    its = [
        dcdm(prob.matrix, b, rtol=1e-6, M=make_map(s, prob.matrix))[1].iterations
        for s in ("identity", "jacobi:3", "pyamg")
    ]
    assert its[0] > its[1] > its[2]


def test_singular_problem_with_null_space():
    """Closed box (pure Neumann): with the null space, DCDM + Jacobi reaches rtol."""
    prob = poisson_problem("obstacles", 12, 2, seed=1, exterior="solid")
    b = prob.rhs_divergence(0)
    x, info = dcdm(
        prob.matrix, b, rtol=1e-8, M=make_map("jacobi:2", prob.matrix), nullspace=prob.null_space()
    )
    assert info.converged
    assert np.linalg.norm(b - prob.matrix @ x) <= 1e-8 * np.linalg.norm(b)


def test_recompute_residual(prob):
    """Recomputing r every 5 iterations converges in about as many iterations (±2)."""
    b = prob.rhs_divergence(6)
    M = make_map("jacobi:2", prob.matrix)
    _, a = dcdm(prob.matrix, b, rtol=1e-8, M=M)
    _, c = dcdm(prob.matrix, b, rtol=1e-8, M=M, recompute_every=5)
    assert a.converged and c.converged and abs(a.iterations - c.iterations) <= 2


def test_indefinite_matrix_is_diverged():
    """diag(1, -1, 2) with b along the negative direction: 'indefinite', never converged."""
    A = sp.diags([1.0, -1.0, 2.0]).tocsr()
    x, info = dcdm(A, np.array([0.0, 1.0, 0.0]))
    assert info.reason == "indefinite" and not info.converged
    assert info.code == -1 and info != 0 and "positive definite" in info.message


def test_nan_map_is_diverged(prob):
    b = prob.rhs_divergence(0)
    x, info = dcdm(prob.matrix, b, M=lambda r: np.full_like(r, np.nan))
    assert info.reason == "nan" and not info.converged and info.message
    assert np.all(np.isfinite(x))


def test_degenerate_direction_is_breakdown(prob):
    """A map that always returns the same vector: the 2nd direction is in the span of the 1st."""
    b = prob.rhs_divergence(0)
    e = np.ones(prob.n)
    _, info = dcdm(prob.matrix, b, M=lambda r: e)
    assert info.reason == "breakdown" and info.iterations == 1 and "span" in info.message


def test_stagnation_is_breakdown():
    """Map alternating e1, e2 on diag(1,2,3) with b along e3: no progress -> breakdown."""
    A = sp.diags([1.0, 2.0, 3.0]).tocsr()
    basis = [np.eye(3)[0], np.eye(3)[1]]
    calls = []

    def alternate(r):
        calls.append(1)
        return basis[len(calls) % 2]

    _, info = dcdm(A, np.array([1.0, 1.0, 1.0]), M=alternate, directions=1, stagnation=5)
    assert info.reason == "breakdown" and "stagnation" in info.message


def test_bad_arguments(prob):
    with pytest.raises(ValueError, match="b must have"):
        dcdm(prob.matrix, np.ones(3))
    with pytest.raises(ValueError, match="directions"):
        dcdm(prob.matrix, np.ones(prob.n), directions=0)
    with pytest.raises(TypeError, match="A must be"):
        dcdm("A", np.ones(3))
    _, info = dcdm(prob.matrix, np.ones(prob.n), maxiter=2)
    assert info.reason == "maxiter" and info.code == 2


@pytest.mark.parametrize("exterior", ["air", "solid"])
@pytest.mark.parametrize("spec", ["jacobi:1", "jacobi:4", "pyamg"])
def test_classical_maps_are_symmetric_positive_definite(spec, exterior):
    """P F P (F: the map as a dense matrix, P: projector onto range(A)) is symmetric (1e-10)
    and positive definite on range(A): eigenvalues > 0 except one ~0 per null vector.

    A V-cycle on a singular problem is only meaningful on range(A): its coarse pseudo-inverse
    may amplify a null-space component of an inconsistent input without bound.
    """
    prob = poisson_problem("obstacles", 10, 2, seed=0, exterior=exterior)
    fmap = make_map(spec, prob.matrix)
    z = prob.null_space()
    P = np.eye(prob.n) - z.T @ z
    dense = P @ np.column_stack([fmap(P[:, i]) for i in range(prob.n)])
    scale = np.abs(dense).max()
    assert np.abs(dense - dense.T).max() <= 1e-10 * scale
    eig = np.linalg.eigvalsh((dense + dense.T) / 2)
    assert np.abs(eig[: len(z)]).max(initial=0.0) <= 1e-10 * scale
    assert eig[len(z)] > 1e-6 * scale


def test_matrix_free_conv_operator():
    """DCDM on the ConvOperator of a Dirichlet box: same iterates as on its CSR (1e-12)."""
    from pde import dirichlet_box

    prob = dirichlet_box((12, 10))
    b = prob.rhs_random(0)
    M = make_map("jacobi:2", prob.matrix)
    x_op, i_op = dcdm(prob.conv_operator(), b, rtol=1e-9, M=M)
    x_sp, i_sp = dcdm(prob.matrix, b, rtol=1e-9, M=M)
    assert i_op.converged and i_op.iterations == i_sp.iterations
    assert np.linalg.norm(x_op - x_sp) <= 1e-12 * np.linalg.norm(x_sp)
