"""Overhead of :meth:`sciconv.ConvOperator.apply` over calling torch directly.

For each case the same input and weight go through

* ``op.apply(x)`` (the operator: shape checks, dtype promotion, padding, conv), and
* the direct torch call: ``F.conv2d(x, w, padding=p)`` for 'zeros', and
  ``F.conv2d(F.pad(x, widths, mode="circular"), w)`` for 'circular'.

Both run under ``torch.no_grad()``, interleaved (operator, direct, operator, ...) so that drift
on a shared machine hits both alike; each time is the median over ``--reps`` calls after
``--warmup`` calls ("ratio"; the verdict uses it), and "min ratio" compares the fastest calls,
which bursts of load from other processes disturb less. ``torch.set_num_threads`` is left at
torch's default. The goal is an overhead ratio (operator / direct) of at most 1.2 on the
batch-32 cases.

Run from the repository root (with sciconv installed, or ``PYTHONPATH=.``):
``python benchmarks/bench_operator.py [--device cuda] [--dtype float64] [--reps 30] [--quick]``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

import torch
import torch.nn.functional as F

from sciconv import ConvOperator

GOAL = 1.2

# (label, batch, in_channels, out_channels, kernel, height, width, counts toward the goal)
CASES = [
    ("64x64", 32, 16, 16, 3, 64, 64, True),
    ("128x128", 32, 16, 16, 3, 128, 128, True),
    ("8x8 b1 (overhead-bound)", 1, 16, 16, 3, 8, 8, False),
]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_pair(f_op, f_direct, device, reps: int, warmup: int) -> tuple[list, list]:
    """Seconds per call of two callables, measured alternately."""
    for _ in range(warmup):
        f_op()
        f_direct()
    _sync(device)
    t_op, t_direct = [], []
    for r in range(reps):
        order = ((f_op, t_op), (f_direct, t_direct))
        for f, sink in order if r % 2 == 0 else order[::-1]:
            _sync(device)
            t0 = time.perf_counter()
            f()
            _sync(device)
            sink.append(time.perf_counter() - t0)
    return t_op, t_direct


def machine_info(device: torch.device) -> list[str]:
    lines = [
        f"date        {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine     {platform.node()} {platform.machine()} {platform.platform()}",
        f"cpu         {_cpu_name()} ({os.cpu_count()} logical cores)",
        f"python      {platform.python_version()}, torch {torch.__version__}",
        f"threads     torch.get_num_threads() = {torch.get_num_threads()} (default)",
        f"load avg    {_loadavg()}",
        f"device      {device}",
    ]
    if device.type == "cuda":
        lines.append(f"gpu         {torch.cuda.get_device_name(device)}")
    return lines


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _loadavg() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="64x64 cases only, 5 reps")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    reps = 5 if args.quick else args.reps
    cases = CASES[:1] + CASES[2:] if args.quick else CASES

    print("ConvOperator.apply overhead vs direct torch.nn.functional calls")
    print("\n".join(machine_info(device)))
    print(f"dtype       {args.dtype}; median of {reps} reps after {args.warmup} warm-up calls")
    print()
    header = (
        f"{'case':<26}{'padding':<10}{'direct ms':>11}{'operator ms':>13}{'ratio':>8}"
        f"{'min ratio':>11}{'max |diff|':>12}  goal"
    )
    print(header)
    print("-" * len(header))
    gen = torch.Generator(device="cpu").manual_seed(0)
    worst = 0.0
    for label, b, cin, cout, k, h, w_, counts in cases:
        x = torch.randn(b, cin, h, w_, generator=gen, dtype=dtype).to(device)
        w = torch.randn(cout, cin, k, k, generator=gen, dtype=dtype).to(device)
        p = (k - 1) // 2
        for padding in ("zeros", "circular"):
            op = ConvOperator(w, (cin, h, w_), padding=padding)
            if padding == "zeros":

                def direct(x=x, w=w, p=p):
                    return F.conv2d(x, w, padding=p)
            else:

                def direct(x=x, w=w, p=p):
                    return F.conv2d(F.pad(x, (p, p, p, p), mode="circular"), w)

            def via_op(x=x, op=op):
                return op.apply(x)

            with torch.no_grad():
                diff = float((via_op() - direct()).abs().max())
                ts_op, ts_direct = _time_pair(via_op, direct, device, reps, args.warmup)
            t_op, t_direct = statistics.median(ts_op), statistics.median(ts_direct)
            ratio = t_op / t_direct
            min_ratio = min(ts_op) / min(ts_direct)  # less sensitive to bursts of load
            if counts:
                worst = max(worst, ratio)
            verdict = ("ok" if ratio <= GOAL else "OVER") if counts else "(info)"
            print(
                f"{label:<26}{padding:<10}{t_direct * 1e3:>11.3f}{t_op * 1e3:>13.3f}"
                f"{ratio:>8.3f}{min_ratio:>11.3f}{diff:>12.2e}  {verdict}"
            )
    print()
    print(f"worst ratio on the goal cases: {worst:.3f} (goal <= {GOAL})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
