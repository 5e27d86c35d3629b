"""Krylov solvers with SciPy's signature, and the classical baselines by name.

Every solver here is called as ``solver(A, b, x0=None, *, rtol, atol, maxiter, M, callback)``
and returns ``(x, info)`` with a :class:`~solvers.info.SolveInfo`. :func:`solve` dispatches by
name: ``cg`` (ours, NumPy), ``petsc-cg``, ``jacobi-cg``, ``icc-cg``, ``gamg-cg`` (PETSc),
``pyamg-sa`` (PyAMG smoothed-aggregation V-cycle inside our CG) and ``dcdm``.

References
----------
Hestenes and Stiefel, "Methods of Conjugate Gradients for Solving Linear Systems", Journal of
Research of the National Bureau of Standards 49(6), 409-436, 1952 (:func:`cg`).

Balay et al., "PETSc/TAO Users Manual", Argonne National Laboratory, ANL-21/39 (the PETSc
baselines: KSPCG with PCJACOBI, PCICC, PCGAMG).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from sciconv.validation import check_choice

from .amg import pyamg_hierarchy
from .dcdm import dcdm
from .info import SolveInfo, as_map, as_matvec, check_rhs, check_tolerances, require_linear
from .petsc._core import ksp_solve, petsc_module
from .petsc.options import SOLVER_PREFIXES
from .petsc.shell import as_petsc_mat

__all__ = ["BASELINES", "SOLVERS", "cg", "petsc_solve", "pyamg_cg", "solve"]


def cg(
    A: Any,
    b: Any,
    x0: Any = None,
    *,
    rtol: float = 1e-5,
    atol: float = 0.0,
    maxiter: int | None = None,
    M: Any = None,
    callback: Callable[[np.ndarray], Any] | None = None,
) -> tuple[np.ndarray, SolveInfo]:
    r"""Preconditioned conjugate gradients (Hestenes-Stiefel), the reference iteration.

    Notes
    -----
    :math:`z_k = Mr_k`, :math:`p_k = z_k + \beta_k p_{k-1}` with
    :math:`\beta_k = r_k^Tz_k / r_{k-1}^Tz_{k-1}`, :math:`\alpha_k = r_k^Tz_k / p_k^TAp_k`.
    Stops at :math:`\|r\| \le \max(\mathrm{rtol}\|b\|, \mathrm{atol})` on the true residual;
    :math:`p^TAp \le 0` or a non-finite value ends with ``'indefinite'`` / ``'nan'``.

    Examples
    --------
    Jacobi-preconditioned CG on a 10 x 10 Dirichlet box (5-point Laplacian):

    >>> import scipy.sparse as sp
    >>> from scipy.sparse.linalg import spsolve
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(10, 10))
    >>> A = (sp.kron(sp.eye(10), T) + sp.kron(T, sp.eye(10))).tocsc()
    >>> b = np.random.default_rng(0).standard_normal(100)
    >>> x, info = cg(A, b, rtol=1e-10, M=sp.diags(1.0 / A.diagonal()))
    >>> info.converged, bool(np.allclose(x, spsolve(A, b)))
    (True, True)
    >>> float(np.linalg.norm(b - A @ x)) <= 1e-10 * float(np.linalg.norm(b))
    True

    A nonlinear map (``M.linear is False``) is refused:

    >>> class Net:
    ...     linear = False
    ...     def __call__(self, r):
    ...         return r
    >>> cg(A, b, M=Net())
    Traceback (most recent call last):
    ...
    TypeError: cg needs a linear preconditioner, but M=... is nonlinear...
    """
    require_linear(M, "cg")
    rtol, atol, maxiter = check_tolerances(rtol, atol, maxiter)
    matvec = as_matvec(A)
    b, x = check_rhs(A, b, x0)
    fmap = as_map(M, b.size)
    maxiter = 10 * b.size if maxiter is None else maxiter
    tol = max(rtol * float(np.linalg.norm(b)), atol)
    r = b - matvec(x)
    hist = [float(np.linalg.norm(r))]
    if hist[0] <= tol:
        return x, SolveInfo("atol" if hist[0] <= atol else "rtol", 0, hist)
    z = fmap(r)
    rz = float(r @ z)
    p = z.copy()
    for it in range(1, maxiter + 1):
        Ap = matvec(p)
        pAp = float(p @ Ap)
        if not np.isfinite(pAp) or not np.isfinite(rz):
            return x, SolveInfo("nan", it - 1, hist, f"iteration {it}: non-finite value")
        if pAp <= 0.0 or rz <= 0.0:
            msg = f"iteration {it}: p^T A p = {pAp:.3g}, r^T M r = {rz:.3g} (need both > 0)"
            return x, SolveInfo("indefinite", it - 1, hist, msg)
        alpha = rz / pAp
        x += alpha * p
        r -= alpha * Ap
        rnorm = float(np.linalg.norm(r))
        if callback is not None:
            callback(x)
        if rnorm <= tol:
            r = b - matvec(x)
            rnorm = float(np.linalg.norm(r))
            if rnorm <= tol:
                hist.append(rnorm)
                return x, SolveInfo("atol" if rnorm <= atol else "rtol", it, hist)
        hist.append(rnorm)
        z = fmap(r)
        rz, rz_old = float(r @ z), rz
        p = z + (rz / rz_old) * p
    return x, SolveInfo("maxiter", maxiter, hist, f"not converged in {maxiter} iterations")


def pyamg_cg(
    A: Any,
    b: Any,
    x0: Any = None,
    *,
    rtol: float = 1e-5,
    atol: float = 0.0,
    maxiter: int | None = None,
    M: Any = None,
    callback: Callable[[np.ndarray], Any] | None = None,
) -> tuple[np.ndarray, SolveInfo]:
    """CG preconditioned by one PyAMG smoothed-aggregation V-cycle (setup time in ``extra``).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from scipy.sparse.linalg import spsolve
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(16, 16))
    >>> A = (sp.kron(sp.eye(16), T) + sp.kron(T, sp.eye(16))).tocsr()
    >>> b = np.random.default_rng(0).standard_normal(256)
    >>> x, info = pyamg_cg(A, b, rtol=1e-10)
    >>> info.converged, info.iterations < 20, info.extra["levels"] > 1
    (True, True, True)
    >>> bool(np.allclose(x, spsolve(A.tocsc(), b)))
    True
    """
    if M is not None:
        raise ValueError("pyamg-sa builds its own preconditioner; M must be None")
    t0 = time.perf_counter()
    ml = pyamg_hierarchy(A)
    setup = time.perf_counter() - t0
    x, info = cg(
        A, b, x0, rtol=rtol, atol=atol, maxiter=maxiter, M=ml.aspreconditioner(), callback=callback
    )
    info.extra.update(setup_s=setup, levels=len(ml.levels))
    return x, info


def petsc_solve(
    A: Any,
    b: Any,
    x0: Any = None,
    *,
    rtol: float = 1e-5,
    atol: float = 0.0,
    maxiter: int | None = None,
    M: Any = None,
    callback: Callable[[np.ndarray], Any] | None = None,
    ksp_type: str = "cg",
    pc_type: str = "none",
    options: dict[str, Any] | None = None,
    nullspace: np.ndarray | None = None,
    norm_type: str | None = "unpreconditioned",
    prefix: str | None = None,
) -> tuple[np.ndarray, SolveInfo]:
    """PETSc KSP solve of ``A x = b`` with SciPy's signature (A: PETSc Mat, matrix or operator).

    A thin face of :func:`solvers.petsc.ksp_solve`: a matrix-free operator becomes a shell
    matrix (:func:`~solvers.petsc.as_petsc_mat`), ``b`` and the returned ``x`` are numpy
    vectors. The norm is the unpreconditioned one by default, so ``rtol`` means the same as in
    :func:`cg` (PETSc's CG default is the preconditioned norm; ``norm_type=None`` keeps
    PETSc's default). ``options`` (e.g. ``{"ksp_dcdm_directions": 3}``) are set under
    ``prefix`` before ``setFromOptions``; ``nullspace`` (orthonormal rows) is attached unless
    the Mat already carries one. ``M`` must be None (use ``pc_type``/``options``).

    ``prefix`` is the KSP's options prefix. None (the default) is a fresh private one, which
    no option of the user's database reaches. A documented one lets PETSc options address the
    solve: the baselines of :data:`SOLVERS` use :data:`~solvers.petsc.options.SOLVER_PREFIXES`
    (``petsc-cg`` reads ``-cg_``, ``jacobi-cg`` ``-jacobi_``, ``icc-cg`` ``-icc_``, ``gamg-cg``
    ``-gamg_``), so ``-gamg_ksp_monitor`` or ``-gamg_pc_gamg_threshold 0.05`` reach the GAMG
    baseline; the user's options override ``options`` and the arguments.

    Notes
    -----
    ``info.extra`` holds ``setup_s``, ``solve_s``, ``ksp_reason`` (PETSc's name) and the
    recomputed ``true_residual``; see :func:`~solvers.petsc.ksp_solve`.

    Examples
    --------
    PETSc's CG with incomplete Cholesky, which is exact on a tridiagonal matrix:

    >>> import scipy.sparse as sp
    >>> from scipy.sparse.linalg import aslinearoperator, spsolve
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(50, 50), format="csc")
    >>> b = np.random.default_rng(0).standard_normal(50)
    >>> x, info = petsc_solve(A, b, rtol=1e-10, pc_type="icc")
    >>> info.iterations, info.extra["ksp_reason"], bool(np.allclose(x, spsolve(A, b)))
    (1, 'CONVERGED_RTOL', True)

    A matrix-free operator runs through a shell matrix (no PC needs its entries here):

    >>> x, info = petsc_solve(aslinearoperator(A), b, rtol=1e-10)
    >>> info.converged, bool(np.allclose(x, spsolve(A, b)))
    (True, True)
    """
    if M is not None:
        raise ValueError("petsc_solve takes the preconditioner as pc_type, not M")
    matrix = sp.issparse(A) or isinstance(A, np.ndarray | petsc_module().Mat)
    owned = not matrix
    mat = as_petsc_mat(A) if owned else A
    try:
        return ksp_solve(
            mat,
            b,
            x0,
            ksp_type=ksp_type,
            pc_type=pc_type,
            options=options,
            rtol=rtol,
            atol=atol,
            maxiter=maxiter,
            norm_type=norm_type,
            nullspace=nullspace,
            callback=callback,
            prefix=prefix,
        )
    finally:
        if owned:
            mat.destroy()


def _petsc_baseline(pc_type: str, prefix: str) -> Callable[..., tuple[np.ndarray, SolveInfo]]:
    def run(A: Any, b: Any, x0: Any = None, **kw: Any) -> tuple[np.ndarray, SolveInfo]:
        kw.setdefault("prefix", prefix)
        return petsc_solve(A, b, x0, ksp_type="cg", pc_type=pc_type, **kw)

    run.__name__ = f"petsc_cg_{pc_type}"
    run.__doc__ = (
        f"PETSc CG with PC {pc_type!r}, options prefix ``{prefix}`` (SciPy signature; see "
        ":func:`petsc_solve`)."
    )
    return run


#: Every solver by name (SciPy signature each): the classical baselines and DCDM.
SOLVERS: dict[str, Callable[..., tuple[np.ndarray, SolveInfo]]] = {
    "cg": cg,
    "petsc-cg": _petsc_baseline("none", SOLVER_PREFIXES["cg"]),
    "jacobi-cg": _petsc_baseline("jacobi", SOLVER_PREFIXES["jacobi"]),
    "icc-cg": _petsc_baseline("icc", SOLVER_PREFIXES["icc"]),
    "gamg-cg": _petsc_baseline("gamg", SOLVER_PREFIXES["gamg"]),
    "pyamg-sa": pyamg_cg,
    "dcdm": dcdm,
}
#: Deprecated name of :data:`SOLVERS` (it always held DCDM as well as the baselines).
BASELINES = SOLVERS
#: Short names accepted by :func:`solve` and the CLI.
ALIASES = {"jacobi": "jacobi-cg", "icc": "icc-cg", "gamg": "gamg-cg", "pyamg": "pyamg-sa"}


def solve(
    A: Any, b: Any, x0: Any = None, *, method: str = "cg", **kwargs: Any
) -> tuple[np.ndarray, SolveInfo]:
    """Solve with the solver ``method`` (a key of :data:`SOLVERS` or :data:`ALIASES`).

    Keyword arguments (``rtol``, ``atol``, ``maxiter``, ``M``, ``callback``, and
    method-specific ones) are forwarded; the wall time lands in ``info.extra['time_s']``.

    Examples
    --------
    >>> sorted(SOLVERS)
    ['cg', 'dcdm', 'gamg-cg', 'icc-cg', 'jacobi-cg', 'petsc-cg', 'pyamg-sa']
    >>> ALIASES["icc"]
    'icc-cg'
    >>> import scipy.sparse as sp
    >>> from scipy.sparse.linalg import spsolve
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(10, 10))
    >>> A = (sp.kron(sp.eye(10), T) + sp.kron(T, sp.eye(10))).tocsc()
    >>> b = np.random.default_rng(0).standard_normal(100)
    >>> for method in ("cg", "jacobi", "icc", "pyamg", "dcdm"):
    ...     x, info = solve(A, b, method=method, rtol=1e-10)
    ...     print(method, info.converged, np.allclose(x, spsolve(A, b)), "time_s" in info.extra)
    cg True True True
    jacobi True True True
    icc True True True
    pyamg True True True
    dcdm True True True
    """
    method = ALIASES.get(method, method)
    check_choice("method", method, tuple(SOLVERS))
    t0 = time.perf_counter()
    x, info = SOLVERS[method](A, b, x0, **kwargs)
    info.extra["time_s"] = time.perf_counter() - t0
    return x, info
