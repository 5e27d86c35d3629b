"""The one PETSc door: ksp_solve (numpy and Vec in/out, reasons, failures), CSR <-> AIJ."""

import numpy as np
import petsc4py  # noqa: F401 - required: a missing petsc4py fails, never skips
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from pde import poisson_problem
from solvers.petsc import (
    DCDM,
    REASONS,
    MapPC,
    aij_from_csr,
    as_petsc_mat,
    attach_null_space,
    ksp_solve,
    ownership,
    petsc_module,
    petsc_to_scipy,
    reason_name,
    solve_reason,
)

PETSc = petsc_module()


@pytest.fixture(scope="module")
def prob():
    return poisson_problem("obstacles", 20, 2, seed=4)


def _reference(prob, b):
    return spla.spsolve(prob.matrix.tocsc(), b)


def test_numpy_in_numpy_out_matches_scipy(prob):
    """A scipy matrix and a numpy b: x is numpy and equals scipy's direct solve (1e-8)."""
    b = prob.rhs_random(1)
    x, info = ksp_solve(prob.matrix, b, pc_type="jacobi", rtol=1e-12)
    assert isinstance(x, np.ndarray) and x.shape == (prob.n,)
    ref = _reference(prob, b)
    assert np.linalg.norm(x - ref) <= 1e-8 * np.linalg.norm(ref)
    assert info.converged and info.reason == "rtol" and info == 0
    assert info.extra["ksp_reason"] == "CONVERGED_RTOL" and info.extra["ksp_reason_code"] > 0
    assert len(info.residuals) == info.iterations + 1
    assert info.residuals[0] == pytest.approx(np.linalg.norm(b), rel=1e-12)
    assert info.residuals[-1] <= 1e-12 * np.linalg.norm(b)
    assert info.extra["true_residual"] == pytest.approx(
        np.linalg.norm(b - prob.matrix @ x), rel=1e-6, abs=1e-14
    )
    assert info.extra["ranks"] == 1 and info.extra["setup_s"] >= 0 and info.extra["solve_s"] > 0


def test_vec_in_vec_out_matches_scipy(prob):
    """A Mat and Vecs: x is a new Vec (b untouched), equal to scipy's solve; x0 as a Vec."""
    b = prob.rhs_random(2)
    mat = prob.petsc_aij()
    bv = mat.createVecLeft()
    bv.setArray(b)
    x, info = ksp_solve(mat, bv, ksp_type="cg", pc_type="icc", rtol=1e-12)
    assert isinstance(x, PETSc.Vec) and x is not bv
    np.testing.assert_array_equal(bv.getArray(), b)
    ref = _reference(prob, b)
    assert np.linalg.norm(x.getArray() - ref) <= 1e-8 * np.linalg.norm(ref)
    assert info.converged
    # starting from the solution: converged at iteration 0, x0 not modified
    x2, info2 = ksp_solve(mat, bv, x, pc_type="icc", rtol=1e-6)
    assert info2.iterations == 0 and info2.converged
    np.testing.assert_array_equal(x2.getArray(), x.getArray())
    for v in (x, x2, bv):
        v.destroy()


def test_numpy_x0_and_callback(prob):
    """A numpy x0 is the initial guess; the callback sees every iterate k >= 1."""
    b = prob.rhs_random(3)
    ref = _reference(prob, b)
    seen = []
    _, cold = ksp_solve(prob.matrix, b, rtol=1e-8, callback=lambda xk: seen.append(xk.size))
    assert seen == [prob.n] * cold.iterations
    _, warm = ksp_solve(prob.matrix, b, ref + 1e-6 * np.ones(prob.n), rtol=1e-8)
    assert warm.converged and warm.iterations < cold.iterations


def test_python_contexts_equal_the_options_path(prob):
    """ksp_type=DCDM(), pc_type=MapPC(spec) runs the solver the option names load."""
    b = prob.rhs_divergence(0)
    x1, i1 = ksp_solve(
        prob.matrix, b, ksp_type=DCDM(directions=3), pc_type=MapPC(spec="jacobi:2"), rtol=1e-8
    )
    opts = {
        "ksp_type": "python",
        "ksp_python_type": "solvers.petsc.DCDM",
        "ksp_dcdm_directions": 3,
        "pc_type": "python",
        "pc_python_type": "solvers.petsc.NetworkPC",
        "pc_network_map": "jacobi:2",
    }
    x2, i2 = ksp_solve(prob.matrix, b, options=opts, rtol=1e-8)
    assert i1.converged and i2.converged and i1.iterations == i2.iterations
    np.testing.assert_allclose(x1, x2, rtol=1e-12, atol=1e-12)


def test_options_are_removed_afterwards(prob):
    """Options live under the solve's prefix only while it runs."""
    b = prob.rhs_random(4)
    ksp_solve(prob.matrix, b, prefix="coretest_", options={"ksp_type": "fcg"}, rtol=1e-6)
    assert not PETSc.Options().hasName("coretest_ksp_type")


