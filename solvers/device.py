"""DCDM and the two-level maps on torch tensors, on any torch device (CPU, CUDA).

The set-up (aggregates, prolongator, Galerkin coarse matrix, and for the learned map the
network) runs once, as for the NumPy maps; then every vector operation of an iteration is a
torch operation on ``device``: products with :math:`A`, :math:`P`, :math:`P^T` are torch
sparse CSR products, the smoother is red-black Gauss-Seidel (two colours of a 5/7-point grid
stencil: each half-sweep is one sparse product and a masked update), and the coarse solve is a
dense Cholesky solve on the device up to ``dense_limit`` coarse unknowns.
"""

from __future__ import annotations

import time
import warnings
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from sciconv.validation import check_positive_int, describe

from .grid import fluid_mask
from .info import SolveInfo
from .twolevel import TwoLevelMap

__all__ = ["DeviceTwoLevel", "dcdm_torch", "to_torch_csr"]


def to_torch_csr(A: Any, device: Any = None, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A scipy sparse matrix as a torch sparse CSR tensor on ``device``.

    Examples
    --------
    >>> T = to_torch_csr(sp.diags([1.0, 2.0]))
    >>> (T @ torch.ones(2, dtype=torch.float64)).tolist()
    [1.0, 2.0]
    """
    if not sp.issparse(A):
        raise TypeError(f"A must be a scipy sparse matrix, got {describe(A)}")
    csr = sp.csr_matrix(A)
    csr.sort_indices()
    with warnings.catch_warnings():  # torch: "sparse CSR support is in beta state"
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(
            torch.as_tensor(csr.indptr, dtype=torch.int64),
            torch.as_tensor(csr.indices, dtype=torch.int64),
            torch.as_tensor(csr.data, dtype=dtype),
            size=csr.shape,
            check_invariants=True,  # scipy's CSR with sorted indices: cheap, and safe
        ).to(device)


class DeviceTwoLevel:
    r"""The linear two-level cycle of a :class:`~solvers.twolevel.TwoLevelMap` on a torch device.

    Parameters
    ----------
    M : TwoLevelMap
        A built map (``make_map('coarse' | 'smoothed' | 'learned', ...)``): its matrix and
        coarse correction (prolongator, pinned Galerkin matrix) are moved to the device.
    labels : array_like of int
        The grid labels (FLUID cells are the unknowns, C order): they give the two colours.
    device, dtype
        Where and in which precision to apply the map.
    dense_limit : int, optional
        Solve the coarse system by a dense Cholesky factor on the device up to this many
        coarse unknowns; above it, by the map's own sparse LU on the host (a copy of one
        coarse vector each way per application on a GPU, none on the CPU). Default: 8192 on
        an accelerator, 0 on the CPU (where the sparse LU is the faster of the two).

    Notes
    -----
    With :math:`S_R, S_B` the Gauss-Seidel updates of the red and the black unknowns (cells
    whose coordinate sum is even / odd; a 5/7-point stencil couples only unknowns of
    different colours, so each colour's update is exact and parallel), the map applies
    :math:`S_f = S_R` then :math:`S_B` before the coarse correction and :math:`S_b = S_B`
    then :math:`S_R` after it. :math:`S_b` is the A-adjoint of :math:`S_f` (red-black
    Gauss-Seidel is Gauss-Seidel in the red-black ordering), so, as for
    :class:`~solvers.twolevel.TwoLevelMap` with ``smoother='forward-backward'``,
    :math:`I - MA = (I - S_bA)(I - \Pi)(I - S_fA)` is A-self-adjoint and :math:`M` is
    symmetric positive definite. Cost per application: 5 products with :math:`A`, one with
    :math:`P` and :math:`P^T`, one coarse solve.

    Examples
    --------
    >>> from pde import poisson_problem
    >>> from solvers.maps import make_map
    >>> p = poisson_problem("obstacles", 32, 2, seed=1)
    >>> M = DeviceTwoLevel(make_map("coarse", p.matrix, labels=p.labels), p.labels)
    >>> x, y = torch.randn(2, p.n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> bool(abs(x @ M(y) - y @ M(x)) < 1e-12 * float(M(x).norm() * y.norm()))
    True
    """

    linear = True

    def __init__(
        self,
        M: TwoLevelMap,
        labels: Any,
        *,
        device: Any = None,
        dtype: torch.dtype = torch.float64,
        dense_limit: int | None = None,
    ) -> None:
        if not isinstance(M, TwoLevelMap) or not M.linear or M.coarse is None:
            raise TypeError(f"M must be a linear TwoLevelMap with a coarse correction, got {M!r}")
        fluid = fluid_mask(labels)
        n = M.shape[0]
        if int(fluid.sum()) != n:
            raise ValueError(f"labels have {int(fluid.sum())} FLUID cells, the map has {n} rows")
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self.dtype = dtype
        self.n = n
        red = (np.add.reduce(np.nonzero(fluid)) % 2) == 0
        coo = M.A.tocoo()
        off = coo.row != coo.col
        if np.any(red[coo.row[off]] == red[coo.col[off]]):
            raise ValueError(
                "A couples two cells of one colour: red-black needs a 5/7-point stencil"
            )
        self.A = to_torch_csr(M.A, self.device, dtype)
        self.dinv = torch.as_tensor(1.0 / M.A.diagonal(), dtype=dtype, device=self.device)
        self.red = torch.as_tensor(red, device=self.device)
        # one colour's rows each: a half-sweep multiplies only the rows it updates
        self.colours = []
        for mask in (red, ~red):
            rows = np.flatnonzero(mask)
            self.colours.append((
                torch.as_tensor(rows, device=self.device),
                to_torch_csr(M.A[rows], self.device, dtype),
                self.dinv[torch.as_tensor(rows, device=self.device)],
            ))  # fmt: skip
        cc = M.coarse
        self.P = to_torch_csr(cc.P, self.device, dtype)
        self.PT = to_torch_csr(cc.P.T.tocsr(), self.device, dtype)
        self.pinned = torch.as_tensor(cc.pinned, device=self.device)
        self._host = cc
        self.chol = None
        if dense_limit is None:
            dense_limit = 0 if self.device.type == "cpu" else 8192
        if cc.size <= check_positive_int("dense_limit", dense_limit, 0) and cc.exact:
            Ac = torch.as_tensor(cc.coarse_matrix.toarray(), dtype=dtype, device=self.device)
            self.chol = torch.linalg.cholesky(Ac)
        self.calls = 0

    def _half_sweep(self, x: torch.Tensor, r: torch.Tensor, colour: int) -> torch.Tensor:
        rows, A_rows, dinv = self.colours[colour]
        return x.index_add(0, rows, dinv * (r.index_select(0, rows) - A_rows @ x))

    def _coarse_solve(self, g: torch.Tensor) -> torch.Tensor:
        if self.chol is not None:
            g = g.clone()
            g[self.pinned] = 0.0
            y = torch.cholesky_solve(g.unsqueeze(1), self.chol).squeeze(1)
            y[self.pinned] = 0.0
            return y
        host = self._host.coarse_solve(g.detach().cpu().double().numpy())
        return torch.as_tensor(host, dtype=self.dtype, device=self.device)

    def __call__(self, r: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if r.shape != (self.n,):
            raise ValueError(f"r must have shape ({self.n},), got {tuple(r.shape)}")
        r = r.to(device=self.device, dtype=self.dtype)
        red, black = 0, 1
        x = torch.where(self.red, self.dinv * r, torch.zeros_like(r))  # red half-sweep from 0
        x = self._half_sweep(x, r, black)
        x = self._half_sweep(x, r, red)
        x = x + self.P @ self._coarse_solve(self.PT @ (r - self.A @ x))
        x = self._half_sweep(x, r, red)
        x = self._half_sweep(x, r, black)
        return self._half_sweep(x, r, red)


def dcdm_torch(
    A: Any,
    b: Any,
    M: Callable[[torch.Tensor], torch.Tensor] | None = None,
    *,
    rtol: float = 1e-5,
    atol: float = 0.0,
    maxiter: int | None = None,
    directions: int = 2,
    normalize: bool = True,
    nullspace: Any = None,
    device: Any = None,
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, SolveInfo]:
    r"""DCDM (:func:`solvers.dcdm.dcdm`) with every vector on a torch device.

    Parameters
    ----------
    A : scipy sparse matrix or torch sparse tensor
        Symmetric positive (semi)definite.
    b : array_like or torch.Tensor
        Right-hand side.
    M : callable, optional
        The map on torch tensors (e.g. :class:`DeviceTwoLevel`); default the identity.
    rtol, atol, maxiter, directions, normalize, nullspace
        As for :func:`solvers.dcdm.dcdm`.
    device, dtype
        Where and in which precision to iterate.

    Returns
    -------
    x : torch.Tensor
        On ``device``.
    info : SolveInfo
        As for :func:`~solvers.dcdm.dcdm`; ``extra['time_s']`` is the loop's wall time.

    Notes
    -----
    The iteration is :func:`solvers.dcdm.dcdm`'s, operation for operation. Each iteration
    reads two scalars back to the host (:math:`p^TAp` to test the curvature and
    :math:`\|r\|` to test convergence); vectors never leave the device.

    References
    ----------
    Kaneda, Akar, Chen, Kala, Hyde and Teran, "A Deep Conjugate Direction Method for
    Iteratively Solving Linear Systems", ICML 2023 (arXiv 2205.10763).

    Examples
    --------
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(50, 50), format="csr")
    >>> x, info = dcdm_torch(T, np.ones(50), rtol=1e-10)
    >>> info.converged, bool(np.allclose(T @ x.numpy(), 1.0))
    (True, True)
    """
    dev = torch.device("cpu") if device is None else torch.device(device)
    At = to_torch_csr(A, dev, dtype) if sp.issparse(A) else A
    if not isinstance(At, torch.Tensor) or At.dim() != 2 or At.shape[0] != At.shape[1]:
        raise TypeError(
            f"A must be a square scipy sparse matrix or torch tensor, got {describe(A)}"
        )
    n = At.shape[0]
    bt = torch.as_tensor(np.asarray(b) if not isinstance(b, torch.Tensor) else b)
    bt = bt.to(device=dev, dtype=dtype).reshape(-1)
    if bt.numel() != n:
        raise ValueError(f"b must have {n} entries to match A, got {bt.numel()}")
    if not bool(torch.isfinite(bt).all()):
        raise ValueError("b must be finite, got NaN or infinity")
    for name, value in (("rtol", rtol), ("atol", atol)):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    maxiter = 10 * n if maxiter is None else check_positive_int("maxiter", maxiter, 0)
    k = check_positive_int("directions", directions)
    Z = None
    if nullspace is not None:
        Z = torch.as_tensor(np.atleast_2d(np.asarray(nullspace)), dtype=dtype, device=dev)
        if Z.shape[1] != n:
            raise ValueError(f"nullspace must have rows of length {n}, got shape {tuple(Z.shape)}")
    fmap = (lambda r: r.clone()) if M is None else M
    t0 = time.perf_counter()
    tol = max(rtol * float(torch.linalg.vector_norm(bt)), atol)
    x = torch.zeros(n, dtype=dtype, device=dev)
    r = bt.clone()
    rnorm = float(torch.linalg.vector_norm(r))
    hist = [rnorm]
    dirs: deque[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = deque(maxlen=k)

    def done(reason: str, it: int, message: str = "") -> tuple[torch.Tensor, SolveInfo]:
        return x, SolveInfo(reason, it, hist, message, {"time_s": time.perf_counter() - t0})

    if rnorm <= tol:
        return done("atol" if rnorm <= atol else "rtol", 0)
    for it in range(1, maxiter + 1):
        q = fmap(r / rnorm if normalize else r).reshape(-1)
        if Z is not None:
            q = q - Z.T @ (Z @ q)
        p = q.clone()
        for pj, apj, dj in dirs:
            p = p - (q @ apj) / dj * pj
        Ap = At @ p
        pAp = p @ Ap
        pAp_host = float(pAp)
        if not np.isfinite(pAp_host):
            return done("nan", it - 1, f"iteration {it}: p^T A p is not finite")
        if pAp_host <= 0.0:
            return done("indefinite", it - 1, f"iteration {it}: p^T A p = {pAp_host:.3g} <= 0")
        alpha = (p @ r) / pAp
        x = x + alpha * p
        r = r - alpha * Ap
        dirs.append((p, Ap, pAp))
        rnorm = float(torch.linalg.vector_norm(r))
        if not np.isfinite(rnorm):
            return done("nan", it, f"iteration {it}: the residual is not finite")
        if rnorm <= tol:
            true = float(torch.linalg.vector_norm(bt - At @ x))
            if true <= tol:
                hist.append(true)
                return done("atol" if true <= atol else "rtol", it)
            rnorm = true
            r = bt - At @ x
        hist.append(rnorm)
    return done("maxiter", maxiter, f"not converged in {maxiter} iterations (|r|={rnorm:.3g})")
