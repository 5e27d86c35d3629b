"""Training data by the DCDM paper's recipe: Lanczos Ritz vectors and spectrum-weighted sums.

References
----------
Kaneda, Akar, Chen, Kala, Hyde and Teran, "A Deep Conjugate Direction Method for Iteratively
Solving Linear Systems", ICML 2023. arXiv:2205.10763 (training right-hand sides from Ritz
vectors, weighted towards the low end of the spectrum).

Lanczos, "An Iteration Method for the Solution of the Eigenvalue Problem of Linear Differential
and Integral Operators", Journal of Research of the National Bureau of Standards 45(4),
255-282, 1950.

Paige, "Computational Variants of the Lanczos Method for the Eigenproblem", Journal of the
Institute of Mathematics and its Applications 10(3), 373-381, 1972.

Parlett, "The Symmetric Eigenvalue Problem", SIAM Classics in Applied Mathematics 20, 1998
(full reorthogonalisation, "twice is enough", and the Ritz residual bound).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from sciconv.validation import check_positive_int

__all__ = ["lanczos", "ritz_pairs", "ritz_weights", "weighted_rhs"]


def lanczos(
    A: Any, v0: np.ndarray, m: int, *, reorth_passes: int = 2
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""``m`` Lanczos steps with full reorthogonalisation.

    Parameters
    ----------
    A : scipy sparse matrix or array, shape (n, n)
        Symmetric.
    v0 : numpy.ndarray, shape (n,)
        Start vector (for a singular A, take it in :math:`\mathrm{range}(A)`, e.g. ``A @ x``).
    m : int
        Steps (stops early, returning fewer, on an invariant subspace).
    reorth_passes : int
        Classical Gram-Schmidt passes against all previous vectors ("twice is enough").

    Returns
    -------
    Q : numpy.ndarray, shape (n, k)
        Orthonormal Lanczos basis, :math:`k \le m`.
    alpha, beta : numpy.ndarray, shapes (k,), (k-1,)
        The tridiagonal :math:`T = Q^TAQ` (diagonal, off-diagonal).

    Notes
    -----
    :math:`A q_j = \beta_{j-1}q_{j-1} + \alpha_j q_j + \beta_j q_{j+1}`; every new vector is
    re-orthogonalised against the whole basis, so :math:`Q^TQ = I` to rounding and no spurious
    Ritz copies appear. A start vector in :math:`\mathrm{range}(A)` keeps the basis there
    (up to rounding, which the reorthogonalisation does not amplify).

    Examples
    --------
    >>> A = sp.diags(np.arange(1.0, 31.0))
    >>> Q, alpha, beta = lanczos(A, np.ones(30), 10)
    >>> Q.shape, alpha.shape, beta.shape
    ((30, 10), (10,), (9,))
    >>> T = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
    >>> bool(np.allclose(Q.T @ Q, np.eye(10))), bool(np.allclose(Q.T @ (A @ Q), T))
    (True, True)
    """
    A = sp.csr_matrix(A) if sp.issparse(A) else np.asarray(A, dtype=float)
    m = check_positive_int("m", m)
    n = A.shape[0]
    m = min(m, n)
    Q = np.zeros((n, m))
    alpha, beta = np.zeros(m), np.zeros(m)
    q = np.asarray(v0, dtype=float).reshape(-1)
    nrm = float(np.linalg.norm(q))
    if q.size != n or nrm == 0.0:
        raise ValueError(f"v0 must be a non-zero vector of length {n}")
    Q[:, 0] = q / nrm
    k = m
    for j in range(m):
        w = A @ Q[:, j]
        alpha[j] = float(Q[:, j] @ w)
        for _ in range(reorth_passes):
            w -= Q[:, : j + 1] @ (Q[:, : j + 1].T @ w)
        b = float(np.linalg.norm(w))
        if j + 1 == m:
            break
        if b <= 1e-12 * max(abs(alpha[j]), 1.0):
            k = j + 1
            break
        beta[j] = b
        Q[:, j + 1] = w / b
    return Q[:, :k], alpha[:k], beta[: k - 1]


