r"""Digits (scikit-learn's bundled 8x8 images): an ordinary CNN against generalized convolutions.

Every model has the same skeleton -- two 3x3 "convolutions" (16 and 32 channels, the second with
stride 2), GroupNorm + ReLU after each, average pooling to a 2x2 map (``--pool``), a linear
classifier -- and the same budget (epochs, batch size, optimizer). The variants swap the
convolutions for

* ``KernelConv2d`` with each kernel (polynomial, gaussian, l2, l1, cauchy; 'linear' is the CNN)
  in the first layer (as Kervolution replaces the early layers; ``--all-layers`` for both),
  with :math:`\gamma = 4/\text{fan-in}`, :math:`\sigma^2 = \text{fan-in}/4` (learnable) and,
  for the distance kernels, filters initialised uniformly in the data range [0, 1] and the
  link 'negate' on 'l2' / 'l1' (a distance becomes a similarity before GroupNorm + ReLU),
* a gnConv block (``RecursiveGatedConv``, order 3) after a 3x3 stem,
* two HyperZ·Z·W ``TerminatorBlock`` s (global FFT branch + local 3x3 branch, no residual).

``--l1-smooth EPS`` replaces :math:`|x - w|` by :math:`\sqrt{(x - w)^2 + \epsilon^2} - \epsilon`
in the 'l1' layer (default 0: the exact L1 distance).

Why a 2x2 pooling head (the same for every model; ``--pool 1`` restores global pooling): after
two 3x3 layers a unit sees a 5x5 window of the 8x8 digit, and global average pooling keeps how
much of each local feature an image holds, not where. With that head every model underfits
(training loss 0.16--0.21, about 97 % training accuracy after 15 epochs, the CNN included) and
the comparison hangs on small differences of the single kernel layer's local features: over 5
seeds 'l1' lagged the CNN by 0.7 point (1.2--1.8 in earlier 3- and 5-seed runs). That is not an
optimisation failure (its training loss equals the CNN's), partly the kinks of :math:`|x - w|`
(``--l1-smooth`` 0.1 / 0.5 cut the gap to 0.3 / 0.0 point), not a lack of tap weights
(``weighted=True``: no change). Pooling to quadrants keeps the coarse position of the strokes:
the training loss falls to about 0.013 (100 %) for every model, the CNN rises from 95.4 to
98.2 % and every kernel layer, the exact L1 included, ends within 0.25 point of it (5 seeds).

It prints test accuracy (mean and spread over ``--seeds``), parameters and training time, and
the gap of each model to the CNN. Data: 1797 images, a fixed stratified 75/25 split.

Run: ``PYTHONPATH=. python3 examples/generalized_digits.py`` (three seeds, 15 epochs: about
55 s of CPU time on one thread); ``--seeds 0 1 2 3 4`` for the five-seed table, ``--epochs 30``
for a longer run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from sciconv.generalized import KernelConv2d
from sciconv.hadamard import RecursiveGatedConv
from sciconv.hyperzzw import TerminatorBlock

KERNELS = ("polynomial", "gaussian", "l2", "l1", "cauchy")


def head(channels: int, pool: int) -> list[nn.Module]:
    """The classifier shared by every model: average pooling to ``pool x pool``, a linear map."""
    return [nn.AdaptiveAvgPool2d(pool), nn.Flatten(), nn.Linear(channels * pool * pool, 10)]


def conv_net(make_conv: Callable[[int, int, int], nn.Module], pool: int = 2) -> nn.Module:
    """Two 3x3 layers (16, 32 channels; stride 1, 2) + GroupNorm/ReLU, pooling, linear."""
    return nn.Sequential(
        make_conv(1, 16, 1),
        nn.GroupNorm(4, 16),
        nn.ReLU(),
        make_conv(16, 32, 2),
        nn.GroupNorm(4, 32),
        nn.ReLU(),
        *head(32, pool),
    )


DISTANCES = ("gaussian", "l2", "l1", "cauchy")


def kernel_conv(
    kernel: str, all_layers: bool, l1_smooth: float = 0.0
) -> Callable[[int, int, int], nn.Module]:
    """Factory: KernelConv2d for the first layer (for every layer if ``all_layers``)."""

    def make(cin: int, cout: int, stride: int) -> nn.Module:
        if cin > 1 and not all_layers:
            return nn.Conv2d(cin, cout, 3, stride, 1)
        fan_in = cin * 9
        layer = KernelConv2d(
            cin, cout, 3, stride, 1, kernel=kernel, gamma=4.0 / fan_in,
            sigma=(fan_in / 4.0) ** 0.5, c=1.0, degree=2, learnable_hyper=True,
            link="negate" if kernel in ("l2", "l1") else "identity",
            smooth=l1_smooth if kernel == "l1" else 0.0,
        )  # fmt: skip
        if kernel in DISTANCES:  # filters are points of the input space: start inside [0, 1]
            with torch.no_grad():
                layer.weight.uniform_(0.0, 1.0)
        return layer

    return make


def gnconv_net(pool: int = 2) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.GroupNorm(4, 16),
        nn.ReLU(),
        RecursiveGatedConv(16, order=3, kernel_size=3),
        nn.GroupNorm(4, 16),
        nn.Conv2d(16, 32, 3, stride=2, padding=1),
        nn.GroupNorm(4, 32),
        nn.ReLU(),
        *head(32, pool),
    )


def hyperzzw_net(pool: int = 2) -> nn.Module:
    return nn.Sequential(
        TerminatorBlock(1, 16, local_sizes=(3,), hidden=16),
        nn.AvgPool2d(2),
        TerminatorBlock(16, 32, local_sizes=(3,), hidden=16),
        *head(32, pool),
    )


def models(
    all_layers: bool, pool: int = 2, l1_smooth: float = 0.0
) -> dict[str, Callable[[], nn.Module]]:
    """The compared models, all with the same head (:func:`head`)."""
    return {
        "cnn (nn.Conv2d)": lambda: conv_net(lambda i, o, s: nn.Conv2d(i, o, 3, s, 1), pool),
        **{
            f"kernel: {k}": (lambda k=k: conv_net(kernel_conv(k, all_layers, l1_smooth), pool))
            for k in KERNELS
        },
        "gnConv (order 3)": lambda: gnconv_net(pool),
        "HyperZ·Z·W": lambda: hyperzzw_net(pool),
    }


def train_eval(make: Callable[[], nn.Module], data, seed: int, epochs: int, lr: float):
    xtr, ytr, xte, yte = data
    torch.manual_seed(seed)
    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=epochs * (-(-len(xtr) // 64)))
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(xtr)).split(64):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            sched.step()
    elapsed = (time.perf_counter() - t0, time.process_time() - c0)
    model.eval()
    with torch.no_grad():
        acc = (model(xte).argmax(1) == yte).double().mean().item() * 100
    return acc, sum(p.numel() for p in model.parameters()), elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--all-layers",
        action="store_true",
        help="KernelConv2d in both layers (default: the first, as Kervolution)",
    )
    parser.add_argument(
        "--pool",
        type=int,
        default=2,
        help="average-pool to a POOL x POOL map before the classifier, every model (1: global)",
    )
    parser.add_argument(
        "--l1-smooth",
        type=float,
        default=0.0,
        help="smoothing width of the 'l1' layer: sqrt(d^2 + eps^2) - eps (0: exact L1)",
    )
    args = parser.parse_args(argv)
    zoo = models(args.all_layers, args.pool, args.l1_smooth)
    torch.set_num_threads(args.threads)

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(digits.target)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    data = (xtr, ytr, xte, yte)
    print(
        f"digits: {len(xtr)} train / {len(xte)} test images of 8x8, {args.epochs} epochs, "
        f"Adam + one-cycle lr {args.lr}, batch 64, seeds {args.seeds}, "
        f"{args.pool}x{args.pool} pooling head, l1 smooth {args.l1_smooth}"
    )
    print(
        f"{'model':<20} {'accuracy %':>16} {'vs CNN':>8} {'params':>8} {'wall s':>8} {'cpu s':>8}"
    )
    base = None
    for name, make in zoo.items():
        runs = [train_eval(make, data, s, args.epochs, args.lr) for s in args.seeds]
        accs = [r[0] for r in runs]
        mean = statistics.mean(accs)
        spread = f"{mean:6.2f} ± {statistics.stdev(accs):4.2f}" if len(accs) > 1 else f"{mean:6.2f}"
        if base is None and name.startswith("cnn"):
            base = mean
        gap = "" if base is None else f"{mean - base:+.2f}"
        wall = statistics.mean(r[2][0] for r in runs)
        cpu = statistics.mean(r[2][1] for r in runs)
        print(f"{name:<20} {spread:>16} {gap:>8} {runs[0][1]:>8d} {wall:>8.1f} {cpu:>8.1f}")


if __name__ == "__main__":
    main()
