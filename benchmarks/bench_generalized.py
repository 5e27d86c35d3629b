"""KernelConv2d (conv expansion / chunked L1) against a Kervolution-style unfold implementation.

The anchor is written here in the style of the Kervolution reference code (Wang et al. 2019):
unfold the input into patches ``(N, C k^2, L)`` and broadcast the difference with every filter,
``(N, O, C k^2, L)``, before reducing. Ours computes the Gaussian / L2 kernels from three
convolutions, :math:`\\sum (x-w)^2 = \\mathrm{conv}(x^2, 1) - 2\\,\\mathrm{conv}(x, w) + \\|w\\|^2`
(no unfold), and the L1 kernel by a chunked unfold (``torch.cdist(p=1)`` per chunk) under
``max_chunk_bytes``.

Each (implementation, kernel, mode) runs in its own subprocess, which reports the median wall time
of ``--reps`` calls after a first one, and the peak resident-memory increase of that first call
over the state after set-up (``resource.getrusage().ru_maxrss``), so one measurement cannot
inherit another's peak. Modes:
'fwd' (under ``torch.no_grad``) and 'fwd+bwd' (forward, ``sum().backward()``). float32, 3x3,
padding 1, ``--threads`` torch threads.

The issue's size (batch 8, 64 channels, 64x64) makes the anchor's difference tensor
8*64*576*4096*4 B = 4.8 GB (about 9 GB peak in the forward pass, 18 GB with the backward) --
too much for the shared 23 GB development machine, so the default is batch 8, 32 channels,
32x32 (``--configs 8,64,32`` adds a 2.3 / 4.6 GB anchor run; ``--configs 8,64,64 --no-anchor``
measures ours alone at the issue's size). Peaks are RSS increases: values of a few MB are at
the resolution of the measurement (the allocator reuses freed pages).

Run: ``PYTHONPATH=. python3 benchmarks/bench_generalized.py``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from sciconv.generalized import KernelConv2d


def kervolution_unfold(x: torch.Tensor, w: torch.Tensor, kernel: str, gamma: float) -> torch.Tensor:
    """Anchor: unfold + broadcast difference with every filter (Kervolution style)."""
    n, _, h, wd = x.shape
    out = w.shape[0]
    patches = F.unfold(x, w.shape[2:], padding=1)  # (N, C k^2, L)
    diff = patches.unsqueeze(1) - w.reshape(1, out, -1, 1)  # (N, O, C k^2, L)
    if kernel == "l1":
        y = diff.abs().sum(2)
    else:
        y = (diff**2).sum(2)
        if kernel == "gaussian":
            y = torch.exp(-gamma * y)
    return y.reshape(n, out, h, wd)


def worker(impl: str, kernel: str, mode: str, n: int, c: int, h: int, reps: int, cap: int) -> dict:
    torch.manual_seed(0)
    gamma = 1.0 / (9 * c)
    layer = KernelConv2d(
        c, c, 3, padding=1, kernel=kernel, gamma=gamma, bias=False, max_chunk_bytes=cap
    )
    x = torch.rand(n, c, h, h, requires_grad=mode != "fwd")
    if impl == "ours":

        def fn():
            return layer(x)
    else:

        def fn():
            return kervolution_unfold(x, layer.weight, kernel, gamma)

    def call() -> None:
        if mode == "fwd":
            with torch.no_grad():
                fn()
        else:
            fn().sum().backward()

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    call()  # the first call measures the memory peak (and warms up); the next ones the time
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return {"time": statistics.median(times), "peak_mb": (peak - base) / 1024.0}


def run_worker(args: argparse.Namespace, impl: str, kernel: str, mode: str, cfg) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        impl,
        kernel,
        mode,
        *map(str, cfg),
        "--reps",
        str(args.reps),
        "--threads",
        str(args.threads),
        "--cap",
        str(args.cap),
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        return {"time": float("nan"), "peak_mb": float("nan"), "error": out.stderr[-300:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def check_agreement(kernel: str) -> float:
    """Max |ours - anchor| on a small float64 case (same weights)."""
    torch.manual_seed(1)
    layer = KernelConv2d(
        4, 5, 3, padding=1, kernel=kernel, gamma=0.05, bias=False, dtype=torch.float64
    )
    x = torch.rand(2, 4, 9, 9, dtype=torch.float64)
    with torch.no_grad():
        return float((layer(x) - kervolution_unfold(x, layer.weight, kernel, 0.05)).abs().max())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--configs",
        nargs="+",
        default=["8,32,32"],
        help="N,C,H triples (batch, channels in = out, square size)",
    )
    p.add_argument("--kernels", nargs="+", default=["gaussian", "l2", "l1"])
    p.add_argument("--modes", nargs="+", default=["fwd", "fwd+bwd"])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--no-anchor", action="store_true", help="measure ours only (large sizes)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cap", type=int, default=2**25, help="max_chunk_bytes of the L1 kernel")
    p.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.worker:
        impl, kernel, mode, n, c, h = args.worker
        print(json.dumps(worker(impl, kernel, mode, int(n), int(c), int(h), args.reps, args.cap)))
        return

    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(
        f"platform: {platform.platform()}, python {platform.python_version()}, "
        f"cpus: {os.cpu_count()}, load avg: {os.getloadavg()[0]:.1f}"
    )
    print(
        f"torch {torch.__version__}, threads {args.threads}, float32, 3x3, padding 1, "
        f"median of {args.reps}, L1 cap {args.cap / 2**20:.0f} MiB"
    )
    for k in args.kernels:
        print(f"agreement ours vs anchor ({k}, float64): {check_agreement(k):.1e}")
    head = (
        f"{'N,C,H':>9} {'kernel':>9} {'mode':>8} {'anchor s':>9} {'ours s':>8} {'speedup':>8}"
        f" {'anchor MB':>10} {'ours MB':>8} {'mem ratio':>9}"
    )
    print(head)
    for cfg_s in args.configs:
        cfg = tuple(int(v) for v in cfg_s.split(","))
        for kernel in args.kernels:
            for mode in args.modes:
                nan = {"time": float("nan"), "peak_mb": float("nan")}
                a = nan if args.no_anchor else run_worker(args, "anchor", kernel, mode, cfg)
                o = run_worker(args, "ours", kernel, mode, cfg)
                mem = a["peak_mb"] / max(o["peak_mb"], 1.0)
                print(
                    f"{cfg_s:>9} {kernel:>9} {mode:>8} {a['time']:>9.3f} {o['time']:>8.3f} "
                    f"{a['time'] / o['time']:>7.1f}x {a['peak_mb']:>10.0f} {o['peak_mb']:>8.0f} "
                    f"{mem:>8.1f}x",
                    flush=True,
                )
                for r in (a, o):
                    if "error" in r:
                        print("   error:", r["error"].strip().splitlines()[-1])


if __name__ == "__main__":
    main()
