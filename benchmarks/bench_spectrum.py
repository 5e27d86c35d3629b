"""Exact singular values of a circular convolution: FFT + batched SVD vs dense SVD.

For each grid size n, a random ``C -> M`` channel ``k x k`` kernel on an ``n x n`` periodic
grid is decomposed twice: by :func:`sciconv.spectrum.conv_singular_values` (one small SVD per
frequency, Sedghi et al. 2019) and by ``numpy.linalg.svd`` of the materialised
``(M n^2) x (C n^2)`` matrix of :class:`sciconv.ConvOperator`. The dense SVD costs
``O((C n^2)^3)``: on 2 cores, 16 channels, n = 16 (4096 x 4096) takes seconds to tens of
seconds, n = 24 (9216 x 9216) several minutes; pick ``--sizes`` accordingly.

Run from the repository root: ``PYTHONPATH=. python3 benchmarks/bench_spectrum.py --sizes 8 16``
(or after ``pip install -e .``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

import numpy as np
import torch

from sciconv.operator import ConvOperator
from sciconv.spectrum import conv_singular_values


def machine_info() -> str:
    return (
        f"date: {datetime.datetime.now().isoformat(timespec='seconds')}\n"
        f"platform: {platform.platform()}, python {platform.python_version()}, "
        f"cpus: {os.cpu_count()}\n"
        f"numpy {np.__version__}, torch {torch.__version__}"
    )


def time_fft(w: np.ndarray, shape: tuple, stride: int, reps: int) -> tuple[np.ndarray, float]:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fast = conv_singular_values(w, shape, stride=stride, flat=True)
        times.append(time.perf_counter() - t0)
    return fast, statistics.median(times)


def bench(n: int, channels: int, out_channels: int, kernel: int, stride: int, reps: int) -> tuple:
    rng = np.random.default_rng(n)
    w = rng.standard_normal((out_channels, channels, kernel, kernel))
    shape = (channels, n, n)
    fast, t_fast = time_fft(w, shape, stride, reps)
    op = ConvOperator(w, shape, stride=stride, padding="circular")
    t0 = time.perf_counter()
    a = op.to_dense(max_entries=op.shape[0] * op.shape[1])
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    dense = np.linalg.svd(a, compute_uv=False)
    t_dense = time.perf_counter() - t0
    err = float(np.max(np.abs(fast - dense)) / dense[0])
    return op.shape, t_fast, t_build, t_dense, err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16], help="grid sizes n")
    parser.add_argument("--channels", type=int, default=16, help="input channels C")
    parser.add_argument("--out-channels", type=int, default=16, help="output channels M")
    parser.add_argument("--kernel", type=int, default=3, help="kernel size k (k x k)")
    parser.add_argument("--stride", type=int, default=1, help="stride (must divide n)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions of the FFT path")
    parser.add_argument(
        "--fft-only", type=int, nargs="*", default=[32], help="grid sizes timed without dense SVD"
    )
    args = parser.parse_args()
    print(machine_info())
    print(
        f"circular conv {args.channels}->{args.out_channels} channels, "
        f"{args.kernel}x{args.kernel} kernel, stride {args.stride}; FFT time: median of "
        f"{args.reps}; dense: one run (to_dense + numpy.linalg.svd, values only)\n"
    )
    header = (
        f"| {'n':>4} | {'matrix':>13} | {'FFT+SVD (s)':>11} | {'to_dense (s)':>12} | "
        f"{'dense SVD (s)':>13} | {'speed-up':>9} | {'max rel diff':>12} |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for n in args.sizes:
        shape, t_fast, t_build, t_dense, err = bench(
            n, args.channels, args.out_channels, args.kernel, args.stride, args.reps
        )
        print(
            f"| {n:>4} | {f'{shape[0]}x{shape[1]}':>13} | {t_fast:>11.4f} | {t_build:>12.3f} | "
            f"{t_dense:>13.3f} | {t_dense / t_fast:>8.0f}x | {err:>12.2e} |",
            flush=True,
        )
    for n in args.fft_only:
        w = np.random.default_rng(n).standard_normal(
            (args.out_channels, args.channels, args.kernel, args.kernel)
        )
        _, t_fast = time_fft(w, (args.channels, n, n), args.stride, args.reps)
        rows, cols = args.out_channels * (n // args.stride) ** 2, args.channels * n * n
        print(
            f"| {n:>4} | {f'{rows}x{cols}':>13} | {t_fast:>11.4f} | {'-':>12} | "
            f"{'(skipped)':>13} | {'-':>9} | {'-':>12} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
