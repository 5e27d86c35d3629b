"""The DCDM KSP and the NetworkPC configured from the command line, as any PETSc program is.

    python examples/petsc_options.py -ksp_monitor -ksp_view -log_view
    python examples/petsc_options.py -n 64 -ksp_dcdm_directions 4 -pc_network_map pyamg:1
    python examples/petsc_options.py -ksp_type cg -pc_network_map pyamg:1 -ksp_converged_reason
    python examples/petsc_options.py -ksp_type fcg -ksp_fcg_mmax 2 \\
        -ksp_fcg_truncation_type standard -ksp_norm_type unpreconditioned
    python examples/petsc_options.py -help | grep -e -ksp_dcdm -e -pc_network

``petsc4py.init(sys.argv)`` hands the command line to PETSc before anything else loads it, so
every option works as in a C PETSc program (``-log_view`` included, which acts from
initialisation). The script solves the pressure-Poisson problem of a seeded ``-n`` x ``-n``
obstacle grid (default 32, held-out seed) with, by default, ``-ksp_type python
-ksp_python_type solvers.petsc.DCDM -pc_type python -pc_python_type solvers.petsc.NetworkPC
-pc_network_map coarse -ksp_rtol 1e-8`` (each a default only: the command line wins) and checks
the solution against SciPy's direct solve. The grid reaches the PC from Python
(``set_grid``), unless ``-pc_network_labels FILE.npy`` gives one; ``-save_labels FILE.npy``
writes this problem's labels for that. Runs in a few seconds.
"""

import sys

import numpy as np
import petsc4py
import scipy.sparse.linalg as spla

DEFAULTS = {
    "ksp_type": "python",
    "ksp_python_type": "solvers.petsc.DCDM",
    "pc_type": "python",
    "pc_python_type": "solvers.petsc.NetworkPC",
    "pc_network_map": "coarse",
    "ksp_rtol": 1e-8,
}


def main(argv: list[str]) -> int:
    """Solve with the KSP and PC that the command line ``argv`` configures; 0 if converged."""
    petsc4py.init(argv)  # first, before anything loads PETSc: -log_view acts from here
    from petsc4py import PETSc

    from pde import poisson_problem
    from solvers.petsc import MapPC

    db = PETSc.Options()
    n = db.getInt("n", 32)
    prob = poisson_problem("obstacles", n, 2, seed=10_000, exterior="air")
    save = db.getString("save_labels", "")
    if save:
        np.save(save, prob.labels)
    given = db.getAll()
    for key, value in DEFAULTS.items():
        kind = key.replace("_python_type", "_type")  # a python type only for type python
        if key not in given and (kind == key or given.get(kind, "python") == "python"):
            db[key] = value
    mat = prob.petsc_aij()
    ksp = PETSc.KSP().create(comm=mat.getComm())
    ksp.setOperators(mat)
    ksp.setFromOptions()
    pc = ksp.getPC()
    ctx = pc.getPythonContext() if pc.getType() == "python" else None
    if isinstance(ctx, MapPC) and ctx.grid is None:
        ctx.set_grid(prob.labels, prob.exterior)
    b = prob.rhs_divergence(0)
    bv, x = mat.createVecs()
    bv.setArray(b)
    ksp.solve(bv, x)
    ref = spla.spsolve(prob.matrix.tocsc(), b)
    err = np.linalg.norm(x.getArray() - ref) / np.linalg.norm(ref)
    relres = np.linalg.norm(b - prob.matrix @ x.getArray()) / np.linalg.norm(b)
    reason = ksp.getConvergedReason()
    PETSc.Sys.Print(
        f"{prob!r}: KSP {ksp.getType()}, PC {pc.getType()}: {ksp.getIterationNumber()} "
        f"iterations, reason {reason}, true relres {relres:.1e}, |x - spsolve|/|spsolve| "
        f"{err:.1e}"
    )
    for obj in (ksp, mat, bv, x):
        obj.destroy()
    return 0 if reason > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
