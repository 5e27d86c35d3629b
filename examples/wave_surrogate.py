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

Prints a table (parameters, memory, FLOPs, training time, errors) and whether a model with at
least 10x fewer convolution parameters reaches a rollout error within 1.1x the dense one; saves
a figure of predicted vs finite-element wavefields (``--plot``). Runs in about two to three
minutes on 2 cores with the defaults (a 32-channel dense model, compressed ranks chosen so that
several models have >= 10x fewer convolution parameters); raise ``--steps``/``--sims`` for a
real study.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import torch
from torch import nn

from pde.wave_data import load_dataset, make_dataset, save_dataset
from tensors import CPConv2d, TTConv2d, TuckerConv2d, conv_flops, count_parameters, max_rank
from tensors.cost import parameter_bytes, saved_activation_bytes
from tensors.factorized import FactorizedConv

LAYERS = {"cp": CPConv2d, "tucker": TuckerConv2d, "tt": TTConv2d}


class Surrogate(nn.Module):
    """``u^{n+1} = 2u^n - u^{n-1} + f(u^{n-1}, u^n, c, 1)``, f a stack of 3x3 convolutions.

    The constant channel lets the zero-padded convolutions see where the absorbing boundary is.
    """

    def __init__(self, make_conv, channels: int, depth: int) -> None:
        super().__init__()
        widths = [4] + [channels] * (depth - 1) + [1]
        layers: list[nn.Module] = []
        for j, (i, o) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(make_conv(i, o))
            if j < depth - 1:
                layers.append(nn.GELU())
        self.net = nn.Sequential(*layers)

    def forward(self, past: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        ones = torch.ones_like(c)  # zero padding of this channel marks the boundary
        x = torch.cat([past, (c - 1.5) / 0.5, ones], dim=1)
        return 2 * past[:, 1:2] - past[:, 0:1] + self.net(x)

    def convs(self) -> list[nn.Module]:
        return [m for m in self.net if not isinstance(m, nn.GELU)]


class _Zero(nn.Module):
    """A 'convolution' that outputs zeros (the no-network reference)."""

    def __init__(self, out_channels: int) -> None:
        super().__init__()
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[0], self.out_channels, *x.shape[2:])


def conv_factory(kind: str, rank: int, implementation: str):
    """A ``make_conv(i, o)`` with the rank clipped to each layer's bounds."""
    if kind == "dense":
        return lambda i, o: nn.Conv2d(i, o, 3, padding=1)

    def make(i: int, o: int) -> nn.Module:
        bounds = max_rank(kind, (o, i, 3, 3))
        r = tuple(min(rank, b) for b in bounds)
        return LAYERS[kind](i, o, 3, padding=1, rank=r, implementation=implementation)

    return make


def param_groups(model: nn.Module, lr: float, matched: bool) -> list[dict]:
    """Adam parameter groups; with ``matched`` each factor's rate is scaled to its size.

    Adam moves every parameter by about ``lr`` per step whatever its magnitude, so a weight of
    standard deviation sigma changes by ``lr / sigma`` relatively. A dense kernel starts at
    ``sigma_W = 1/sqrt(3 fan_in)``; a factor of an n-factor kernel starts at ``sigma_f``
    (``FactorizedConv.reset_parameters``), and n independent relative changes add up to
    ``sqrt(n)`` times one. ``lr_f = lr * sigma_f / (sqrt(n) sigma_W)`` gives the reconstructed
    kernel the same relative update per step as a dense kernel; dense layers and biases keep
    ``lr`` (so the dense model is trained exactly as without this option).
    """
    if not matched:
        return [{"params": list(model.parameters()), "lr": lr}]
    groups, seen = [], set()
    for m in model.modules():
        if isinstance(m, FactorizedConv):
            fan_in = m.in_channels * math.prod(m.kernel_size)
            n = len(m.factors)
            sigma_f = (3 * fan_in * math.prod(m.rank)) ** (-1.0 / (2 * n))
            scale = sigma_f * math.sqrt(3 * fan_in / n)
            for f in m.factors:
                groups.append({"params": [f], "lr": lr * scale})
                seen.add(id(f))
    rest = [p for p in model.parameters() if id(p) not in seen]
    return [{"params": rest, "lr": lr}, *groups]


