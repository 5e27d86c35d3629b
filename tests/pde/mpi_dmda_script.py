"""Run under ``mpiexec -n N``: the distributed DMDA Poisson system against the serial problem.

For 2D and 3D cases (singular closed boxes with obstacles, a plume under open air), every
rank assembles its own rows; rank 0 gathers the matrix (mapped to natural order through the
DMDA's AO) and the null-space vectors and compares them with the serial ones, compares both
right-hand sides with the serial ones, and compares
each classical solver's solution (rtol 1e-13) with a serial sparse direct solve. One line per
check is printed by rank 0: ``<check> <case> size=N key=value ...``.
"""

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from pde import FLUID, dmda_poisson, poisson_problem
from solvers.compare import DISTRIBUTED_CG, distributed_row
from solvers.petsc import ksp_solve, petsc_module

PETSc = petsc_module()
comm = PETSc.COMM_WORLD
mpi = comm.tompi4py()
rank0 = comm.getRank() == 0


def gathered_matrix(system):
    """The distributed matrix in natural order, on rank 0 (scipy CSR)."""
    ao = system.da.getAO()
    indptr, indices, data = system.mat.getValuesCSR()
    lo, hi = system.mat.getOwnershipRange()
    rows = np.repeat(np.arange(lo, hi), np.diff(indptr)).astype(PETSc.IntType)
    rows = np.asarray(ao.petsc2app(rows))
    cols = np.asarray(ao.petsc2app(np.asarray(indices, dtype=PETSc.IntType)))
    parts = mpi.gather((rows, cols, np.asarray(data)), root=0)
    if not rank0:
        return None
    r, c, v = (np.concatenate(p) for p in zip(*parts))
    size = int(np.prod(system.shape))
    return sp.csr_matrix((v, (r, c)), shape=(size, size))


def reference(prob, b):
    """Serial direct solution; one cell pinned per Neumann component, then projected."""
    A = prob.matrix.tocsr()
    keep = np.ones(prob.n, dtype=bool)
    for v in prob.null_space():
        keep[np.flatnonzero(v)[0]] = False
    x = np.zeros(prob.n)
    x[keep] = spla.spsolve(A[keep][:, keep].tocsc(), b[keep])
    return prob.project(x)


for case, geometry, shape, exterior in (
    ("2d", "obstacles", (32, 28), "solid"),
    ("3d", "obstacles", (11, 10, 9), "solid"),
    ("3d-plume", "plume", (10, 9, 11), "solid"),  # open top: not singular
):
    prob = poisson_problem(geometry, shape, seed=3, exterior=exterior)
    system = dmda_poisson(prob.labels, exterior=exterior, comm=comm)
    full = gathered_matrix(system)
    fluid = prob.labels.ravel() == FLUID
    vecs = [] if system.nullspace is None else system.nullspace.getVecs()
    nulls = [system.gather_natural(v) for v in vecs]
    b = system.rhs_divergence(5)
    br = system.rhs_random(5)
    b_nat, br_nat = system.gather_natural(b), system.gather_natural(br)
    sols = {}
    for method, options in DISTRIBUTED_CG.items():
        x, info = ksp_solve(system.mat, b, options=options, rtol=1e-13)
        row = distributed_row(method, info, b.norm())
        sols[method] = (system.gather_natural(x), row)
    if rank0:
        size = comm.getSize()
        mat_err = abs(full - prob.grid_matrix()).max()
        ref_null = prob.null_space()
        null_err = max(
            (abs(g.ravel()[fluid] - r).max() for g, r in zip(nulls, ref_null)), default=0
        )
        print(
            f"matrix {case} size={size} maxdiff={mat_err:.3e} null={len(nulls)} "
            f"ref_null={len(ref_null)} nulldiff={null_err:.3e}"
        )
        ref_b, ref_br = prob.rhs_divergence(5), prob.rhs_random(5)
        errs = [
            np.linalg.norm(got.ravel()[fluid] - ref) / np.linalg.norm(ref)
            for got, ref in ((b_nat, ref_b), (br_nat, ref_br))
        ]
        off = max(
            abs(b_nat.ravel()[~fluid]).max(initial=0), abs(br_nat.ravel()[~fluid]).max(initial=0)
        )
        print(f"rhs {case} size={size} div={errs[0]:.3e} random={errs[1]:.3e} off={off:.1e}")
        xref = reference(prob, ref_b)
        for method, (xg, row) in sols.items():
            err = np.linalg.norm(prob.project(xg.ravel()[fluid]) - xref) / np.linalg.norm(xref)
            print(
                f"solve {case}-{method} size={size} its={row['iterations']} "
                f"converged={int(row['converged'])} relerr={err:.3e}",
                flush=True,
            )
