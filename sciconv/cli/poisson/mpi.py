"""The distributed path of ``sciconv poisson``: classical PETSc solvers on a DMDA under MPI.

``mpiexec -n N sciconv poisson ...`` (N > 1) takes this path automatically, ``--dmda`` takes it
on one rank. Every rank regenerates the seeded geometry, assembles its own rows
(:func:`pde.dmda_poisson`) and runs PETSc CG with the chosen preconditioner
(:data:`solvers.compare.DISTRIBUTED_CG`), or the DCDM KSP with the map PC (``dcdm``: the
``--dcdm-map`` map, gathered to rank 0 or applied per rank with a halo, ``--dcdm-strategy``),
each through :func:`solvers.petsc.ksp_solve` under its options prefix
(:data:`solvers.petsc.options.SOLVER_PREFIXES`: ``-cg_``, ``-jacobi_``, ``-icc_``, ``-gamg_``,
``-dcdm_``; un-prefixed KSP/PC options reach every solve); only rank 0 prints. PyAMG is serial
and refused here.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from .._common import dumps

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
    """Canonical names of a comma-separated ``--solvers`` value; ValueError names the bad ones.

    The names are those of :data:`solvers.compare.DISTRIBUTED_CG` and ``dcdm``.
    """
    from solvers.compare import DISTRIBUTED_CG

    methods = (*DISTRIBUTED_CG, "dcdm")
    names = [s.strip() for s in (spec or DEFAULT).split(",") if s.strip()]
    serial = [s for s in names if s in SERIAL_ONLY]
    if serial:
        raise ValueError(
            f"solvers {serial} are serial NumPy solvers and do not run on a distributed DMDA; "
            f"under MPI choose from {sorted(methods)} (or run them without mpiexec)"
        )
    canon = [MPI_ALIASES.get(s, s) for s in names]
    bad = [s for s in canon if s not in methods]
    if bad:
        raise ValueError(f"solvers {bad} unknown; expected some of {sorted(methods)}")
    return canon


def run(args: argparse.Namespace) -> int:
    """``sciconv poisson`` on a distributed DMDA (see the module docstring)."""
    from pde import FLUID, dmda_poisson, make_geometry
    from solvers.compare import DISTRIBUTED_CG, distributed_row, distributed_table, plot
    from solvers.petsc import DCDM, MapPC, ksp_solve, max_over_ranks, petsc_module
    from solvers.petsc.options import SOLVER_PREFIXES, fan_out

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
    assembly = max_over_ranks(comm, system.assembly_s)
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
    bnorm = b.norm()
    rows = []
    with fan_out([SOLVER_PREFIXES[name] for name in names]):
        for name in names:
            kw: dict[str, Any] = {"options": DISTRIBUTED_CG.get(name)}
            pc = None
            if name == "dcdm":
                pc = MapPC()
                pc.set_grid(labels, exterior, da=system.da)
                kw = {"ksp_type": DCDM(), "pc_type": pc, "options": dcdm_opts}
            x, info = ksp_solve(
                system.mat,
                b,
                rtol=args.rtol,
                maxiter=args.maxiter,
                prefix=SOLVER_PREFIXES[name],
                **kw,
            )
            x.destroy()
            label = name if pc is None else f"dcdm[{pc.spec},{pc.strategy}]"  # as PETSc set it
            rows.append(distributed_row(label, info, bnorm))
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
            plot(rows, args.plot, title)
        if args.json:
            out = {
                "problem": title,
                "ranks": comm.getSize(),
                "assembly_s": assembly,
                "rtol": args.rtol,
                "results": rows,
            }
            print(dumps(out, indent=2), flush=True)
        else:
            print(title)
            print(f"assembly {assembly:.3f} s (max over ranks), nnz {nnz:.0f}")
            print("\n".join(distributed_table(rows)), flush=True)
    return 0 if all(r["converged"] for r in rows) else 1
