"""``sciconv poisson``: classical solvers and DCDM on a pressure-Poisson problem, side by side."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

HELP = "solve a 2D/3D pressure-Poisson problem with CG, ICC, GAMG, PyAMG and DCDM and compare"

#: The solvers of the serial path when ``--solvers`` is not given.
SERIAL_DEFAULT = "cg,icc,gamg,pyamg,dcdm"

PETSC_METHODS = ("petsc-cg", "jacobi-cg", "icc-cg", "gamg-cg")


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
        default="pyamg",
        help="DCDM's map: identity, jacobi:K, pyamg:K, exact, coarse[:B] (two-level cycle), "
        "network:NAME or network+coarse[:NAME[:B]] (a shipped network, e.g. poisson2d-coarse)",
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
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.add_argument("--plot", default=None, help="save a convergence plot to this path")


def compare(
    problem: Any,
    names: list[str],
    b: Any,
    *,
    rtol: float = 1e-6,
    maxiter: int | None = None,
    dcdm_map: str = "pyamg",
    directions: int = 2,
    threads: int | None = 1,
) -> list[dict[str, Any]]:
    """Run each solver of ``names`` on ``problem.matrix x = b``; one result row per solver.

    Rows hold ``solver``, ``iterations``, ``time_s`` (setup + solve), ``setup_s``,
    ``true_relres`` (:math:`\\|b-Ax\\|/\\|b\\|` recomputed here), ``reason``, ``converged``
    and ``residuals`` (relative, per iteration). ``threads`` caps the BLAS/OpenMP threads
    (via threadpoolctl, when installed) so that NumPy's vector operations run serially like
    the serial PETSc baselines; threaded BLAS on small vectors of a loaded machine is up to
    10x slower. ``None`` leaves the thread pools alone.
    """
    if threads is not None:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - threadpoolctl is optional (bench extra)
            pass
        else:
            with threadpool_limits(limits=threads):
                return compare(
                    problem,
                    names,
                    b,
                    rtol=rtol,
                    maxiter=maxiter,
                    dcdm_map=dcdm_map,
                    directions=directions,
                    threads=None,
                )
    import numpy as np

    from solvers import ALIASES, make_map, solve

    A = problem.matrix
    null = problem.null_space() if problem.is_singular else None
    bnorm = float(np.linalg.norm(b))
    rows = []
    for raw in names:
        name = ALIASES.get(raw, raw)
        kw: dict[str, Any] = {"rtol": rtol, "maxiter": maxiter}
        setup = 0.0
        if name == "dcdm":
            t0 = time.perf_counter()
            from pde import AIR, SOLID

            ext = AIR if problem.exterior == "air" else SOLID
            fmap = make_map(dcdm_map, A, labels=problem.labels, exterior=ext)
            kw.update(M=fmap, directions=directions, nullspace=null)
            setup = time.perf_counter() - t0
        elif name in PETSC_METHODS:
            kw["nullspace"] = null
        x, info = solve(A, b, method=name, **kw)
        setup = setup or float(info.extra.get("setup_s", 0.0))
        label = f"dcdm[{dcdm_map},k={directions}]" if name == "dcdm" else name
        rows.append(
            {
                "solver": label,
                "iterations": info.iterations,
                "time_s": info.extra["time_s"] + (setup if name == "dcdm" else 0.0),
                "setup_s": setup,
                "true_relres": float(np.linalg.norm(b - A @ x)) / bnorm,
                "reason": info.reason,
                "converged": info.converged,
                "message": info.message,
                "residuals": [float(r) / bnorm for r in info.residuals],
            }
        )
    return rows


def table(rows: list[dict[str, Any]]) -> list[str]:
    """The rows as aligned text lines."""
    lines = [
        f"{'solver':<30} {'its':>6} {'time [s]':>10} {'setup [s]':>10} {'true relres':>12}  reason"
    ]
    for r in rows:
        lines.append(
            f"{r['solver']:<30} {r['iterations']:>6d} {r['time_s']:>10.4f} {r['setup_s']:>10.4f} "
            f"{r['true_relres']:>12.3e}  {r['reason']}"
        )
    return lines


def plot(rows: list[dict[str, Any]], path: str, title: str) -> None:
    """Relative residual against iteration, one line per solver (Agg backend)."""
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for r in rows:
        if r["residuals"]:
            ax.semilogy(r["residuals"], label=f"{r['solver']} ({r['iterations']})")
    ax.set_xlabel("iteration")
    ax.set_ylabel(r"$\|r_k\| / \|b\|$")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    from .poisson_mpi import launched_ranks, run_dmda

    if getattr(args, "dmda", False) or launched_ranks() > 1:
        return run_dmda(args)
    from pde import poisson_problem

    names = [s.strip() for s in (args.solvers or SERIAL_DEFAULT).split(",") if s.strip()]
    t0 = time.perf_counter()
    prob = poisson_problem(args.geometry, args.n, args.dim, seed=args.seed, exterior=args.exterior)
    build = time.perf_counter() - t0
    b = prob.rhs_divergence(args.seed) if args.rhs == "divergence" else prob.rhs_random(args.seed)
    rows = compare(
        prob,
        names,
        b,
        rtol=args.rtol,
        maxiter=args.maxiter,
        dcdm_map=args.dcdm_map,
        directions=args.dcdm_directions,
        threads=args.threads,
    )
    title = (
        f"{args.geometry} {args.dim}D n={args.n} ({prob.n} unknowns, exterior {prob.exterior}"
        f"{', singular' if prob.is_singular else ''}), rtol {args.rtol:g}"
    )
    if args.plot:
        plot(rows, args.plot, title)
    if args.json:
        out = {"problem": repr(prob), "assembly_s": build, "rtol": args.rtol, "results": rows}
        if args.plot:
            out["plot"] = args.plot
        print(json.dumps(out, indent=2))
    else:
        print(title)
        print(f"assembly {build:.3f} s, nnz {prob.matrix.nnz}")
        print("\n".join(table(rows)))
        if args.plot:
            print(f"convergence plot: {args.plot}")
    return 0 if all(r["converged"] for r in rows) else 1


def tour_lines() -> list[str]:
    """The ``sciconv tour`` section: a 32² obstacle problem through every solver and plug-in."""
    import numpy as np
    import scipy.sparse.linalg as spla

    from pde import dirichlet_box, poisson_problem

    box = dirichlet_box(12, 2)
    conv_err = abs(box.conv_operator().to_sparse() - box.matrix).max()
    prob = poisson_problem("obstacles", 32, 2, seed=0, exterior="solid")
    b = prob.rhs_divergence(0)
    lines = [
        f"Dirichlet box 12²: |ConvOperator - CSR|_max = {conv_err:.1e}",
        f"{prob!r}: null space rank {len(prob.null_space())}, right-hand side projected",
    ]
    rows = compare(prob, ["cg", "icc", "gamg", "pyamg", "dcdm"], b, rtol=1e-8)
    lines += table(rows)
    try:
        from solvers.krylov import petsc_solve
    except ImportError:  # pragma: no cover - petsc4py is installed by the bootstrap
        return lines
    ref = spla.lsqr(prob.matrix, b, atol=1e-14, btol=1e-14)[0]
    ref = prob.project(ref)
    opts = {
        "ksp_python_type": "solvers.petsc.DCDM",
        "pc_type": "python",
        "pc_python_type": "solvers.petsc.NetworkPC",
        "pc_network_map": "pyamg",
    }
    for label, ksp_type, extra in (
        ("KSP python DCDM + NetworkPC", "python", {}),
        (
            "KSP fcg mmax=2 standard + NetworkPC",
            "fcg",
            {"ksp_fcg_mmax": 2, "ksp_fcg_truncation_type": "standard"},
        ),
    ):
        x, info = petsc_solve(
            prob.petsc_aij(), b, rtol=1e-8, ksp_type=ksp_type, options={**opts, **extra}
        )
        err = np.linalg.norm(prob.project(x) - ref) / np.linalg.norm(ref)
        lines.append(
            f"{label:<36} its {info.iterations:>3d}, {info.extra['ksp_reason']}, "
            f"|x - lsqr| / |lsqr| = {err:.1e}"
        )
    return lines
