"""``sciconv poisson``: classical solvers and DCDM on a pressure-Poisson problem, side by side.

The arguments and the dispatch live here: the serial path (:mod:`.serial`, a
:class:`pde.PoissonProblem` in NumPy/SciPy, PETSc on one process) or, with ``--dmda`` or under
``mpiexec`` with more than one rank, the distributed one (:mod:`.mpi`, a PETSc DMDA). The two
paths share no code but the library's (:mod:`solvers.compare`, :func:`solvers.petsc.ksp_solve`).

PETSc options (``PETSC_OPTIONS`` and ``--petsc-options``) reach the PETSc solves under the
prefixes of :data:`solvers.petsc.options.SOLVER_PREFIXES`, un-prefixed KSP/PC options every one
of them (:func:`solvers.petsc.options.fan_out`); see :data:`PETSC_HELP`.
"""

from __future__ import annotations

import argparse
import os
import sys

from .._common import refuse
from .mpi import launched_ranks
from .mpi import run as run_mpi
from .serial import SERIAL_DEFAULT
from .serial import run as run_serial

HELP = "solve a 2D/3D pressure-Poisson problem with CG, ICC, GAMG, PyAMG and DCDM and compare"

#: What ``sciconv poisson --help`` says of PETSc options (its epilog).
PETSC_HELP = """\
PETSc options (PETSC_OPTIONS="..." or --petsc-options "...", the latter winning; a lone
option needs "=", as in --petsc-options=-help):
  un-prefixed KSP/PC options (-ksp_monitor, -ksp_view, -ksp_converged_reason, -ksp_rtol,
  -pc_gamg_threshold, ...) reach every PETSc solve of the run; a prefix addresses one:
    -cg_      petsc-cg (cg with --dmda/mpiexec)     -jacobi_  jacobi
    -icc_     icc                                   -gamg_    gamg
    -dcdm_    dcdm with --dmda/mpiexec: the DCDM KSP (-dcdm_ksp_dcdm_directions ...) and its
              NetworkPC (-dcdm_pc_network_map ..., -dcdm_pc_network_normalize ...)
  -ksp_type/-pc_type never fan out (each row stays the solver it names): give them a prefix,
  e.g. -icc_pc_type ilu. Options override the command's arguments (-ksp_rtol beats --rtol for
  PETSc solves). -log_view and -help work as in any PETSc program. The NumPy solvers (cg,
  pyamg, and dcdm without --dmda) read no PETSc option. An option no solve read is named by
  PETSc's "unused database option" warning at exit.
"""

