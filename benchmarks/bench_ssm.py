"""State-space convolution benchmarks: causal FFT convolution, Vandermonde memory, parallel scan.

1. Causal convolution of ``(batch, 64, L)`` with a ``(64, L)`` kernel, float32, three ways:
   ``torch.nn.functional.conv1d`` (depthwise, left padding ``L - 1``, flipped kernel); the
   Hyena-style reference (``rfft`` of input and kernel at ``n = 2L``, multiply, ``irfft``,
   slice); and sciconv's :class:`FFTConvolver` (``mode='causal'``, kernel spectrum cached, FFT
   length ``fft_size(2L - 1)``) as when one kernel is applied repeatedly. Also the uncached
   :func:`sciconv.fftconv`. Times are the best of ``--reps`` runs, the methods interleaved
   round-robin so that load on a shared machine hits them alike.
2. Peak memory (``tracemalloc``, numpy path) of the S4D kernel ``K_l = sum_n c_n z_n^l`` by the
   materialised Vandermonde product vs the chunked one (:func:`sciconv.vandermonde_apply`, the
   primitive behind ``ssm_kernel(..., method='vandermonde' / 'vandermonde_chunked')``).
3. All states of ``h_t = a_t h_{t-1} + b_t`` at ``L = 4096``: the parallel scans of
   :func:`sciconv.ssm.linear_scan` vs the Python loop :func:`sciconv.ssm.sequential_scan`,
   forward and forward + backward.

Run from the repository root: ``PYTHONPATH=. python3 benchmarks/bench_ssm.py`` (1-3 minutes).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from common import hyena_fftconv, machine_info

from sciconv import FFTConvolver, fftconv, vandermonde_apply
from sciconv.ssm import linear_scan, s4d_init, sequential_scan


def conv1d_causal(u: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    L = u.shape[-1]
    return F.conv1d(F.pad(u, (L - 1, 0)), k.flip(-1)[:, None, :], groups=k.shape[0])


def interleaved_best(fns: dict, reps: int) -> dict:
    """Best (minimum) seconds per call of each function, timed round-robin after a warm-up.

    On a shared machine the minimum is the run least disturbed by other processes; the
    round-robin order exposes every method to the same load."""
    for f in fns.values():
        f()
    times: dict = {name: [] for name in fns}
    for _ in range(reps):
        for name, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
    return {name: min(ts) for name, ts in times.items()}


def bench_conv(lengths, channels: int, batch: int, reps: int, conv1d_max: int) -> None:
    big = max(3, reps // 3)
    print(
        f"\n[1] causal convolution, {batch} x {channels} channels, kernel {channels} x L, "
        f"float32; best ms of {reps} interleaved runs ({big} from L = 8192)"
    )
    print(
        f"{'L':>6} {'conv1d':>9} {'hyena rfft':>11} {'fftconv':>9} {'FFTConvolver':>13} "
        f"{'fft len':>8} {'hyena/cached':>13} {'conv1d/cached':>14} {'max rel diff':>13}"
    )
    g = torch.Generator().manual_seed(0)
    for L in lengths:
        u = torch.randn(batch, channels, L, generator=g)
        k = torch.randn(channels, L, generator=g) / L**0.5
        cached = FFTConvolver(k, L, mode="causal")
        fns = {
            "hyena": partial(hyena_fftconv, u, k),
            "fftconv": partial(fftconv, u, k, mode="causal"),
            "cached": partial(cached, u),
        }
        if L <= conv1d_max:
            fns["conv1d"] = partial(conv1d_causal, u, k)
        t = interleaved_best(fns, reps if L < 8192 else big)
        ref = hyena_fftconv(u.double(), k.double())
        err = max(((f().double() - ref).abs().max() / ref.abs().max()).item() for f in fns.values())
        c1 = t.get("conv1d", float("nan"))
        print(
            f"{L:>6} {c1 * 1e3:>9.2f} {t['hyena'] * 1e3:>11.3f} {t['fftconv'] * 1e3:>9.3f} "
            f"{t['cached'] * 1e3:>13.3f} {cached.fft_shape[0]:>8} "
            f"{t['hyena'] / t['cached']:>12.2f}x {c1 / t['cached']:>13.1f}x {err:>13.1e}"
        )


def bench_vandermonde(N: int, lengths, chunk: int) -> None:
    print(
        f"\n[2] S4D kernel K_l = sum_n c_n exp(l dt a_n) by sciconv.vandermonde_apply, N = {N}, "
        f"numpy complex128; tracemalloc peak over the call"
    )
    print(f"{'L':>7} {'materialised MB':>16} {'chunked MB':>11} {'ratio':>7} {'max rel diff':>13}")
    rng = np.random.default_rng(0)
    z = 1e-3 * s4d_init("lin", N)  # log nodes dt * A (ZOH)
    c = rng.standard_normal(N) + 1j * rng.standard_normal(N)
    for L in lengths:
        peaks, outs = [], []
        for ch in (None, chunk):
            tracemalloc.start()
            outs.append(vandermonde_apply(z, c, L, chunk=ch, log_nodes=True))
            peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
            tracemalloc.stop()
        err = np.max(np.abs(outs[0] - outs[1])) / np.max(np.abs(outs[0]))
        print(
            f"{L:>7} {peaks[0]:>16.2f} {peaks[1]:>11.2f} {peaks[0] / peaks[1]:>6.0f}x {err:>13.1e}"
        )
    print(f"(chunk = {chunk}; the output alone is L x 16 bytes)")


def _backward(fn, a: torch.Tensor, b: torch.Tensor) -> None:
    fn(a, b).sum().backward()


def bench_scan(L: int, widths, reps: int) -> None:
    print(f"\n[3] linear recurrence, L = {L}, float64, state width S; best ms of {reps}")
    print(
        f"{'S':>5} {'loop':>9} {'blelloch':>9} {'chunked':>9} {'loop/blelloch':>14} "
        f"{'loop/chunked':>13} {'fwd+bwd loop/blelloch':>22}"
    )
    g = torch.Generator().manual_seed(1)
    for S in widths:
        a = torch.rand(L, S, generator=g, dtype=torch.float64)
        b = torch.randn(L, S, generator=g, dtype=torch.float64)
        t = interleaved_best(
            {
                "loop": partial(sequential_scan, a, b),
                "blelloch": partial(linear_scan, a, b),
                "chunked": partial(linear_scan, a, b, method="chunked", chunk=64),
            },
            reps,
        )
        ag, bg = a.clone().requires_grad_(), b.clone().requires_grad_()
        tb = interleaved_best(
            {
                "loop": partial(_backward, sequential_scan, ag, bg),
                "blelloch": partial(_backward, linear_scan, ag, bg),
            },
            max(3, reps // 3),
        )
        err = (linear_scan(a, b) - sequential_scan(a, b)).abs().max().item()
        assert err < 1e-9, err
        print(
            f"{S:>5} {t['loop'] * 1e3:>9.2f} {t['blelloch'] * 1e3:>9.2f} "
            f"{t['chunked'] * 1e3:>9.2f} {t['loop'] / t['blelloch']:>13.1f}x "
            f"{t['loop'] / t['chunked']:>12.1f}x {tb['loop'] / tb['blelloch']:>21.1f}x"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lengths", type=int, nargs="+", default=[1024, 2048, 4096, 8192, 16384])
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--reps", type=int, default=11)
    p.add_argument("--conv1d-max", type=int, default=8192, help="skip conv1d above this L")
    p.add_argument("--vandermonde-lengths", type=int, nargs="+", default=[4096, 16384, 65536])
    p.add_argument("--state", type=int, default=64, help="N for the Vandermonde benchmark")
    p.add_argument("--chunk", type=int, default=128)
    p.add_argument("--scan-length", type=int, default=4096)
    p.add_argument("--scan-widths", type=int, nargs="+", default=[1, 16, 64])
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(machine_info(args.threads))
    bench_conv(args.lengths, args.channels, args.batch, args.reps, args.conv1d_max)
    bench_vandermonde(args.state, args.vandermonde_lengths, args.chunk)
    bench_scan(args.scan_length, args.scan_widths, args.reps)


if __name__ == "__main__":
    main()
