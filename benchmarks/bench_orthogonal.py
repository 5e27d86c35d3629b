"""Orthogonal convolutions: sciconv vs orthogonium (the `bench` extra), side by side.

1. Spectrum of a 64-channel stride-2 circular 3x3 convolution on 32x32: sciconv's exact
   ``conv_singular_values`` (every singular value) vs orthogonium's ``get_conv_sv`` (a bound on
   sigma_max by Gram iteration, Delattre et al.), and vs a dense SVD on 8x8 where feasible.
2. ``OrthogonalConv2d`` vs orthogonium's ``AdaptiveOrthoConv2d`` (AOC): forward+backward time
   (float32, batch 32, 32x32, k = 3) and the orthogonality error max |sigma - 1| of each layer's
   kernel, measured by the same exact spectrum on the 32x32 grid. Our kernel is built in
   float64 by default ("float64 build") or in the layer's float32 (``construction_dtype=None``).

Run: ``python benchmarks/bench_orthogonal.py [--threads 2] [--reps 10]`` (about a minute).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from sciconv import ConvOperator, conv_singular_values
from sciconv.orthogonal import OrthogonalConv2d


def timeit(fn: Callable[[], object], reps: int, warmup: int = 2) -> float:
    """Median wall time in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def aoc(c: int, m: int, s: int) -> torch.nn.Module | None:
    try:
        from orthogonium.layers.conv.AOC import AdaptiveOrthoConv2d
    except ImportError:
        return None
    return AdaptiveOrthoConv2d(c, m, 3, s, padding="same" if s == 1 else 1, padding_mode="circular")


def spectrum_rows(reps: int) -> list[tuple[str, ...]]:
    rows = []
    torch.manual_seed(0)
    layer = aoc(64, 64, 2)
    w = (layer.weight if layer is not None else torch.randn(64, 64, 3, 3) / 24).detach()
    ours = timeit(lambda: conv_singular_values(w, (64, 32, 32), stride=2, flat=True), reps, 1)
    sv = conv_singular_values(w, (64, 32, 32), stride=2, flat=True)
    if layer is not None:
        from orthogonium.layers.conv.singular_values.get_sv import get_conv_sv

        anchor = timeit(lambda: get_conv_sv(layer, 6, imsize=32), max(1, reps // 3), 1)
        bound = float(get_conv_sv(layer, 6, imsize=32)[0])
        rows.append(
            (
                "sigma of 64->64 ch, S=2, 32x32",
                f"get_conv_sv: sigma_max <= {bound:.4f}",
                f"{anchor * 1e3:.0f} ms",
                f"all {sv.size} values, max {sv[0]:.6f}, min {sv[-1]:.6f}",
                f"{ours * 1e3:.0f} ms",
                f"{anchor / ours:.1f}x",
            )
        )
    w = w.to(torch.float64)
    op = ConvOperator(w, (64, 8, 8), stride=2, padding="circular")
    t0 = time.perf_counter()
    dense = np.linalg.svd(op.to_dense(), compute_uv=False)
    t_dense = time.perf_counter() - t0
    small = conv_singular_values(w, (64, 8, 8), stride=2, flat=True)
    t_small = timeit(lambda: conv_singular_values(w, (64, 8, 8), stride=2, flat=True), reps, 1)
    rows.append(
        (
            "sigma of 64->64 ch, S=2, 8x8",
            "dense SVD (1024 x 4096)",
            f"{t_dense * 1e3:.0f} ms",
            f"max |diff| {np.max(np.abs(small - dense)):.1e}",
            f"{t_small * 1e3:.1f} ms",
            f"{t_dense / t_small:.0f}x",
        )
    )
    return rows


def orth_error(w: torch.Tensor, s: int) -> float:
    sv = conv_singular_values(w.detach().to(torch.float64), (w.shape[1], 32, 32), s, flat=True)
    return float(np.max(np.abs(sv - 1)))


def _step(layer: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        layer.zero_grad()
        layer(x).square().mean().backward()

    return run


def layer_rows(reps: int) -> list[tuple[str, ...]]:
    rows = []
    for c, s, cd in (
        (16, 1, torch.float64),
        (64, 1, torch.float64),
        (64, 1, None),
        (64, 2, torch.float64),
    ):
        torch.manual_seed(0)
        x = torch.randn(32, c, 32, 32)
        ours = OrthogonalConv2d(c, c, 3, s, construction_dtype=cd)
        build = "float64" if cd is not None else "float32"

        t_ours = timeit(_step(ours, x), reps)
        e_ours = orth_error(ours.weight, s)
        anchor = aoc(c, c, s)
        if anchor is None:
            rows.append((f"fwd+bwd {c}->{c}, S={s}", "AOC: not installed", "-", "", "", ""))
            continue
        t_aoc = timeit(_step(anchor, x), reps)
        e_aoc = orth_error(anchor.weight, s)
        rows.append(
            (
                f"fwd+bwd {c}->{c}, k=3, S={s}",
                f"AOC, max|sigma-1| = {e_aoc:.1e}",
                f"{t_aoc * 1e3:.1f} ms",
                f"OrthogonalConv2d ({build} build), max|sigma-1| = {e_ours:.1e}",
                f"{t_ours * 1e3:.1f} ms",
                f"{t_aoc / t_ours:.2f}x",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:  # numpy's BLAS gets the same number of threads as torch
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    except ImportError:
        pass
    try:
        import orthogonium

        ortho_version = getattr(orthogonium, "__version__", "installed")
    except ImportError:
        ortho_version = "not installed (pip install orthogonium; the anchors are skipped)"
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f}), "
        f"torch {torch.__version__} ({args.threads} threads), "
        f"numpy {np.__version__}, orthogonium {ortho_version}"
    )
    rows = spectrum_rows(args.reps) + layer_rows(args.reps)
    head = ("task", "anchor", "anchor time", "ours", "ours time", "speed-up")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(v.ljust(w) for v, w in zip(r, widths)))


if __name__ == "__main__":
    main()
