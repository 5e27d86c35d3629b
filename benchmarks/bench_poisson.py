"""Classical Poisson baselines and DCDM (with a classical map), against the PETSc anchor.

Anchor (the issue's figures, serial PETSc 3.26.1 on this machine): a 2D 512² Dirichlet box
at rtol 1e-6 takes CG 1256 iterations, ICC-CG 374, GAMG-CG 9 (0.75 s). The anchor section
reruns that box here with PETSc's default norms (right-hand side uniform in [0, 1), seed 0: the
anchor's right-hand side is not recorded, so iteration counts may differ by a few percent) and
prints anchor, ours and the ratio side by side.

Then the baseline table for random-obstacle problems (``sciconv poisson`` settings: Dirichlet
walls, divergence-like right-hand side, seed 0, rtol 1e-6, unpreconditioned residual norm for
every solver): 2D ``--n2`` (256²) and 3D ``--n3`` (64³). Per solver: iterations, wall time
(setup + solve, one run), setup time, and the true relative residual recomputed with scipy.
Everything runs on one thread (BLAS/OpenMP pinned to 1, serial PETSc).

Run from the repository root: ``python benchmarks/bench_poisson.py [--quick] [--n2 256]
[--n3 64] [--skip-anchor] [--plot out/bench_poisson.png]``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # serial, like the serial PETSc anchor

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pde import dirichlet_box, poisson_problem  # noqa: E402
from solvers import petsc_solve  # noqa: E402
from solvers.compare import compare, plot, table  # noqa: E402

ANCHOR = {"none": 1256, "icc": 374, "gamg": 9}
ANCHOR_GAMG_S = 0.75


def machine() -> list[str]:
    import petsc4py
    import pyamg
    import scipy

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return [
        f"date {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, load {load:.1f}, "
        f"Python {platform.python_version()}",
        f"numpy {np.__version__}, scipy {scipy.__version__}, pyamg {pyamg.__version__}, "
        f"petsc4py {petsc4py.__version__}",
    ]


def anchor(n: int) -> list[str]:
    prob = dirichlet_box(n, 2)
    b = np.random.default_rng(0).random(prob.n)
    lines = [f"anchor: 2D {n}² Dirichlet box, rtol 1e-6, PETSc default norms", ""]
    lines.append(f"{'PC':<6} {'anchor its':>10} {'ours its':>9} {'ratio':>6} {'time [s]':>9}")
    for pc, ref in ANCHOR.items():
        t0 = time.perf_counter()
        _, info = petsc_solve(prob.matrix, b, rtol=1e-6, pc_type=pc, norm_type=None)
        dt = time.perf_counter() - t0
        lines.append(
            f"{pc:<6} {ref:>10d} {info.iterations:>9d} {info.iterations / ref:>6.2f} {dt:>9.3f}"
            + (
                f"   (anchor {ANCHOR_GAMG_S} s, ratio {dt / ANCHOR_GAMG_S:.2f})"
                if pc == "gamg"
                else ""
            )
        )
    return lines


def case(dim: int, n: int, names: list[str], maps: list[str], plot_path: str | None) -> list[str]:
    t0 = time.perf_counter()
    prob = poisson_problem("obstacles", n, dim, seed=0)
    build = time.perf_counter() - t0
    b = prob.rhs_divergence(0)
    rows = compare(prob, names, b, rtol=1e-6)
    for spec in maps:
        rows += compare(prob, ["dcdm"], b, rtol=1e-6, dcdm_map=spec)
    title = f"obstacles {dim}D {n}^{dim}: {prob.n} unknowns, assembly {build:.2f} s"
    if plot_path:
        plot(rows, plot_path, title)
    return [title, *table(rows), ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n2", type=int, default=256)
    parser.add_argument("--n3", type=int, default=64)
    parser.add_argument("--anchor-n", type=int, default=512)
    parser.add_argument("--quick", action="store_true", help="64², 24³ and a 128² anchor box")
    parser.add_argument("--skip-anchor", action="store_true")
    parser.add_argument("--plot", default="out/bench_poisson.png", help="2D convergence plot")
    args = parser.parse_args()
    if args.quick:
        args.n2, args.n3, args.anchor_n = 64, 24, 128
    print("\n".join(machine()), end="\n\n")
    if not args.skip_anchor:
        print("\n".join(anchor(args.anchor_n)), end="\n\n")
    base = ["petsc-cg", "jacobi", "icc", "gamg", "pyamg"]
    print("\n".join(case(2, args.n2, ["cg", *base], ["pyamg", "jacobi:4"], args.plot)))
    plot3 = args.plot.replace(".png", "_3d.png") if args.plot else None
    print("\n".join(case(3, args.n3, base, ["pyamg", "jacobi:4"], plot3)))


if __name__ == "__main__":
    main()
