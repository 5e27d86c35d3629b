"""Where do orthogonal convolutions exist, and what do they buy a small CNN?

1. An existence map: for strides S = 1, 2, 3 (2D, circular padding), which ratios M/C of
   output to input channels admit an orthogonal convolution with kernel size k (Achour,
   Malgouyres and Mamalet, JMLR 2022), confirmed at a few points by ``certify``.
2. A small orthogonal CNN beside a plain one (same architecture, ordinary convolutions) on
   scikit-learn's 8x8 digits: gradient norms across depth at initialisation, the exact
   singular values of every layer, and test accuracy after a short training.

Run: ``python examples/orthogonal_existence.py [--epochs 8] [--depth 8] [--plot out/...png]``
(about a minute on two cores).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
import torch.nn as nn

from sciconv.orthogonal import OrthogonalConv2d, certify, exists, sigma_report


def existence_map(
    ks: range, ratios: np.ndarray, strides: tuple[int, ...], padding: str = "circular"
) -> dict[int, np.ndarray]:
    """grid[S][i, j] for M/C = ratios[i], k = ks[j] (C = 16, 2D): 1 exists, 0 does not,
    0.5 exists only with a single-tap kernel (zero padding 'same', stride 1)."""
    c = 16
    out = {}
    for s in strides:
        grid = np.zeros((ratios.size, len(ks)))
        for i, r in enumerate(ratios):
            for j, k in enumerate(ks):
                v = exists(c, max(1, round(r * c)), k, s, 2, padding)
                grid[i, j] = 0.5 if v.exists and "single" in v.note else float(v.exists)
        out[s] = grid
    return out


def plot_map(
    maps: dict[str, dict[int, np.ndarray]], ks: range, ratios: np.ndarray, path: str
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ncol = len(next(iter(maps.values())))
    fig, axes = plt.subplots(
        len(maps), ncol, figsize=(4 * ncol, 3 * len(maps)), sharey=True, squeeze=False
    )
    for ax, (pad, s, grid) in zip(
        axes.ravel(), [(p, s, g) for p, m in maps.items() for s, g in m.items()]
    ):
        ax.pcolormesh(
            np.arange(len(ks) + 1) + ks[0] - 0.5,
            np.r_[ratios, ratios[-1] * 2 - ratios[-2]],
            grid,
            cmap="RdYlGn",
            vmin=0,
            vmax=1,
            shading="flat",
        )
        ax.axhline(s * s, color="k", lw=1, ls="--", label="M = C·S² (RO | CO)")
        ax.set_title(f"{pad}, stride S = {s}")
        ax.set_xlabel("kernel size k")
        ax.set_yscale("log")
    for row in axes:
        row[0].set_ylabel("M / C")
    axes[0, 0].legend(loc="upper left", fontsize=8)
    fig.suptitle(
        "Orthogonal 2D convolutions (C = 16) exist (green), only as 1x1 (yellow), or not (red)"
    )
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


class MaxMin(nn.Module):
    """GroupSort with groups of 2: a norm-preserving, gradient-norm-preserving activation."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return torch.cat([torch.maximum(a, b), torch.minimum(a, b)], dim=1)


def make_cnn(orthogonal: bool, depth: int, width: int = 16) -> nn.Sequential:
    """1 -> width (3x3), depth x (width -> width, 3x3), width -> 2 width (stride 2), linear."""

    def conv(c: int, m: int, s: int = 1) -> nn.Module:
        if orthogonal:
            return OrthogonalConv2d(c, m, 3, s, bias=True)
        return nn.Conv2d(c, m, 3, s, padding=1, padding_mode="circular")

    layers: list[nn.Module] = [conv(1, width), MaxMin()]
    for _ in range(depth):
        layers += [conv(width, width), MaxMin()]
    layers += [conv(width, 2 * width, 2), MaxMin(), nn.Flatten(), nn.Linear(2 * width * 16, 10)]
    return nn.Sequential(*layers)