def ritz_pairs(
    A: Any, v0: np.ndarray, m: int, *, drop_tol: float = 1e-8
) -> tuple[np.ndarray, np.ndarray]:
    r"""Ritz values (ascending) and vectors of ``m`` Lanczos steps, near-zero values dropped.

    Returns ``(theta, V)`` with :math:`V = QS`, :math:`TS = S\,\mathrm{diag}(\theta)`; pairs with
    :math:`\theta \le \mathrm{drop\_tol}\cdot\theta_{\max}` (null-space leakage of a singular
    A) are removed. Each pair satisfies :math:`\|AV_i - \theta_iV_i\| = \beta_k|S_{k,i}|`.

    Examples
    --------
    As many steps as unknowns: the Ritz pairs are the eigenpairs.

    >>> A = sp.diags(np.arange(1.0, 9.0))
    >>> theta, V = ritz_pairs(A, np.ones(8), 8)
    >>> theta.round(6)
    array([1., 2., 3., 4., 5., 6., 7., 8.])
    >>> bool(np.allclose(A @ V, V * theta))
    True

    On a singular matrix (a 1D pure-Neumann Laplacian, constant null vector) the zero value
    is dropped:

    >>> L = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(6, 6)).tolil()
    >>> L[0, 0] = L[-1, -1] = 1.0
    >>> v0 = L @ np.random.default_rng(0).standard_normal(6)
    >>> theta, V = ritz_pairs(L.tocsr(), v0, 6)
    >>> len(theta), bool(np.allclose(V.sum(axis=0), 0.0))
    (5, True)
    """
    Q, a, b = lanczos(A, v0, m)
    T = np.diag(a) + np.diag(b, 1) + np.diag(b, -1)
    theta, S = np.linalg.eigh(T)
    keep = theta > drop_tol * theta.max()
    return theta[keep], Q @ S[:, keep]


def ritz_weights(count: int, low_count: int | None = None, low_weight: float = 9.0) -> np.ndarray:
    """Weights of ``count`` Ritz vectors (ascending values): ``low_weight`` on the smallest ones.

    The paper uses :math:`m = 10\\,000` and gives the smallest :math:`m/2 + 500` weight 9;
    ``low_count`` defaults to the same proportion, :math:`0.55\\,m`.

    Examples
    --------
    >>> ritz_weights(10)
    array([9., 9., 9., 9., 9., 9., 1., 1., 1., 1.])
    >>> ritz_weights(4, low_count=1, low_weight=2.0)
    array([2., 1., 1., 1.])
    """
    count = check_positive_int("count", count)
    low = int(round(0.55 * count)) if low_count is None else min(int(low_count), count)
    w = np.ones(count)
    w[:low] = low_weight
    return w


def weighted_rhs(
    V: np.ndarray, count: int, rng: np.random.Generator, weights: np.ndarray | None = None
) -> np.ndarray:
    r"""``count`` unit right-hand sides :math:`b = V(w \odot c)/\|\cdot\|`, :math:`c\sim N(0,I)`.

    Returns an array of shape ``(count, n)``.

    Examples
    --------
    >>> A = sp.diags(np.arange(1.0, 9.0))
    >>> theta, V = ritz_pairs(A, np.ones(8), 8)
    >>> B = weighted_rhs(V, 5, np.random.default_rng(0))
    >>> B.shape, np.linalg.norm(B, axis=1).round(12)
    ((5, 8), array([1., 1., 1., 1., 1.]))
    """
    w = ritz_weights(V.shape[1]) if weights is None else np.asarray(weights, dtype=float)
    c = rng.standard_normal((count, V.shape[1])) * w
    B = c @ V.T
    return B / np.linalg.norm(B, axis=1, keepdims=True)
