"""Run under ``mpiexec -n N``: the DCDM KSP (PC jacobi) and a DMDA matrix on N ranks.

Every rank builds the same Poisson problem; rank 0 compares the gathered PETSc solution and
iteration count with the serial numpy ``dcdm`` under the same Jacobi map, and the DMDA
matrix-vector product with the whole-grid scipy matrix, printing one line for each.
"""

import numpy as np

from pde import poisson_problem
from solvers.dcdm import dcdm
from solvers.petsc import petsc_module

PETSc = petsc_module()
comm = PETSc.COMM_WORLD
prob = poisson_problem("obstacles", 20, 2, seed=0, exterior="solid")
rhs = prob.rhs_divergence(0)


def gather(vec):
    scatter, v0 = PETSc.Scatter.toZero(vec)
    scatter.scatter(vec, v0, PETSc.InsertMode.INSERT, PETSc.ScatterMode.FORWARD)
    return v0.getArray().copy()


mat = prob.petsc_aij()
b, x = mat.createVecs()
lo, hi = b.getOwnershipRange()
b.setArray(rhs[lo:hi])
ksp = PETSc.KSP().create(comm=comm)
ksp.setOperators(mat)
ksp.setType("python")
ksp.setPythonType("solvers.petsc.DCDM")
ksp.getPC().setType("jacobi")
ksp.setTolerances(rtol=1e-8, atol=0.0, max_it=1000)
ksp.solve(b, x)
xs = gather(x)
diag = prob.matrix.diagonal()
ref, info = dcdm(prob.matrix, rhs, rtol=1e-8, M=lambda r: r / diag, nullspace=prob.null_space())

da, dmat = prob.petsc_dmda()
v = np.random.default_rng(1).standard_normal(int(np.prod(prob.shape)))
nat = da.createNaturalVec()
nlo, nhi = nat.getOwnershipRange()
nat.setArray(v[nlo:nhi])
g, y = da.createGlobalVec(), da.createGlobalVec()
da.naturalToGlobal(nat, g)
dmat.mult(g, y)
ynat = da.createNaturalVec()
da.globalToNatural(y, ynat)
ys = gather(ynat)
if comm.getRank() == 0:
    err = np.linalg.norm(xs - ref) / np.linalg.norm(ref)
    print(
        f"dcdm size={comm.getSize()} its={ksp.getIterationNumber()} ref_its={info.iterations} "
        f"reason={ksp.getConvergedReason()} relerr={err:.3e}",
        flush=True,
    )
    derr = np.linalg.norm(ys - prob.grid_matrix() @ v) / np.linalg.norm(v)
    print(f"dmda size={comm.getSize()} relerr={derr:.3e}", flush=True)