def gradient_norms(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """||dL/dh|| at the output of every convolution (input layer first)."""
    acts: list[torch.Tensor] = []
    h = x
    for layer in model:
        h = layer(h)
        if isinstance(layer, OrthogonalConv2d | nn.Conv2d):
            h.retain_grad()
            acts.append(h)
    nn.functional.cross_entropy(h, y).backward()
    model.zero_grad()
    return [float(a.grad.norm()) for a in acts]


def train(model: nn.Module, data: tuple, epochs: int, seed: int) -> tuple[float, float]:
    xtr, ytr, xte, yte = data
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(0, len(xtr), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(xtr[idx]), ytr[idx]).backward()
            opt.step()
    with torch.no_grad():
        acc = float((model(xte).argmax(1) == yte).float().mean())
    return acc, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", default="out/orthogonal_existence.png", help="figure path")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--depth", type=int, default=8, help="hidden 16 -> 16 conv layers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest for tiny tensors)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    ks, ratios, strides = range(1, 8), np.array([0.25, 0.5, 1, 2, 3, 4, 6, 9, 12, 16]), (1, 2, 3)
    maps = existence_map(ks, ratios, strides)
    print("Existence map (C = 16, 2D, circular): rows M/C, columns k; '+' exists, '.' does not")
    for s in strides:
        print(f"  stride {s}:     k = " + " ".join(f"{k:>2}" for k in ks))
        for i, r in enumerate(ratios):
            marks = " ".join(f"{'+' if v == 1 else '.':>2}" for v in maps[s][i])
            flag = "  <- M = C·S²" if r == s * s else ""
            print(f"    M/C = {r:>5g}:   {marks}{flag}")
    allmaps = {p: existence_map(ks, ratios, strides, p) for p in ("circular", "valid", "same")}
    plot_map(allmaps, ks, ratios, args.plot)
    print(f"figure saved to {args.plot}")
    print("\nCertified at small sizes (C = 1, circular, 2D; floor of ||G||_F^2 vs closed form):")
    for m, k, s in [(3, 1, 2), (4, 2, 2), (5, 2, 2), (5, 1, 2), (9, 3, 3), (10, 2, 3)]:
        cert = certify(1, m, k, s, 2)
        print(
            f"  M={m:>2} k={k} S={s}: oracle {'exists' if cert.verdict else 'no    '} "
            f"({cert.kind}), floor {cert.floor:9.2e}, closed form {cert.expected_floor:g}, "
            f"agree {cert.agrees}"
        )

    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(digits.target)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(args.seed))
    x, y = x[perm], y[perm]
    split = int(0.8 * len(x))
    data = (x[:split], y[:split], x[split:], y[split:])
    print(f"\nDigits: {split} training and {len(x) - split} test images of 8x8; depth {args.depth}")
    rows = []
    for orthogonal in (True, False):
        torch.manual_seed(args.seed)
        model = make_cnn(orthogonal, args.depth)
        g = gradient_norms(model, x[:256], y[:256])
        convs = [m for m in model if isinstance(m, OrthogonalConv2d | nn.Conv2d)]
        sig = [sigma_report(m, (8, 8)) for m in convs]
        name = "orthogonal" if orthogonal else "plain     "
        print(f"  {name}: ||dL/dh|| from the input layer to the last convolution")
        print("    " + " ".join(f"{v:.2e}" for v in g))
        print(
            f"    ratio first/last {g[0] / g[-1]:.3g}; layer sigma_min..sigma_max over all "
            f"layers: {min(s.sigma_min for s in sig):.4f}..{max(s.sigma_max for s in sig):.4f}"
        )
        acc, secs = train(model, data, args.epochs, args.seed)
        rows.append((name, acc, secs, g[0] / g[-1]))
    print("\n  model        test acc.   train time   grad-norm ratio first/last layer")
    for name, acc, secs, ratio in rows:
        print(f"  {name}   {acc:8.3f}   {secs:8.1f} s   {ratio:10.3g}")


if __name__ == "__main__":
    main()