__all__ = ["HELP", "add_arguments", "check_args", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dim", type=int, choices=(2, 3), default=2, help="spatial dimension")
    parser.add_argument("--n", type=int, default=64, help="cells per axis")
    parser.add_argument(
        "--geometry", choices=("box", "obstacles", "plume"), default="obstacles", help="domain"
    )
    parser.add_argument("--seed", type=int, default=0, help="geometry and right-hand-side seed")
    parser.add_argument(
        "--exterior",
        choices=("air", "solid"),
        default=None,
        help="outside the grid: air (Dirichlet) or solid walls (Neumann); default per geometry",
    )
    parser.add_argument(
        "--rhs", choices=("divergence", "random"), default="divergence", help="right-hand side"
    )
    parser.add_argument(
        "--solvers",
        default=None,
        help=f"comma-separated: cg, petsc-cg, jacobi, icc, gamg, pyamg, dcdm (default "
        f"{SERIAL_DEFAULT}; with --dmda/under mpiexec: cg, jacobi, icc, gamg, all PETSc)",
    )
    parser.add_argument(
        "--dmda",
        action="store_true",
        help="assemble on a distributed PETSc DMDA, each rank its own rows, and solve with "
        "PETSc (automatic under mpiexec with more than one rank; only rank 0 prints)",
    )
    parser.add_argument("--rtol", type=float, default=1e-6, help="relative tolerance")
    parser.add_argument("--maxiter", type=int, default=None, help="iteration limit")
    parser.add_argument(
        "--dcdm-map",
        default="coarse",
        help="DCDM's map (default coarse; learned is up to 12%% faster at 2D >= 512^2 (a tie at "
        "plume 1024^2) and 3D 64^3, slower at obstacles 256^2 and 3D 128^3: "
        "benchmarks/RESULTS.md): "
        "identity, jacobi:K, pyamg:K, exact, coarse[:B] (two-level cycle), smoothed[:B] (with "
        "a smoothed prolongator), learned[:NAME] (prolongator predicted by the shipped "
        "stencil{2,3}d network), network:NAME or network+coarse[:NAME[:B]] (a network inside "
        "every iteration, e.g. poisson2d-coarse)",
    )
    parser.add_argument("--dcdm-directions", type=int, default=2, help="DCDM's k")
    parser.add_argument(
        "--dcdm-strategy",
        choices=("gather", "halo"),
        default="gather",
        help="under MPI: apply the map on rank 0 (gather) or per rank on a halo-grown box (halo, "
        "networks only)",
    )
    parser.add_argument(
        "--dcdm-halo", type=int, default=32, help="halo width in cells of --dcdm-strategy halo"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="BLAS/OpenMP threads for the NumPy solvers"
    )
    parser.add_argument(
        "--device",
        default=None,
        help="run DCDM on this torch device (cpu, cuda, cuda:1, ...) with the two-level map "
        "moved there (--dcdm-map coarse, smoothed or learned); serial path only",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.add_argument("--plot", default=None, help="save a convergence plot to this path")
    parser.add_argument(
        "--petsc-options",
        default="",
        metavar='"-OPT [VALUE] ..."',
        help="PETSc options for the PETSc solves, one string split like a shell line (see below)",
    )
    parser.epilog = PETSC_HELP
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def check_args(args: argparse.Namespace) -> None:
    """Refuse bad values before any work: ``ValueError``/``TypeError`` naming the option.

    Pure and deterministic (no MPI, no allocation), so under ``mpiexec`` every rank refuses
    the same values at once: ``--rtol`` and ``--maxiter`` as every solver checks them
    (:func:`solvers.info.check_tolerances`; PETSc would read ``-1`` as its default), ``--n``
    and ``--dim`` against :data:`pde.geometry.MAX_CELLS`, ``--dcdm-map`` by its syntax.
    """
    from pde.geometry import MAX_CELLS
    from sciconv.validation import check_positive_int
    from solvers.info import check_tolerances
    from solvers.maps import check_spec
    from solvers.petsc.options import split_options

    check_tolerances(args.rtol, 0.0, args.maxiter)
    n = check_positive_int("--n", args.n, 2)
    cells = n**args.dim
    if cells > MAX_CELLS:
        raise ValueError(
            f"--n {n} with --dim {args.dim} gives {cells:.3g} cells, more than "
            f"pde.geometry.MAX_CELLS = 2**30 (the labels alone would take "
            f"{cells / 2**30:.3g} GiB)"
        )
    check_positive_int("--dcdm-directions", args.dcdm_directions)
    check_positive_int("--dcdm-halo", args.dcdm_halo, 0)
    check_positive_int("--threads", args.threads)
    check_spec(args.dcdm_map, "--dcdm-map")
    split_options(getattr(args, "petsc_options", "") or "", "--petsc-options")
    if getattr(args, "device", None) is not None:
        import torch

        try:
            dev = torch.device(args.device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"--device {args.device!r} is not a torch device: {err}") from err
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"--device {args.device!r}: torch sees no CUDA device here")
        if args.dcdm_map.partition(":")[0] not in ("coarse", "smoothed", "learned"):
            raise ValueError(
                f"--device runs DCDM with a two-level map: --dcdm-map must be coarse, smoothed "
                f"or learned, got {args.dcdm_map!r}"
            )


def run(args: argparse.Namespace) -> int:
    """The distributed path with ``--dmda`` or more than one launched rank, else the serial."""
    try:
        check_args(args)
    except (ValueError, TypeError) as err:
        return refuse("poisson", err)
    distributed = getattr(args, "dmda", False) or launched_ranks() > 1
    if distributed and args.device is not None:
        return refuse("poisson", ValueError("--device is for the serial path only"))
    words = (getattr(args, "petsc_options", "") or "").strip()
    if words:
        from solvers.petsc.options import init_petsc, split_options

        init_petsc(split_options(words))  # before PETSc loads: -log_view, -help act at init
    try:
        return run_mpi(args) if distributed else run_serial(args)
    except Exception as err:
        # a plug-in refused a PETSc option: a PETSc.Error chained to the plug-in's ValueError
        petsc = sys.modules.get("petsc4py.PETSc")
        cause = err.__cause__
        if petsc is None or not isinstance(err, petsc.Error):
            raise
        if isinstance(cause, (ValueError, TypeError)):
            return refuse("poisson", cause)
        given = " ".join(filter(None, [os.environ.get("PETSC_OPTIONS", "").strip(), words]))
        if not given:
            raise
        # PETSc itself refused a value (e.g. -ksp_rtol abc); its handler printed why above
        return refuse(
            "poisson",
            f"PETSc stopped with error code {getattr(err, 'ierr', '?')} while reading the "
            f"options {given!r} (--petsc-options / PETSC_OPTIONS); PETSc's message is above",
        )
