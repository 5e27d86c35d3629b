"""Long causal convolution on CPU: FFT vs the Monarch (matmul) DFT, partial and frequency-sparse.

1. Causal convolution of ``(4, 64, L)`` float32 signals with a ``(64, L)`` kernel, ``L`` from
   1,024 to 1,048,576 (powers of 4), columns:

   * ``conv1d``: depthwise ``torch.nn.functional.conv1d`` (``L <= 4096`` only: O(L^2));
   * ``rfft ref``: the Hyena reference (``rfft`` of input and kernel at ``2L``, product,
     ``irfft``; the kernel transform is part of each call);
   * ``FFTConvolver``: sciconv's cached-spectrum FFT path (``method='fft'``), the anchor;
   * ``monarch o2`` / ``o3``: ``FFTConvolver(method='monarch', order=2/3)`` (same transform
     length ``fft_size(2L - 1)``, real input through a half-length complex transform);
   * ``partial 50%`` / ``90%``: :class:`sciconv.monarch.sparse.PartialConv` semantics, the
     kernel truncated to ``L/2`` / ``L/10`` taps, by the Monarch convolver (order 2) on the
     shorter length ``fft_size(L + K - 1)``;
   * ``fsparse 50%`` / ``90%``: :func:`sciconv.monarch.sparse.freq_sparse_conv` at
     sparsity 0.5 / 0.9 (order-2 grid, zero blocks skipped).

   Kernel spectra of the cached convolvers are computed before timing (a layer applying one
   kernel repeatedly). Times are the best of ``reps`` runs (5 up to 16K, 2 up to 256K, 1
   above). Each cell runs on ``S`` of the 256 (batch x channel) signals: all of them when a
   four-signal probe predicts at most ``--budget`` seconds, else the largest of 64, 16, 4, 1
   that fits; its time and memory are then multiplied by ``256/S`` and marked ``*`` (the work
   is a batch of independent rows, so it is linear in ``S``).

   Peak memory: the extra resident set (VmHWM - VmRSS) of one call, read from
   ``/proc/self/status`` after resetting the high-water mark through ``/proc/self/clear_refs``
   (Linux; this sees torch's allocations, which ``tracemalloc`` does not), after glibc's
   ``malloc_trim(0)`` has returned freed heap memory, measured after the timed runs.

2. What ``method='auto'`` picks at L = 1024, 4096, 16384, and the accuracy of the float32 paths
   against a float64 reference at ``L = 4096``.
3. Half precision: :func:`sciconv.monarch.monarch_fft` of float16/bfloat16 input (operands
   rounded to half, float32 accumulation) against the float64 FFT, beside the input-rounding
   floor and torch's own half-precision FFT where it exists.

Run from the repository root: ``PYTHONPATH=. python3 benchmarks/bench_monarch.py`` (about
8 minutes on 2 shared cores; ``--quick`` for L = 1024, 4096 only).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from common import hyena_fftconv, machine_info

from sciconv import FFTConvolver
from sciconv.monarch import monarch_fft, monarch_rfft
from sciconv.monarch.sparse import freq_sparse_conv

SIGNALS = 256  # batch 4 x 64 channels
SUBSETS = ((4, 64), (4, 16), (4, 4), (4, 1), (1, 1))  # (batch, channels): 256, 64, 16, 4, 1


def conv1d_causal(u: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    L = u.shape[-1]
    return F.conv1d(F.pad(u, (L - 1, 0)), k.flip(-1)[:, None, :], groups=k.shape[0])


def malloc_trim() -> None:
    """Give freed heap memory back to the OS (glibc), so the resident set is the live data."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return -1


def peak_extra_bytes(fn: Callable[[], object]) -> int:
    """Extra resident memory at the peak of one call (-1 where /proc cannot tell)."""
    malloc_trim()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
    except OSError:
        return -1
    before = _status("VmRSS:")
    out = fn()
    peak = _status("VmHWM:")
    del out
    return peak - before


