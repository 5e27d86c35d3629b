"""A priori tensor-compressed CNN surrogates of a finite-element wave simulator.

After Boukraichi, Akkari, Casenave and Ryckelynck (2023): convolution kernels are put in a
compressed tensor format (CP one-way filters, Tucker, tensor train) *before* training, and the
compressed networks are compared with an ordinary CNN on data from a finite-element model of the
2D wave equation.

1. ``pde.wave_data.make_dataset``: Q1 finite elements, lumped mass, leapfrog, absorbing
   boundary; random layered velocity models (c in [1, 2]) with an inclusion, random Ricker
   sources; snapshots every ``--cells`` cells of travel at the fastest speed, after the source
   has fired (saved as .npz).
2. Every surrogate maps ``(u^{n-1}, u^n, c)`` to ``u^{n+1} = 2u^n - u^{n-1} + CNN(...)`` (the
   leapfrog form, so the network learns the second difference). Same architecture, same
   optimiser, steps, batches and seed for all; only the convolutions differ: ``nn.Conv2d`` or
   ``CPConv2d`` / ``TuckerConv2d`` / ``TTConv2d`` at several ranks, trained from scratch.
   Adam moves each parameter by about ``lr`` whatever its size, so a product of factors
   learns at a different relative speed than a dense kernel; ``--factor-lr`` (default on)
   scales each factor's rate so that the reconstructed kernel gets the dense kernel's relative
   update per step (dense layers are trained exactly as without it). ``--unroll k`` trains
   every model on ``k``-step rollouts instead of single steps.
3. Evaluation on held-out simulations: one-step error, and the relative L2 error of an
   autoregressive rollout of ``--rollout`` steps from two true snapshots.

Prints a table (parameters, memory, FLOPs, training CPU time, errors; with ``--seeds`` the mean
and spread over seeds) and whether a model with at least 10x fewer convolution parameters than
the ``--channels`` dense reference reaches a rollout error within 1.1x of it; ``--dense-widths``
adds dense models of other widths (where dense saturates; the narrowest is the same-size
control) and ``--wide`` compressed models of their own width. Saves a figure of predicted vs
finite-element wavefields (``--plot``). The defaults (one seed, a 32-channel dense reference, two
ranks per kind) take about 2.5 minutes of one core; ``--study`` (three seeds, dense widths 9-48,
one rank per kind at 11-13x fewer parameters, CP at 48 channels) about ten minutes.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from wave_surrogate_model import LAYERS, Surrogate, ZeroConv, conv_factory, evaluate, train

from pde.wave_data import load_dataset, make_dataset, save_dataset
from tensors import conv_flops, count_parameters
from tensors.cost import parameter_bytes, saved_activation_bytes


def plot(path: str, data, test_sims, results, rollout: int, best_name: str) -> None:
    """Wavefields (finite elements, dense, ``best_name``) and every model's error curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dense = results[0]
    best = next(r for r in results if r["name"] == best_name)
    steps = [s for s in (1, rollout // 2, rollout) if s >= 1]
    truth = data["trajectories"][test_sims[0], [s + 1 for s in steps]]
    rows = [("finite elements", truth), (dense["name"], dense["pred"][0, [s - 1 for s in steps]])]
    rows.append((best["name"], best["pred"][0, [s - 1 for s in steps]]))
    fig = plt.figure(figsize=(4 + 2.6 * len(steps), 7.5))
    grid = fig.add_gridspec(3, len(steps) + 1, width_ratios=[1] * len(steps) + [1.6])
    vmax = float(np.abs(truth).max())
    for r, (label, fields) in enumerate(rows):
        for k, step in enumerate(steps):
            ax = fig.add_subplot(grid[r, k])
            ax.imshow(fields[k], cmap="seismic", vmin=-vmax, vmax=vmax, origin="lower")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"step {step}")
            if k == 0:
                ax.set_ylabel(label, fontsize=8)
    ax = fig.add_subplot(grid[:, -1])
    for res in results:
        style = "k-" if res is dense else "-"
        ax.semilogy(np.arange(1, rollout + 1), res["curve"], style, label=res["name"], lw=1)
    ax.set_xlabel("rollout step")
    ax.set_ylabel("relative L2 error")
    ax.legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def ints(text: str) -> list[int]:
    return [int(t) for t in text.split(",") if t.strip()]


def specs(text: str) -> list[tuple[str, int, int]]:
    """``kind:rank:channels,...``: compressed models with their own hidden width."""
    out = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        parts = item.split(":")
        if len(parts) != 3 or parts[0] not in LAYERS or not all(q.isdigit() for q in parts[1:]):
            raise argparse.ArgumentTypeError(
                f"expected kind:rank:channels with kind in {sorted(LAYERS)}, got {item!r}"
            )
        out.append((parts[0], int(parts[1]), int(parts[2])))
    return out


# The long configuration (--study): three seeds; dense models of widths 9 to 48 around the
# 32-channel reference (where dense saturates); one rank per kind at 11-13x fewer parameters and
# a wider CP model that stays >= 10x below the reference.
STUDY = {
    "seeds": [0, 1, 2],
    "dense_widths": [9, 16, 24, 48],
    "cp_ranks": [8],
    "tucker_ranks": [5],
    "tt_ranks": [6],
    "wide": [("cp", 6, 48)],
}


def get_data(args, seed: int) -> dict:
    """The seeded dataset, read from ``--data`` when it matches, else simulated and saved."""
    path = args.data.format(seed=seed)
    n_total = args.sims + args.test_sims
    if os.path.exists(path):
        data = load_dataset(path)
        same = (
            data["trajectories"].shape[:2] == (n_total, args.snapshots)
            and data["seed"] == seed
            and data["trajectories"].shape[2] == args.nx + 1
            and abs(data["snapshot_dt"] - args.cells / args.nx / 2.0) < 1e-12
        )
        if same:
            return data
    data = make_dataset(
        n_total,
        args.nx,
        n_snapshots=args.snapshots,
        seed=seed,
        snapshot_dt=args.cells / args.nx / 2.0,
    )
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    save_dataset(path, data)
    return data


def run_seed(args, seed: int, configs) -> tuple[list[dict], dict, float]:
    """Train and evaluate every ``(kind, rank, width)`` model on the data of ``seed``."""
    t0 = time.perf_counter()
    data = get_data(args, seed)
    sims = data["sim_index"]
    test_idx = np.flatnonzero(sims >= args.sims)
    test_sims = np.arange(args.sims, args.sims + args.test_sims)
    grid = data["trajectories"].shape[-1]
    print(
        f"seed {seed}: {len(test_sims) + args.sims} FE simulations on a {grid}x{grid} grid, "
        f"{int((sims < args.sims).sum())} training pairs, {len(test_idx)} test pairs, "
        f"snapshot dt {data['snapshot_dt']:.4f}, {time.perf_counter() - t0:.1f} s"
    )
    args.seed = seed
    x1 = torch.from_numpy(data["inputs"][:1]).expand(args.batch, -1, -1, -1)
    c1 = torch.from_numpy(data["velocity"][:1])[:, None].expand(args.batch, -1, -1, -1)
    results = []
    for kind, rank, width in configs:
        torch.manual_seed(seed)
        model = Surrogate(conv_factory(kind, rank, args.implementation), width, args.depth)
        seconds = train(model, data, np.arange(args.sims), args)
        one, roll, curve, pred = evaluate(model, data, test_sims, test_idx, args.rollout)
        if kind == "dense":
            name = "dense" if width == args.channels else f"dense c={width}"
        else:
            name = f"{kind} r={rank}" + ("" if width == args.channels else f" c={width}")
        results.append(
            {
                "name": name,
                "kind": kind,
                "params": count_parameters(model),
                "param_kb": parameter_bytes(model) / 1024,
                "act_mb": saved_activation_bytes(model, x1, c1) / 2**20,
                "mflops": sum(conv_flops(m, (grid, grid)) for m in model.convs()) / 1e6,
                "seconds": seconds,
                "one": one,
                "rollout": roll,
                "curve": curve,
                "pred": pred,
            }
        )
        print(f"  {name:<14} rollout error {roll:.4f} ({seconds:.0f} CPU s)", flush=True)
    zero = Surrogate(lambda i, o: ZeroConv(o), args.channels, args.depth)  # u+ = 2u - u-
    _, roll_zero, _, _ = evaluate(zero, data, test_sims, test_idx, args.rollout)
    return results, data, roll_zero


def aggregate(per_seed: list[list[dict]]) -> list[dict]:
    """Mean over seeds of each model's figures; rollout spread and per-seed ratios to dense."""
    rows = []
    for j, first in enumerate(per_seed[0]):
        runs = [res[j] for res in per_seed]
        roll = np.array([r["rollout"] for r in runs])
        ratios = np.array([r["rollout"] / res[0]["rollout"] for r, res in zip(runs, per_seed)])
        row = {k: first[k] for k in ("name", "kind", "params", "param_kb", "act_mb", "mflops")}
        row.update(
            seconds=float(np.mean([r["seconds"] for r in runs])),
            one=float(np.mean([r["one"] for r in runs])),
            rollout=float(roll.mean()),
            std=float(roll.std(ddof=1)) if len(roll) > 1 else 0.0,
            seed_ratios=ratios,
            curve=np.mean([r["curve"] for r in runs], axis=0),
        )
        rows.append(row)
    for r in rows:
        r["compression"] = rows[0]["params"] / r["params"]
        r["ratio"] = r["rollout"] / rows[0]["rollout"]
    return rows


def report(args, rows: list[dict], roll_zero: float, grid: int) -> None:
    """The table, the must-show verdict and the same-size control."""
    n = len(args.seeds)
    print(
        f"\nsame budget for all: {args.steps} Adam steps (cosine decay), batch {args.batch}, "
        f"lr {args.lr}; {args.depth} conv layers; unroll {args.unroll}; factor-matched lr "
        f"{'on' if args.factor_lr else 'off'}; implementation={args.implementation}; "
        f"seeds {','.join(map(str, args.seeds))} (data and initialisation)"
    )
    spread = "  +- std" if n > 1 else ""
    head = (
        f"{'model':<15}{'conv params':>12}{'fewer':>7}{'param KB':>10}{'act MB':>8}"
        f"{'MFLOP':>8}{'CPU s':>9}{'1-step err':>12}{'rollout err':>13}{spread:>8}"
        f"{'vs dense':>10}" + ("  per seed" if n > 1 else "")
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        extra = f"{r['std']:>8.4f}" if n > 1 else ""
        seeds = "  " + "/".join(f"{x:.2f}" for x in r["seed_ratios"]) if n > 1 else ""
        print(
            f"{r['name']:<15}{r['params']:>12,}{r['compression']:>6.1f}x{r['param_kb']:>10.1f}"
            f"{r['act_mb']:>8.2f}{r['mflops']:>8.2f}{r['seconds']:>9.1f}{r['one']:>12.4f}"
            f"{r['rollout']:>13.4f}{extra}{r['ratio']:>9.2f}x{seeds}"
        )
    mean = "mean over seeds; 'vs dense' = ratio of the means, per seed: ratio on each seed; " * (
        n > 1
    )
    print(
        f"({mean}act MB: activations saved for backward, batch {args.batch}; MFLOP: one "
        f"{grid}x{grid} sample forward; rollout: {args.rollout} steps on {args.test_sims} "
        f"held-out simulations; reference: the {args.channels}-channel dense model)"
    )
    print(f"(linear extrapolation u+ = 2u - u-, no network: rollout error {roll_zero:.4f})")
    dense = rows[0]
    small = [r for r in rows if r["kind"] != "dense" and r["compression"] >= 10]
    hits = [r for r in small if r["ratio"] <= 1.1]
    if hits:
        best = min(hits, key=lambda r: r["params"])
        print(
            f"\nyes: {best['name']} has {best['compression']:.1f}x fewer conv parameters and "
            f"rollout error {best['rollout']:.4f} = {best['ratio']:.2f}x the dense "
            f"{dense['rollout']:.4f} (<= 1.1x)"
        )
    else:
        best = min(small, key=lambda r: r["ratio"]) if small else None
        detail = (
            f"; best of them: {best['name']} ({best['compression']:.1f}x fewer) at "
            f"{best['ratio']:.2f}x the dense rollout error"
            if best
            else ""
        )
        print(
            f"\nno model with >= 10x fewer conv parameters reached <= 1.1x the dense "
            f"rollout error {dense['rollout']:.4f}{detail}"
        )
    widths = [r for r in rows if r["kind"] == "dense"]
    print(
        "dense by width: "
        + ", ".join(f"{r['name']} ({r['params']:,}) {r['rollout']:.3f}" for r in widths)
    )
    ctrl = sorted(widths[1:], key=lambda r: r["params"])
    comp = [r for r in rows if r["kind"] != "dense"]
    if ctrl and comp:
        fits = [r for r in comp if r["params"] <= ctrl[0]["params"]] or comp
        same = min(fits, key=lambda r: r["rollout"])
        print(
            f"same-size control: {ctrl[0]['name']} ({ctrl[0]['params']:,} params) rollout "
            f"{ctrl[0]['rollout']:.4f} vs {same['name']} ({same['params']:,}) {same['rollout']:.4f}"
        )
    if dense["rollout"] >= roll_zero:
        print("warning: the dense model does not beat u+ = 2u - u-; the verdict means nothing")
    elif dense["rollout"] > 0.3:
        print(
            f"caution: at this budget the rollouts drift (dense rollout error "
            f"{dense['rollout']:.2f}); one seed ranks models noisily - use --seeds or --study"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=32, help="training simulations")
    parser.add_argument("--test-sims", type=int, default=8)
    parser.add_argument("--nx", type=int, default=31, help="elements per axis (grid nx+1)")
    parser.add_argument("--snapshots", type=int, default=30)
    parser.add_argument(
        "--cells",
        type=float,
        default=1.0,
        help="snapshot spacing: cells travelled at the fastest speed",
    )
    parser.add_argument("--channels", type=int, default=32, help="width of the dense reference")
    parser.add_argument(
        "--compressed-channels",
        type=int,
        default=0,
        help="hidden channels of the compressed models (0: same as --channels)",
    )
    parser.add_argument(
        "--dense-widths",
        type=ints,
        default=[9],
        help="further dense models of these widths (9: the same-size control)",
    )
    parser.add_argument(
        "--wide",
        type=specs,
        default=[],
        help="further compressed models kind:rank:channels, e.g. cp:6:48",
    )
    parser.add_argument("--depth", type=int, default=5, help="number of conv layers")
    parser.add_argument("--steps", type=int, default=400, help="optimiser steps per model")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument(
        "--factor-lr",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="scale each factor's learning rate to give dense-like kernel updates",
    )
    parser.add_argument(
        "--unroll", type=int, default=1, help="rollout steps in the training loss (all models)"
    )
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--rollout", type=int, default=20)
    parser.add_argument(
        "--noise",
        type=float,
        default=0.01,
        help="std of Gaussian noise added to the training inputs",
    )
    parser.add_argument("--cp-ranks", type=ints, default=[4, 8])
    parser.add_argument("--tucker-ranks", type=ints, default=[3, 5])
    parser.add_argument("--tt-ranks", type=ints, default=[3, 6])
    parser.add_argument(
        "--implementation", default="factorized", choices=["factorized", "reconstructed"]
    )
    parser.add_argument(
        "--data", default="out/wave_data_s{seed}.npz", help="dataset .npz per seed (reused)"
    )
    parser.add_argument("--plot", default="out/wave_surrogate.png")
    parser.add_argument(
        "--seeds", type=ints, default=[0], help="seeds (data and initialisation), run in turn"
    )
    parser.add_argument(
        "--study",
        action="store_true",
        help="the long configuration (STUDY): 3 seeds, dense widths 9-48, one rank per kind",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1 avoids OpenMP stalls on a shared machine)",
    )
    args = parser.parse_args(argv)
    if args.study:
        for key, value in STUDY.items():
            setattr(args, key, value)
    torch.set_num_threads(args.threads)
    if args.rollout > args.snapshots - 2:
        parser.error(f"--rollout must be <= snapshots - 2 = {args.snapshots - 2}")

    t0, c0 = time.perf_counter(), time.process_time()
    width = args.compressed_channels or args.channels
    configs = [("dense", 0, args.channels)]
    configs += [("dense", 0, w) for w in args.dense_widths if w != args.channels]
    configs += [(k, r, width) for k in LAYERS for r in getattr(args, f"{k}_ranks")]
    configs += list(args.wide)
    per_seed, first, zeros = [], None, []
    for seed in args.seeds:
        results, data, roll_zero = run_seed(args, seed, configs)
        per_seed.append(results)
        zeros.append(roll_zero)
        first = first or (results, data)
    rows = aggregate(per_seed)
    grid = first[1]["trajectories"].shape[-1]
    report(args, rows, float(np.mean(zeros)), grid)
    small = [r for r in rows if r["kind"] != "dense" and r["compression"] >= 10]
    best = min(small or rows[1:] or rows, key=lambda r: r["ratio"])["name"]
    test_sims = np.arange(args.sims, args.sims + args.test_sims)
    plot(args.plot, first[1], test_sims, first[0], args.rollout, best)
    cpu = time.process_time() - c0
    print(
        f"figure: {args.plot} (seed {args.seeds[0]}); total {time.perf_counter() - t0:.1f} s "
        f"wall, {cpu:.1f} s CPU"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
