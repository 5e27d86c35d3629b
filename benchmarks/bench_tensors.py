"""Factorized convolutions (tensors) vs dense ``nn.Conv2d`` and tensorly-torch's FactorizedConv.

For each case (batch, channels, image size, rank) the same input goes through

* ``nn.Conv2d`` (the anchor; ratios are ours / dense),
* ``CPConv2d`` / ``TuckerConv2d`` / ``TTConv2d`` with ``implementation='factorized'`` (the
  sequence of small convolutions) and ``'reconstructed'`` (dense kernel rebuilt per call),
* ``tltorch.FactorizedConv`` (tensorly-torch, when importable) with CP rank R and Tucker rank
  (R, R, k, k), in its 'factorized' and 'reconstructed' implementations,

timing forward + backward (sum of the output as loss), interleaved across layers, median of
``--reps`` calls after ``--warmup``. Memory is what training needs: parameter bytes plus the
activations autograd saves for backward (``tensors.memory.saved_activation_bytes``), which does
not depend on the allocator. torch runs on ``--threads`` threads (default 1: on a shared machine
a second OpenMP thread that gets descheduled stalls every call).

Run from the repository root: ``python benchmarks/bench_tensors.py [--quick] [--reps 10]``;
tensorly-torch is the optional ``tltorch`` import (``pip install tensorly-torch``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

import torch
from torch import nn

from tensors import CPConv2d, TTConv2d, TuckerConv2d, conv_flops
from tensors.cost import parameter_bytes, saved_activation_bytes

try:  # optional anchor (bench extra)
    import tltorch
except ImportError:  # pragma: no cover - depends on the environment
    tltorch = None

# (batch, channels, image size, kernel, rank)
CASES = [(16, 64, 32, 3, 16), (32, 32, 16, 3, 8), (8, 128, 16, 3, 32)]


def _loadavg() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def layers_for(c: int, k: int, r: int, device, dtype) -> dict[str, nn.Module]:
    kw = {"padding": k // 2, "device": device, "dtype": dtype}
    out: dict[str, nn.Module] = {"dense nn.Conv2d": nn.Conv2d(c, c, k, **kw)}
    for name, cls, rank in (
        ("CP", CPConv2d, r),
        ("Tucker", TuckerConv2d, (r, r)),
        ("TT", TTConv2d, (r, r, r)),
    ):
        for impl in ("factorized", "reconstructed"):
            out[f"ours {name} {impl[:5]}."] = cls(c, c, k, rank=rank, implementation=impl, **kw)
    if tltorch is not None:
        for name, fact, rank in (("CP", "cp", r), ("Tucker", "tucker", (r, r, k, k))):
            for impl in ("factorized", "reconstructed"):
                layer = tltorch.FactorizedConv(
                    c,
                    c,
                    k,
                    order=2,
                    padding=k // 2,
                    bias=True,
                    factorization=fact,
                    rank=rank,
                    implementation=impl,
                    device=device,
                    dtype=dtype,
                )
                out[f"tltorch {name} {impl[:5]}."] = layer
    return out


def time_layers(layers: dict[str, nn.Module], x: torch.Tensor, reps: int, warmup: int):
    def run(layer):
        x.grad = None
        layer(x).sum().backward()

    for _ in range(warmup):
        for layer in layers.values():
            run(layer)
    times: dict[str, list[float]] = {name: [] for name in layers}
    names = list(layers)
    for rep in range(reps):
        for name in names if rep % 2 == 0 else names[::-1]:
            if x.device.type == "cuda":
                torch.cuda.synchronize(x.device)
            t0 = time.perf_counter()
            run(layers[name])
            if x.device.type == "cuda":
                torch.cuda.synchronize(x.device)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="first case only, 5 reps")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    reps = 5 if args.quick else args.reps
    cases = CASES[:1] if args.quick else CASES

    print("Factorized conv layers: forward+backward time and training memory vs nn.Conv2d")
    print(f"date        {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(f"machine     {platform.node()} {platform.machine()} {platform.platform()}")
    print(f"cpu         {_cpu_name()} ({os.cpu_count()} logical cores), load avg {_loadavg()}")
    print(
        f"python      {platform.python_version()}, torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}"
    )
    tl_version = getattr(tltorch, "__version__", "?") if tltorch else "not installed"
    print(f"tltorch     {tl_version}")
    print(f"device      {device}, dtype {args.dtype}; median of {reps} interleaved reps")
    for batch, c, n, k, r in cases:
        torch.manual_seed(0)
        layers = layers_for(c, k, r, device, dtype)
        x = torch.randn(batch, c, n, n, device=device, dtype=dtype, requires_grad=True)
        times = time_layers(layers, x, reps, args.warmup)
        print(f"\ncase: batch {batch}, {c}->{c} channels, {n}x{n}, {k}x{k}, rank {r}")
        head = (
            f"{'layer':<24}{'params':>9}{'MFLOP':>9}{'fwd+bwd ms':>12}{'time/dense':>12}"
            f"{'memory MB':>11}{'mem/dense':>11}"
        )
        print(head)
        print("-" * len(head))
        base_t = times["dense nn.Conv2d"]
        base_m = None
        for name, layer in layers.items():
            params = sum(p.numel() for p in layer.parameters())
            mem = parameter_bytes(layer) + saved_activation_bytes(layer, x)
            base_m = base_m or mem
            try:
                mflop = f"{conv_flops(layer, (n, n)) / 1e6:9.1f}"
            except TypeError:  # tltorch layers: not counted
                mflop = f"{'-':>9}"
            print(
                f"{name:<24}{params:>9,}{mflop}{times[name] * 1e3:>12.2f}"
                f"{times[name] / base_t:>12.2f}{mem / 2**20:>11.2f}{mem / base_m:>11.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
