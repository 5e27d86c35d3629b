"""Pareto table of DCDM maps at 2D 512²: parameters, cost per application, FLOP, iterations, time.

Rows: the classical ``coarse`` (piecewise-constant) and ``smoothed`` (constant ω = 2/3)
two-level maps, the ``MultigridNet`` inside the cycle (``network+coarse``, the earlier shipped
network), the shipped ``learned`` map (``stencil2d``) and any other trained ``StencilNet``
given with ``--models LABEL=FOLDER/NAME`` (ablations trained by
``examples/train_stencil_network.py --width W --depth D [--kernel-size 1] [--compact]
[--constant] --out FOLDER --name NAME``). Held-out obstacles and plume (seeds 10 000, 10 001),
rtol 1e-6, DCDM with 2 directions for linear maps and 10 for the nonlinear one; one thread;
set-up and total = the best of ``--repeat`` interleaved rounds, averaged over the two geometries.

    python benchmarks/bench_stencil_pareto.py
    python benchmarks/bench_stencil_pareto.py --models w8d2=out/w8d2/stencil2d
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pde import poisson_problem  # noqa: E402
from solvers.compare import map_cost  # noqa: E402
from solvers.dcdm import dcdm  # noqa: E402
from solvers.maps import make_map  # noqa: E402
from solvers.network.learned import learned_map  # noqa: E402
from solvers.network.model import count_parameters  # noqa: E402
from solvers.network.registry import load_pretrained  # noqa: E402


def measure_once(build, prob, b, directions: int) -> dict:
    """Set-up, one application's cost (:func:`solvers.compare.map_cost`) and the DCDM solve."""
    t0 = time.perf_counter()
    M = build(prob)
    setup = time.perf_counter() - t0
    cost = map_cost(M, prob.labels.size)
    ns = prob.null_space() if prob.is_singular else None
    t0 = time.perf_counter()
    _, info = dcdm(prob.matrix, b, rtol=1e-6, M=M, directions=directions, nullspace=ns,
                   maxiter=500)  # fmt: skip
    total = setup + time.perf_counter() - t0
    return {"its": info.iterations if info.converged else np.nan, "setup": setup,
            "total": total, "ms": cost["map_ms"], "flops": cost["map_flops_per_cell"]}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--models", nargs="*", default=[], help="LABEL=FOLDER/NAME of a 2D model")
    ap.add_argument("--repeat", type=int, default=2, help="runs per map and geometry (best)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    probs = []
    for g, geo in enumerate(("obstacles", "plume")):
        p = poisson_problem(geo, args.n, 2, seed=10_000 + g)
        probs.append((p, p.rhs_divergence(g)))

    def spec(s: str):
        return lambda p: make_map(s, p.matrix, labels=p.labels, exterior=p.exterior)

    rows = [("coarse (no network)", 0, 0, spec("coarse"), 2),
            ("smoothed, ω = 2/3 (no network)", 0, 0, spec("smoothed"), 2)]  # fmt: skip
    mg = load_pretrained("poisson2d-coarse")
    rows.append(("MultigridNet in the cycle (network+coarse)", count_parameters(mg), None,
                 spec("network+coarse"), 10))  # fmt: skip
    models = [("learned: shipped stencil2d", None), *(m.split("=", 1) for m in args.models)]
    for name, where in models:
        path = Path(where) if where else None
        net = load_pretrained(path.name if path else "stencil2d", folder=path and path.parent)
        cfg = net.config()
        k = cfg["kernel_size"]
        kind = f"{k}×{k}" + (", compact" if cfg["compact"] else "")
        label = f"{name} (width {cfg['width']}, depth {cfg['depth']}, {kind})"
        rows.append((label, count_parameters(net), net.flops_per_cell(),
                     lambda p, net=net: learned_map(net, p.matrix, p.labels), 2))  # fmt: skip
    print(f"2D {args.n}², held-out obstacles + plume, mean of the two; one thread")
    print(
        "| map | parameters | network FLOP / cell (set-up) | ms / application | "
        "FLOP / cell / application | DCDM its | set-up s | total s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    # interleaved: every map once per round, so the machine's drift hits all of them alike
    runs: dict[int, list[list[dict]]] = {i: [[] for _ in probs] for i in range(len(rows))}
    for r in range(args.repeat):
        for i, (_, _, _, build, k) in enumerate(rows):
            if k == 10 and r:  # the nonlinear network map: once (seconds per application)
                continue
            for j, (p, b) in enumerate(probs):
                runs[i][j].append(measure_once(build, p, b, k))
    for i, (label, params, netflops, _, _) in enumerate(rows):
        ms = [min(rs, key=lambda m: m["total"]) for rs in runs[i]]
        mean = {key: float(np.mean([m[key] for m in ms])) for key in ms[0]}
        its = "/".join(str(int(m["its"])) if np.isfinite(m["its"]) else "✗" for m in ms)
        nf = "(per application)" if netflops is None else f"{netflops:,}"
        print(f"| {label} | {params:,} | {nf} | {mean['ms']:.1f} | {mean['flops']:,.0f} | {its} | "
              f"{mean['setup']:.3f} | {mean['total']:.3f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
