"""The surrogate network, its training and its evaluation for ``examples/wave_surrogate.py``.

Kept apart from the driver (data, reporting, command line) so each file stays one concept.
"""

from __future__ import annotations

import math
import time

import torch
from torch import nn

from tensors import CPConv2d, TTConv2d, TuckerConv2d, max_rank
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


class ZeroConv(nn.Module):
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
    the usual next-state regression). Returns the training time in CPU seconds of this process
    (``time.process_time``: not inflated by other jobs on a shared machine).
    """
    traj = torch.from_numpy(data["trajectories"][train_sims])  # (S, T, H, W)
    c = torch.from_numpy(data["velocity"][train_sims])[:, None]
    n_sims, n_snap = traj.shape[:2]
    k = args.unroll
    opt = torch.optim.Adam(param_groups(model, args.lr, args.factor_lr), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
    gen = torch.Generator().manual_seed(args.seed)
    start = time.process_time()
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
    return time.process_time() - start


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
