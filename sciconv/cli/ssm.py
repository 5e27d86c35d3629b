"""``sciconv ssm``: every state-space kernel method against the dense Krylov kernel."""

from __future__ import annotations

import argparse
import time

from ._common import Check, dumps

HELP = "state-space kernels: agreement of every ssm_kernel method with dense Krylov (float64)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--N", type=int, default=64, help="state size (default 64)")
    parser.add_argument("--L", type=int, default=4096, help="kernel length (default 4096)")
    parser.add_argument("--dt", type=float, default=1e-3, help="step (default 1e-3)")
    parser.add_argument("--json", action="store_true", help="print a JSON list of rows")


def agreement_rows(N: int = 64, L: int = 4096, dt: float = 1e-3) -> list[dict]:
    """Relative 2-norm difference and time of each method vs the dense Krylov loop.

    Diagonal S4D-Lin (ZOH and bilinear): Krylov by doubling, Vandermonde materialised and
    chunked. HiPPO LegS/LegT/LagT/FouT (bilinear): the DPLR Cauchy method in the NPLR eigenbasis
    against the Krylov loop on the real dense matrix.
    """
    import numpy as np

    from sciconv.ssm import hippo, nplr, s4d_init, ssm_kernel

    rng = np.random.default_rng(0)
    rows = []

    def row(system, disc, method, fn, ref):
        t0 = time.perf_counter()
        K = fn()
        ms = (time.perf_counter() - t0) * 1e3
        err = float(np.linalg.norm(K - ref) / np.linalg.norm(ref))
        rows.append(
            {"system": system, "discretization": disc, "method": method, "rel_diff": err, "ms": ms}
        )

    A = s4d_init("lin", N)
    C = rng.standard_normal(N) + 1j * rng.standard_normal(N)
    for disc in ("zoh", "bilinear"):
        ref = ssm_kernel(np.diag(A), np.ones(N), C, dt, L, "krylov", disc)
        for method in ("krylov_doubling", "vandermonde", "vandermonde_chunked"):
            row(
                "S4D-Lin",
                disc,
                method,
                lambda m=method, d=disc: ssm_kernel(A, np.ones(N), C, dt, L, m, d),
                ref,
            )
    for measure in ("legs", "legt", "lagt", "fout"):
        Ad, B = hippo(measure, N)
        Cr = rng.standard_normal(N)
        ref = ssm_kernel(Ad, B, Cr, dt, L, "krylov")
        lam, P, Bt, V = nplr(measure, N)
        row(
            f"HiPPO-{measure}",
            "bilinear",
            "cauchy",
            lambda lam=lam, P=P, Bt=Bt, V=V, Cr=Cr: (
                ssm_kernel(lam, Bt, Cr @ V, dt, L, "cauchy", P=P).real
            ),
            ref,
        )
        row(
            f"HiPPO-{measure}",
            "bilinear",
            "krylov_doubling",
            lambda Ad=Ad, B=B, Cr=Cr: ssm_kernel(Ad, B, Cr, dt, L, "krylov_doubling"),
            ref,
        )
    return rows


def table_lines(rows: list[dict]) -> list[str]:
    """The rows as aligned text lines."""
    lines = [f"{'system':<12} {'discretization':<15} {'method':<20} {'rel. diff':>10} {'ms':>8}"]
    for r in rows:
        lines.append(
            f"{r['system']:<12} {r['discretization']:<15} {r['method']:<20} "
            f"{r['rel_diff']:>10.1e} {r['ms']:>8.1f}"
        )
    return lines


#: the largest relative difference from dense Krylov that ``sciconv ssm`` and the tour accept
TOLERANCE = 1e-10


def tour_lines() -> list[str | Check]:
    """A short version for ``sciconv tour`` (N = 32, L = 1024), with its check."""
    rows = agreement_rows(32, 1024)
    worst = max(r["rel_diff"] for r in rows)
    return table_lines(rows) + [
        f"worst relative difference from dense Krylov: {worst:.1e}",
        Check.at_most(f"every method ({len(rows)}) vs dense Krylov, rel. diff", worst, TOLERANCE),
    ]


def run(args: argparse.Namespace) -> int:
    rows = agreement_rows(args.N, args.L, args.dt)
    if args.json:
        print(dumps(rows, indent=2))
        return 0
    print(f"ssm_kernel methods vs dense Krylov, N = {args.N}, L = {args.L}, dt = {args.dt}")
    for line in table_lines(rows):
        print("  " + line)
    worst = max(r["rel_diff"] for r in rows)
    ok = worst <= TOLERANCE
    print(f"worst relative difference: {worst:.1e} ({'OK' if ok else 'ABOVE'} {TOLERANCE:g})")
    return 0 if ok else 1
