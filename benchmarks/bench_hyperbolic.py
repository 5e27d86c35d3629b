"""PoincareConv2d forward + backward: hand-derived backward vs plain autograd vs HypLL.

One Poincaré convolution (``C -> C`` channels, 3x3, padding 1, ``N x C x H x W`` float32 input
in the ball) runs forward and backward (gradients of the input, weights and offsets) in five
ways, all with the same weights and in the same process:

* ``autograd/unfold`` -- the recipe as written (log0 -> beta scaling -> unfold -> exp0 ->
  Poincaré FC) in plain autograd: the anchor;
* ``manual/unfold`` -- the same recipe with the hand-derived backward Functions;
* ``autograd/fused`` -- the ``conv2d`` evaluation (no unfold) in plain autograd;
* ``manual/fused`` -- ``conv2d`` evaluation + hand-derived backward (PoincareConv2d's default);
* ``HypLL`` -- ``hypll.nn.HConvolution2d`` (bench extra), if installed.

Time: median (and min) of ``--reps`` round-robin runs after one warm-up; ratios use medians.
Memory: on CUDA the peak allocated memory of one forward + backward; on CPU (no allocator
statistics) the bytes of the distinct tensors autograd keeps for backward
(``torch.autograd.graph.saved_tensors_hooks``), i.e. the activation memory that a
hand-written backward is meant to cut. Ratios are anchor / variant.

Run: ``PYTHONPATH=. python3 benchmarks/bench_hyperbolic.py [--batch 32 --channels 32 --size 32]``
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

import torch

from sciconv.hyperbolic import PoincareConv2d
from sciconv.hyperbolic import ball as hb


def machine_info(device: str) -> str:
    dev = torch.cuda.get_device_name() if device.startswith("cuda") else platform.processor()
    return (
        f"date: {datetime.datetime.now().isoformat(timespec='seconds')}\n"
        f"platform: {platform.platform()}, python {platform.python_version()}, "
        f"cpus: {os.cpu_count()}, torch threads: {torch.get_num_threads()}\n"
        f"torch {torch.__version__}, device: {device} ({dev or 'cpu'})"
    )


def make_hypll(conv: PoincareConv2d, c: float):
    try:
        from hypll.manifolds.poincare_ball import Curvature
        from hypll.manifolds.poincare_ball import PoincareBall as HypBall
        from hypll.nn import HConvolution2d
        from hypll.tensors import ManifoldTensor
    except ImportError:
        return None
    manifold = HypBall(c=Curvature(value=c, constraining_strategy=lambda v: v))
    h = HConvolution2d(
        conv.in_channels, conv.out_channels, conv.kernel_size, manifold, padding=conv.padding[0]
    ).to(conv.weight.device)
    with torch.no_grad():
        h.weights.tensor.copy_(conv.weight.flatten(1).t())
        h.bias.copy_(conv.bias)

    def run(x: torch.Tensor) -> torch.Tensor:
        return h(ManifoldTensor(x, manifold=manifold, man_dim=1)).tensor

    return run, list(h.parameters())


def make_step(fn, params, x: torch.Tensor, g: torch.Tensor):
    """A closure running forward + backward of sum(fn(x) * g); returns (y, x.grad)."""
    xg = x.clone().requires_grad_()

    def step() -> tuple[torch.Tensor, torch.Tensor]:
        for p in [xg, *params]:
            p.grad = None
        y = fn(xg)
        (y * g).sum().backward()
        return y.detach(), xg.grad.detach().clone()

    return step, xg


def timed(step, device: str) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def memory(step, fn, xg: torch.Tensor, g: torch.Tensor, device: str) -> int:
    """Peak CUDA bytes of one step, or (CPU) bytes of the distinct tensors saved for backward."""
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step()
        return torch.cuda.max_memory_allocated() - base
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        seen[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn(xg)
    (out * g).sum().backward()
    return sum(seen.values())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--size", type=int, default=32, help="H = W")
    p.add_argument("--c", type=float, default=1.0)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: robust to load)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-hypll", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    dev = args.device
    print(machine_info(dev))
    n, ch, s = args.batch, args.channels, args.size
    print(f"PoincareConv2d {ch}->{ch}, 3x3, padding 1, input {n}x{ch}x{s}x{s} float32, c={args.c}")
    torch.manual_seed(0)
    conv = PoincareConv2d(ch, ch, 3, padding=1, c=args.c, id_init=False, device=dev)
    with torch.no_grad():
        conv.bias.normal_(0, 0.1)
    # tangent norms ~ 1 per pixel: points at radius ~ tanh(1) / sqrt(c), well inside in float32
    x = hb.expmap0(torch.randn(n, ch, s, s, device=dev) / ch**0.5, args.c, dim=1)

    def variant(impl: str, manual: bool):
        def run(inp: torch.Tensor) -> torch.Tensor:
            conv.impl, conv.manual_backward = impl, manual
            return conv(inp)

        return run, list(conv.parameters())

    variants = {
        "autograd/unfold": variant("unfold", False),
        "manual/unfold": variant("unfold", True),
        "autograd/fused": variant("fused", False),
        "manual/fused": variant("fused", True),
    }
    if not args.no_hypll:
        h = make_hypll(conv, args.c)
        if h is None:
            print("HypLL: not installed (pip install hypll), skipped")
        else:
            variants["HypLL"] = h
    mem_label = "peak MiB" if dev.startswith("cuda") else "saved MiB"
    print(
        f"time: median of {args.reps}; memory: {mem_label}; ratios = autograd/unfold / variant;"
        " rel diff = max abs difference / max abs value, vs autograd/unfold\n"
    )
    header = (
        f"| {'variant':<16} | {'median s':>9} | {'min s':>8} | {mem_label:>10} | "
        f"{'time ratio':>10} | {'mem ratio':>9} | {'y rel diff':>10} | {'dx rel diff':>11} |"
    )
    print(header)
    print("|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|")
    g = torch.randn(n, ch, s, s, device=dev)
    steps = {name: make_step(fn, params, x, g) for name, (fn, params) in variants.items()}
    outs = {name: st() for name, (st, _) in steps.items()}  # warm-up, and the results
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.reps):  # round-robin, so that load changes hit every variant alike
        for name, (st, _) in steps.items():
            times[name].append(timed(st, dev))
    ref_name = next(iter(steps))
    ref_t = statistics.median(times[ref_name])
    ref_y, ref_gx = outs[ref_name]
    ref_mem = None
    for name, (st, xg) in steps.items():
        mem = memory(st, variants[name][0], xg, g, dev)
        ref_mem = ref_mem or mem
        t_med, t_min = statistics.median(times[name]), min(times[name])
        y, gx = outs[name]
        dy = float((y - ref_y).abs().max() / ref_y.abs().max())
        dg = float((gx - ref_gx).abs().max() / ref_gx.abs().max())
        print(
            f"| {name:<16} | {t_med:>9.4f} | {t_min:>8.4f} | {mem / 2**20:>10.1f} | "
            f"{ref_t / t_med:>9.2f}x | {ref_mem / mem:>8.2f}x | {dy:>10.1e} | {dg:>11.1e} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
