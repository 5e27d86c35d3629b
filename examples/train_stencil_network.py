"""Train the geometry-conditioned prolongation network of the ``learned`` DCDM map.

The network (:class:`solvers.network.learned.StencilNet`; shipped: a per-cell MLP, width 4,
depth 1, ``--kernel-size 1``) reads a pressure matrix's normalised stencil once and predicts
per-cell weights of the smoothed prolongator of a two-level cycle
(symmetric Gauss-Seidel, Galerkin coarse correction on 4×4(×4) block aggregates, symmetric
Gauss-Seidel). Training minimises the cycle's A-norm contraction on random probes over small
obstacle / plume geometries (training seeds 0..; the held-out seeds from 10 000 are used only
for validation and in the benchmark; the tests use seeds from 20 000).

    python examples/train_stencil_network.py --out out/stencil          # 2D, as stencil2d (~2 min)
    python examples/train_stencil_network.py --dim 3 --out out/stencil  # 3D, as stencil3d (~5 min)
    python examples/train_stencil_network.py --steps 20 --out out/try   # a quick try
    python examples/train_stencil_network.py --kernel-size 3 --out out/k3 # 3×3 convolutions
    python examples/train_stencil_network.py --compact --out out/compact # 5/7-point coarse matrix

The defaults are the shipped models' settings; ``--out`` defaults to ``out/stencil`` (pass the
package's weights folder, ``solvers/network/weights``, to replace the shipped files).

Writes ``NAME.pt`` + ``NAME.json`` (config, sha256, this command, the training time, the
held-out iterations of the learned map beside the classical maps ``coarse`` and ``smoothed``,
the network's set-up milliseconds and FLOP per cell, and the milliseconds and FLOP per cell of one
application of the map at 512² / 64³).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from pde import poisson_problem
from solvers.compare import map_cost
from solvers.dcdm import dcdm
from solvers.maps import make_map
from solvers.network.learned import StencilNet, learned_map
from solvers.network.registry import WEIGHTS_DIR, save_pretrained
from solvers.network.stencil_train import TwoLevelProblem, train_stencil

HELD_OUT_SEED = 10_000
TEST_SEED = 20_000  # the tests' geometries (tests/solvers/test_learned_shipped.py)


def training_problems(
    dim: int, sizes: list[int], count: int, block: int = 4, compact: bool = False
) -> list[TwoLevelProblem]:
    """Obstacle and plume geometries with seeds 0.. (floating pockets skipped)."""
    out, seed = [], 0
    while len(out) < count:
        geo = ("obstacles", "plume")[seed % 2]
        n = sizes[(seed // 2) % len(sizes)]
        p = poisson_problem(geo, n, dim, seed=seed)
        try:
            out.append(TwoLevelProblem(p.matrix, p.labels, block=block, compact=compact))
        except ValueError:
            pass  # a floating pure-Neumann pocket: no dense coarse solve
        seed += 1
    return out


def held_out(dim: int, n: int, spec_or_model, count: int = 2, first: int = HELD_OUT_SEED):
    """DCDM iterations (rtol 1e-6, 2 directions) on held-out obstacles and plume grids."""
    its = []
    for s in range(count):
        geo = ("obstacles", "plume")[s % 2]
        p = poisson_problem(geo, n, dim, seed=first + s)
        if isinstance(spec_or_model, str):
            M = make_map(spec_or_model, p.matrix, labels=p.labels, exterior=p.exterior)
        else:
            M = learned_map(spec_or_model, p.matrix, p.labels)
        ns = p.null_space() if p.is_singular else None
        _, info = dcdm(p.matrix, p.rhs_divergence(first + s), rtol=1e-6, M=M, directions=2,
                       nullspace=ns, maxiter=200)  # fmt: skip
        its.append(info.iterations if info.converged else 300)
    return its


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dim", type=int, default=2)
    ap.add_argument("--sizes", type=int, nargs="+", default=None,
                    help="training grid sides (default 32 48 in 2D, 12 16 in 3D)")  # fmt: skip
    ap.add_argument("--problems", type=int, default=None, help="default 32 (2D), 16 (3D)")
    ap.add_argument("--width", type=int, default=4)
    ap.add_argument("--kernel-size", type=int, default=1, choices=(1, 3), help="1: per-cell MLP")
    ap.add_argument("--block", type=int, default=4, help="aggregate block side")
    ap.add_argument(
        "--compact",
        action="store_true",
        help="smooth only rows with one neighbour in another aggregate (5/7-point coarse matrix)",
    )
    ap.add_argument("--depth", type=int, default=1)
    ap.add_argument("--steps", type=int, default=None, help="default 300 (2D), 200 (3D)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--constant",
        action="store_true",
        help="ablation: train only the head's bias (the same weights in every cell)",
    )
    ap.add_argument("--validate-n", type=int, default=None, help="held-out grid side")
    ap.add_argument("--name", default=None, help="default stencil{dim}d")
    ap.add_argument("--out", default="out/stencil", help=f"folder (the shipped: {WEIGHTS_DIR})")
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    sizes = args.sizes or ([32, 48] if args.dim == 2 else [12, 16])
    args.problems = args.problems or (32 if args.dim == 2 else 16)
    args.steps = args.steps or (300 if args.dim == 2 else 200)
    vn = args.validate_n or (128 if args.dim == 2 else 32)
    name = args.name or f"stencil{args.dim}d"

    t0 = time.perf_counter()
    problems = training_problems(args.dim, sizes, args.problems, args.block, args.compact)
    print(f"{len(problems)} training matrices at sides {sizes} in {time.perf_counter() - t0:.1f} s")
    model = StencilNet(
        args.dim,
        args.width,
        args.depth,
        kernel_size=args.kernel_size,
        block=args.block,
        compact=args.compact,
    ).double()
    if args.constant:
        for pname, param in model.named_parameters():
            param.requires_grad_(pname == "head.bias")
    before = held_out(args.dim, vn, model)
    log = train_stencil(model, problems, steps=args.steps, lr=args.lr, seed=args.seed,
                        validate=lambda m: float(np.mean(held_out(args.dim, vn, m))),
                        validate_every=max(args.steps // 5, 1))  # fmt: skip
    model = model.float().eval()
    after = held_out(args.dim, vn, model)
    classical = {s: held_out(args.dim, vn, f"{s}:{args.block}") for s in ("coarse", "smoothed")}
    print(f"trained {args.steps} steps in {log['seconds']:.0f} s; held-out {vn}^{args.dim} "
          f"iterations: learned {after} (untrained = smoothed {before}), "
          f"coarse {classical['coarse']}, smoothed {classical['smoothed']}")  # fmt: skip

    big = poisson_problem("obstacles", 512 if args.dim == 2 else 64, args.dim, seed=HELD_OUT_SEED)
    M = learned_map(model, big.matrix, big.labels)
    cost = map_cost(M, big.labels.size, repeats=5)  # one application of the run-time map
    meta = {
        "command": "python examples/" + Path(__file__).name + " " + shlex.join(sys.argv[1:]),
        "training": {"seconds": round(log["seconds"], 1), "steps": args.steps, "lr": args.lr,
                     "sizes": sizes, "problems": len(problems), "seeds": "0..",
                     "final_loss": log["losses"][-1], "validation": log["validation"],
                     "machine": f"{platform.machine()}, {os.cpu_count()} cores, 1 thread"},
        "data": {"geometries": ["obstacles", "plume"], "sizes": sizes,
                 "seeds": "0.. (floating pockets skipped)", "matrices": len(problems),
                 "loss": "two-level A-norm contraction on random probes (3 cycles)"},
        "block": args.block,
        "held_out": {"n": vn, "seeds": [HELD_OUT_SEED, HELD_OUT_SEED + 1], "learned": after,
                     "untrained": before, **classical},
        "flops_per_cell": model.flops_per_cell(),
        "setup_ms": {f"{big.labels.shape[0]}^{args.dim}": {
            "prolongation": round(1e3 * M.prolongation_s, 1),
            "network": round(1e3 * M.network_s, 1), "total": round(1e3 * M.setup_s, 1)}},
        "application": {f"{big.labels.shape[0]}^{args.dim}": {
            "ms": round(cost["map_ms"], 1),
            "flops_per_cell": round(cost["map_flops_per_cell"], 1)}},
    }  # fmt: skip
    tn = 64 if args.dim == 2 else 16
    test_its = held_out(args.dim, tn, model, 4, TEST_SEED)
    meta["test_budget"] = {
        "dim": args.dim, "n": tn, "seeds": [TEST_SEED + s for s in range(4)],
        "geometries": ["obstacles", "plume"] * 2, "learned": test_its,
        "smoothed": held_out(args.dim, tn, f"smoothed:{args.block}", 4, TEST_SEED),
        "max_iterations": int(max(test_its)) + 1,
    }  # fmt: skip
    saved = save_pretrained(model, name, meta, folder=args.out)
    print(json.dumps({k: saved[k] for k in ("name", "parameters", "sha256")}))


if __name__ == "__main__":
    main()
