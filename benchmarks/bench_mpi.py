"""Distributed DMDA Poisson under MPI: agreement, strong and weak scaling over 1, 2, 4 ranks.

The script launches itself under ``mpiexec -n P`` (``--worker``) for each rank count and
configuration, collects one JSON line from rank 0 per run and prints three markdown tables:

* agreement: a moderate problem solved to rtol 1e-13 by CG, Jacobi-CG, block-Jacobi/ICC(0)-CG
  and GAMG-CG; the relative difference of the gathered solution to a serial sparse direct
  solve, and the iteration counts per rank count;
* strong scaling: a fixed grid (``--strong2``², ``--strong3``³), times (max over ranks) for
  the labels, the assembly (wall, labels to matrix), the CPU seconds of its two phases (the
  box-local rows; the whole-grid component labelling for the null space), the right-hand side,
  and per solver setup + solve and iterations;
* weak scaling: ``--weak2``² / ``--weak3``³ cells per rank (the grid grows along axis 0).

Caveat printed with the tables: on a 2-core machine, 4 ranks are oversubscribed, so the times
past 2 ranks show the overhead of sharing cores, not scaling; iterations and agreement are
what carries over to a cluster.

Run from the repository root: ``python benchmarks/bench_mpi.py [--quick] [--ranks 1 2 4]
[--kinds agreement strong weak]`` (defaults: about 15 minutes on the loaded 2-core machine,
almost all of it in the oversubscribed 4-rank runs). Results also go to ``out/bench_mpi.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCALING_METHODS = ("jacobi", "icc", "gamg")


def worker(args: argparse.Namespace) -> None:
    """One run under mpiexec: build, solve, print a JSON line on rank 0."""
    from pde import FLUID, PoissonProblem, dmda_poisson, make_geometry
    from solvers.compare import DISTRIBUTED_CG, distributed_row
    from solvers.petsc import ksp_solve, petsc_module

    PETSc = petsc_module()
    comm = PETSc.COMM_WORLD
    mpi = comm.tompi4py()
    from mpi4py import MPI

    shape = tuple(args.shape)
    mpi.Barrier()
    t0 = time.perf_counter()
    labels = make_geometry(args.geometry, shape, seed=0)
    t_labels = mpi.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    system = dmda_poisson(labels, exterior=args.exterior)
    t_asm = mpi.allreduce(system.assembly_s, op=MPI.MAX)
    phases = {k: mpi.allreduce(v, op=MPI.MAX) for k, v in system.timings.items()}
    mpi.Barrier()
    t0 = time.perf_counter()
    b = system.rhs_divergence(0)
    t_rhs = mpi.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    fluid = labels.ravel() == FLUID
    out = {
        "ranks": comm.getSize(),
        "shape": list(shape),
        "procs": list(system.da.getProcSizes()),
        "unknowns": int(fluid.sum()),
        "labels_s": t_labels,
        "assembly_s": t_asm,
        "phases": phases,
        "rhs_s": t_rhs,
        "solvers": {},
    }
    if args.check:
        b_nat = system.gather_natural(b)
        if comm.getRank() == 0:
            prob = PoissonProblem(labels, exterior=args.exterior)
            keep = np.ones(prob.n, dtype=bool)
            for v in prob.null_space():
                keep[np.flatnonzero(v)[0]] = False
            import scipy.sparse.linalg as spla

            xref = np.zeros(prob.n)
            A = prob.matrix.tocsr()[keep][:, keep].tocsc()
            xref[keep] = spla.spsolve(A, b_nat.ravel()[fluid][keep])
            xref = prob.project(xref)
    for method in args.methods:
        x, info = ksp_solve(system.mat, b, options=DISTRIBUTED_CG[method], rtol=args.rtol)
        row = distributed_row(method, info, b.norm())
        res = {k: row[k] for k in ("iterations", "setup_s", "solve_s", "true_relres", "converged")}
        if args.check:
            xg = system.gather_natural(x)
            if comm.getRank() == 0:
                xs = prob.project(xg.ravel()[fluid])
                res["relerr"] = float(np.linalg.norm(xs - xref) / np.linalg.norm(xref))
        out["solvers"][method] = res
        x.destroy()
    if comm.getRank() == 0:
        print("RESULT " + json.dumps(out), flush=True)


def launch(
    ranks: int,
    shape: tuple[int, ...],
    methods,
    rtol: float,
    check: bool,
    geometry: str,
    exterior: str,
) -> dict:
    cmd = [
        "mpiexec",
        "-n",
        str(ranks),
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        "--shape",
        *map(str, shape),
        "--methods",
        *methods,
        "--rtol",
        str(rtol),
        "--geometry",
        geometry,
        "--exterior",
        exterior,
    ]
    if check:
        cmd.append("--check")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False, timeout=1800)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def agreement_table(runs: list[dict]) -> list[str]:
    methods = list(runs[0]["solvers"])
    head = "| ranks | DMDA | " + " | ".join(f"{m} its / rel. diff" for m in methods) + " |"
    lines = [head, "|" + "---|" * (2 + len(methods))]
    for r in runs:
        cells = [f"{s['iterations']} / {s['relerr']:.1e}" for s in r["solvers"].values()]
        lines.append(
            f"| {r['ranks']} | {'x'.join(map(str, r['procs']))} | " + " | ".join(cells) + " |"
        )
    return lines


def scaling_table(runs: list[dict]) -> list[str]:
    methods = list(runs[0]["solvers"])
    head = (
        "| ranks | grid | unknowns | labels [s] | assembly [s] | rows CPU [s] | "
        "null space CPU [s] | rhs [s] | "
        + " | ".join(f"{m}: its, setup+solve [s]" for m in methods)
        + " |"
    )
    lines = [head, "|" + "---|" * (8 + len(methods))]
    for r in runs:
        ph = {"rows_cpu_s": float("nan"), "nullspace_cpu_s": float("nan"), **r.get("phases", {})}
        cells = [
            f"{s['iterations']}, {s['setup_s']:.3f}+{s['solve_s']:.3f}"
            for s in r["solvers"].values()
        ]
        lines.append(
            f"| {r['ranks']} | {'x'.join(map(str, r['shape']))} | {r['unknowns']} | "
            f"{r['labels_s']:.3f} | {r['assembly_s']:.3f} | {ph['rows_cpu_s']:.3f} | "
            f"{ph['nullspace_cpu_s']:.3f} | {r['rhs_s']:.3f} | " + " | ".join(cells) + " |"
        )
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--shape", type=int, nargs="+", help=argparse.SUPPRESS)
    p.add_argument("--methods", nargs="+", default=list(SCALING_METHODS), help=argparse.SUPPRESS)
    p.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--rtol", type=float, default=1e-6, help="scaling runs' relative tolerance")
    p.add_argument("--geometry", default="obstacles")
    p.add_argument("--exterior", default="solid")
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--kinds", nargs="+", default=["agreement", "strong", "weak"])
    p.add_argument("--agree2", type=int, default=64, help="agreement run, 2D cells per axis")
    p.add_argument("--agree3", type=int, default=16, help="agreement run, 3D cells per axis")
    p.add_argument("--strong2", type=int, default=256)
    p.add_argument("--strong3", type=int, default=40)
    p.add_argument(
        "--weak2", type=int, default=128, help="weak scaling: 2D cells per axis per rank"
    )
    p.add_argument("--weak3", type=int, default=24, help="weak scaling: 3D cells per axis per rank")
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    p.add_argument("--json", default="out/bench_mpi.json")
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    if args.quick:
        args.agree2, args.agree3, args.strong2, args.strong3, args.weak2, args.weak3 = (
            32,
            10,
            64,
            16,
            48,
            12,
        )
    from tqdm import tqdm

    jobs = []
    for dim, n in ((2, args.agree2), (3, args.agree3)):
        for P in args.ranks:
            jobs.append(
                ("agreement", dim, P, (n,) * dim, ("cg", "jacobi", "icc", "gamg"), 1e-13, True)
            )
    for dim, n in ((2, args.strong2), (3, args.strong3)):
        for P in args.ranks:
            jobs.append(("strong", dim, P, (n,) * dim, SCALING_METHODS, args.rtol, False))
    for dim, n in ((2, args.weak2), (3, args.weak3)):
        for P in args.ranks:
            jobs.append(
                ("weak", dim, P, (n * P,) + (n,) * (dim - 1), SCALING_METHODS, args.rtol, False)
            )
    jobs = [j for j in jobs if j[0] in args.kinds]
    results: dict[str, list[dict]] = {}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    for kind, dim, P, shape, methods, rtol, check in tqdm(jobs, desc="mpiexec runs"):
        t0 = time.perf_counter()
        r = launch(P, shape, methods, rtol, check, args.geometry, args.exterior)
        r["wall_s"] = time.perf_counter() - t0
        results.setdefault(f"{kind} {dim}D", []).append(r)
        Path(args.json).write_text(json.dumps(results, indent=1))  # partial results survive
    load = os.getloadavg()[0]
    print(
        f"date {datetime.datetime.now().isoformat(timespec='seconds')}; {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} cores, load {load:.1f}; geometry "
        f"{args.geometry}, exterior {args.exterior}, divergence rhs, seed 0"
    )
    print(
        f"CAVEAT: {os.cpu_count()} cores: runs with more ranks than cores are oversubscribed; "
        "their times measure core sharing, not scaling."
    )
    for key, runs in results.items():
        print(
            f"\n### {key}"
            + (
                " (rtol 1e-13; rel. diff to a serial direct solve)"
                if key.startswith("agreement")
                else f" (rtol {args.rtol:g})"
            )
        )
        print(
            "\n".join(agreement_table(runs) if key.startswith("agreement") else scaling_table(runs))
        )
    print(f"\nraw results: {args.json}")


if __name__ == "__main__":
    main()
