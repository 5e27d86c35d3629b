"""The deep conjugate-direction method (DCDM), map-agnostic.

The iteration of Kaneda et al. (see References) with any preconditioning map: a trained
network (:class:`solvers.network.NetworkMap`), a multigrid cycle, a matrix or a callable.

References
----------
Kaneda, Akar, Chen, Kala, Hyde and Teran, "A Deep Conjugate Direction Method for Iteratively
Solving Linear Systems", ICML 2023, PMLR 202, 15720-15736. arXiv:2205.10763.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from sciconv.validation import check_positive_int

from .info import SolveInfo, as_map, as_matvec, check_rhs, check_tolerances

__all__ = ["dcdm"]


def dcdm(
    A: Any,
    b: Any,
    x0: Any = None,
    *,
    rtol: float = 1e-5,
    atol: float = 0.0,
    maxiter: int | None = None,
    M: Any = None,
    callback: Callable[[np.ndarray], Any] | None = None,
    directions: int = 2,
    normalize: bool = True,
    recompute_every: int = 0,
    nullspace: np.ndarray | None = None,
    stagnation: int | None = 100,
) -> tuple[np.ndarray, SolveInfo]:
    r"""Solve :math:`Ax = b` (A symmetric positive (semi)definite) by conjugate directions.

    Parameters
    ----------
    A : matrix, LinearOperator, ConvOperator or callable
        The operator.
    b, x0 : array_like
        Right-hand side and initial guess (default zero).
    rtol, atol : float
        Stop when :math:`\|r_k\| \le \max(\mathrm{rtol}\,\|b\|, \mathrm{atol})`, checked on
        the true residual before convergence is declared.
    maxiter : int, optional
        Iteration limit (default ``10 n``).
    M : callable, matrix or LinearOperator, optional
        The preconditioning map :math:`f` (a network, a multigrid cycle, ...): any
        approximation of :math:`A^{-1}`, linear or not. Default: the identity.
    callback : callable, optional
        Called as ``callback(xk)`` after each iteration.
    directions : int
        :math:`k`, how many previous directions each new one is A-orthogonalised against.
    normalize : bool
        Apply the map to :math:`r/\|r\|` (as the network is trained) instead of :math:`r`.
    recompute_every : int
        Replace the recursive residual by :math:`b - Ax` every this many iterations (0: never).
    nullspace : array, shape (m, n), optional
        Orthonormal rows spanning :math:`\ker A` (pure-Neumann problems): directions are
        projected onto its complement.
    stagnation : int or None
        Breakdown when the smallest residual has not decreased for this many iterations.

    Returns
    -------
    x : numpy.ndarray
    info : SolveInfo
        ``reason`` is ``'rtol'``/``'atol'`` only when the true residual meets the tolerance;
        a non-positive curvature, a non-finite value or a degenerate direction stops the
        iteration with ``'indefinite'``, ``'nan'`` or ``'breakdown'`` and a message.

    Notes
    -----
    With :math:`r_k = b - Ax_k`, each iteration takes

    .. math:: q_k = f(r_k/\|r_k\|), \qquad
              p_k = q_k - \sum_{j=k-m}^{k-1} \frac{q_k^T A p_j}{p_j^T A p_j}\, p_j, \qquad
              \alpha_k = \frac{p_k^T r_k}{p_k^T A p_k},

    then :math:`x_{k+1} = x_k + \alpha_k p_k`, :math:`r_{k+1} = r_k - \alpha_k A p_k`
    (one product with :math:`A` per iteration; :math:`Ap_j` are kept). :math:`\alpha_k`
    minimises the A-norm of the error along :math:`p_k`, so any direction with
    :math:`p^TAp > 0` reduces it. With :math:`f = A^{-1}` the first direction is the error and
    one iteration solves the system; with :math:`f = I` and :math:`m = 1`, :math:`p_k` is a
    multiple of CG's direction and the iterates are CG's.

    References
    ----------
    Kaneda, Akar, Chen, Kala, Hyde and Teran, "A Deep Conjugate Direction Method for
    Iteratively Solving Linear Systems", ICML 2023. arXiv:2205.10763.

    Examples
    --------
    The 5-point Laplacian of a 10 x 10 Dirichlet box, solved to ``rtol=1e-10``:

    >>> import scipy.sparse as sp
    >>> from scipy.sparse.linalg import spsolve
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(10, 10))
    >>> A = (sp.kron(sp.eye(10), T) + sp.kron(T, sp.eye(10))).tocsc()
    >>> b = np.random.default_rng(0).standard_normal(100)
    >>> x, info = dcdm(A, b, rtol=1e-10)
    >>> info.converged, bool(np.allclose(x, spsolve(A, b)))
    (True, True)

    The exact map :math:`f = A^{-1}` gives the error direction: one iteration.

    >>> x, info = dcdm(A, b, M=lambda r: spsolve(A, r))
    >>> info.iterations, bool(np.allclose(x, spsolve(A, b)))
    (1, True)

    With the identity map and one direction, DCDM is CG:

    >>> from solvers.krylov import cg
    >>> dcdm(A, b, rtol=1e-10, directions=1)[1].iterations == cg(A, b, rtol=1e-10)[1].iterations
    True
    """
    rtol, atol, maxiter = check_tolerances(rtol, atol, maxiter)
    matvec = as_matvec(A)
    b, x = check_rhs(A, b, x0)
    n = b.size
    fmap = as_map(M, n)
    maxiter = 10 * n if maxiter is None else maxiter
    k = check_positive_int("directions", directions)
    recompute_every = check_positive_int("recompute_every", recompute_every, 0)
    Z = None if nullspace is None else np.atleast_2d(np.asarray(nullspace, dtype=float))
    if Z is not None and Z.shape[1] != n:
        raise ValueError(f"nullspace must have rows of length {n}, got shape {Z.shape}")
    tol = max(rtol * float(np.linalg.norm(b)), atol)
    r = b - matvec(x)
    rnorm = float(np.linalg.norm(r))
    hist = [rnorm]
    dirs: deque[tuple[np.ndarray, np.ndarray, float]] = deque(maxlen=k)
    best, best_it, restarts = rnorm, 0, 0

    def done(reason: str, it: int, message: str = "") -> tuple[np.ndarray, SolveInfo]:
        return x, SolveInfo(reason, it, hist, message, {"true_residual_restarts": restarts})

    if rnorm <= tol:
        return done("atol" if rnorm <= atol else "rtol", 0)
    for it in range(1, maxiter + 1):
        q = np.asarray(fmap(r / rnorm if normalize else r), dtype=float).reshape(-1)
        if not np.all(np.isfinite(q)):
            return done("nan", it - 1, f"iteration {it}: the map returned a non-finite vector")
        if Z is not None:
            q -= Z.T @ (Z @ q)
        qnorm = float(np.linalg.norm(q))
        p = q.copy()
        for pj, apj, dj in dirs:
            p -= (q @ apj) / dj * pj
        pnorm = float(np.linalg.norm(p))
        if pnorm <= 1e-14 * qnorm or qnorm == 0.0:
            return done(
                "breakdown",
                it - 1,
                f"iteration {it}: the map's direction lies in the span "
                f"of the previous {len(dirs)} directions (|p|={pnorm:.3g}, |q|={qnorm:.3g})",
            )
        Ap = matvec(p)
        pAp = float(p @ Ap)
        if not np.isfinite(pAp):
            return done("nan", it - 1, f"iteration {it}: p^T A p is not finite")
        if pAp <= 0.0:
            return done(
                "indefinite",
                it - 1,
                f"iteration {it}: p^T A p = {pAp:.3g} <= 0, A is not "
                "positive definite on the search space",
            )
        alpha = float(p @ r) / pAp
        x += alpha * p
        r -= alpha * Ap
        if recompute_every and it % recompute_every == 0:
            r = b - matvec(x)
        rnorm = float(np.linalg.norm(r))
        if not np.isfinite(rnorm):
            return done("nan", it, f"iteration {it}: the residual is not finite")
        dirs.append((p, Ap, pAp))
        if callback is not None:
            callback(x)
        if rnorm <= tol:
            r = b - matvec(x)
            true_norm = float(np.linalg.norm(r))
            if true_norm <= tol:
                hist.append(true_norm)
                return done("atol" if true_norm <= atol else "rtol", it)
            restarts += 1
            rnorm = true_norm
        hist.append(rnorm)
        if rnorm < best:
            best, best_it = rnorm, it
        elif stagnation is not None and it - best_it >= stagnation:
            return done(
                "breakdown",
                it,
                f"stagnation: no residual decrease in {stagnation} iterations "
                f"(best {best:.3g} at iteration {best_it})",
            )
    return done("maxiter", maxiter, f"not converged in {maxiter} iterations (|r|={rnorm:.3g})")
