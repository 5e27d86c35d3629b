"""DCDM with the pretrained network against CG, ICC-CG, GAMG-CG and PyAMG on held-out grids.

For each size and held-out geometry (generator seeds from 10 000, never used in training) it
prints iterations to rtol 1e-6 and wall time of

* ``cg``, ``icc-cg``, ``gamg-cg`` (PETSc) and ``pyamg-sa`` (PyAMG V-cycle in CG);
* DCDM (10 retained directions) with the map pieces separately, to show what each buys:
  ``net`` (the bare network), ``sgs`` (two symmetric Gauss-Seidel sweeps, no network),
  ``net+sgs`` (SGS, line-searched network step, SGS: ``network:MODEL``), ``coarse`` (SGS,
  two-level block correction, SGS: no network), ``net+coarse`` (SGS, network, coarse
  correction, SGS: ``network+coarse:MODEL``), ``learned`` (SGS, coarse correction with the
  prolongator the shipped ``stencil{dim}d`` network predicts once per matrix, SGS: linear,
  no network per iteration) and ``untrained+coarse`` (net+coarse with an untrained network:
  what training buys);

and saves iterations against grid size (and the convergence curves of the largest case) to
``--plot``.

``python examples/dcdm_poisson.py [--sizes 32 64] [--maps sgs net+sgs coarse net+coarse]
[--model poisson2d-coarse] [--plot PATH]`` (the defaults run in about a minute; the report
used ``--sizes 64 128 256 512 1024 --maps sgs coarse net+coarse`` and
``--sizes 64 128 256 --maps net net+sgs untrained+coarse``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from pde import poisson_problem  # noqa: E402
from solvers.compare import compare  # noqa: E402
from solvers.dcdm import dcdm  # noqa: E402
from solvers.grid import COARSE_BLOCK  # noqa: E402
from solvers.maps import make_map  # noqa: E402
from solvers.network import (  # noqa: E402
    MultigridNet,
    NetworkMap,
    available,
    load_pretrained,
)

HELD_OUT_SEED = 10_000
BASELINES = ["cg", "icc", "gamg", "pyamg"]


def dcdm_row(prob, b, model, mode: str, coarse: int | None, maxiter: int) -> dict:
    t0 = time.perf_counter()
    if mode == "spec":  # a make_map spec, e.g. 'learned'
        f = make_map(model, prob.matrix, labels=prob.labels, exterior=prob.exterior)
    else:
        f = NetworkMap(model, prob.labels, exterior=prob.exterior, A=prob.matrix, mode=mode,
                       coarse=coarse)  # fmt: skip
    null = prob.null_space() if prob.is_singular else None
    x, info = dcdm(prob.matrix, b, rtol=1e-6, M=f, directions=10, nullspace=null,
                   maxiter=maxiter)  # fmt: skip
    bn = float(np.linalg.norm(b))
    return {"iterations": info.iterations if info.converged else -info.iterations,
            "time_s": time.perf_counter() - t0, "converged": info.converged,
            "residuals": [r / bn for r in info.residuals]}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dim", type=int, default=2, choices=(2, 3))
    ap.add_argument("--sizes", type=int, nargs="+", default=None, help="default 32 64 (3D: 16)")
    ap.add_argument("--geometries", nargs="+", default=["obstacles", "plume"])
    ap.add_argument("--model", default=None,
                    help="network of the net+coarse maps (default poisson{dim}d-coarse if "
                         "shipped, else poisson{dim}d)")  # fmt: skip
    ap.add_argument(
        "--plain-model",
        default=None,
        help="network of the net / net+sgs maps (default poisson{dim}d)",
    )
    ap.add_argument("--block", type=int, default=COARSE_BLOCK, help="coarse block side")
    ap.add_argument("--weights-dir", default=None, help="default: the package's weights")
    ap.add_argument("--maxiter", type=int, default=1000)
    ap.add_argument("--net-maxiter", type=int, default=100, help="cap for the bare network")
    ap.add_argument(
        "--maps",
        nargs="+",
        default=["sgs", "net+sgs", "coarse", "learned", "net+coarse"],
        choices=["net", "sgs", "net+sgs", "coarse", "learned", "net+coarse", "untrained+coarse"],
    )
    ap.add_argument("--plot", default="out/dcdm_poisson.png")
    args = ap.parse_args(argv)
    args.sizes = args.sizes or ([32, 64] if args.dim == 2 else [16])
    plain = args.plain_model or f"poisson{args.dim}d"
    args.model = args.model or (f"{plain}-coarse" if f"{plain}-coarse" in
                                available(args.weights_dir) else plain)  # fmt: skip
    torch.set_num_threads(1)
    model = load_pretrained(args.model, folder=args.weights_dir)
    plain_model = load_pretrained(plain, folder=args.weights_dir)
    torch.manual_seed(0)
    untrained = MultigridNet(**model.config())
    blk = args.block
    maps = {"net": (plain_model, "network", None), "sgs": (None, "smoother", None),
            "net+sgs": (plain_model, "network+smoother", None),
            "coarse": (None, "smoother", blk), "net+coarse": (model, "network+smoother", blk),
            "untrained+coarse": (untrained, "network+smoother", blk),
            "learned": ("learned", "spec", None)}  # fmt: skip
    maps = {k: maps[k] for k in args.maps}
    cols = ["cg", "icc-cg", "gamg-cg", "pyamg-sa", *(f"dcdm[{k}]" for k in maps)]
    print(f"models: {args.model} (net+coarse), {plain} (net, net+sgs); coarse block {blk}")
    print(f"held-out geometries (seed {HELD_OUT_SEED}+), rtol 1e-6; iterations "
          f"(negative: not converged at the cap), wall time in s")  # fmt: skip
    width = max(16, *(len(c) + 2 for c in cols))
    print(f"{'case':<18}" + "".join(f"{c:>{width}}" for c in cols))
    curves: dict[str, dict[str, list]] = {}
    last = {}
    with threadpool_limits(limits=1):
        for n in args.sizes:
            for g, geo in enumerate(args.geometries):
                p = poisson_problem(geo, n, args.dim, seed=HELD_OUT_SEED + g)
                b = p.rhs_divergence(g)
                rows = {
                    r["solver"]: r
                    for r in compare(p, BASELINES, b, rtol=1e-6, maxiter=args.maxiter, threads=None)
                }
                for k, (m, mode, coarse) in maps.items():
                    cap = args.net_maxiter if mode == "network" else args.maxiter
                    rows[f"dcdm[{k}]"] = dcdm_row(p, b, m, mode, coarse, cap)
                cells = []
                for c in cols:
                    r = rows[c]
                    its = r["iterations"] if r["converged"] else -abs(r["iterations"])
                    cells.append(f"{its:>7d} {r['time_s']:>7.2f}s")
                    curves.setdefault(geo, {}).setdefault(c, []).append(its if its > 0 else np.nan)
                print(f"{geo + f' {n}^{args.dim}':<18}" + "".join(f"{s:>{width}}" for s in cells))
                last = rows
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for geo, cs in curves.items():
        for c, its in cs.items():
            axes[0].loglog(args.sizes, its, "o-" if geo == "obstacles" else "s--",
                           label=f"{c} ({geo})")  # fmt: skip
    axes[0].set(xlabel=f"grid side n (n^{args.dim} cells)", ylabel="iterations to rtol 1e-6",
                title="held-out: iterations vs grid size (gaps: not converged)")  # fmt: skip
    axes[0].legend(fontsize=6, ncol=2)
    for c in cols:
        axes[1].semilogy(last[c]["residuals"], label=c)
    axes[1].set(xlabel="iteration", ylabel="relative residual",
                title=f"{args.geometries[-1]} {args.sizes[-1]}^{args.dim}")  # fmt: skip
    axes[1].legend(fontsize=7)
    Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(args.plot, dpi=120)
    print(f"saved {args.plot}")


if __name__ == "__main__":
    main()
