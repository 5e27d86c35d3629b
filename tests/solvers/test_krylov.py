"""Our CG and the baselines by name, against SciPy's CG and sparse direct solves."""

import numpy as np
import petsc4py  # noqa: F401 - required: a missing petsc4py fails, never skips
import pyamg  # noqa: F401 - required: a missing pyamg fails, never skips
import pytest
import scipy.sparse.linalg as spla

from pde import poisson_problem
from solvers.info import SolveInfo
from solvers.krylov import ALIASES, BASELINES, SOLVERS, cg, solve
from solvers.maps import make_map


@pytest.fixture(scope="module")
def prob():
    return poisson_problem("obstacles", 20, 2, seed=2)


def test_cg_matches_scipy_cg_and_direct_solve(prob):
    """Same iteration count as scipy.sparse.linalg.cg (±1); solution within 1e-8 of spsolve."""
    b = prob.rhs_divergence(0)
    x, info = cg(prob.matrix, b, rtol=1e-10)
    count = []
    spla.cg(prob.matrix, b, rtol=1e-10, atol=0.0, callback=lambda xk: count.append(1))
    assert info.converged and abs(info.iterations - len(count)) <= 1
    ref = spla.spsolve(prob.matrix.tocsc(), b)
    assert np.linalg.norm(x - ref) <= 1e-8 * np.linalg.norm(ref)


def test_cg_with_exact_inverse_preconditioner(prob):
    """M = A^{-1}: converged in at most 2 iterations (SciPy's test allows 3)."""
    b = prob.rhs_random(1)
    _, info = cg(prob.matrix, b, rtol=1e-10, M=make_map("exact", prob.matrix))
    assert info.converged and info.iterations <= 2


@pytest.mark.parametrize("name", sorted(SOLVERS))
@pytest.mark.parametrize("exterior", ["air", "solid"])
def test_every_baseline_solves(name, exterior):
    """Each baseline by name meets ||b - Ax|| <= 1e-6 ||b|| (true residual), Dirichlet or closed."""
    prob = poisson_problem("obstacles", 16, 2, seed=3, exterior=exterior)
    b = prob.rhs_divergence(1)
    kw = {}
    if name == "dcdm":
        kw = {
            "M": make_map("jacobi:3", prob.matrix),
            "nullspace": prob.null_space() if prob.is_singular else None,
        }
    elif name in ("petsc-cg", "jacobi-cg", "icc-cg", "gamg-cg") and prob.is_singular:
        kw = {"nullspace": prob.null_space()}
    x, info = solve(prob.matrix, b, method=name, rtol=1e-6, **kw)
    assert info.converged, info.message
    assert np.linalg.norm(b - prob.matrix @ x) <= 1.0001e-6 * np.linalg.norm(b)
    assert info.extra["time_s"] > 0


def test_aliases_and_ordering(prob):
    """Aliases resolve; preconditioning ranks as expected: CG > ICC > GAMG, pyamg < 15 its."""
    b = prob.rhs_divergence(2)
    its = {
        m: solve(prob.matrix, b, method=m, rtol=1e-6)[1].iterations
        for m in ("cg", "icc", "gamg", "pyamg")
    }
    assert set(ALIASES.values()) <= set(SOLVERS) and BASELINES is SOLVERS
    assert its["cg"] > its["icc"] > its["gamg"] and its["pyamg"] < 15


def test_petsc_cg_equals_our_cg(prob):
    """PETSc CG with the unpreconditioned norm takes the same number of iterations (±1)."""
    b = prob.rhs_divergence(3)
    _, ours = cg(prob.matrix, b, rtol=1e-8)
    seen = []
    _, theirs = solve(
        prob.matrix, b, method="petsc-cg", rtol=1e-8, callback=lambda xk: seen.append(1)
    )
    assert abs(ours.iterations - theirs.iterations) <= 1
    assert len(seen) == theirs.iterations and len(theirs.residuals) == theirs.iterations + 1


def test_info_and_errors(prob):
    """SciPy's integer code; maxiter and unknown names; indefinite CG is not converged."""
    b = prob.rhs_divergence(4)
    _, info = cg(prob.matrix, b, maxiter=3)
    assert info.reason == "maxiter" and int(info) == 3 and info != 0 and not info.converged
    assert SolveInfo("rtol", 5) == 0
    with pytest.raises(ValueError, match="method"):
        solve(prob.matrix, b, method="bicgstab")
    _, bad = cg(np.diag([1.0, -1.0]), np.array([0.0, 1.0]))
    assert bad.reason == "indefinite" and int(bad) == -1
    with pytest.raises(ValueError, match="M must be None"):
        solve(prob.matrix, b, method="pyamg", M=np.eye(2))
