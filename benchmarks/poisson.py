"""DCDM with the pretrained network vs GAMG-CG, ICC-CG and PyAMG on held-out Poisson problems.

For each grid size and held-out geometry (generator seeds from 10 000, never used in training:
``obstacles`` with Dirichlet walls, ``plume`` with closed walls under an open top), it solves
the divergence right-hand side to rtol 1e-6 (unpreconditioned residual norm everywhere) with

* ``petsc-cg`` (plain CG, the floor), ``icc-cg``, ``gamg-cg`` (serial PETSc) and ``pyamg-sa``;
* DCDM (10 retained directions) with ``coarse`` (SGS, two-level block correction, SGS: no
  network) and ``network+coarse`` (SGS, the pretrained network, the coarse correction, SGS),
  so that the table shows what the network buys on top of the classical two-level cycle;

and prints iterations, wall time and process CPU time (set-up + solve, one thread; the CPU time
is the fairer figure on a shared machine) side by side with the ratios DCDM / GAMG-CG and
DCDM / ICC-CG. ``--markdown PATH`` writes the table, ``--plot PATH`` the
iterations-against-grid-size curves.

Run from the repository root::

    python benchmarks/poisson.py --quick                 # 2D 64²/128², 3D 16³/24³: ~1 min
    python benchmarks/poisson.py                         # 2D 256²/512²/1024², 3D 32³/64³
    python benchmarks/poisson.py --n2 64 128 256 512 1024 --n3 32 48 64 128
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
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pde import poisson_problem  # noqa: E402
from sciconv.cli.poisson import compare  # noqa: E402

HELD_OUT_SEED = 10_000
BASELINES = ["petsc-cg", "icc", "gamg", "pyamg"]
MAPS = {"coarse": "coarse", "net+coarse": "network+coarse"}
COLUMNS = ["petsc-cg", "icc-cg", "gamg-cg", "pyamg-sa", *MAPS]


def run_case(geometry: str, n: int, dim: int, maps: dict[str, str], maxiter: int) -> dict:
    """All solvers on one held-out problem: ``{column: row}`` (rows of ``compare``)."""
    g = ("obstacles", "plume").index(geometry)
    t0 = time.perf_counter()
    prob = poisson_problem(geometry, n, dim, seed=HELD_OUT_SEED + g)
    assembly = time.perf_counter() - t0
    b = prob.rhs_divergence(g)
    rows = {}
    for name in [*BASELINES, *maps]:
        kw = {"dcdm_map": maps[name], "directions": 10} if name in maps else {}
        c0 = time.process_time()
        (row,) = compare(prob, ["dcdm" if name in maps else name], b, rtol=1e-6,
                         maxiter=maxiter, **kw)  # fmt: skip
        row["cpu_s"] = time.process_time() - c0
        rows[name if name in maps else row["solver"]] = row
    rows["_meta"] = {"unknowns": prob.n, "assembly_s": assembly}
    return rows


def cell(row: dict) -> str:
    its = row["iterations"] if row["converged"] else f"{row['iterations']}✗"
    return f"{its} ({row['time_s']:.2f} s / {row['cpu_s']:.2f} s)"


def markdown(results: list[tuple[str, int, int, dict]], dcdm: str) -> list[str]:
    head = ["case", "unknowns", *COLUMNS, f"{dcdm}/GAMG its, wall, CPU",
            f"{dcdm}/ICC its, wall, CPU"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for geo, n, dim, rows in results:
        d, gm, ic = rows[dcdm], rows["gamg-cg"], rows["icc-cg"]
        ratios = [f"{d['iterations'] / r['iterations']:.2f}, {d['time_s'] / r['time_s']:.1f}, "
                  f"{d['cpu_s'] / max(r['cpu_s'], 1e-3):.1f}" for r in (gm, ic)]  # fmt: skip
        lines.append("| " + " | ".join([f"{geo} {n}^{dim}", str(rows["_meta"]["unknowns"]),
                                        *(cell(rows[c]) for c in COLUMNS if c in rows),
                                        *ratios]) + " |")  # fmt: skip
    return lines


def machine() -> str:
    import petsc4py
    import pyamg
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{datetime.datetime.now().isoformat(timespec='minutes')}, {platform.machine()}, "
        f"{os.cpu_count()} cores (load {load:.1f}), one thread; petsc4py "
        f"{petsc4py.__version__}, pyamg {pyamg.__version__}, torch {torch.__version__}"
    )


def plot(results: list[tuple[str, int, int, dict]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dims = sorted({r[2] for r in results})
    fig, axes = plt.subplots(1, len(dims), figsize=(6 * len(dims), 4.3), squeeze=False)
    for ax, dim in zip(axes[0], dims):
        for geo, style in (("obstacles", "o-"), ("plume", "s--")):
            pts = [(n, rows) for g, n, d, rows in results if g == geo and d == dim]
            if not pts:
                continue
            ns = [n for n, _ in pts]
            for k, c in enumerate(COLUMNS):
                its = [rows[c]["iterations"] if c in rows and rows[c]["converged"] else np.nan
                       for _, rows in pts]  # fmt: skip
                ax.loglog(ns, its, style, color=f"C{k}", label=f"{c} ({geo})", base=2)
        ax.set(xlabel=f"grid side n ({dim}D, n^{dim} cells)", ylabel="iterations to rtol 1e-6",
               title=f"{dim}D held-out geometries")  # fmt: skip
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6, ncol=2)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n2", type=int, nargs="*", default=[256, 512, 1024], help="2D sides")
    ap.add_argument("--n3", type=int, nargs="*", default=[32, 64], help="3D sides")
    ap.add_argument("--geometries", nargs="+", default=["obstacles", "plume"])
    ap.add_argument("--maps", nargs="+", default=list(MAPS), choices=list(MAPS))
    ap.add_argument("--maxiter", type=int, default=5000)
    ap.add_argument("--quick", action="store_true", help="2D 64², 128²; 3D 16³, 24³")
    ap.add_argument("--markdown", default=None, help="write the table to this file")
    ap.add_argument("--plot", default="out/bench_dcdm_poisson.png")
    args = ap.parse_args(argv)
    if args.quick:
        args.n2, args.n3 = [64, 128], [16, 24]
    import torch

    torch.set_num_threads(1)
    maps = {k: MAPS[k] for k in args.maps}
    dcdm = "net+coarse" if "net+coarse" in maps else args.maps[0]
    print(machine())
    print(f"held-out seeds {HELD_OUT_SEED}+, rtol 1e-6: iterations (wall s / process CPU s, "
          "set-up + solve); ✗: not converged")  # fmt: skip
    results = []
    for dim, sizes in ((2, args.n2), (3, args.n3)):
        for n in sizes:
            for geo in args.geometries:
                rows = run_case(geo, n, dim, maps, args.maxiter)
                results.append((geo, n, dim, rows))
                d = rows[dcdm]
                ratio = "  ".join(f"{dcdm}/{k}: its {d['iterations'] / rows[k]['iterations']:.2f}"
                                  f" time {d['time_s'] / rows[k]['time_s']:.1f}"
                                  for k in ("gamg-cg", "icc-cg"))  # fmt: skip
                cells = "  ".join(f"{c} {cell(rows[c])}" for c in COLUMNS if c in rows)
                print(f"{geo} {n}^{dim} ({rows['_meta']['unknowns']} unknowns): {cells}\n"
                      f"    {ratio}", flush=True)  # fmt: skip
    lines = [f"Machine: {machine()}", "", *markdown(results, dcdm)]
    print("\n".join(lines))
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text("\n".join(lines) + "\n")
    if args.plot:
        plot(results, args.plot)
        print(f"saved {args.plot}")


if __name__ == "__main__":
    main()
