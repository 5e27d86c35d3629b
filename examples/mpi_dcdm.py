"""DCDM with the pretrained network preconditioner on a distributed DMDA: ranks and strategies.

``python examples/mpi_dcdm.py --ranks 1 2 4`` launches ``mpiexec -n P`` of this script for
each P and prints one table: for held-out geometries (generator seeds from 10 000) it solves
the pressure-Poisson system, assembled rank by rank on a DMDA (``pde.dmda_poisson``), with
the DCDM KSP (``-ksp_type python -ksp_python_type solvers.petsc.DCDM``, 10 directions, rtol
1e-6) and ``NetworkPC`` under

* ``gather``: the vector gathered to rank 0, the serial map applied there, scattered back;
* ``halo H``: each rank runs the network on its box grown by H cells, smoothing by
  processor-local Gauss-Seidel (block Jacobi between ranks);

next to the serial numpy ``dcdm`` with the same network map (the reference count).
``--coarse B`` uses the two-level map ``network+coarse`` (block side B, the coarse-partner
networks ``poisson{2,3}d-coarse``) in every column: serial and gather apply the serial
:class:`~solvers.network.precond.NetworkMap`, halo the distributed
:class:`~solvers.petsc.coarse.PetscCoarse` correction. Columns:
iterations (negative: not converged at the cap), PC set-up and solve wall time (s, the
slowest rank), and the true relative residual. ``--plot`` saves iterations against halo
width. Run a single P directly with ``mpiexec -n P python examples/mpi_dcdm.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from pde import dmda_poisson, poisson_problem  # noqa: E402
from solvers.petsc import DCDM, MapPC, ksp_solve, petsc_module  # noqa: E402

HELD_OUT_SEED = 10_000


def cases(args: argparse.Namespace) -> list[tuple[str, int, int, int]]:
    """(name, dim, n, seed) of every problem."""
    out = [
        (f"obstacles {args.n2}^2 #{s}", 2, args.n2, HELD_OUT_SEED + s) for s in range(args.seeds)
    ]
    if args.n3:
        out.append((f"obstacles {args.n3}^3", 3, args.n3, HELD_OUT_SEED))
    return out


def configs(halos: list[int]) -> list[tuple[str, dict]]:
    """(label, NetworkPC options) of every strategy."""
    rows = [("gather", {"pc_network_strategy": "gather"})]
    return rows + [(f"halo {h}", {"pc_network_strategy": "halo", "pc_network_halo": h})
                   for h in halos]  # fmt: skip


def map_spec(dim: int, coarse: int) -> str:
    """The NetworkPC / make_map spec: the network, or the network + coarse map."""
    return f"network+coarse::{coarse}" if coarse else f"network:poisson{dim}d"


def solve(system, ext, options, maxiter):  # noqa: ANN001, ANN201 - a script
    """One DCDM solve; returns (iterations, setup_s, solve_s, relres), times max over ranks."""
    pc = MapPC()
    pc.set_grid(system.labels, ext, da=system.da)
    b = system.rhs_divergence(0)
    x, info = ksp_solve(system.mat, b, ksp_type=DCDM(directions=10), pc_type=pc,
                        options=options, rtol=1e-6, maxiter=maxiter)  # fmt: skip
    its = info.iterations * (1 if info.extra["ksp_reason_code"] > 0 else -1)
    relres = info.extra["true_residual"] / b.norm()
    for obj in (b, x):
        obj.destroy()
    return its, info.extra["setup_s"], info.extra["solve_s"], relres


def worker(args: argparse.Namespace) -> None:
    """Every case and strategy on this communicator; rank 0 prints ``ROW {json}`` lines."""
    PETSc = petsc_module()
    comm = PETSc.COMM_WORLD
    size = comm.getSize()
    for name, dim, n, seed in cases(args):
        prob = poisson_problem("obstacles", n, dim, seed=seed)
        ext = prob.exterior_label
        system = dmda_poisson(prob.labels, exterior=prob.exterior)
        for label, options in configs(args.halos):
            options = {**options, "pc_network_threads": args.threads,
                       "pc_network_map": map_spec(dim, args.coarse)}  # fmt: skip
            its, setup, solve_s, relres = solve(system, ext, options, args.maxiter)
            if comm.getRank() == 0:
                row = {"case": name, "ranks": size, "strategy": label, "iterations": its,
                       "map": map_spec(dim, args.coarse),
                       "setup_s": setup, "solve_s": solve_s, "relres": relres}  # fmt: skip
                print("ROW " + json.dumps(row), flush=True)


def serial_reference(args: argparse.Namespace) -> list[dict]:
    """Numpy ``dcdm`` with the serial network map (``network:poissonNd``) on every case."""
    import torch

    from solvers.dcdm import dcdm
    from solvers.maps import make_map

    torch.set_num_threads(args.threads)
    rows = []
    for name, dim, n, seed in cases(args):
        prob = poisson_problem("obstacles", n, dim, seed=seed)
        ext = prob.exterior_label
        b = prob.rhs_divergence(0)
        t0 = time.perf_counter()
        f = make_map(map_spec(dim, args.coarse), prob.matrix, labels=prob.labels, exterior=ext)
        t1 = time.perf_counter()
        null = prob.null_space() if prob.is_singular else None
        x, info = dcdm(prob.matrix, b, rtol=1e-6, M=f, directions=10, nullspace=null,
                       maxiter=args.maxiter)  # fmt: skip
        relres = np.linalg.norm(b - prob.matrix @ x) / np.linalg.norm(b)
        rows.append({"case": name, "ranks": 1, "strategy": "serial numpy",
                     "iterations": info.iterations * (1 if info.converged else -1),
                     "map": map_spec(dim, args.coarse),
                     "setup_s": t1 - t0, "solve_s": time.perf_counter() - t1,
                     "relres": relres})  # fmt: skip
    return rows


def driver(args: argparse.Namespace) -> None:
    """Run :func:`worker` under ``mpiexec -n P`` for each P, print the table, save the plot."""
    rows = serial_reference(args)
    for row in rows:
        print(f"{row['case']:<22} serial numpy     its {row['iterations']:>4}", flush=True)
    forward = ["--n2", args.n2, "--n3", args.n3, "--seeds", args.seeds, "--halos", *args.halos,
               "--threads", args.threads, "--maxiter", args.maxiter, "--coarse", args.coarse,
               "--worker"]  # fmt: skip
    for p in args.ranks:
        cmd = ["mpiexec", "-n", str(p), sys.executable, __file__, *map(str, forward)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode:
            raise RuntimeError(f"mpiexec -n {p} failed:\n{proc.stderr[-3000:]}")
        for line in proc.stdout.splitlines():
            if line.startswith("ROW "):
                rows.append(json.loads(line[4:]))
                r = rows[-1]
                print(f"{r['case']:<22} P={p} {r['strategy']:<10} its {r['iterations']:>4}  "
                      f"setup {r['setup_s']:6.2f}s solve {r['solve_s']:6.2f}s "
                      f"relres {r['relres']:.1e}", flush=True)  # fmt: skip
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    print(f"saved {args.json}")
    plot(rows, args)


def plot(rows: list[dict], args: argparse.Namespace) -> None:
    """Mean iterations against halo width, one line per rank count, gather as dashes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2 if args.n3 else 1, figsize=(11 if args.n3 else 6, 4.2),
                             squeeze=False)  # fmt: skip
    for ax, dim in zip(axes[0], (2, 3)):
        sel = [r for r in rows if f"^{dim}" in r["case"]]
        for p in args.ranks:
            mine = [r for r in sel if r["ranks"] == p]
            its = [np.mean([abs(r["iterations"]) for r in mine if r["strategy"] == f"halo {h}"])
                   for h in args.halos]  # fmt: skip
            line = ax.plot(args.halos, its, "o-", label=f"halo, {p} ranks")[0]
            g = np.mean([abs(r["iterations"]) for r in mine if r["strategy"] == "gather"])
            ax.axhline(g, ls="--", color=line.get_color(), lw=0.8)
        ax.set(xlabel="halo width H (cells)", ylabel="DCDM iterations to rtol 1e-6",
               title=f"{dim}D {args.n2 if dim == 2 else args.n3}^{dim}: halo vs "
               "gather (dashed)")  # fmt: skip
        ax.legend(fontsize=8)
    Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(args.plot, dpi=120)
    print(f"saved {args.plot}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--ranks",
        type=int,
        nargs="+",
        default=None,
        help="drive mpiexec -n P for each P (default: run on this communicator)",
    )
    ap.add_argument("--n2", type=int, default=128, help="2D grid side")
    ap.add_argument("--n3", type=int, default=32, help="3D grid side (0: no 3D case)")
    ap.add_argument("--seeds", type=int, default=3, help="2D held-out geometries")
    ap.add_argument("--halos", type=int, nargs="+", default=[0, 8, 16, 32])
    ap.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    ap.add_argument("--maxiter", type=int, default=300)
    ap.add_argument(
        "--coarse",
        type=int,
        default=0,
        help="block side B of the network+coarse map (0: the network map)",
    )
    ap.add_argument("--json", default="out/mpi_dcdm.json")
    ap.add_argument("--plot", default="out/mpi_dcdm.png")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)  # fmt: skip
    if args.ranks and not args.worker:
        driver(args)
    else:
        worker(args)


if __name__ == "__main__":
    main()
