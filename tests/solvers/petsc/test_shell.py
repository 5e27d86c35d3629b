"""PETSc views of sciconv operators, checked against scipy's direct solve."""

from pathlib import Path

import numpy as np
import petsc4py  # noqa: F401 - required: a missing petsc4py fails, never skips
import pytest
import scipy.sparse.linalg as spla

from sciconv import ConvOperator
from solvers.petsc import OperatorShell, as_petsc_mat, petsc_module
from tests.mpi import needs_mpiexec, run_mpi

PETSc = petsc_module()


def _laplacian(shape=(1, 16, 12), shift=0.3):
    lap = np.array([[0.0, -1.0, 0.0], [-1.0, 4.0 + shift, -1.0], [0.0, -1.0, 0.0]])
    return ConvOperator(lap[None, None], shape, padding="circular")


def _solve(mat, rhs, pc="none"):
    b, x = mat.createVecs()
    b.setArray(rhs)
    ksp = PETSc.KSP().create()
    ksp.setOperators(mat)
    ksp.setType("cg")
    ksp.getPC().setType(pc)
    ksp.setTolerances(rtol=1e-12, atol=0.0, max_it=1000)
    ksp.solve(b, x)
    return x.getArray().copy(), ksp


@pytest.mark.parametrize("kind", ["shell", "aij"])
def test_cg_on_conv_operator_matches_scipy(kind):
    """CG in PETSc on an SPD circular stencil equals scipy's sparse direct solve (1e-9)."""
    op = _laplacian()
    rhs = np.random.default_rng(0).standard_normal(op.shape[0])
    mat = as_petsc_mat(op if kind == "shell" else op.to_sparse())
    x, ksp = _solve(mat, rhs, pc="jacobi")
    ref = spla.spsolve(op.to_sparse().tocsc(), rhs)
    assert ksp.getConvergedReason() > 0
    assert np.linalg.norm(x - ref) / np.linalg.norm(ref) < 1e-9


def test_shell_mult_and_transpose_match_operator():
    """MatMult / MatMultTranspose of the shell equal matvec / rmatvec of a strided conv."""
    rng = np.random.default_rng(1)
    op = ConvOperator(rng.standard_normal((3, 2, 3, 3)), (2, 8, 8), stride=2, padding="zeros")
    mat = as_petsc_mat(op)
    assert mat.getSize() == op.shape
    x = PETSc.Vec().createSeq(op.shape[1])
    y = PETSc.Vec().createSeq(op.shape[0])
    xv = rng.standard_normal(op.shape[1])
    x.setArray(xv)
    mat.mult(x, y)
    np.testing.assert_allclose(y.getArray(), op.matvec(xv), rtol=1e-13, atol=1e-13)
    yv = rng.standard_normal(op.shape[0])
    y.setArray(yv)
    mat.multTranspose(y, x)
    np.testing.assert_allclose(x.getArray(), op.rmatvec(yv), rtol=1e-13, atol=1e-13)
    ctx = mat.getPythonContext()
    assert isinstance(ctx, OperatorShell)
    assert ctx.calls["mult"] == 1 and ctx.calls["multTranspose"] == 1


def test_scipy_linear_operator_and_bad_input():
    """A plain scipy LinearOperator works too; other objects and complex ops are refused."""
    op = _laplacian((1, 6, 5))
    lin = op.to_scipy()
    rhs = np.random.default_rng(2).standard_normal(op.shape[0])
    x, _ = _solve(as_petsc_mat(lin), rhs)
    np.testing.assert_allclose(x, spla.spsolve(op.to_sparse().tocsc(), rhs), rtol=1e-8)
    with pytest.raises(TypeError, match="op must be"):
        as_petsc_mat(object())
    cop = ConvOperator(np.ones((1, 1, 3), dtype=complex), (1, 5))
    with pytest.raises(TypeError, match="complex"):
        as_petsc_mat(cop)


@pytest.mark.mpi
@needs_mpiexec
def test_mpiexec_two_ranks_solve():
    """`mpiexec -n 2` runs a distributed PETSc CG on shell and AIJ matrices; same answer."""
    proc = run_mpi(Path(__file__).with_name("mpi_cg_script.py"))
    lines = [ln for ln in proc.stdout.splitlines() if "size=2" in ln]
    assert len(lines) == 2, proc.stdout
    for line in lines:
        fields = dict(f.split("=") for f in line.split()[1:])
        assert int(fields["reason"]) > 0
        assert float(fields["relerr"]) < 1e-9
