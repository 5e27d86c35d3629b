"""Streaming vs windowed inference of a 1D CNN (sciconv.streaming, StreamiNNC).

Per hop ``h`` in 8, 16, 32, 64, 128, 256 with window ``W = 1024``: the time of windowed
inference for one hop (a full forward pass on the last ``W`` samples, the anchor) against one
streaming step (``StreamingCNN`` on the ``h`` new samples), same model, float32, batch 1, one
torch thread; each the median of ``--reps`` repeats, the two interleaved so that load on a
shared machine hits both alike (the ratio of the minima is printed too: on a loaded machine it
is the better estimate of the cost without preemption). Printed side by side with the ideal
``W / h``. The streamed outputs are checked against the windowed ones (float64) before timing.

Then the zero-padding deviation: the same architecture with zero padding (``padding =
d(k-1)/2``), streamed as it is, against its windowed inference (NRMSE, float64, random weights,
white-noise input), beside the paper's 2.03-3.55 % on its biomedical networks.

Model: 3 blocks of Conv1d(C channels, kernel 9, dilation 1/2/4) + BatchNorm1d (eval) + ReLU,
then a 1x1 Conv1d to 1 channel (receptive field 57 samples), for C = 16 (a small network: a
streaming step is dominated by the per-call overhead of ~8 small torch calls) and C = 64
(arithmetic dominates).

Run from the repository root: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_streaming.py``
(about 1 min).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import torch
from common import machine_info
from torch import nn

from sciconv.streaming import (
    StreamingInexactWarning,
    pooling_shift_bound,
    stream,
    streaming_deviation,
)


def model(width: int = 16, zero_padding: bool = False, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    channels = [1, width, width, width]
    for i, d in enumerate((1, 2, 4)):
        pad = 4 * d if zero_padding else 0
        bn = nn.BatchNorm1d(channels[i + 1])
        with torch.no_grad():
            bn.running_mean.uniform_(-0.1, 0.1)
            bn.running_var.uniform_(0.5, 1.5)
        layers += [nn.Conv1d(channels[i], channels[i + 1], 9, dilation=d, padding=pad), bn]
        layers.append(nn.ReLU())
    layers.append(nn.Conv1d(width, 1, 1))
    return nn.Sequential(*layers).eval()


def check_exact(net: nn.Sequential, window: int, hop: int) -> float:
    x = torch.randn(1, 1, window + 32 * hop, dtype=torch.float64)
    dev = streaming_deviation(net.double(), x, hop=hop, window=window)
    net.float()
    return dev.nrmse


def mac_ratio(net: nn.Sequential, window: int, hop: int) -> float:
    """Multiply-adds of one windowed pass over those of one steady-state streaming step (the
    arithmetic speed-up, independent of load): each conv output costs ``C_in / groups * k *
    C_out``; a streaming step computes ``hop / S_l`` outputs of layer ``l`` (``S_l`` the stride
    up to it), a windowed pass all of them."""
    windowed, streamed, stride = 0, 0, 1
    length = window
    for m in net:
        if isinstance(m, (nn.Conv1d, nn.MaxPool1d, nn.AvgPool1d)):
            k, s = m.kernel_size, m.stride
            k, s = (k if isinstance(k, int) else k[0]), (s if isinstance(s, int) else s[0])
            d = m.dilation if isinstance(m.dilation, int) else m.dilation[0]
            length = (length - d * (k - 1) - 1) // s + 1
            stride *= s
            if isinstance(m, nn.Conv1d):
                cost = m.in_channels // m.groups * k * m.out_channels
                windowed += length * cost
                streamed += hop // stride * cost
    return windowed / streamed


def time_hop(
    net: nn.Sequential, window: int, hop: int, reps: int
) -> tuple[list[float], list[float]]:
    x = torch.randn(1, 1, window + (reps + 1) * hop)
    online = stream(net, hop)
    tw, ts = [], []
    with torch.no_grad():
        for t in range(hop, window + 1, hop):  # fill the caches
            online(x[..., t - hop : t])
        for r in range(reps):
            t = window + (r + 1) * hop
            calls = [(tw, net, x[..., t - window : t]), (ts, online, x[..., t - hop : t])]
            for times, model, chunk in calls[:: 1 if r % 2 else -1]:  # alternate the order
                t0 = time.perf_counter()
                model(chunk)
                times.append(time.perf_counter() - t0)
    return tw, ts


def misaligned_pooling(mode: str, hop: int = 6, window: int = 256) -> tuple[float, float, float]:
    """Conv1d(1, 8, 5) + ReLU + a stride-4 pool streamed with a hop of 6 (not a multiple of 4):
    NRMSE of the newest pooled output against windowed inference, and the largest and mean
    ratio of each measured deviation to :func:`pooling_shift_bound` on the pool's exact
    input."""
    torch.manual_seed(1)
    conv = nn.Sequential(nn.Conv1d(1, 8, 5), nn.ReLU()).double()
    pool = nn.MaxPool1d(4) if mode == "max" else nn.AvgPool1d(4)
    net = nn.Sequential(*conv, pool).eval()
    x = torch.randn(1, 1, window + 400 * hop, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StreamingInexactWarning)
        online = stream(net, hop)
    ratios, num, den, history, emitted = [], 0.0, 0.0, [], 0
    with torch.no_grad():
        u = conv(x)
        for t in range(hop, x.shape[-1] + 1, hop):
            out = online(x[..., t - hop : t])
            emitted += out.shape[-1]
            history = [torch.cat([*history, out], dim=-1)[..., -1:]]
            if t < window:
                continue
            ref = net(x[..., t - window : t])
            a = t - window + 4 * (ref.shape[-1] - 1)  # the windowed output's pool window
            bound = pooling_shift_bound(u, [a], [4 * (emitted - 1)], 4, mode)[..., 0]
            diff = (history[0][..., 0] - ref[..., -1]).abs()
            num += float((diff**2).sum())
            den += float((ref[..., -1] ** 2).sum())
            mask = bound > 0
            ratios += (diff[mask] / bound[mask]).flatten().tolist()
    return (num / den) ** 0.5, max(ratios), sum(ratios) / len(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--window", type=int, default=1024)
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(machine_info(args.threads))
    window = args.window
    hops = [8, 16, 32, 64, 128, 256]
    for width in args.widths:
        net = model(width)
        worst = max(check_exact(net, window, h) for h in hops)
        print(
            f"\n{width} channels: exactness (float64), worst NRMSE streamed vs windowed: "
            f"{worst:.1e}"
        )
        print(f"window {window}, batch 1, float32, median of {args.reps} interleaved repeats")
        print(
            "|  hop | windowed per hop (ms) | streaming step (ms) | speed-up | window/hop "
            "| speed-up of the minima | multiply-add ratio |"
        )
        print("|-----:|----:|----:|----:|----:|----:|----:|")
        for hop in hops:
            tw, ts = time_hop(net, window, hop, args.reps)
            mw, ms = statistics.median(tw), statistics.median(ts)
            print(
                f"| {hop:4d} | {1e3 * mw:.3f} | {1e3 * ms:.3f} | {mw / ms:.1f} | "
                f"{window / hop:.0f} | {min(tw) / min(ts):.1f} | "
                f"{mac_ratio(net, window, hop):.1f} |"
            )
    padded = model(16, zero_padding=True).double()
    x = torch.randn(1, 1, 8 * window, dtype=torch.float64)
    print("\nzero padding, 16 channels, streamed as is (float64, random weights, white noise):")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StreamingInexactWarning)
        for hop in (16, 64, 256):
            dev = streaming_deviation(padded, x, hop=hop, window=window)
            print(f"  hop {hop:3d}: NRMSE {100 * dev.nrmse:.2f} % over {dev.steps} hops")
    print("  paper (StreamiNNC, three biomedical networks, their NRMSE): 2.03-3.55 %")
    print("\nmisaligned pooling (stride-4 pool, hop 6), newest output vs windowed, float64:")
    for mode in ("max", "avg"):
        nrmse, worst, mean = misaligned_pooling(mode)
        print(
            f"  {mode}: NRMSE {100 * nrmse:.2f} %, measured/bound: max {worst:.3f}, "
            f"mean {mean:.3f} (bound: pooling_shift_bound)"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
