"""Winograd interpolation points: conditioning, predictors, measured fp16/bf16 error, search, CNN.

For F(4,3), F(6,3) and F(8,3) this script compares the classic points, the Barabasz set, the
consecutive integers and NOVA's fractional sets with the sets found by ``sciconv.winograd.search``
(objectives kappa, E and fp16 error; the error search uses data seed ``--seed`` and every set is
then measured on the held-out seed ``--heldout-seed``). It prints a table of kappa_2(V_fin), E
and the measured 1D/2D fp16 and bf16 errors, the Spearman correlation of each predictor with
the measured 2D fp16 error, saves plots of error vs kappa and vs E, and finally trains a small
CNN on scikit-learn's bundled digits in float32 and runs it in fp16 with Winograd F(6,3)
convolutions (every product and partial sum rounded to fp16) against direct fp16 convolution.

Run:  python examples/winograd_points.py [--budget 240] [--trials 2000] [--out out/winograd]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from sciconv.winograd import (
    WinogradConv2d,
    balance,
    conv2d_elementwise,
    kappa_vfin,
    parse_points,
    predictor_E,
    search,
    transforms,
    winograd_error,
)

PUBLISHED = {
    4: {"classic/integer": "0,1,-1,2,-2", "halves": "0,1,-1,1/2,-1/2"},
    6: {
        "classic": "0,1,-1,2,-2,1/2,-1/2",
        "integer": "0,1,-1,2,-2,3,-3",
        "NOVA": "0,3/5,-3/5,1,-1,7/6,-7/6",
    },
    8: {
        "classic": "0,1,-1,2,-2,1/2,-1/2,3,-3",
        "Barabasz": "0,1,-1,1/2,-1/2,2,-2,-1/4,4",
        "integer": "0,1,-1,2,-2,3,-3,4,-4",
        "NOVA": "0,2/5,-2/5,5/6,-5/6,1,-1,7/6,-7/6",
    },
}


def measure(m: int, pts, trials: int, seed: int) -> dict:
    """kappa, E and held-out errors of the balanced transform (points in the given order)."""
    t = transforms(m, 3, pts)
    tb = balance(t)
    row = {"kappa": float(kappa_vfin(t.points)), "E": float(predictor_E(t))}
    for dt in ("float16", "bfloat16"):
        for dim in (1, 2):
            e = winograd_error(tb, dt, dim, trials, seed)
            row[f"{dt}_{dim}d"] = e.mean
            row[f"direct_{dt}_{dim}d"] = e.direct_mean
    return row


def finite_points(pts: str) -> tuple:
    """The finite points of a comma-separated set, as Fractions (published order)."""
    items = pts.split(",")
    return parse_points(items, len(items) + 1)[:-1]


def points_table(args: argparse.Namespace) -> tuple[list, dict]:
    rows, summary = [], {}
    for m in (4, 6, 8):
        sets = {}
        for name, pts in PUBLISHED[m].items():
            sets[name] = (finite_points(pts), True)
        for objective in ("kappa", "E", "fp16-error"):
            for sym in (True, False):
                if objective != "fp16-error" and not sym:
                    continue
                t0 = time.perf_counter()
                res = search(
                    m, 3, objective, args.budget, args.seed, symmetric=sym, progress=not args.quiet
                )
                label = f"search {objective}{'' if sym else ' asym'}"
                sets[label] = (res.best, False)
                print(
                    f"  F({m},3) {label}: {res.evaluations} sets in "
                    f"{time.perf_counter() - t0:.1f} s, best {{{', '.join(map(str, res.best))}}}"
                )
        for name, (pts, published) in sets.items():
            row = measure(m, tuple(sorted(pts)), args.trials, args.heldout_seed)
            if published:  # also the published order; keep the better one (conservative)
                alt = measure(m, pts, args.trials, args.heldout_seed)
                for k in row:
                    row[k] = min(row[k], alt[k])
            rows.append(
                {
                    "m": m,
                    "name": name,
                    "published": published,
                    "points": "{" + ", ".join(map(str, sorted(pts))) + "}",
                    **row,
                }
            )
        pub = [r for r in rows if r["m"] == m and r["published"]]
        found = [r for r in rows if r["m"] == m and not r["published"]]
        best_pub = min(pub, key=lambda r: r["float16_2d"])
        best_found = min(found, key=lambda r: r["float16_2d"])
        summary[m] = (best_found, best_pub)
    return rows, summary


def _e(v: float) -> str:
    return f"{v:>10.3e}" if v != float("inf") else f"{'overflow':>10}"


def print_table(rows: list) -> None:
    head = (
        f"{'F(m,3)':<7}{'set':<22}{'kappa(Vfin)':>12}{'E':>9}{'fp16 1D':>10}{'fp16 2D':>10}"
        f"{'bf16 1D':>10}{'bf16 2D':>10}  points"
    )
    print(head)
    print("-" * len(head))
    last = None
    for r in rows:
        if r["m"] != last:
            print(
                f"F({r['m']},3)  direct conv: fp16 1D {r['direct_float16_1d']:.2e}, 2D "
                f"{r['direct_float16_2d']:.2e}; bf16 1D {r['direct_bfloat16_1d']:.2e}, 2D "
                f"{r['direct_bfloat16_2d']:.2e}"
            )
            last = r["m"]
        print(
            f"{'':<7}{r['name']:<22}{r['kappa']:>12.4g}{r['E']:>9.4g}{_e(r['float16_1d'])}"
            f"{_e(r['float16_2d'])}{_e(r['bfloat16_1d'])}{_e(r['bfloat16_2d'])}  {r['points']}"
        )


def correlations(rows: list) -> None:
    print("\nSpearman rank correlation with the measured 2D fp16 error (held-out seed)")
    for m in (4, 6, 8, "all"):
        sub = [r for r in rows if m == "all" or r["m"] == m]
        err = [r["float16_2d"] for r in sub]
        rk = spearmanr([r["kappa"] for r in sub], err)
        re = spearmanr([r["E"] ** 2 for r in sub], err)  # E_2D = E^2: same ranks
        label = f"F({m},3)" if m != "all" else "pooled"
        print(
            f"  {label:<7} n={len(sub):>2}  kappa(V_fin): rho={rk.statistic:+.2f} "
            f"(p={rk.pvalue:.2g})   E: rho={re.statistic:+.2f} (p={re.pvalue:.2g})"
        )


def plots(rows: list, path: str) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, label in ((axes[0], "kappa", "kappa_2(V_fin)"), (axes[1], "E", "E (1D)")):
        for m, mark in ((4, "o"), (6, "s"), (8, "^")):
            sub = [r for r in rows if r["m"] == m]
            ax.scatter(
                [r[key] for r in sub],
                [r["float16_2d"] for r in sub],
                marker=mark,
                label=f"F({m},3)",
            )
            for r in sub:
                ax.annotate(r["name"], (r[key], r["float16_2d"]), fontsize=6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel(label)
        ax.set_ylabel("mean rel. 2D fp16 error")
        ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"\nsaved {path}")


def e_float(p: np.ndarray, m: int, r: int = 3) -> float:
    """Predictor E of real points ``p`` (plus INF) in float64, for a continuous minimisation."""
    n = m + r - 1
    V = np.zeros((n, n))
    V[: n - 1] = p[:, None] ** np.arange(n)
    V[-1, -1] = 1
    if np.linalg.cond(V) > 1e12:
        return 1e12
    AT = np.zeros((m, n))
    AT[:, : n - 1] = (p[:, None] ** np.arange(m)).T
    AT[-1, -1] = 1
    G = np.zeros((n, r))
    G[: n - 1] = p[:, None] ** np.arange(r)
    G[-1, -1] = 1
    BT = np.linalg.inv(V).T
    return float(
        np.sum(np.linalg.norm(AT, axis=0) * np.linalg.norm(G, axis=1) * np.linalg.norm(BT, axis=1))
    )


def continuous_e_minimum(m: int, starts: int = 30) -> None:
    """Nelder-Mead on E over *all* real point sets (no symmetry, no rational grid)."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(0)
    best = (np.inf, None)
    for _ in range(starts):
        res = minimize(
            e_float,
            rng.standard_normal(m + 1) * 1.2,
            args=(m,),
            method="Nelder-Mead",
            options={"maxiter": 3000, "xatol": 1e-7, "fatol": 1e-9},
        )
        if res.fun < best[0]:
            best = (res.fun, np.sort(res.x))
    print(
        f"  F({m},3): min over real sets E = {best[0]:.5f} at "
        f"{{{', '.join(f'{v:.4f}' for v in best[1])}}} ({starts} random starts)"
    )


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.c2 = torch.nn.Conv2d(8, 16, 3, padding=1)
        self.fc = torch.nn.Linear(16 * 4 * 4, 10)

    def forward(self, x: torch.Tensor, conv=None) -> torch.Tensor:
        conv = conv or (lambda layer, h: layer(h))
        h = F.relu(conv(self.c1, x))
        h = F.max_pool2d(F.relu(conv(self.c2, h)), 2)
        h = h.flatten(1)
        return (h.float() @ self.fc.weight.T + self.fc.bias).to(h.dtype)


