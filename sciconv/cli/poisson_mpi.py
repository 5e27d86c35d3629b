"""The distributed path of ``sciconv poisson``: classical PETSc solvers on a DMDA under MPI.

``mpiexec -n N sciconv poisson ...`` (N > 1) takes this path automatically, ``--dmda`` takes it
on one rank. Every rank regenerates the seeded geometry, assembles its own rows
(:func:`pde.dmda_poisson`) and runs PETSc CG with the chosen preconditioner, or the DCDM KSP
with ``NetworkPC`` (``dcdm``: the ``--dcdm-map`` map, gathered to rank 0 or applied per rank with
a halo, ``--dcdm-strategy``); only rank 0 prints. PyAMG is serial and refused here.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

#: Solver name -> PETSc options of a CG solve on the distributed matrix.
MPI_METHODS: dict[str, dict[str, str]] = {
    "cg": {"pc_type": "none"},
    "jacobi": {"pc_type": "jacobi"},
    "icc": {"pc_type": "bjacobi", "sub_pc_type": "icc"},
    "gamg": {"pc_type": "gamg"},
    "dcdm": {
        "ksp_type": "python",
        "ksp_python_type": "solvers.petsc.DCDM",
        "pc_type": "python",
        "pc_python_type": "solvers.petsc.NetworkPC",
    },
}
#: The classical (preconditioned CG) entries of :data:`MPI_METHODS`.
CLASSICAL = ("cg", "jacobi", "icc", "gamg")
#: Accepted spellings of the serial CLI.
MPI_ALIASES = {"petsc-cg": "cg", "jacobi-cg": "jacobi", "icc-cg": "icc", "gamg-cg": "gamg"}
#: Solvers of the serial CLI that run in NumPy on one process.
SERIAL_ONLY = ("pyamg", "pyamg-sa")
#: The solvers run when ``--solvers`` is not given.
DEFAULT = "cg,jacobi,icc,gamg"


def launched_ranks() -> int:
    """The world size an MPI launcher announced in the environment (1 if none).

    Read from ``PMI_SIZE`` (MPICH/Hydra, Intel MPI), ``OMPI_COMM_WORLD_SIZE`` (Open MPI) or
    ``MV2_COMM_WORLD_SIZE`` (MVAPICH), so that the serial CLI need not import MPI to know.
    """
    for key in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        value = os.environ.get(key, "")
        if value.isdigit():
            return int(value)
    return 1


def method_names(spec: str | None) -> list[str]:
    """Canonical names of a comma-separated ``--solvers`` value; ValueError names the bad ones."""
    names = [s.strip() for s in (spec or DEFAULT).split(",") if s.strip()]
    serial = [s for s in names if s in SERIAL_ONLY]
    if serial:
        raise ValueError(
            f"solvers {serial} are serial NumPy solvers and do not run on a distributed DMDA; "
            f"under MPI choose from {sorted(MPI_METHODS)} (or run them without mpiexec)"
        )
    canon = [MPI_ALIASES.get(s, s) for s in names]
    bad = [s for s in canon if s not in MPI_METHODS]
    if bad:
        raise ValueError(f"solvers {bad} unknown; expected some of {sorted(MPI_METHODS)}")
    return canon


def solve_dmda(
    system: Any,
    b: Any,
    method: str,
    *,
    rtol: float = 1e-6,
    atol: float = 0.0,
    maxiter: int | None = None,
    extra: dict[str, Any] | None = None,
    grid: tuple[Any, int] | None = None,
) -> tuple[Any, dict[str, Any]]:
    r"""PETSc CG with ``MPI_METHODS[method]`` on ``system.mat x = b`` (collective).

    ``extra`` adds PETSc options under the solve's prefix; ``grid`` = (labels, exterior code)
    is handed to the ``NetworkPC`` of ``dcdm`` (``set_grid``), which a network map needs.

    The norm is the unpreconditioned :math:`\|b - Ax\|_2`, as in the serial baselines.
    ``icc`` is block Jacobi with one ICC(0) block per rank (PETSc's ICC itself is serial),
    so it is ICC(0) on one rank and weakens as the ranks grow. Returns the solution vector
    and a row: ``solver``, ``ranks``, ``iterations``, ``setup_s``, ``solve_s`` and
    ``time_s`` (maxima over ranks), ``true_relres`` (recomputed), ``reason``, ``converged``
    and ``residuals`` (relative, per iteration).
    """
    from solvers.petsc import petsc_module

    PETSc = petsc_module()
    if method not in MPI_METHODS:
        raise ValueError(f"method must be one of {sorted(MPI_METHODS)}, got {method!r}")
    mat, comm = system.mat, system.mat.getComm()
    prefix = f"sciconvmpi{id(b)}_"
    opts = PETSc.Options()
    options = {**MPI_METHODS[method], **(extra or {})}
    for key, val in options.items():
        opts[prefix + key] = val
    ksp = PETSc.KSP().create(comm=comm)
    ksp.setOptionsPrefix(prefix)
    ksp.setOperators(mat)
    ksp.setType("cg")
    ksp.setNormType(PETSc.KSP.NormType.UNPRECONDITIONED)
    ksp.setTolerances(rtol=rtol, atol=atol, max_it=maxiter or 10 * mat.getSize()[0])
    hist: list[float] = []
    ksp.setMonitor(lambda _k, _its, rnorm: hist.append(float(rnorm)))
    ksp.setFromOptions()
    if method == "dcdm" and grid is not None:
        ksp.getPC().getPythonContext().set_grid(grid[0], grid[1], da=system.da)
    x = mat.createVecRight()
    mpi = comm.tompi4py()
    mpi.Barrier()
    t0 = time.perf_counter()
    ksp.setUp()
    ksp.getPC().setUpOnBlocks()  # block Jacobi factors its blocks here, not in setUp
    t1 = time.perf_counter()
    ksp.solve(b, x)
    t2 = time.perf_counter()
    r = b.duplicate()
    mat.mult(x, r)
    r.aypx(-1.0, b)
    bnorm = b.norm()
    reason = int(ksp.getConvergedReason())
    names = {int(v): k for k, v in vars(PETSc.KSP.ConvergedReason).items() if k.isupper()}
    row = {
        "solver": method,
        "ranks": comm.getSize(),
        "iterations": int(ksp.getIterationNumber()),
        "setup_s": mpi.allreduce(t1 - t0, op=_max()),
        "solve_s": mpi.allreduce(t2 - t1, op=_max()),
        "true_relres": r.norm() / bnorm if bnorm else 0.0,
        "reason": names.get(reason, str(reason)),
        "converged": reason > 0,
        "residuals": [h / bnorm for h in hist] if bnorm else hist,
    }
    row["time_s"] = row["setup_s"] + row["solve_s"]
    for obj in (ksp, r):
        obj.destroy()
    for key in options:
        opts.delValue(prefix + key)
    return x, row


def _max() -> Any:
    from mpi4py import MPI

    return MPI.MAX


def table(rows: list[dict[str, Any]]) -> list[str]:
    """The rows as aligned text lines."""
    w = max([8] + [len(r["solver"]) for r in rows])
    head = f"{'solver':<{w}} {'ranks':>5} {'its':>6} {'setup [s]':>10} {'solve [s]':>10}"
    lines = [f"{head} {'true relres':>12}  reason"]
    for r in rows:
        lines.append(
            f"{r['solver']:<{w}} {r['ranks']:>5d} {r['iterations']:>6d} {r['setup_s']:>10.4f} "
            f"{r['solve_s']:>10.4f} {r['true_relres']:>12.3e}  {r['reason']}"
        )
    return lines


def run_dmda(args: argparse.Namespace) -> int:
    """``sciconv poisson`` on a distributed DMDA (see the module docstring)."""
    from pde import AIR, FLUID, SOLID, dmda_poisson, make_geometry
    from solvers.petsc import petsc_module

    PETSc = petsc_module()
    comm = PETSc.COMM_WORLD
    rank0 = comm.getRank() == 0
    try:
        names = method_names(args.solvers)
    except ValueError as err:
        if rank0:
            print(f"sciconv poisson: {err}", flush=True)
        return 2
    exterior = args.exterior or ("solid" if args.geometry == "plume" else "air")
    labels = make_geometry(args.geometry, args.n, args.dim, seed=args.seed)
    system = dmda_poisson(labels, exterior=exterior)
    mpi = comm.tompi4py()
    assembly = mpi.allreduce(system.assembly_s, op=_max())
    b = (
        system.rhs_divergence(args.seed)
        if args.rhs == "divergence"
        else system.rhs_random(args.seed)
    )
    spec = args.dcdm_map
    dcdm_opts = {
        "ksp_dcdm_directions": args.dcdm_directions,
        "pc_network_map": spec,
        "pc_network_strategy": args.dcdm_strategy,
        "pc_network_halo": args.dcdm_halo,
    }
    grid = (labels, {"air": AIR, "solid": SOLID}[exterior])
    rows = []
    for name in names:
        extra = dcdm_opts if name == "dcdm" else None
        x, row = solve_dmda(
            system, b, name, rtol=args.rtol, maxiter=args.maxiter, extra=extra, grid=grid
        )
        if name == "dcdm":
            row["solver"] = f"dcdm[{spec},{args.dcdm_strategy}]"
        x.destroy()
        rows.append(row)
    nfluid = int((labels == FLUID).sum())
    procs = system.da.getProcSizes()
    nnz = system.mat.getInfo()["nz_used"]  # collective; identity rows included
    b.destroy()
    system.destroy()
    title = (
        f"{args.geometry} {args.dim}D n={args.n} ({nfluid} unknowns on a "
        f"{'x'.join(str(p) for p in procs)} DMDA of {comm.getSize()} ranks, exterior {exterior}"
        f"{', singular' if system.nullspace is not None else ''}), rtol {args.rtol:g}"
    )
    if rank0:
        if args.plot:
            from .poisson import plot

            plot(rows, args.plot, title)
        if args.json:
            out = {
                "problem": title,
                "ranks": comm.getSize(),
                "assembly_s": assembly,
                "rtol": args.rtol,
                "results": rows,
            }
            print(json.dumps(out, indent=2), flush=True)
        else:
            print(title)
            print(f"assembly {assembly:.3f} s (max over ranks), nnz {nnz:.0f}")
            print("\n".join(table(rows)), flush=True)
    return 0 if all(r["converged"] for r in rows) else 1
