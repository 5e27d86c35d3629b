"""Run under ``mpiexec -n N``: PETSc CG on a ConvOperator shell matrix and on its AIJ matrix.

Every rank builds the same operator and right-hand side; rank 0 compares the gathered PETSc
solution with scipy's sparse direct solve and prints one line per matrix kind.
"""

import numpy as np
import scipy.sparse.linalg as spla

from sciconv import ConvOperator
from solvers.petsc import as_petsc_mat, petsc_module

PETSc = petsc_module()
comm = PETSc.COMM_WORLD
lap = np.array([[0.0, -1.0, 0.0], [-1.0, 4.2, -1.0], [0.0, -1.0, 0.0]])
op = ConvOperator(lap[None, None], (1, 24, 20), padding="circular")
rhs = np.random.default_rng(7).standard_normal(op.shape[0])
ref = spla.spsolve(op.to_sparse().tocsc(), rhs)
for kind, mat in (("shell", as_petsc_mat(op)), ("aij", as_petsc_mat(op.to_sparse()))):
    b, x = mat.createVecs()
    lo, hi = b.getOwnershipRange()
    b.setArray(rhs[lo:hi])
    ksp = PETSc.KSP().create(comm=comm)
    ksp.setOperators(mat)
    ksp.setType("cg")
    ksp.getPC().setType("jacobi")
    ksp.setTolerances(rtol=1e-12, max_it=500)
    ksp.solve(b, x)
    scatter, x0 = PETSc.Scatter.toZero(x)
    scatter.scatter(x, x0, PETSc.InsertMode.INSERT, PETSc.ScatterMode.FORWARD)
    if comm.getRank() == 0:
        err = np.linalg.norm(x0.getArray() - ref) / np.linalg.norm(ref)
        print(
            f"{kind} size={comm.getSize()} its={ksp.getIterationNumber()} "
            f"reason={ksp.getConvergedReason()} relerr={err:.3e}",
            flush=True,
        )
