"""Winograd: point-search time, and WinogradConv2d (fp32) vs torch.nn.functional.conv2d on CPU.

1. ``sciconv.winograd.search(8, 3, 'fp16-error')`` at the default budget (240 samples, 256
   random 2D tiles per objective evaluation), wall time on this machine (goal < 10 min).
2. ``WinogradConv2d`` (native float32 arithmetic: transforms as matmuls, channel sum as one
   ``torch.bmm`` per transform-domain point) against ``F.conv2d`` (the anchor) on the same
   input and weights, same process, best of ``--reps`` runs after a warm-up, one torch thread
   (on two shared cores a second OpenMP thread makes timings swing 10x), with the max
   difference between the two outputs.

Run from the repository root: ``PYTHONPATH=. python3 benchmarks/bench_winograd.py``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F

from sciconv.winograd import WinogradConv2d, search


def machine_info() -> str:
    return (
        f"date: {datetime.datetime.now().isoformat(timespec='seconds')}\n"
        f"platform: {platform.platform()}, python {platform.python_version()}, "
        f"cpus: {os.cpu_count()}, torch threads: {torch.get_num_threads()}\n"
        f"numpy {np.__version__}, torch {torch.__version__}"
    )


def best_time(fn, reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=int, default=240, help="search samples (default budget)")
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--channels", type=int, nargs="+", default=[16, 64])
    p.add_argument("--size", type=int, default=32, help="H = W")
    p.add_argument("--m", type=int, nargs="+", default=[2, 4, 6])
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(machine_info())
    t0 = time.perf_counter()
    res = search(8, 3, "fp16-error", args.budget, seed=0, progress=False)
    t = time.perf_counter() - t0
    print(
        f"\nsearch F(8,3) fp16-error, budget {args.budget}: {t:.1f} s, {res.evaluations} distinct "
        f"sets, best 2D fp16 error {res.rows[0]['objective']:.3e} "
        f"{{{', '.join(map(str, res.best))}}}"
    )
    print(
        f"\nconv 3x3, padding 1, batch {args.batch}, {args.size}x{args.size}, float32, CPU "
        f"(best of {args.reps}, 1 torch thread)"
    )
    head = (
        f"{'C->C':>8} {'m':>3} {'F.conv2d ms':>12} {'Winograd ms':>12} {'ratio':>7} {'max diff':>9}"
    )
    print(head)
    print("-" * len(head))
    torch.manual_seed(0)
    for c in args.channels:
        x = torch.randn(args.batch, c, args.size, args.size)
        for m in args.m:
            lay = WinogradConv2d(c, c, 3, padding=1, m=m)
            with torch.no_grad():
                t_ref = best_time(
                    lambda x=x, lay=lay: F.conv2d(x, lay.weight, lay.bias, padding=1), args.reps
                )
                t_w = best_time(lambda x=x, lay=lay: lay(x), args.reps)
                diff = (lay(x) - F.conv2d(x, lay.weight, lay.bias, padding=1)).abs().max().item()
            print(
                f"{c:>4}->{c:<3} {m:>3} {t_ref * 1e3:>12.2f} {t_w * 1e3:>12.2f} "
                f"{t_w / t_ref:>7.2f} {diff:>9.1e}"
            )
    print("ratio = Winograd time / F.conv2d time (> 1: F.conv2d is faster)")


if __name__ == "__main__":
    main()
