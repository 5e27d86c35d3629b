"""DCDM on torch tensors (``solvers.device``) against the NumPy DCDM, same maps, same problems.

For each held-out problem and map (``coarse``, ``learned``), it builds the NumPy map once, runs
NumPy DCDM with it (lexicographic symmetric Gauss-Seidel, SciPy sparse products), moves it to
each torch device (``DeviceTwoLevel``: red-black symmetric Gauss-Seidel, torch sparse CSR
products) and runs ``dcdm_torch`` there; it prints iterations, solve seconds (set-up excluded:
it is shared) and the ratio torch / NumPy. One thread on the CPU. CUDA is measured only where
``torch.cuda.is_available()``.

    python benchmarks/bench_device.py [--n2 512 1024] [--n3 64]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pde import poisson_problem  # noqa: E402
from solvers.dcdm import dcdm  # noqa: E402
from solvers.device import DeviceTwoLevel, dcdm_torch  # noqa: E402
from solvers.maps import make_map  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n2", type=int, nargs="*", default=[512, 1024])
    ap.add_argument("--n3", type=int, nargs="*", default=[64])
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    names = {"cuda": torch.cuda.get_device_name(0)} if "cuda" in devices else {}
    print(f"devices: {devices} {names}; held-out obstacles (seed 10000), rtol 1e-6, k = 2")
    print("| case | map | NumPy its · solve s | " + " | ".join(
        f"{d} its · solve s | {d} / NumPy" for d in devices) + " |")  # fmt: skip
    print("|---|---|---|" + "---|---|" * len(devices))
    for dim, sizes in ((2, args.n2), (3, args.n3)):
        for n in sizes:
            p = poisson_problem("obstacles", n, dim, seed=10_000)
            b = p.rhs_divergence(0)
            for spec in ("coarse", "learned"):
                M = make_map(spec, p.matrix, labels=p.labels)
                t0 = time.perf_counter()
                _, ref = dcdm(p.matrix, b, rtol=1e-6, M=M, directions=2)
                t_np = time.perf_counter() - t0
                cells = []
                for dev in devices:
                    D = DeviceTwoLevel(M, p.labels, device=dev)
                    dcdm_torch(p.matrix, b, D, rtol=1e-6, maxiter=1, device=dev)  # warm-up
                    if dev == "cuda":
                        torch.cuda.synchronize()
                    t0 = time.perf_counter()
                    _, info = dcdm_torch(p.matrix, b, D, rtol=1e-6, directions=2, device=dev)
                    if dev == "cuda":
                        torch.cuda.synchronize()
                    t = time.perf_counter() - t0
                    cells.append(f"{info.iterations} · {t:.3f} | {t / t_np:.2f}")
                print(f"| obstacles {n}^{dim} | {spec} | {ref.iterations} · {t_np:.3f} | "
                      + " | ".join(cells) + " |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
