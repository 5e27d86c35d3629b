"""DCDM's maps against GAMG-CG, ICC-CG, PyAMG and CG on held-out Poisson problems: wall time.

For each grid and held-out geometry (generator seeds from 10 000, never used in training:
``obstacles`` with Dirichlet walls, ``plume`` with closed walls under an open top), it solves
the divergence right-hand side to rtol 1e-6 (unpreconditioned residual norm everywhere) with

* ``petsc-cg`` (plain CG), ``icc-cg``, ``gamg-cg`` (serial PETSc, set-up included) and
  ``pyamg-sa`` (PyAMG smoothed-aggregation CG);
* DCDM with ``coarse`` (SGS, two-level block correction, SGS: no network), ``learned`` (the
  same cycle with the prolongator a small network predicts once from the matrix: the issue's
  new network map) and ``net+coarse`` (the ``MultigridNet`` inside every iteration).

Per solver it prints iterations, set-up, solve and total seconds (one thread); per DCDM map
the milliseconds per application, FLOP per cell per application, and for ``learned`` the
network's share of the set-up. Ratios: total time against GAMG-CG and against ``coarse``.
Linear maps run DCDM with 2 directions (it is then PCG), the nonlinear ``net+coarse`` with 10.

Run from the repository root::

    python benchmarks/poisson.py --quick                  # 2D 64²/128², 3D 16³/24³: ~1 min
    python benchmarks/poisson.py                          # 2D 256²..1024², 3D 64³, 128³
    python benchmarks/poisson.py --json out/poisson.json --markdown out/poisson.md
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pde import poisson_problem  # noqa: E402
from solvers.compare import compare  # noqa: E402

HELD_OUT_SEED = 10_000
BASELINES = ["petsc-cg", "icc", "gamg", "pyamg"]
#: column -> (make_map spec, DCDM directions)
MAPS = {"coarse": ("coarse", 2), "learned": ("learned", 2), "net+coarse": ("network+coarse", 10)}


#: Solvers timed ``--repeat`` times, interleaved (the best total kept): the ones the ratios compare.
REPEATED = ("gamg", "pyamg", "coarse", "learned")


def run_case(geometry: str, n: int, dim: int, maps: dict, maxiter: int, repeat: int = 1) -> dict:
    """All solvers on one held-out problem: ``{column: row}``."""
    g = ("obstacles", "plume").index(geometry)
    prob = poisson_problem(geometry, n, dim, seed=HELD_OUT_SEED + g)
    b = prob.rhs_divergence(g)
    runs = [(name, {}) for name in BASELINES]
    runs += [(col, {"dcdm_map": spec, "directions": k}) for col, (spec, k) in maps.items()]
    rows: dict = {}
    for r in range(repeat):  # round by round, so the machine's drift hits every solver alike
        for col, kw in runs:
            if r and col not in REPEATED:
                continue
            name = "dcdm" if kw else col
            (row,) = compare(prob, [name], b, rtol=1e-6, maxiter=maxiter, **kw)
            key = col if kw else row["solver"]
            if key not in rows or row["time_s"] < rows[key]["time_s"]:
                rows[key] = row
    rows["_meta"] = {"geometry": geometry, "n": n, "dim": dim, "unknowns": prob.n}
    return rows


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


def cell(row: dict) -> str:
    its = row["iterations"] if row["converged"] else f"{row['iterations']}✗"
    return f"{its} · {row['setup_s']:.2f}+{row['solve_s']:.2f}={row['time_s']:.2f}"


def markdown(results: list[dict], columns: list[str]) -> list[str]:
    head = ["case", "unknowns", *columns, "learned/GAMG", "learned/coarse"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rows in results:
        m = rows["_meta"]
        ratios = [f"{rows['learned']['time_s'] / rows[c]['time_s']:.2f}"
                  if "learned" in rows and c in rows else "–"
                  for c in ("gamg-cg", "coarse")]  # fmt: skip
        cells = [cell(rows[c]) if c in rows else "–" for c in columns]
        lines.append("| " + " | ".join([f"{m['geometry']} {m['n']}^{m['dim']}",
                                        str(m["unknowns"]), *cells, *ratios]) + " |")  # fmt: skip
    lines += ["", "| case | map | ms / application | FLOP / cell / application | "
              "prolongation set-up s | network forward s |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for rows in results:
        m = rows["_meta"]
        for c in (c for c in MAPS if c in rows):
            r = rows[c]
            lines.append(f"| {m['geometry']} {m['n']}^{m['dim']} | {c} | "
                         f"{r['map_ms']:.1f} | {r['map_flops_per_cell']:.0f} | "
                         f"{r.get('prolongation_setup_s', 0.0):.3f} | "
                         f"{r.get('network_setup_s', 0.0):.3f} |")  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n2", type=int, nargs="*", default=[256, 512, 1024], help="2D sides")
    ap.add_argument("--n3", type=int, nargs="*", default=[64, 128], help="3D sides")
    ap.add_argument("--geometries", nargs="+", default=["obstacles", "plume"])
    ap.add_argument("--geometries3", nargs="+", default=["obstacles"])
    ap.add_argument("--maps", nargs="+", default=list(MAPS), choices=list(MAPS))
    ap.add_argument("--net-max-cells", type=int, default=600_000,
                    help="skip net+coarse above this many cells (it costs seconds per "
                         "application there)")  # fmt: skip
    ap.add_argument("--maxiter", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=1,
                    help=f"runs of {REPEATED} per case (the best total kept)")  # fmt: skip
    ap.add_argument("--quick", action="store_true", help="2D 64², 128²; 3D 16³, 24³")
    ap.add_argument("--markdown", default=None, help="write the tables to this file")
    ap.add_argument("--json", default=None, help="write every row to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.n2, args.n3 = [64, 128], [16, 24]
    import torch

    torch.set_num_threads(1)
    print(machine())
    print(f"held-out seeds {HELD_OUT_SEED}+, rtol 1e-6: iterations · set-up+solve=total s")
    results = []
    cases = [(2, n, g) for n in args.n2 for g in args.geometries]
    cases += [(3, n, g) for n in args.n3 for g in args.geometries3]
    for dim, n, geo in cases:
        maps = {c: MAPS[c] for c in args.maps}
        if n**dim > args.net_max_cells:
            maps.pop("net+coarse", None)
        rows = run_case(geo, n, dim, maps, args.maxiter, args.repeat)
        results.append(rows)
        line = "  ".join(f"{c} {cell(r)}" for c, r in rows.items() if c != "_meta")
        print(f"{geo} {n}^{dim} ({rows['_meta']['unknowns']} unknowns): {line}", flush=True)
    columns = ["petsc-cg", "icc-cg", "gamg-cg", "pyamg-sa", *args.maps]
    lines = [f"Machine: {machine()}", "", *markdown(results, columns)]
    print("\n".join(lines))
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text("\n".join(lines) + "\n")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        keep = [{c: {k: v for k, v in r.items() if k != "residuals"} for c, r in rows.items()}
                for rows in results]  # fmt: skip
        Path(args.json).write_text(json.dumps({"machine": machine(), "cases": keep}, indent=1))


if __name__ == "__main__":
    main()