def test_singular_problem_with_nullspace_rows():
    """A closed box: numpy null-space rows are attached; CG reaches rtol on a consistent b."""
    p = poisson_problem("obstacles", 16, 2, seed=1, exterior="solid")
    assert p.is_singular
    b = p.rhs_divergence(0)
    x, info = ksp_solve(p.matrix, b, nullspace=p.null_space(), pc_type="jacobi", rtol=1e-10)
    assert info.converged
    assert np.linalg.norm(b - p.matrix @ x) <= 1e-9 * np.linalg.norm(b)


def test_reason_table():
    """PETSc names map to SolveInfo reasons; the one table is REASONS."""
    R = PETSc.KSP.ConvergedReason
    assert reason_name(R.CONVERGED_RTOL) == "CONVERGED_RTOL"
    assert reason_name(R.DIVERGED_MAX_IT) == "DIVERGED_MAX_IT"
    assert reason_name(12345) == "12345"
    assert solve_reason("CONVERGED_RTOL") == "rtol" and solve_reason("CONVERGED_ATOL") == "atol"
    assert solve_reason("DIVERGED_MAX_IT") == "maxiter"
    assert solve_reason("DIVERGED_INDEFINITE_PC") == "indefinite"
    assert solve_reason("DIVERGED_NANORINF") == "nan"
    assert solve_reason("DIVERGED_DTOL") == "diverged_dtol"
    assert set(REASONS.values()) <= {"rtol", "atol", "maxiter", "indefinite", "nan", "breakdown"}


def test_failing_solves_report_not_converged(prob):
    """Iteration limit, indefinite matrix, NaN map: non-converged SolveInfo with reasons."""
    b = prob.rhs_random(5)
    _, info = ksp_solve(prob.matrix, b, rtol=1e-12, maxiter=3)
    assert not info.converged and info.reason == "maxiter" and int(info) == 3
    assert info.extra["ksp_reason"] == "DIVERGED_MAX_IT" and info.message == "DIVERGED_MAX_IT"
    indefinite = sp.diags([1.0, -1.0, 2.0]).tocsr()
    _, info = ksp_solve(indefinite, np.array([0.0, 1.0, 0.0]), ksp_type=DCDM(), rtol=1e-8)
    assert info.reason == "indefinite" and not info.converged and int(info) == -1
    assert "positive definite" in info.message  # DCDM's own message
    bad = MapPC(lambda r: np.full_like(r, np.nan))
    _, info = ksp_solve(prob.matrix, b, ksp_type=DCDM(), pc_type=bad, rtol=1e-8)
    assert info.reason == "nan" and not info.converged and info.message


def test_bad_arguments_name_themselves(prob):
    b = prob.rhs_random(6)
    with pytest.raises(TypeError, match="A must be"):
        ksp_solve(object(), b)
    with pytest.raises(ValueError, match="A must be square"):
        ksp_solve(sp.eye(3, 4, format="csr"), np.ones(3))
    with pytest.raises(ValueError, match="rtol"):
        ksp_solve(prob.matrix, b, rtol=-1.0)
    with pytest.raises(TypeError, match="maxiter"):
        ksp_solve(prob.matrix, b, maxiter=2.5)
    with pytest.raises(ValueError, match="b must have"):
        ksp_solve(prob.matrix, b[:-1])
    with pytest.raises(ValueError, match="norm_type"):
        ksp_solve(prob.matrix, b, norm_type="euclid")
    with pytest.raises(TypeError, match="pc_type"):
        ksp_solve(prob.matrix, b, pc_type=3)
    mat = prob.petsc_aij()
    bv = mat.createVecLeft()
    with pytest.raises(TypeError, match="x0"):
        ksp_solve(mat, bv, np.zeros(prob.n))


def test_csr_aij_round_trip_and_null_space(prob):
    """aij_from_csr / petsc_to_scipy are inverse; a shell gives its operator's matrix."""
    rect = sp.random(7, 5, density=0.5, random_state=0, format="csr")
    mat = aij_from_csr(rect)
    assert mat.getSize() == (7, 5)
    assert abs(petsc_to_scipy(mat) - rect).max() == 0.0
    assert abs(petsc_to_scipy(aij_from_csr(prob.matrix)) - prob.matrix).max() == 0.0
    box = poisson_problem("box", (5, 4), 2, exterior="air")
    shell = as_petsc_mat(box.conv_operator())
    assert abs(petsc_to_scipy(shell) - box.matrix).max() == 0.0
    with pytest.raises(TypeError, match="csr"):
        aij_from_csr(np.eye(3))
    assert attach_null_space(mat, np.zeros((0, 7))) is None
    sq = aij_from_csr(sp.eye(4, format="csr"))
    nsp = attach_null_space(sq, np.ones(4) / 2.0)
    assert nsp is not None and sq.getNullSpace().handle
    assert ownership(10) == (0, 10)
