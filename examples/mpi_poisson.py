"""A pressure-Poisson problem on a distributed PETSc DMDA, solved by classical PETSc solvers.

Run with ``mpiexec -n 4 python examples/mpi_poisson.py`` (any rank count, 1 included).

Every rank regenerates the seeded geometry (the int8 labels only), then assembles its own
rows of the matrix, its block of the divergence right-hand side and of the null-space vectors
(``pde.dmda_poisson``); no rank holds the whole matrix. CG with no preconditioner, Jacobi,
block-Jacobi/ICC(0) (one block per rank) and GAMG solve to ``--rtol``. Rank 0 prints one table
and, with ``--check`` (default on for grids up to 300k cells), gathers each solution and
compares it with a serial sparse direct solve of the same problem: the distributed solutions
agree with it to about ``rtol`` times the condition number, whatever the rank count.
"""

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402

from pde import FLUID, PoissonProblem, dmda_poisson, make_geometry  # noqa: E402
from solvers.compare import DISTRIBUTED_CG, distributed_row  # noqa: E402
from solvers.petsc import ksp_solve, max_over_ranks, petsc_module  # noqa: E402


def serial_solution(prob: PoissonProblem, b: np.ndarray) -> np.ndarray:
    """Direct solve of the serial problem; one pinned cell per Neumann component, projected."""
    keep = np.ones(prob.n, dtype=bool)
    for v in prob.null_space():
        keep[np.flatnonzero(v)[0]] = False
    x = np.zeros(prob.n)
    x[keep] = spla.spsolve(prob.matrix.tocsr()[keep][:, keep].tocsc(), b[keep])
    return prob.project(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--geometry", choices=("box", "obstacles", "plume"), default="obstacles")
    parser.add_argument("--dim", type=int, choices=(2, 3), default=2)
    parser.add_argument("--n", type=int, default=128, help="cells per axis")
    parser.add_argument("--exterior", choices=("air", "solid"), default="solid")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rtol", type=float, default=1e-13)
    parser.add_argument("--check", action=argparse.BooleanOptionalAction, default=None)
    args = parser.parse_args()

    PETSc = petsc_module()
    comm = PETSc.COMM_WORLD
    rank0 = comm.getRank() == 0
    labels = make_geometry(args.geometry, args.n, args.dim, seed=args.seed)
    system = dmda_poisson(labels, exterior=args.exterior)
    assembly = max_over_ranks(comm, system.assembly_s)
    b = system.rhs_divergence(args.seed)
    check = args.check if args.check is not None else labels.size <= 300_000
    fluid = labels.ravel() == FLUID
    b_nat = system.gather_natural(b) if check else None
    if rank0 and check:
        prob = PoissonProblem(labels, exterior=args.exterior)
        xref = serial_solution(prob, b_nat.ravel()[fluid])
    rows = []
    for method, options in DISTRIBUTED_CG.items():
        x, info = ksp_solve(system.mat, b, options=options, rtol=args.rtol)
        row = distributed_row(method, info, b.norm())
        x_nat = system.gather_natural(x) if check else None
        if rank0 and check:
            xs = prob.project(x_nat.ravel()[fluid])
            row["relerr"] = float(np.linalg.norm(xs - xref) / np.linalg.norm(xref))
        rows.append(row)
        x.destroy()
    if rank0:
        procs = "x".join(str(p) for p in system.da.getProcSizes())
        print(
            f"{args.geometry} {args.dim}D n={args.n}: {int(fluid.sum())} unknowns, "
            f"exterior {args.exterior}{', singular' if system.nullspace is not None else ''}; "
            f"{comm.getSize()} ranks as a {procs} DMDA; assembly {assembly:.3f} s"
        )
        head = f"{'solver':<7} {'its':>6} {'setup [s]':>10} {'solve [s]':>10} {'relres':>10}"
        print(f"{head} {'|x-x_direct|/|x_direct|':>24}")
        for r in rows:
            err = f"{r['relerr']:.2e}" if "relerr" in r else "-"
            print(
                f"{r['solver']:<7} {r['iterations']:>6d} {r['setup_s']:>10.4f} "
                f"{r['solve_s']:>10.4f} {r['true_relres']:>10.2e} {err:>24}"
            )


if __name__ == "__main__":
    main()