def cnn(args: argparse.Namespace, best63: tuple) -> None:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.tensor(y)
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(y), generator=g)
    tr, te = perm[:1437], perm[1437:]
    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(args.epochs):
        for idx in torch.randperm(len(tr), generator=g).split(64):
            opt.zero_grad()
            F.cross_entropy(net(X[tr[idx]]), y[tr[idx]]).backward()
            opt.step()

    def acc(conv=None, dtype=torch.float32) -> float:
        with torch.no_grad():
            return float((net(X[te].to(dtype), conv).argmax(1) == y[te]).float().mean()) * 100

    def direct16(layer, h):
        return conv2d_elementwise(h, layer.weight.half(), layer.bias.half(), padding=1)

    def native16(layer, h):
        return F.conv2d(h, layer.weight.half(), layer.bias.half(), padding=1)

    def wino(points, m=6):
        cache = {}

        def f(layer, h):
            if layer not in cache:
                w = WinogradConv2d(
                    layer.in_channels,
                    layer.out_channels,
                    3,
                    padding=1,
                    m=m,
                    points=points,
                    arithmetic="elementwise",
                )
                w.load_state_dict(layer.state_dict())
                cache[layer] = w.half()
            return cache[layer](h)

        return f

    print(f"\nCNN on digits (1437 train / 360 test, {args.epochs} epochs float32); fp16 inference:")
    a32 = acc()
    ad = acc(direct16, torch.float16)
    an = acc(native16, torch.float16)
    print(f"  float32 direct                                   {a32:6.2f} %")
    print(f"  fp16 direct (every op rounded to fp16, emulated) {ad:6.2f} %")
    print(f"  fp16 direct (torch CPU F.conv2d in half)         {an:6.2f} %")
    for label, pts, m in (
        (f"best F(6,3) {{{', '.join(map(str, best63))}}}", best63, 6),
        ("integer F(6,3) {0, +-1, +-2, +-3}", "0,1,-1,2,-2,3,-3", 6),
        ("integer F(8,3) {0, +-1, ..., +-4}", "0,1,-1,2,-2,3,-3,4,-4", 8),
    ):
        a = acc(wino(pts, m), torch.float16)
        print(f"  fp16 Winograd {label:<38} {a:6.2f} %  ({a - ad:+.2f} points vs direct fp16)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=int, default=240, help="search samples per run")
    p.add_argument("--seed", type=int, default=0, help="search seed (and its data seed)")
    p.add_argument("--heldout-seed", type=int, default=12345, help="seed of the measurements")
    p.add_argument("--trials", type=int, default=2000, help="random tiles per error figure")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--out", default="out/winograd_points.png", help="plot file")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args()
    torch.set_num_threads(1)  # tiny tensors: one thread avoids OpenMP barrier stalls
    t0 = time.perf_counter()
    print("searching point sets ...")
    rows, summary = points_table(args)
    print(
        f"\nHeld-out seed {args.heldout_seed}, {args.trials} tiles; mean relative error of the "
        "power-of-two balanced transforms (every fp16/bf16 op rounded)"
    )
    print_table(rows)
    print("(overflow: some tiles left the fp16 range; counted as infinite error, ranked last)")
    correlations(rows)
    print("\nBest searched set vs best published set (2D fp16, held-out seed):")
    for m, (found, pub) in summary.items():
        print(
            f"  F({m},3): {found['name']} {found['points']} {found['float16_2d']:.3e} vs "
            f"{pub['name']} {pub['float16_2d']:.3e}: "
            f"ratio {pub['float16_2d'] / found['float16_2d']:.2f}x"
            f" {'(better)' if found['float16_2d'] < pub['float16_2d'] else '(NOT better)'}"
        )
    print("\nWhy F(6,3) does not improve: E ranks the measured error (rho above), and the")
    print("continuous minimum of E over every real 7-point set is the classic set itself:")
    continuous_e_minimum(6)
    plots(rows, args.out)
    best63 = min((r for r in rows if r["m"] == 6), key=lambda r: r["float16_2d"])
    cnn(args, tuple(best63["points"].strip("{}").split(", ")))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
