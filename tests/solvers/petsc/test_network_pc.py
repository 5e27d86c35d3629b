"""``-pc_network MODEL``: the pretrained network as a PETSc PC inside the DCDM KSP."""

import numpy as np
import petsc4py  # noqa: F401 - required: a missing petsc4py fails, never skips
import pytest

from pde import AIR, poisson_problem
from solvers.dcdm import dcdm
from solvers.maps import make_map
from solvers.network import available
from solvers.petsc import petsc_module
from tests.petsc_options import ksp_from_options

PETSc = petsc_module()
pytestmark = pytest.mark.skipif("poisson2d" not in available(), reason="no shipped weights")
OPTS = {"ksp_type": "python", "ksp_python_type": "solvers.petsc.DCDM", "pc_type": "python",
        "pc_python_type": "solvers.petsc.NetworkPC", "pc_network": "poisson2d",
        "ksp_dcdm_directions": 10}  # fmt: skip


def make_ksp(mat, tag):
    return ksp_from_options(mat, OPTS, rtol=1e-6, max_it=500, tag=tag)


def test_pc_network_option_matches_numpy_dcdm():
    """Same held-out problem: KSP iterations = numpy dcdm's (±1: float32 network, PETSc's own
    vector arithmetic), converged, true residual <= 1e-6."""
    p = poisson_problem("obstacles", 32, 2, seed=10_005)
    b = p.rhs_divergence(0)
    mat = p.petsc_aij()
    ksp = make_ksp(mat, "netpc")
    ksp.getPC().getPythonContext().set_grid(p.labels, AIR)
    bv, x = mat.createVecs()
    bv.setArray(b)
    ksp.solve(bv, x)
    f = make_map("network:poisson2d", p.matrix, labels=p.labels, exterior=AIR)
    _, info = dcdm(p.matrix, b, rtol=1e-6, M=f, directions=10)
    assert ksp.getConvergedReason() > 0 and info.converged
    assert abs(ksp.getIterationNumber() - info.iterations) <= 1
    assert np.linalg.norm(b - p.matrix @ x.getArray()) <= 1e-6 * np.linalg.norm(b)


def test_pc_network_without_grid_errors():
    p = poisson_problem("obstacles", 16, 2, seed=10_006)
    ksp = make_ksp(p.petsc_aij(), "netpc")
    with pytest.raises(PETSc.Error) as excinfo:
        ksp.setUp()
    err = excinfo.value
    assert err.ierr == 101, f"PETSc error code {err.ierr}, expected 101 (PETSC_ERR_PYTHON)"
    assert isinstance(err.__cause__, ValueError), repr(err.__cause__)
    assert "network:poisson2d needs the grid" in str(err.__cause__)
    assert "set_grid(labels, exterior)" in str(err.__cause__)
