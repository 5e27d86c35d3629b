"""Sequence classification with state-space convolutions: scikit-learn digits read pixel by pixel.

Each 8x8 digit becomes a sequence of 64 pixels (one channel). Three small models are trained for
a few epochs and their test accuracy printed:

* S4D: encoder -> S4D layer (diagonal SSM, kernel by the Vandermonde primitive, causal FFT
  convolution) -> GELU -> mean over time -> linear;
* long convolution: the same with a learned length-64 kernel, smoothed and soft-thresholded;
* the same long convolution made frequency-sparse (``LongConv(freq_sparsity=0.5 / 0.9)``:
  the kernel spectrum zeroed on the central blocks of the Monarch grid, FlashFFTConv's
  frequency-sparse convolution), to compare its accuracy and time with the dense one;
* LMU: a Legendre memory unit cell stepped over the 64 pixels, last hidden state -> linear.

It also plots the impulse responses of HiPPO-LegS, -LegT, -LagT and -FouT (one curve per
state, ``C = e_n``) and prints how closely every kernel method agrees with dense Krylov.

Run: ``PYTHONPATH=. python3 examples/ssm_sequence.py`` (about a minute on 2 cores;
``--epochs`` and ``--hidden`` for longer runs). Needs scikit-learn and matplotlib.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from torch import nn

from sciconv.cli.ssm import agreement_rows, table_lines
from sciconv.ssm import LMU, S4D, LongConv, hippo, ssm_kernel


class ConvClassifier(nn.Module):
    """encoder (1 -> H) -> sequence layer -> GELU -> mean over time -> linear (H -> 10)."""

    def __init__(self, layer: nn.Module, hidden: int) -> None:
        super().__init__()
        self.encoder = nn.Conv1d(1, hidden, 1)
        self.layer = layer
        self.norm = nn.LayerNorm(hidden)
        self.head = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (B, 64)
        h = self.encoder(x[:, None, :])
        h = nn.functional.gelu(self.layer(h)) + h
        return self.head(self.norm(h.mean(-1)))


class LMUClassifier(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.lmu = LMU(1, hidden, order=16, theta=64.0)
        self.head = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.lmu(x[:, None, :])[..., -1])  # (B, 1, 64) -> (B, hidden, 64)


def load_digits_sequences(seed: int) -> tuple:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)  # (1797, 64): pixels in reading order
    x = (x - x.mean()) / x.std()
    xtr, xte, ytr, yte = train_test_split(
        x, d.target, test_size=0.25, random_state=seed, stratify=d.target
    )
    return tuple(torch.as_tensor(a) for a in (xtr, xte, ytr, yte))


def train(model: nn.Module, data: tuple, epochs: int, lr: float, seed: int) -> tuple:
    from tqdm import tqdm

    xtr, xte, ytr, yte = data
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    t0 = time.perf_counter()
    for _ in tqdm(
        range(epochs),
        desc=type(model.layer if hasattr(model, "layer") else model).__name__,
        leave=False,
    ):
        model.train()
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), 64):
            idx = perm[i : i + 64]
            loss = nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(xte).argmax(-1) == yte).float().mean().item()
    return acc, time.perf_counter() - t0, sum(p.numel() for p in model.parameters())


def plot_hippo_kernels(path: str, N: int = 8, L: int = 1000) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.4))
    for ax, measure in zip(axes, ("legs", "legt", "lagt", "fout")):
        A, B = hippo(measure, N)
        # ZOH Bbar = int_0^dt exp(sA) B ds ~ dt B: divide by dt to plot exp(tA) B
        K = ssm_kernel(A, B, np.eye(N), 1.0 / L, L, "krylov_doubling", "zoh") * L
        t = np.arange(L) / L
        for n in range(N):
            ax.plot(t, K[n], lw=1)
        ax.set_title(f"HiPPO-{measure}, N={N}: (exp(tA) B)_n")
        ax.set_xlabel("t")
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def long_conv_times(lengths: tuple[int, ...] = (1024, 4096)) -> list[str]:
    """Forward time of one LongConv layer, dense vs frequency-sparse (no grad)."""
    lines = []
    for L in lengths:
        u = torch.randn(4, 64, L)
        cells = []
        for label, kw in (
            ("dense fft", {}),
            ("dense monarch", {"method": "monarch"}),
            ("50% sparse", {"freq_sparsity": 0.5}),
            ("90% sparse", {"freq_sparsity": 0.9}),
        ):
            layer = LongConv(64, L, **kw)
            with torch.no_grad():
                layer(u)
                best = float("inf")
                for _ in range(3):
                    t = time.perf_counter()
                    layer(u)
                    best = min(best, time.perf_counter() - t)
            cells.append(f"{label} {best * 1e3:.1f} ms")
        lines.append(f"L = {L:>6}: " + ", ".join(cells))
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest on a loaded machine)"
    )
    p.add_argument("--plot", default="out/ssm_hippo_kernels.png")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()

    print("ssm_kernel methods vs dense Krylov, N = 64, L = 4096 (relative 2-norm difference):")
    for line in table_lines(agreement_rows(64, 4096)):
        print("  " + line)

    plot_hippo_kernels(args.plot)
    print(f"\nHiPPO kernels plotted to {args.plot}")

    data = load_digits_sequences(args.seed)
    print(f"\ndigits as pixel sequences: {len(data[0])} train / {len(data[1])} test, length 64")
    H = args.hidden
    models = {
        "S4D": ConvClassifier(S4D(H, 16, dt_min=0.01, dt_max=0.5), H),
        "long conv (squash+smooth)": ConvClassifier(
            LongConv(H, 64, squash_lambda=1e-3, smooth_width=3), H
        ),
        "long conv, 50% freq-sparse": ConvClassifier(
            LongConv(H, 64, squash_lambda=1e-3, smooth_width=3, freq_sparsity=0.5), H
        ),
        "long conv, 90% freq-sparse": ConvClassifier(
            LongConv(H, 64, squash_lambda=1e-3, smooth_width=3, freq_sparsity=0.9), H
        ),
        "LMU": LMUClassifier(H),
    }
    print(f"{'model':<27} {'params':>7} {'test acc':>9} {'train time':>11}")
    for name, model in models.items():
        acc, secs, n = train(model, data, args.epochs, args.lr, args.seed)
        print(f"{name:<27} {n:>7} {acc:>9.3f} {secs:>9.1f} s")
    print("\nLongConv forward, 4 x 64 channels, best of 3 (dense by FFT and by Monarch matmuls):")
    for line in long_conv_times():
        print("  " + line)
    print(f"\ntotal {time.perf_counter() - t0:.1f} s ({args.epochs} epochs, chance = 0.100)")


if __name__ == "__main__":
    main()
