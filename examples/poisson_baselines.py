"""Pressure-Poisson baselines, and DCDM plugged into PETSc as a KSP with a PC python type.

1. Builds a smoke-plume-like domain (closed walls, open top, seeded obstacles) and checks its
   matrix: symmetric, smallest eigenvalues (dense, when small), whether it is singular.
2. Solves it with the classical baselines by name (SciPy signature) and with DCDM driven by a
   classical map, printing iterations, time and the true residual.
3. Runs the same through PETSc's options database only:
   ``-ksp_type python -ksp_python_type solvers.petsc.DCDM -pc_type python
   -pc_python_type solvers.petsc.NetworkPC -pc_network_map pyamg``, and PETSc's own
   ``-ksp_type fcg -ksp_fcg_mmax 2 -ksp_fcg_truncation_type standard`` with the same PC.
4. Saves the labels, the pressure and the convergence curves to ``--plot``.

``python examples/poisson_baselines.py [--dim 2] [--n 64] [--geometry plume] [--plot PATH]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pde import poisson_problem  # noqa: E402
from solvers.compare import compare, table  # noqa: E402
from solvers.petsc import ksp_solve  # noqa: E402


def petsc_options_run(prob, b, options: dict[str, object]) -> tuple[int, str, float, float]:
    """Configure a KSP from options alone; return its, reason, seconds, true relres."""
    mat = prob.petsc_aij()
    x, info = ksp_solve(mat, b, options=options, rtol=1e-6, maxiter=2000)
    mat.destroy()
    res = np.linalg.norm(b - prob.matrix @ x) / np.linalg.norm(b)
    return info.iterations, info.extra["ksp_reason"], info.extra["solve_s"], res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, choices=(2, 3), default=2)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--geometry", default="plume", choices=("box", "obstacles", "plume"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="out/poisson_baselines.png")
    args = parser.parse_args()

    prob = poisson_problem(args.geometry, args.n, args.dim, seed=args.seed)
    A = prob.matrix
    print(prob)
    print(f"symmetric: {abs(A - A.T).max() == 0}, singular (pure Neumann): {prob.is_singular}")
    if prob.n <= 2500:
        eig = np.linalg.eigvalsh(A.toarray())[:3]
        print("smallest eigenvalues (dense):", np.array2string(eig, precision=4))
    b = prob.rhs_divergence(args.seed)

    rows = compare(prob, ["cg", "jacobi", "icc", "gamg", "pyamg", "dcdm"], b, rtol=1e-6)
    rows += compare(prob, ["dcdm"], b, rtol=1e-6, dcdm_map="jacobi:4")
    print("\nbaselines by name (SciPy signature, unpreconditioned norm, rtol 1e-6):")
    print("\n".join(table(rows)))

    pc = {
        "pc_type": "python",
        "pc_python_type": "solvers.petsc.NetworkPC",
        "pc_network_map": "pyamg",
        "ksp_norm_type": "unpreconditioned",
    }
    runs = {
        "KSP python DCDM (k=2)": {
            "ksp_type": "python",
            "ksp_python_type": "solvers.petsc.DCDM",
            **pc,
        },
        "KSP fcg mmax=2 standard": {
            "ksp_type": "fcg",
            "ksp_fcg_mmax": 2,
            "ksp_fcg_truncation_type": "standard",
            **pc,
        },
    }
    print("\nthrough PETSc's options database, PC = NetworkPC(pyamg V-cycle):")
    for label, options in runs.items():
        its, reason, dt, res = petsc_options_run(prob, b, options)
        print(f"{label:<26} its {its:>4d}  {dt:7.3f} s  true relres {res:.2e}  {reason}")

    from solvers import dcdm, make_map

    x, _ = dcdm(A, b, rtol=1e-10, M=make_map("pyamg", A), nullspace=prob.null_space())
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    sl = (slice(None),) * 2 if args.dim == 2 else (slice(None), slice(None), args.n // 2)
    axes[0].imshow(prob.labels[sl], origin="lower", cmap="viridis")
    axes[0].set_title("labels (0 fluid, 1 solid, 2 air)")
    im = axes[1].imshow(prob.to_grid(x, fill=np.nan)[sl], origin="lower", cmap="RdBu_r")
    fig.colorbar(im, ax=axes[1])
    axes[1].set_title("pressure")
    for r in rows:
        axes[2].semilogy(r["residuals"], label=f"{r['solver']} ({r['iterations']})")
    axes[2].set_xlabel("iteration")
    axes[2].set_ylabel("relative residual")
    axes[2].legend(fontsize=7)
    Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(args.plot, dpi=110)
    print(f"\nfigure: {args.plot}")


if __name__ == "__main__":
    main()
