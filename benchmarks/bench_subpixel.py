"""Sub-pixel convolution vs the equivalent stride-r transposed convolution: forward time.

Both layers compute the same map (``SubPixelConv2d.to_conv_transpose``: the converted weights;
the script checks the outputs agree). The sub-pixel layer runs a ``k x k`` convolution to
``C_out r**2`` channels on the low-resolution grid and a periodic shuffle; the transposed
convolution runs an ``r k x r k`` kernel of stride ``r`` (the same multiply count, done by
torch's col2im scatter). Float32, ``torch.no_grad()``, one thread, median of ``--repeat``
interleaved timings per case.

Run: ``PYTHONPATH=. python3 benchmarks/bench_subpixel.py`` (about a minute on a quiet core).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from sciconv.subpixel import SubPixelConv2d

#: (in_channels, out_channels, kernel, upscale factor, LR size, batch)
CASES = [
    (64, 1, 3, 3, 128, 1),
    (64, 1, 3, 3, 128, 8),
    (64, 1, 3, 3, 256, 1),
    (64, 1, 3, 3, 256, 8),
    (64, 3, 3, 3, 128, 1),
    (64, 3, 3, 3, 256, 1),
    (64, 16, 3, 2, 128, 1),
]


def _time(fn, x) -> float:
    t0 = time.perf_counter()
    fn(x)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="timings per layer and case")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{args.threads} thread(s), load average {os.getloadavg()[0]:.2f}, float32, no_grad"
    )
    head = f"{'C_in':>5}{'C_out':>6}{'k':>3}{'r':>3}{'LR':>6}{'N':>3}"
    print(f"{head}{'subpixel ms':>13}{'convT ms':>10}{'convT/sub':>11}{'max |diff|':>12}")
    ratios = []
    with torch.no_grad():
        for cin, cout, k, r, n, batch in CASES:
            sub = SubPixelConv2d(cin, cout, k, r, padding=k // 2)
            convt = sub.to_conv_transpose()
            x = torch.randn(batch, cin, n, n)
            diff = float((sub(x) - convt(x)).abs().max())
            sub(x), convt(x)  # warm-up
            ts, tt = [], []
            for _ in range(args.repeat):
                ts.append(_time(sub, x))
                tt.append(_time(convt, x))
            ms, mt = statistics.median(ts) * 1e3, statistics.median(tt) * 1e3
            ratios.append(mt / ms)
            row = f"{cin:>5}{cout:>6}{k:>3}{r:>3}{n:>5}²{batch:>3}"
            print(f"{row}{ms:>13.2f}{mt:>10.2f}{mt / ms:>11.2f}{diff:>12.1e}")
    print(
        f"transposed convolution / sub-pixel time: median {statistics.median(ratios):.2f}, "
        f"range {min(ratios):.2f}-{max(ratios):.2f}; load average {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
