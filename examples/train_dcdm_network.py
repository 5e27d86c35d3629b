"""Regenerate the shipped pretrained DCDM network (``solvers/network/weights/poisson2d.*``).

Training data: Lanczos Ritz vectors of obstacle / plume pressure matrices at several sizes
(training seeds 0..; held-out validation uses seeds from 10 000), right-hand sides weighted
toward the low end of the spectrum. Validation = DCDM iterations (rtol 1e-6) on held-out
geometries, every ``--validate-every`` steps.

    python examples/train_dcdm_network.py                     # the shipped run (~10 min CPU),
                                                              # written to out/network (add
                                                              # --out solvers/network/weights
                                                              # to replace the shipped files)
    python examples/train_dcdm_network.py --steps 20 --out out/net  # a quick try
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from pde import poisson_problem
from solvers.dcdm import dcdm
from solvers.network.model import MultigridNet, count_parameters
from solvers.network.precond import AIR, SOLID, NetworkMap
from solvers.network.registry import WEIGHTS_DIR, load_pretrained, save_pretrained
from solvers.network.train import iteration_residuals, train, training_set

HELD_OUT_SEED = 10_000


def problem(geometry: str, n: int, dim: int, seed: int):
    return poisson_problem(geometry, n, dim, seed=seed)


def exterior_code(prob) -> int:
    return AIR if prob.exterior == "air" else SOLID


def held_out_iterations(
    model, dim: int, sizes: list[int], block: int | None = None, count: int = 2
) -> float:
    """Mean DCDM iterations (network+smoother(+coarse) map, 10 directions), held-out obstacles."""
    its = []
    for n in sizes:
        for s in range(count):
            p = problem("obstacles", n, dim, HELD_OUT_SEED + s)
            f = NetworkMap(model, p.labels, exterior=exterior_code(p), A=p.matrix, coarse=block)
            _, info = dcdm(p.matrix, p.rhs_divergence(s), rtol=1e-6, M=f, directions=10,
                           maxiter=1000)  # fmt: skip
            its.append(info.iterations if info.converged else 1000)
    return float(np.mean(its))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dim", type=int, default=2)
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 48, 64])
    ap.add_argument("--geometries", type=int, default=8, help="training geometries per size")
    ap.add_argument("--ritz-steps", type=int, default=150)
    ap.add_argument("--presmooth", type=int, default=0, help="train on SGS-smoothed residuals")
    ap.add_argument("--coarse-block", type=int, default=0,
                    help="train as the partner of a coarse correction with this block side "
                         "(the map network+coarse)")  # fmt: skip
    ap.add_argument("--max-levels", type=int, default=None,
                    help="cap the network's grid levels (kept in its config)")  # fmt: skip
    ap.add_argument("--init", default=None, help="start from this pretrained model (fine-tune)")
    ap.add_argument("--init-dir", default=None, help="folder of --init (default: the package's)")
    ap.add_argument("--residual-pool", type=int, default=0,
                    help="per matrix, add this many DCDM residuals of the --init model's map "
                         "(as its network sees them) to the data")  # fmt: skip
    ap.add_argument("--pool-fraction", type=float, default=0.5)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=600.0, help="seconds of training")
    ap.add_argument("--validate-every", type=int, default=100)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest on a shared CPU)"
    )
    ap.add_argument("--name", default=None, help="default: poisson{dim}d")
    ap.add_argument("--out", default="out/network",
                    help=f"folder of NAME.pt / NAME.json (shipped: {WEIGHTS_DIR})")  # fmt: skip
    ap.add_argument("--checkpoint", default="out/network/checkpoint.pt")
    args = ap.parse_args(argv)
    name = args.name or f"poisson{args.dim}d"
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    sets, probs = [], []
    for n in args.sizes:
        for g in range(args.geometries):
            geo = "plume" if g % 4 == 3 else "obstacles"
            p = problem(geo, n, args.dim, g + 100 * n)
            ext = exterior_code(p)
            probs.append(p)
            sets.append(
                training_set(
                    p.matrix,
                    p.labels,
                    exterior=ext,
                    seed=g,
                    ritz_steps=args.ritz_steps,
                    presmooth=args.presmooth,
                    coarse_block=args.coarse_block,
                )
            )
    data_s = time.perf_counter() - t0
    print(f"data: {len(sets)} matrices, {sum(s.vectors.shape[1] for s in sets)} Ritz vectors, "
          f"{data_s:.1f} s")  # fmt: skip
    torch.manual_seed(args.seed)
    model = MultigridNet(args.dim, args.width, args.depth, max_levels=args.max_levels)
    if args.init:
        model = load_pretrained(args.init, folder=args.init_dir)
        model.max_levels = args.max_levels
    block = args.coarse_block or None
    if args.residual_pool:
        for ts, p in zip(sets, probs):
            f = NetworkMap(model, p.labels, exterior=exterior_code(p), A=p.matrix, coarse=block)
            pool = []
            for r in iteration_residuals(p.matrix, p.rhs_divergence(0), f, args.residual_pool):
                x = np.zeros_like(r)
                f.smooth(x, r)
                s = r - p.matrix @ x
                pool.append(s / np.linalg.norm(s))
            ts.pool = torch.as_tensor(np.array(pool), dtype=torch.float32)
            ts.pool_fraction = args.pool_fraction
        print(f"residual pool: {sum(len(ts.pool) for ts in sets)} vectors")
    print(f"model: {count_parameters(model)} parameters, config {model.config()}")
    val_sizes = [min(args.sizes) * 2]
    hist = train(model, sets, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                 seed=args.seed, device=args.device, checkpoint=args.checkpoint,
                 checkpoint_every=50, time_limit=args.time_limit,
                 validate=lambda m: held_out_iterations(m, args.dim, val_sizes, block),
                 validate_every=args.validate_every)  # fmt: skip
    model.cpu()
    loss = np.array(hist["loss"])
    k = min(20, len(loss))
    print(f"trained {hist['step'][-1]} steps in {hist['seconds'][-1]:.0f} s; loss (mean of {k}) "
          f"{loss[:k].mean():.4f} -> {loss[-k:].mean():.4f}")  # fmt: skip
    print("held-out DCDM iterations by step:", list(zip(hist["val_step"], hist["val"])))
    used = sys.argv[1:] if argv is None else argv
    meta = {
        "command": " ".join(shlex.quote(a) for a in ["python", sys.argv[0], *used]),
        "data": {"sizes": args.sizes, "geometries_per_size": args.geometries,
                 "geometry": "obstacles (seed g + 100 n), plume for g % 4 == 3",
                 "ritz_steps": args.ritz_steps, "presmooth": args.presmooth,
                 "coarse_block": args.coarse_block,
                 "init": args.init, "residual_pool": args.residual_pool,
                 "pool_fraction": args.pool_fraction,
                 "low_weight": 9.0, "low_fraction": 0.55},
        "training": {"steps": hist["step"][-1], "batch_size": args.batch_size, "lr": args.lr,
                     "seed": args.seed, "seconds": round(hist["seconds"][-1], 1),
                     "device": str(args.device), "loss_first20": float(loss[:k].mean()),
                     "loss_last20": float(loss[-k:].mean())},
        "validation": {"held_out_seed": HELD_OUT_SEED, "sizes": val_sizes,
                       "dcdm_iterations": list(zip(hist["val_step"], hist["val"]))},
    }  # fmt: skip
    save_pretrained(model, name, meta, args.out)
    hist_path = Path(args.checkpoint).with_name(f"{name}_history.json")
    hist_path.write_text(json.dumps({k: hist[k] for k in ("step", "loss", "val_step", "val")}))
    print(f"saved {Path(args.out) / name}.pt / .json")


if __name__ == "__main__":
    main()
