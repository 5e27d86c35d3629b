"""The serial path of ``sciconv poisson``: one process, every solver on the same problem.

The problem is a :class:`pde.PoissonProblem`; the comparison rows, table and plot are
:mod:`solvers.compare`'s. Heavy imports (``pde``, ``solvers``) happen inside the functions, so
building the CLI's parser loads neither.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator

from .._common import Check, dumps

#: The solvers of the serial path when ``--solvers`` is not given.
SERIAL_DEFAULT = "cg,icc,gamg,pyamg,dcdm"


def run(args: argparse.Namespace) -> int:
    """``sciconv poisson`` on one process: build, compare, print (and plot)."""
    from pde import poisson_problem
    from solvers.compare import compare, plot, table

    names = [s.strip() for s in (args.solvers or SERIAL_DEFAULT).split(",") if s.strip()]
    t0 = time.perf_counter()
    prob = poisson_problem(args.geometry, args.n, args.dim, seed=args.seed, exterior=args.exterior)
    build = time.perf_counter() - t0
    b = prob.rhs_divergence(args.seed) if args.rhs == "divergence" else prob.rhs_random(args.seed)
    with petsc_options(names):
        rows = compare(
            prob,
            names,
            b,
            rtol=args.rtol,
            maxiter=args.maxiter,
            dcdm_map=args.dcdm_map,
            directions=args.dcdm_directions,
            threads=args.threads,
            device=args.device,
        )
    title = (
        f"{args.geometry} {args.dim}D n={args.n} ({prob.n} unknowns, exterior {prob.exterior}"
        f"{', singular' if prob.is_singular else ''}), rtol {args.rtol:g}"
    )
    if args.plot:
        plot(rows, args.plot, title)
    if args.json:
        out = {"problem": repr(prob), "assembly_s": build, "rtol": args.rtol, "results": rows}
        if args.plot:
            out["plot"] = args.plot
        print(dumps(out, indent=2))
    else:
        print(title)
        print(f"assembly {build:.3f} s, nnz {prob.matrix.nnz}")
        print("\n".join(table(rows)))
        if args.plot:
            print(f"convergence plot: {args.plot}")
    return 0 if all(r["converged"] for r in rows) else 1


def petsc_prefixes(names: list[str]) -> list[str]:
    """The options prefixes of the PETSc solves among the serial solver ``names``.

    Examples
    --------
    >>> petsc_prefixes(["cg", "icc", "gamg-cg", "pyamg", "dcdm"])
    ['icc_', 'gamg_']
    """
    from solvers.krylov import ALIASES
    from solvers.petsc.options import SOLVER_PREFIXES

    petsc = {"petsc-cg": "cg", "jacobi-cg": "jacobi", "icc-cg": "icc", "gamg-cg": "gamg"}
    canon = [petsc.get(ALIASES.get(n, n)) for n in names]
    return [SOLVER_PREFIXES[c] for c in canon if c is not None]


@contextlib.contextmanager
def petsc_options(names: list[str]) -> Iterator[None]:
    """Un-prefixed PETSc KSP/PC options reach the PETSc solves among ``names`` (if PETSc is
    loaded or a PETSc solve runs; :func:`solvers.petsc.options.fan_out`)."""
    prefixes = petsc_prefixes(names)
    if not prefixes:
        yield
        return
    from solvers.petsc.options import fan_out

    with fan_out(prefixes):
        yield


def tour_lines() -> list[str | Check]:
    """The ``sciconv tour`` section: a 32² obstacle problem through every solver and plug-in,
    with its checks (each solver converged to rtol 1e-8, the plug-ins agree with lsqr)."""
    import numpy as np
    import scipy.sparse.linalg as spla

    from pde import dirichlet_box, poisson_problem
    from solvers.compare import compare, table
    from solvers.krylov import petsc_solve

    box = dirichlet_box(12, 2)
    conv_err = abs(box.conv_operator().to_sparse() - box.matrix).max()
    prob = poisson_problem("obstacles", 32, 2, seed=0, exterior="solid")
    b = prob.rhs_divergence(0)
    lines: list[str | Check] = [
        f"Dirichlet box 12²: |ConvOperator - CSR|_max = {conv_err:.1e}",
        f"{prob!r}: null space rank {len(prob.null_space())}, right-hand side projected",
    ]
    rows = compare(prob, ["cg", "icc", "gamg", "pyamg", "dcdm"], b, rtol=1e-8)
    lines += table(rows)
    unconverged = [r["solver"] for r in rows if not r["converged"]]
    checks = [
        Check.at_most("Dirichlet box, ConvOperator vs CSR matrix, max entry diff", conv_err, 1e-12),
        Check(
            f"all {len(rows)} solvers converged, true relres <= rtol 1e-8",
            not unconverged and all(r["true_relres"] <= 1e-8 for r in rows),
            f"worst {max(r['true_relres'] for r in rows):.1e}"
            + (f"; not converged: {', '.join(unconverged)}" if unconverged else ""),
        ),
    ]
    ref = spla.lsqr(prob.matrix, b, atol=1e-14, btol=1e-14)[0]
    ref = prob.project(ref)
    opts = {
        "ksp_python_type": "solvers.petsc.DCDM",
        "pc_type": "python",
        "pc_python_type": "solvers.petsc.NetworkPC",
        "pc_network_map": "pyamg",
    }
    for label, ksp_type, extra in (
        ("KSP python DCDM + NetworkPC", "python", {}),
        (
            "KSP fcg mmax=2 standard + NetworkPC",
            "fcg",
            {"ksp_fcg_mmax": 2, "ksp_fcg_truncation_type": "standard"},
        ),
    ):
        x, info = petsc_solve(
            prob.petsc_aij(), b, rtol=1e-8, ksp_type=ksp_type, options={**opts, **extra}
        )
        err = np.linalg.norm(prob.project(x) - ref) / np.linalg.norm(ref)
        lines.append(
            f"{label:<36} its {info.iterations:>3d}, {info.extra['ksp_reason']}, "
            f"|x - lsqr| / |lsqr| = {err:.1e}"
        )
        code = info.extra["ksp_reason_code"]
        checks.append(Check(f"{label}: converged (PETSc reason > 0)", code > 0, f"reason {code}"))
        checks.append(Check.at_most(f"{label}: rel. error vs lsqr (projected)", err, 1e-6))
    return lines + checks
