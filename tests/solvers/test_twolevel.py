"""The two-level maps (coarse, smoothed) and the linear map factory, against dense references.

References are dense numpy matrices written here: the symmetric Gauss-Seidel error
propagation by triangular solves, the Galerkin coarse matrix by dense products, and
:math:`M = (I - E)A^{-1}`; tolerances 1e-12 (relative) in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from hypothesis import given, settings
from hypothesis import strategies as st

from pde import poisson_problem
from solvers import cg, dcdm, make_map
from solvers.coarse import CoarseCorrection, block_aggregates, smoothed_prolongation
from solvers.info import SolveInfo, require_linear
from solvers.maps import FunctionMap
from solvers.twolevel import TwoLevelMap


def dense_two_level(A: np.ndarray, P: np.ndarray, smoother: str = "symmetric") -> np.ndarray:
    """M = (I - E) A^-1 with E = E_2 (I - P Ac^-1 P^T A) E_1: E_1 = E_2 = backward x forward
    Gauss-Seidel ('symmetric'), or E_1 forward and E_2 backward ('forward-backward')."""
    n = A.shape[0]
    eye = np.eye(n)
    fwd = eye - sla.solve_triangular(np.tril(A), A, lower=True)
    bwd = eye - sla.solve_triangular(np.triu(A), A, lower=False)
    E1, E2 = (bwd @ fwd, bwd @ fwd) if smoother == "symmetric" else (fwd, bwd)
    Ac = P.T @ A @ P
    E = E2 @ (eye - P @ np.linalg.solve(Ac, P.T @ A)) @ E1
    return (eye - E) @ np.linalg.inv(A)


@pytest.fixture(scope="module")
def prob():
    return poisson_problem("obstacles", 20, 2, seed=20_000)


@pytest.mark.parametrize("spec", ["coarse", "coarse:5", "smoothed", "smoothed:3"])
def test_two_level_maps_equal_the_dense_formula(prob, spec):
    A = prob.matrix
    M = make_map(spec, A, labels=prob.labels)
    block = int(spec.partition(":")[2] or 4)
    agg = block_aggregates(A, prob.labels == 0, block)
    P0 = np.eye(agg.max() + 1)[agg]
    Ad = A.toarray()
    P = P0 if spec.startswith("coarse") else P0 - (2 / 3) * (Ad / np.diag(Ad)[:, None]) @ P0
    ref = dense_two_level(Ad, P)
    R = np.random.default_rng(0).standard_normal((A.shape[0], 3))
    got = np.stack([M(r) for r in R.T], 1)
    assert np.allclose(got, ref @ R, rtol=0, atol=1e-12 * np.abs(ref @ R).max())
    assert np.allclose(M @ R, got, rtol=0, atol=1e-14 * np.abs(got).max())


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    n=st.integers(6, 18),
    block=st.integers(2, 5),
    omega=st.floats(0.2, 1.2),
    seed=st.integers(0, 2**16),
)
def test_smoothed_two_level_map_is_linear_and_symmetric(n, block, omega, seed):
    p = poisson_problem("obstacles", n, 2, seed=20_000 + seed % 50)
    A = p.matrix
    agg = block_aggregates(A, p.labels == 0, block)
    P = smoothed_prolongation(A, agg, omega)
    M = TwoLevelMap(A, CoarseCorrection(A, p.labels == 0, block=block, prolongation=P))
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((2, A.shape[0]))
    a, b = rng.standard_normal(2)
    Mx, My = M(x), M(y)
    scale = np.linalg.norm(Mx) * np.linalg.norm(y) + np.linalg.norm(My) * np.linalg.norm(x)
    assert abs(y @ Mx - x @ My) <= 1e-12 * scale
    assert np.allclose(M(a * x + b * y), a * Mx + b * My, rtol=0, atol=1e-12 * scale)
    assert x @ Mx > 0  # positive definite


def test_smoothed_prolongation_matches_the_dense_jacobi_step(prob):
    A = prob.matrix
    agg = block_aggregates(A, prob.labels == 0, 4)
    Ad = A.toarray()
    P0 = np.eye(agg.max() + 1)[agg]
    for omega in (0.5, 2 / 3, 1.0):
        ref = (np.eye(A.shape[0]) - omega * Ad / np.diag(Ad)[:, None]) @ P0
        assert np.abs(smoothed_prolongation(A, agg, omega).toarray() - ref).max() <= 1e-15
    with pytest.raises(ValueError, match="weights must have"):
        smoothed_prolongation(A, agg, np.ones(3))
    with pytest.raises(ValueError, match="aggregates must be"):
        smoothed_prolongation(A, agg[:-1], 0.5)
    for bad in (np.where(agg == 0, -1, agg), agg + 2, agg.astype(float)):
        with pytest.raises(ValueError, match="aggregates must"):
            smoothed_prolongation(A, bad, 0.5)
        with pytest.raises(ValueError, match="aggregates must"):
            CoarseCorrection(A, prob.labels == 0, aggregates=bad)


@pytest.mark.parametrize("spec", ["identity", "jacobi:3", "pyamg", "exact", "coarse", "smoothed"])
def test_linear_maps_are_scipy_linear_operators_accepted_by_scipy_cg(prob, spec):
    """scipy.sparse.linalg.cg(M=make_map(...)) converges to the direct solution."""
    A, b = prob.matrix, prob.rhs_divergence(0)
    M = make_map(spec, A, labels=prob.labels)
    assert isinstance(M, spla.LinearOperator) and M.linear
    x, info = spla.cg(A, b, M=M, rtol=1e-10, maxiter=2000)
    ref = spla.spsolve(A.tocsc(), b)
    assert info == 0
    assert np.linalg.norm(x - ref) <= 1e-8 * np.linalg.norm(ref)


def test_two_level_maps_converge_in_few_pcg_iterations_at_any_size():
    """PCG (solvers.cg) with coarse / smoothed: grid-size independent iteration counts."""
    its = {"coarse": [], "smoothed": []}
    for n in (32, 64, 128):
        p = poisson_problem("obstacles", n, 2, seed=20_001)
        for spec in its:
            _, info = cg(p.matrix, p.rhs_divergence(1), rtol=1e-8,
                         M=make_map(spec, p.matrix, labels=p.labels))  # fmt: skip
            assert info.converged
            its[spec].append(info.iterations)
    assert max(its["smoothed"]) <= 16 and max(its["coarse"]) <= 25, its
    assert all(max(v) <= 1.5 * min(v) for v in its.values()), its  # flat from 32² to 128²
    assert all(s < c for s, c in zip(its["smoothed"], its["coarse"])), its


def test_nonlinear_maps_say_so_and_are_refused_by_linear_solvers(prob):
    class NetLike:
        linear = False

        def __call__(self, r):
            return np.tanh(r)

    with pytest.raises(TypeError, match="cg needs a linear preconditioner"):
        cg(prob.matrix, prob.rhs_divergence(0), M=NetLike())
    with pytest.raises(TypeError, match="nonlinear"):
        require_linear(NetLike(), "petsc cg")
    inner = TwoLevelMap(prob.matrix, None, inner=lambda x, r: None)
    assert not inner.linear
    with pytest.raises(TypeError, match="no adjoint"):
        inner.rmatvec(np.ones(prob.n))
    # DCDM (flexible) takes the nonlinear map
    _, info = dcdm(prob.matrix, prob.rhs_divergence(0), M=NetLike(), rtol=1e-6, maxiter=2000)
    assert info.converged


def test_map_factory_refuses_bad_input(prob):
    with pytest.raises(ValueError, match="needs labels"):
        make_map("smoothed", prob.matrix)
    with pytest.raises(TypeError, match="A must be a scipy sparse matrix"):
        make_map("coarse", prob.matrix.toarray(), labels=prob.labels)
    with pytest.raises(ValueError, match="sweep count"):
        make_map("jacobi:x", prob.matrix)
    with pytest.raises(ValueError, match="exterior"):
        make_map("coarse", prob.matrix, labels=prob.labels, exterior="water")
    with pytest.raises(TypeError, match="coarse must be a CoarseCorrection"):
        TwoLevelMap(prob.matrix, coarse=4)
    with pytest.raises(ValueError, match="r must have"):
        make_map("coarse", prob.matrix, labels=prob.labels)(np.ones(3))
    with pytest.raises(ValueError, match="takes no count"):
        make_map("identity:3", prob.matrix)
    for omega in (0.0, 2.5, "a", True):
        with pytest.raises(ValueError, match="omega"):
            make_map("jacobi", prob.matrix, omega=omega)


def test_forward_backward_schedule_equals_its_dense_formula_and_is_symmetric(prob):
    A = prob.matrix
    cc = CoarseCorrection(A, prob.labels == 0, block=4)
    M = TwoLevelMap(A, cc, smoother="forward-backward")
    ref = dense_two_level(A.toarray(), cc.P.toarray(), "forward-backward")
    assert np.abs(ref - ref.T).max() <= 1e-12 * np.abs(ref).max()
    R = np.random.default_rng(3).standard_normal((A.shape[0], 2))
    assert np.abs(M @ R - ref @ R).max() <= 1e-12 * np.abs(ref @ R).max()
    with pytest.raises(ValueError, match="smoother"):
        TwoLevelMap(A, cc, smoother="jacobi")


def test_function_map_is_symmetric_linear_operator():
    M = FunctionMap(lambda r: 3.0 * r, 4, "triple")
    assert np.allclose(M.rmatvec(np.ones(4)), 3.0)
    assert np.allclose(M.matmat(np.eye(4)), 3.0 * np.eye(4))
    assert M.calls >= 1 and "triple" in repr(M)


def test_solve_info_equality_follows_its_fields():
    a = SolveInfo("rtol", 3, [1.0, 0.1], "", {"k": 1})
    assert a == SolveInfo("rtol", 3, [1.0, 0.1], "", {"k": 1})
    assert a != SolveInfo("rtol", 4, [1.0, 0.1], "", {"k": 1})
    assert a != SolveInfo("rtol", 3, [1.0, 0.2], "", {"k": 1})
    assert a == 0 and SolveInfo("maxiter", 7) == 7 and SolveInfo("nan", 2) == -1
    assert a != "rtol"
    with pytest.raises(TypeError):
        hash(a)
    # SciPy habits: falsy exactly when converged; compares as its integer code
    assert not a and SolveInfo("maxiter", 7) and SolveInfo("breakdown", 3)
    assert SolveInfo("maxiter", 7) > 0 and SolveInfo("nan", 2) < 0 and a <= 0 and a >= 0
    assert int(SolveInfo("maxiter", 7)) == 7 and [10, 20][a] == 10


def test_complex_right_hand_sides_are_refused(prob):
    b = prob.rhs_divergence(0).astype(complex)
    with pytest.raises(TypeError, match="b is complex"):
        cg(prob.matrix, b)
    with pytest.raises(TypeError, match="x0 is complex"):
        dcdm(prob.matrix, b.real, x0=np.zeros(prob.n, complex))


def test_require_linear_reads_any_false_value():
    class Flagged:
        linear = np.False_

    with pytest.raises(TypeError, match="nonlinear"):
        require_linear(Flagged(), "cg")


def test_coarse_correction_rejects_a_prolongator_of_the_wrong_size(prob):
    with pytest.raises(ValueError, match="prolongation must have"):
        CoarseCorrection(prob.matrix, prob.labels == 0, block=4, prolongation=sp.eye(3))


def test_smoothed_map_on_a_matrix_that_is_not_a_grid_stencil_equals_the_dense_formula(prob):
    """A 9-point matrix cannot take the grid path (StencilGeometry refuses it): the graph
    search and the generic smoothed prolongator build the map, to the same dense formula."""
    A = prob.matrix
    n = A.shape[0]
    extra = sp.diags([-0.05 * np.ones(n - 21)] * 2, [21, -21])  # couplings to i ± 21
    A9 = sp.csr_matrix(A + extra + sp.diags(np.asarray(abs(extra).sum(1)).ravel()))
    M = make_map("smoothed", A9, labels=prob.labels)
    agg = block_aggregates(A9, prob.labels == 0, 4)
    P0 = np.eye(agg.max() + 1)[agg]
    Ad = A9.toarray()
    ref = dense_two_level(Ad, P0 - (2 / 3) * (Ad / np.diag(Ad)[:, None]) @ P0)
    r = np.random.default_rng(1).standard_normal(n)
    assert np.abs(M(r) - ref @ r).max() <= 1e-12 * np.abs(ref @ r).max()


def test_smoothed_map_with_a_positive_coupling_keeps_the_jacobi_step(prob):
    """A 5-point SPD matrix with one positive coupling pair: the grid path's Dirichlet excess
    (from |a_ij|) would not be omega D^-1 A, so the generic smoothed prolongator builds it; the
    map equals the dense formula (1e-12)."""
    A = sp.csr_matrix(prob.matrix, copy=True)
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    i, j = rows[A.indices > rows][7], A.indices[A.indices > rows][7]
    A.data[((rows == i) & (A.indices == j)) | ((rows == j) & (A.indices == i))] *= -1.0
    M = make_map("smoothed", A, labels=prob.labels)
    agg = block_aggregates(A, prob.labels == 0, 4)
    P0 = np.eye(agg.max() + 1)[agg]
    Ad = A.toarray()
    assert np.linalg.eigvalsh(Ad).min() > 0
    ref = dense_two_level(Ad, P0 - (2 / 3) * (Ad / np.diag(Ad)[:, None]) @ P0)
    r = np.random.default_rng(2).standard_normal(A.shape[0])
    assert np.abs(M(r) - ref @ r).max() <= 1e-12 * np.abs(ref @ r).max()