def columns(L: int) -> dict[str, Callable[[torch.Tensor, torch.Tensor], Callable[[], object]]]:
    """name -> (x, k) -> a call with everything cacheable prepared."""

    def convolver(method: str, order: int = 2, K: int | None = None):
        def make(x, k):
            kk = k if K is None else k[:, :K]
            c = FFTConvolver(kk, L, "causal", method=method, order=order)
            c(x)  # warm-up: computes and caches the spectrum
            return lambda: c(x)

        return make

    cols = {
        "conv1d": (lambda x, k: lambda: conv1d_causal(x, k)) if L <= 4096 else None,
        "rfft ref": lambda x, k: lambda: hyena_fftconv(x, k),
        "FFTConvolver": convolver("fft"),
        "monarch o2": convolver("monarch", 2),
        "monarch o3": convolver("monarch", 3),
        "partial 50%": convolver("monarch", 2, L // 2),
        "partial 90%": convolver("monarch", 2, L // 10),
        "fsparse 50%": lambda x, k: lambda: freq_sparse_conv(x, k, 0.5),
        "fsparse 90%": lambda x, k: lambda: freq_sparse_conv(x, k, 0.9),
    }
    return {name: make for name, make in cols.items() if make is not None}


def time_cell(make, x, k, L, budget, reps):
    """(seconds for all 256 signals, peak extra bytes for all 256, signals used)."""
    probe = make(x[:, :1], k[:1])  # 4 signals: a probe not dominated by call overhead
    t0 = time.perf_counter()
    probe()
    one = (time.perf_counter() - t0) / 4
    b, c = next(((b, c) for b, c in SUBSETS if one * b * c <= budget), SUBSETS[-1])
    xs, ks = x[:b, :c].contiguous(), k[:c].contiguous()
    call = make(xs, ks)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - t0)
    mem = peak_extra_bytes(call)
    scale = SIGNALS / (b * c)
    return best * scale, (mem * scale if mem >= 0 else -1), b * c


def bench_table(lengths, budget: float) -> list[str]:
    gen = torch.Generator().manual_seed(0)
    names = list(columns(max(lengths)).keys())
    names = ["conv1d"] + [n for n in names if n != "conv1d"]
    head = "| L | " + " | ".join(names) + " |"
    rule = "|---" * (len(names) + 1) + "|"
    t_lines, m_lines = [head, rule], [head, rule]
    for L in lengths:
        x = torch.randn(4, 64, L, generator=gen)
        k = torch.randn(64, L, generator=gen) * torch.exp(-torch.arange(L) / (L / 8))
        reps = 5 if L <= 16384 else 2 if L <= 262144 else 1
        cells, mems = {}, {}
        for name, make in columns(L).items():
            cells[name], mems[name], used = time_cell(make, x, k, L, budget, reps)
            star = "" if used == SIGNALS else "*"
            print(
                f"  L={L:>8} {name:<13} {cells[name] * 1e3:10.1f} ms{star} (S={used})", flush=True
            )
            cells[name] = (cells[name], star)
            mems[name] = (mems[name], star)
        anchor = cells["FFTConvolver"][0]
        row_t, row_m = [f"{L:,}"], [f"{L:,}"]
        for name in names:
            if name not in cells:
                row_t.append("-")
                row_m.append("-")
                continue
            t, star = cells[name]
            row_t.append(f"{t * 1e3:.1f}{star} ({t / anchor:.2f}x)")
            m = mems[name][0]
            row_m.append(f"{m / 2**20:.0f}{star}" if m >= 0 else "n/a")
        t_lines.append("| " + " | ".join(row_t) + " |")
        m_lines.append("| " + " | ".join(row_m) + " |")
        del x, k
    return t_lines + [""] + m_lines


def auto_lines(lengths=(1024, 4096, 16384)) -> list[str]:
    """What method='auto' picks (fresh table per length, full batch) and the times it measured."""
    from sciconv.monarch.tune import TuningTable

    gen = torch.Generator().manual_seed(3)
    out = ["method='auto' (a fresh TuningTable, best of 2 after a warm-up, full 256 signals):"]
    for L in lengths:
        x, k = torch.randn(4, 64, L, generator=gen), torch.randn(64, L, generator=gen)
        table = TuningTable()
        conv = FFTConvolver(k, L, "causal", method="auto", tuning=table)
        conv(x)
        times = table.timings[conv.tuning_key(x)]
        shown = ", ".join(f"{m} {t * 1e3:.1f} ms" for m, t in times.items())
        out.append(f"  L={L:>6}: picks {conv.last_method!r} ({shown})")
    return out


def accuracy_lines(L: int = 4096) -> list[str]:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(4, 64, L, dtype=torch.float64, generator=gen)
    k = torch.randn(64, L, dtype=torch.float64, generator=gen) * torch.exp(
        -torch.arange(L) / (L / 8)
    )
    ref = hyena_fftconv(x, k)
    out = [f"float32 vs float64 reference, L = {L} (normwise relative):"]
    for name, method, order in (
        ("FFTConvolver", "fft", 2),
        ("monarch o2", "monarch", 2),
        ("monarch o3", "monarch", 3),
    ):
        y = FFTConvolver(k.float(), L, "causal", method=method, order=order)(x.float())
        out.append(f"  {name:<13} {float((y.double() - ref).norm() / ref.norm()):.1e}")
    return out


def half_lines(sizes=(4096, 65536)) -> list[str]:
    gen = torch.Generator().manual_seed(2)
    out = ["half precision: ||X - X_ref|| / ||X_ref||, X_ref the float64 FFT of the input:"]
    try:
        torch.fft.fft(torch.zeros(8, dtype=torch.float16))
        torch_half = "available"
    except RuntimeError as e:
        torch_half = f"unavailable on CPU ({str(e).splitlines()[0]})"
    out.append(f"  torch.fft.fft(float16): {torch_half}")
    for n in sizes:
        x = torch.randn(16, n, dtype=torch.float64, generator=gen)
        ref = torch.fft.fft(x)
        for half in (torch.float16, torch.bfloat16):
            xh = x.to(half)
            floor = float((torch.fft.fft(xh.double()) - ref).norm() / ref.norm())
            errs = []
            for order in (2, 3):
                X = monarch_fft(xh, order=order).to(torch.complex128)
                errs.append(float((X - ref).norm() / ref.norm()))
            Xr = monarch_rfft(xh, order=2).to(torch.complex128)
            rr = torch.fft.rfft(x)
            rerr = float((Xr - rr).norm() / rr.norm())
            if torch_half.startswith("available"):
                th = torch.fft.fft(xh).to(torch.complex128)
                tstr = f"{float((th - ref).norm() / ref.norm()):.1e}"
            else:
                tstr = "n/a"
            out.append(
                f"  N={n:>6} {str(half).split('.')[-1]:<8} monarch o2 {errs[0]:.1e}, o3 "
                f"{errs[1]:.1e}, rfft o2 {rerr:.1e}; input rounding alone {floor:.1e}; "
                f"torch {tstr}"
            )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="L = 1024, 4096 only")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--budget", type=float, default=4.0, help="seconds per timed cell run")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(machine_info(args.threads), flush=True)
    lengths = (1024, 4096) if args.quick else tuple(4**e for e in range(5, 11))
    t0 = time.perf_counter()
    table = bench_table(lengths, args.budget)
    print("\ntimes in ms (ratio to FFTConvolver); * = measured on S < 256 signals, scaled:")
    print("\n".join(table[: len(lengths) + 2]))
    print("\npeak extra resident memory of one call, MiB (* = scaled):")
    print("\n".join(table[len(lengths) + 3 :]))
    print()
    print("\n".join(auto_lines((1024,) if args.quick else (1024, 4096, 16384))))
    print("\n".join(accuracy_lines()))
    print("\n".join(half_lines((4096,) if args.quick else (4096, 65536))))
    total = time.perf_counter() - t0
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}; total {total:.0f} s")


if __name__ == "__main__":
    main()