def train(model, data, train_sims, args) -> float:
    """Adam with cosine decay on ``--unroll``-step rollouts; the same windows for every model.

    Each sample is a window of ``unroll + 2`` consecutive snapshots of a training simulation:
    the model starts from the first two (plus input noise) and is rolled out ``unroll`` steps on
    its own predictions; the loss is the mean squared error over all predicted steps (one step:
    the usual next-state regression). Returns the training time in seconds.
    """
    traj = torch.from_numpy(data["trajectories"][train_sims])  # (S, T, H, W)
    c = torch.from_numpy(data["velocity"][train_sims])[:, None]
    n_sims, n_snap = traj.shape[:2]
    k = args.unroll
    opt = torch.optim.Adam(param_groups(model, args.lr, args.factor_lr), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
    gen = torch.Generator().manual_seed(args.seed)
    start = time.perf_counter()
    for _ in range(args.steps):
        s = torch.randint(0, n_sims, (args.batch,), generator=gen)
        t = torch.randint(0, n_snap - k - 1, (args.batch,), generator=gen)
        win = traj[s[:, None], t[:, None] + torch.arange(k + 2)]  # (B, k + 2, H, W)
        past = win[:, :2] + args.noise * torch.randn(win[:, :2].shape, generator=gen)
        loss = 0.0
        for j in range(k):
            nxt = model(past, c[s])
            loss = loss + nn.functional.mse_loss(nxt, win[:, j + 2 : j + 3]) / k
            past = torch.cat([past[:, 1:2], nxt], dim=1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return time.perf_counter() - start


@torch.no_grad()
def evaluate(model, data, test_sims, test_idx, rollout: int):
    """One-step relative error, rollout relative error and its per-step curve, a rollout."""
    x = torch.from_numpy(data["inputs"][test_idx])
    y = torch.from_numpy(data["targets"][test_idx])
    c = torch.from_numpy(data["velocity"][data["sim_index"][test_idx]])[:, None]
    one = float((model(x, c) - y).norm() / y.norm())
    traj = torch.from_numpy(data["trajectories"][test_sims])  # (S, T, H, W)
    cs = torch.from_numpy(data["velocity"][test_sims])[:, None]
    past = traj[:, 0:2]
    preds = []
    for _ in range(rollout):
        nxt = model(past, cs)
        preds.append(nxt[:, 0])
        past = torch.cat([past[:, 1:2], nxt], dim=1)
    pred = torch.stack(preds, dim=1)
    true = traj[:, 2 : 2 + rollout]
    per_step = ((pred - true).flatten(2).norm(dim=2) / true.flatten(2).norm(dim=2)).mean(0)
    return one, float((pred - true).norm() / true.norm()), per_step.numpy(), pred.numpy()


def plot(path: str, data, test_sims, results, rollout: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dense = results[0]
    small = [r for r in results if r["kind"] != "dense" and r["compression"] >= 10]
    comp = [r for r in results if r["kind"] != "dense"]
    best = min(small or comp or results, key=lambda r: r["rollout"])
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


def ranks(text: str) -> list[int]:
    return [int(t) for t in text.split(",") if t.strip()]


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
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument(
        "--compressed-channels",
        type=int,
        default=0,
        help="hidden channels of the compressed models (0: same as --channels)",
    )
    parser.add_argument(
        "--small-dense",
        type=int,
        default=9,
        help="also train a dense model this narrow (the same-size control; 0: skip)",
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
    parser.add_argument("--cp-ranks", type=ranks, default=[4, 8])
    parser.add_argument("--tucker-ranks", type=ranks, default=[3, 5])
    parser.add_argument("--tt-ranks", type=ranks, default=[3, 6])
    parser.add_argument(
        "--implementation", default="factorized", choices=["factorized", "reconstructed"]
    )
    parser.add_argument("--data", default="out/wave_data.npz", help="dataset .npz (reused)")
    parser.add_argument("--plot", default="out/wave_surrogate.png")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1 avoids OpenMP stalls on a shared machine)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.rollout > args.snapshots - 2:
        parser.error(f"--rollout must be <= snapshots - 2 = {args.snapshots - 2}")

    t0 = time.perf_counter()
    n_total = args.sims + args.test_sims
    data = None
    if os.path.exists(args.data):
        data = load_dataset(args.data)
        snap = args.cells / args.nx / 2.0  # c_max = 2
        same = (
            data["trajectories"].shape[:2] == (n_total, args.snapshots)
            and data["seed"] == args.seed
            and data["trajectories"].shape[2] == args.nx + 1
            and abs(data["snapshot_dt"] - snap) < 1e-12
        )
        data = data if same else None
    if data is None:
        data = make_dataset(
            n_total,
            args.nx,
            n_snapshots=args.snapshots,
            seed=args.seed,
            snapshot_dt=args.cells / args.nx / 2.0,
        )
        os.makedirs(os.path.dirname(args.data) or ".", exist_ok=True)
        save_dataset(args.data, data)
    sims = data["sim_index"]
    train_idx = np.flatnonzero(sims < args.sims)
    test_idx = np.flatnonzero(sims >= args.sims)
    test_sims = np.arange(args.sims, n_total)
    grid = data["trajectories"].shape[-1]
    print(
        f"data: {n_total} FE simulations on a {grid}x{grid} grid ({args.data}), "
        f"{len(train_idx)} training pairs, {len(test_idx)} test pairs, "
        f"snapshot dt {data['snapshot_dt']:.4f}, {time.perf_counter() - t0:.1f} s"
    )

    configs = [("dense", 0, args.channels)]
    if args.small_dense:
        configs.append(("dense", 0, args.small_dense))
    configs += [
        (k, r, args.compressed_channels or args.channels)
        for k in ("cp", "tucker", "tt")
        for r in getattr(args, f"{k}_ranks")
    ]
    results = []
    x1 = torch.from_numpy(data["inputs"][:1])
    c1 = torch.from_numpy(data["velocity"][:1])[:, None]
    for kind, rank, width in configs:
        torch.manual_seed(args.seed)
        model = Surrogate(conv_factory(kind, rank, args.implementation), width, args.depth)
        seconds = train(model, data, np.arange(args.sims), args)
        one, roll, curve, pred = evaluate(model, data, test_sims, test_idx, args.rollout)
        xb = x1.expand(args.batch, -1, -1, -1)
        results.append(
            {
                "name": f"{kind} r={rank}"
                if kind != "dense"
                else ("dense" if width == args.channels else f"dense c={width}"),
                "kind": kind,
                "params": count_parameters(model),
                "param_kb": parameter_bytes(model) / 1024,
                "act_mb": saved_activation_bytes(model, xb, c1.expand(args.batch, -1, -1, -1))
                / 2**20,
                "mflops": sum(conv_flops(m, (grid, grid)) for m in model.convs()) / 1e6,
                "seconds": seconds,
                "one": one,
                "rollout": roll,
                "curve": curve,
                "pred": pred,
            }
        )
    zero = Surrogate(lambda i, o: _Zero(o), args.channels, args.depth)  # u+ = 2u - u-
    _, roll_zero, _, _ = evaluate(zero, data, test_sims, test_idx, args.rollout)
    dense = results[0]
    for r in results:
        r["compression"] = dense["params"] / r["params"]
        r["ratio"] = r["rollout"] / dense["rollout"]

    print(
        f"\nsame budget for all: {args.steps} Adam steps, batch {args.batch}, lr {args.lr}, "
        f"seed {args.seed}; {args.depth} conv layers, {args.channels} channels "
        f"({args.compressed_channels or args.channels} compressed); unroll {args.unroll}; "
        f"factor-matched lr {'on' if args.factor_lr else 'off'}; "
        f"implementation={args.implementation}"
    )
    head = (
        f"{'model':<12}{'conv params':>12}{'fewer':>7}{'param KB':>10}{'act MB':>8}"
        f"{'MFLOP':>8}{'train s':>9}{'1-step err':>12}{'rollout err':>13}{'vs dense':>10}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        print(
            f"{r['name']:<12}{r['params']:>12,}{r['compression']:>6.1f}x{r['param_kb']:>10.1f}"
            f"{r['act_mb']:>8.2f}{r['mflops']:>8.2f}{r['seconds']:>9.1f}{r['one']:>12.4f}"
            f"{r['rollout']:>13.4f}{r['ratio']:>9.2f}x"
        )
    print(
        f"(act MB: activations saved for backward, batch {args.batch}; MFLOP: one "
        f"{grid}x{grid} sample forward; rollout: {args.rollout} steps on "
        f"{len(test_sims)} held-out simulations)"
    )
    print(
        f"(reference: linear extrapolation u+ = 2u - u-, no network: rollout error {roll_zero:.4f})"
    )
    small = [r for r in results if r["kind"] != "dense" and r["compression"] >= 10]
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
    ctrl = [r for r in results[1:] if r["kind"] == "dense"]
    comp = [r for r in results if r["kind"] != "dense"]
    if ctrl and comp:
        fits = [r for r in comp if r["params"] <= ctrl[0]["params"]] or comp
        same = min(fits, key=lambda r: r["rollout"])
        print(
            f"same-size control: {ctrl[0]['name']} ({ctrl[0]['params']:,} params) rollout "
            f"{ctrl[0]['rollout']:.4f} vs {same['name']} ({same['params']:,}) {same['rollout']:.4f}"
        )
    if dense["rollout"] > 0.3:
        print(
            f"caution: at this budget the rollouts drift (dense rollout error "
            f"{dense['rollout']:.2f}); the ranking between models is noisy - raise --steps and "
            "--sims for a study"
        )
    plot(args.plot, data, test_sims, results, args.rollout)
    print(f"figure: {args.plot}; total {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
