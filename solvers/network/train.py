"""Training a network map on Ritz-vector right-hand sides with the scale-invariant loss.

References
----------
Kaneda, Akar, Chen, Kala, Hyde and Teran, "A Deep Conjugate Direction Method for Iteratively
Solving Linear Systems", ICML 2023. arXiv:2205.10763 (the unsupervised, scale-invariant
loss and the Ritz-vector training data).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from sciconv.validation import check_positive_int

from .lanczos import ritz_pairs, ritz_weights
from .precond import FLUID, network_input, pad_labels

__all__ = ["TrainingSet", "iteration_residuals", "scale_invariant_loss", "train", "training_set"]


def iteration_residuals(
    A: Any, b: np.ndarray, fmap: Callable[[np.ndarray], np.ndarray], iterations: int,
    directions: int = 10,
) -> np.ndarray:  # fmt: skip
    r"""The normalised residuals :math:`r_k/\|r_k\|` of ``iterations`` DCDM steps with ``fmap``.

    Returns an array ``(k, n)``: the inputs the map really meets inside the iteration (to add
    to a :class:`TrainingSet` as its ``pool``).

    Examples
    --------
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(20, 20), format="csr")
    >>> b = np.random.default_rng(0).standard_normal(20)
    >>> R = iteration_residuals(A, b, lambda r: r, 5)
    >>> R.shape, np.linalg.norm(R, axis=1).round(12)
    ((5, 20), array([1., 1., 1., 1., 1.]))
    """
    from ..dcdm import dcdm

    A = sp.csr_matrix(A, dtype=float)
    out: list[np.ndarray] = []

    def grab(x: np.ndarray) -> None:
        r = b - A @ x
        out.append(r / np.linalg.norm(r))

    dcdm(A, b, rtol=1e-12, M=fmap, directions=directions, maxiter=iterations, callback=grab)
    return np.array(out).reshape(len(out), A.shape[0])


@dataclass
class TrainingSet:
    """Ritz data of one matrix: its (padded) labels, fluid indices, sparse A and Ritz vectors.

    Build it with :func:`training_set`; :func:`train` draws right-hand sides from it.

    Examples
    --------
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(8, 8))
    >>> A = (sp.kron(sp.eye(8), T) + sp.kron(T, sp.eye(8))).tocsr()
    >>> ts = training_set(A, np.zeros((8, 8), dtype=int), exterior=2, ritz_steps=20)
    >>> ts.labels.shape, tuple(ts.index.shape), tuple(ts.matrix.shape)
    ((10, 10), (64,), (64, 64))
    >>> tuple(ts.vectors.shape), ts.theta.shape, ts.weights[:2]
    ((64, 20), (20,), array([9., 9.]))
    >>> B = torch.randn(3, 64)
    >>> ts.inputs(B) is B, ts.coarse_complement(ts.vectors.T, B)[1] is B  # no smoother, coarse
    (True, True)
    """

    labels: np.ndarray
    index: torch.Tensor
    matrix: torch.Tensor
    theta: np.ndarray
    vectors: torch.Tensor
    weights: np.ndarray = field(repr=False, default_factory=lambda: np.ones(0))
    smoother: Any = field(repr=False, default=None)
    pool: torch.Tensor | None = field(repr=False, default=None)
    pool_fraction: float = 0.0
    coarse: tuple[torch.Tensor, torch.Tensor] | None = field(repr=False, default=None)

    def coarse_complement(self, Q: torch.Tensor, B: torch.Tensor) -> tuple[torch.Tensor, ...]:
        r"""Rows of ``Q`` made A-orthogonal to the coarse space, and ``B`` coarse-corrected.

        :math:`q \mapsto q - PA_c^+P^TAq`, :math:`b \mapsto (b - AP A_c^+ P^T b)/\|\cdot\|`
        (see :class:`~solvers.coarse.CoarseCorrection`); identity without ``coarse``.
        """
        if self.coarse is None:
            return Q, B
        P, Acinv = (t.to(Q.device) for t in self.coarse)
        A = self.matrix.to(Q.device)
        AQ = torch.sparse.mm(A, Q.T)
        Qc = Q - torch.sparse.mm(P, Acinv @ torch.sparse.mm(P.t(), AQ)).T
        Bc = B - torch.sparse.mm(A, torch.sparse.mm(P, Acinv @ torch.sparse.mm(P.t(), B.T))).T
        return Qc, Bc / Bc.norm(dim=1, keepdim=True).clamp_min(torch.finfo(Bc.dtype).tiny)

    def inputs(self, B: torch.Tensor) -> torch.Tensor:
        """The network inputs for right-hand sides ``B``: as is, or pre-smoothed residuals."""
        if self.smoother is None:
            return B
        from pyamg.relaxation.relaxation import gauss_seidel

        A, sweeps = self.smoother
        S = []
        for b in B.double().numpy():
            x = np.zeros_like(b)
            gauss_seidel(A, x, b, iterations=sweeps, sweep="symmetric")
            s = b - A @ x
            S.append(s / np.linalg.norm(s))
        return torch.as_tensor(np.array(S), dtype=B.dtype)


def training_set(
    A: Any,
    labels: Any,
    *,
    exterior: int | None = None,
    ritz_steps: int = 200,
    seed: int = 0,
    low_weight: float = 9.0,
    presmooth: int = 0,
    coarse_block: int = 0,
) -> TrainingSet:
    r"""Ritz data for a user's matrix ``A`` on the grid ``labels`` (FLUID cells = unknowns).

    Parameters
    ----------
    A : scipy sparse matrix, shape (n, n)
        Symmetric positive (semi)definite; row :math:`i` is the :math:`i`-th FLUID cell of
        ``labels`` in C order.
    labels : array_like of int, 2D or 3D
        The grid shape and cell labels (codes of :mod:`solvers.network.precond`).
    exterior : int, optional
        Label of what lies outside the grid (shown to the network as a border).
    ritz_steps : int
        Lanczos steps (start vector :math:`A x`, :math:`x \sim N(0, I)`, in range(A)).
    seed : int
        Seed of the start vector.
    low_weight : float
        Weight of the low-end Ritz vectors (see :func:`~solvers.network.lanczos.ritz_weights`).
    presmooth : int
        If positive, train on :math:`s = b - AS b` (normalised), :math:`S` this many symmetric
        Gauss-Seidel sweeps: the residual :class:`~solvers.network.precond.NetworkMap` hands
        its network after pre-smoothing (smoother-aware training).
    coarse_block : int
        If positive, train the network as the partner of a
        :class:`~solvers.coarse.CoarseCorrection` with this block side: the loss measures its
        output after A-orthogonalisation against the coarse space, on the coarse-corrected
        residual (what ``NetworkMap(..., coarse=coarse_block)`` does with it).

    Returns
    -------
    TrainingSet

    Examples
    --------
    The Ritz values approximate A's spectrum from its ends inwards (an 8 x 8 Dirichlet box,
    eigenvalues in :math:`(0, 8)`):

    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(8, 8))
    >>> A = (sp.kron(sp.eye(8), T) + sp.kron(T, sp.eye(8))).tocsr()
    >>> ts = training_set(A, np.zeros((8, 8), dtype=int), exterior=2, ritz_steps=20)
    >>> lam = np.linalg.eigvalsh(A.toarray())
    >>> ends = ts.theta[[0, -1]]
    >>> bool(np.allclose(ends, lam[[0, -1]], rtol=1e-3)), bool(lam[1] < ts.theta[1] < lam[-2])
    (True, True)
    >>> V = ts.vectors.double().numpy()
    >>> bool(np.allclose(V.T @ V, np.eye(20), atol=1e-5))  # orthonormal (float32)
    True
    """
    A = sp.csr_matrix(A, dtype=float)
    lab = pad_labels(labels, exterior)
    n = int((np.asarray(labels) == FLUID).sum())
    if A.shape != (n, n):
        raise ValueError(f"A has shape {A.shape} but labels have {n} FLUID cells")
    rng = np.random.default_rng(seed)
    theta, V = ritz_pairs(A, A @ rng.standard_normal(n), ritz_steps)
    flat = np.flatnonzero(lab.reshape(-1) == FLUID)
    coo = A.tocoo()
    ij = torch.as_tensor(np.vstack([coo.row, coo.col]))
    mat = torch.sparse_coo_tensor(ij, coo.data, (n, n), check_invariants=True).coalesce()
    coarse = None
    if coarse_block:
        from ..coarse import CoarseCorrection

        cc = CoarseCorrection(A, np.asarray(labels) == FLUID, block=coarse_block)
        Ac = (cc.P.T @ A @ cc.P).toarray()
        pc = cc.P.tocoo()
        Pt = torch.sparse_coo_tensor(np.vstack([pc.row, pc.col]), pc.data, pc.shape,
                                     check_invariants=True).coalesce()  # fmt: skip
        coarse = (Pt.float(), torch.as_tensor(np.linalg.pinv(Ac, rcond=1e-10), dtype=torch.float32))
    return TrainingSet(lab, torch.as_tensor(flat), mat.float(), theta,
                       torch.as_tensor(V, dtype=torch.float32),
                       ritz_weights(V.shape[1], low_weight=low_weight),
                       (A, int(presmooth)) if presmooth else None, coarse=coarse)  # fmt: skip


def scale_invariant_loss(q: torch.Tensor, b: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    r"""Sum over rows of :math:`\|b - \alpha Aq\|^2`, :math:`\alpha = q^Tb / q^TAq`.

    ``q``, ``b``: ``(B, n)`` batches (or ``(n,)`` vectors); ``A``: sparse ``(n, n)`` tensor.

    Notes
    -----
    The residual after the exact line search along :math:`q`; invariant to the scale of
    :math:`q`, zero exactly when :math:`q \parallel A^{-1}b`. It is not bounded by
    :math:`\|b\|^2`: :math:`\alpha` minimises the A-norm of the error along :math:`q`, not
    the residual, and :math:`q = b` with :math:`\|b\| = 1` gives
    :math:`b^TA^2b/(b^TAb)^2 - 1`, up to :math:`(\kappa - 1)^2/(4\kappa)` (Kantorovich). One
    sparse product serves the whole batch.

    Examples
    --------
    >>> from scipy.sparse.linalg import spsolve
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(20, 20), format="csc")
    >>> At = torch.tensor(A.toarray()).to_sparse()
    >>> b = np.random.default_rng(0).standard_normal(20)
    >>> b /= np.linalg.norm(b)
    >>> q = torch.tensor(spsolve(A, b))  # the exact solution, at any scale: zero loss
    >>> bt = torch.tensor(b)
    >>> [round(float(scale_invariant_loss(c * q, bt, At)), 12) for c in (1.0, -3.0, 1e-4)]
    [0.0, 0.0, 0.0]
    >>> loss = float(scale_invariant_loss(bt, bt, At))  # q = b: a steepest-descent step
    >>> Ab = A @ b
    >>> bool(np.isclose(loss, (Ab @ Ab) / (b @ Ab) ** 2 - 1.0)), loss > 1.0
    (True, True)
    """
    q2, b2 = q.reshape(-1, q.shape[-1]), b.reshape(-1, b.shape[-1])
    Aq = torch.sparse.mm(A, q2.T).T
    qAq = (q2 * Aq).sum(1, keepdim=True).clamp_min(torch.finfo(q.dtype).tiny)
    return ((b2 - (q2 * b2).sum(1, keepdim=True) / qAq * Aq) ** 2).sum()


def _batch_loss(model: torch.nn.Module, sets: Sequence[TrainingSet], picks: list[int],
                coeffs: list[np.ndarray], device: Any) -> torch.Tensor:  # fmt: skip
    total = torch.zeros((), device=device)
    by_set: dict[int, list[int]] = {}
    for j, g in enumerate(picks):
        by_set.setdefault(g, []).append(j)
    for g, rows in by_set.items():
        ts = sets[g]
        B = torch.stack([ts.pool[int(coeffs[j][0])] if coeffs[j].size == 1 else
                         ts.vectors @ torch.as_tensor(coeffs[j], dtype=torch.float32)
                         for j in rows])  # fmt: skip
        B = ts.inputs(B / B.norm(dim=1, keepdim=True)).to(device)
        idx = ts.index.to(device)
        grid = torch.zeros(len(rows), ts.labels.size, device=device)
        grid[:, idx] = B
        q = model(network_input(grid.reshape(len(rows), *ts.labels.shape), ts.labels))
        q, B = ts.coarse_complement(q.reshape(len(rows), -1)[:, idx], B)
        total = total + scale_invariant_loss(q, B, ts.matrix.to(device))
    return total / len(picks)


def _draw(ts: TrainingSet, rng: np.random.Generator) -> np.ndarray:
    """Ritz coefficients of one sample, or ``[index]`` of a pooled residual."""
    if ts.pool is not None and rng.random() < ts.pool_fraction:
        return np.array([rng.integers(len(ts.pool))])
    return rng.standard_normal(ts.vectors.shape[1]) * ts.weights


def train(
    model: torch.nn.Module,
    sets: Sequence[TrainingSet],
    *,
    steps: int = 1000,
    batch_size: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
    device: Any = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 100,
    validate: Callable[[torch.nn.Module], float] | None = None,
    validate_every: int = 0,
    time_limit: float | None = None,
    progress: bool = True,
) -> dict[str, list]:
    r"""Train ``model`` with Adam on random Ritz combinations of the training sets.

    Parameters
    ----------
    model : torch.nn.Module
        ``(B, 4, *grid) -> (B, 1, *grid)``, e.g. :class:`~solvers.network.model.MultigridNet`.
    sets : sequence of TrainingSet
        From :func:`training_set` (one per matrix / geometry / size).
    steps, batch_size, lr : int, int, float
        Adam steps (total, counting resumed ones), samples per step, learning rate.
    seed : int
        Seeds torch and the data stream; a run resumed from a checkpoint continues the same
        stream. (Seed torch yourself before building ``model`` for identical initial weights.)
    device : str or torch.device, optional
        Where to train (``'cpu'``, ``'cuda'``).
    checkpoint : path, optional
        Saved every ``checkpoint_every`` steps and at the end; an existing file is resumed.
    validate : callable, optional
        ``validate(model) -> float`` (e.g. held-out DCDM iterations), every ``validate_every``.
    time_limit : float, optional
        Stop after this many seconds (a checkpoint is written).
    progress : bool
        Show a tqdm bar with the running loss.

    Returns
    -------
    dict
        ``step``, ``loss`` (per step), ``val_step``, ``val`` lists, and ``seconds``.

    Notes
    -----
    Each sample picks a set uniformly, then :math:`b = V(w\odot c)/\|\cdot\|` with
    :math:`c \sim N(0, I)` and the set's Ritz weights :math:`w` (the paper's recipe), so the
    data stream is unbounded (or, with probability ``pool_fraction``, a stored residual of
    the set's ``pool``, e.g. from :func:`iteration_residuals`); the loss is
    :func:`scale_invariant_loss` with :math:`A` applied as a sparse matrix on each sample.

    Examples
    --------
    Three Adam steps of a small network on the Ritz data of an 8 x 8 Dirichlet box:

    >>> from solvers.network import MultigridNet
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(8, 8))
    >>> A = (sp.kron(sp.eye(8), T) + sp.kron(T, sp.eye(8))).tocsr()
    >>> ts = training_set(A, np.zeros((8, 8), dtype=int), exterior=2, ritz_steps=20)
    >>> _ = torch.manual_seed(0)
    >>> net = MultigridNet(2, width=4, depth=1)
    >>> hist = train(net, [ts], steps=3, batch_size=2, progress=False)
    >>> hist["step"], all(np.isfinite(loss) and loss >= 0.0 for loss in hist["loss"])
    ([1, 2, 3], True)
    """
    from tqdm.auto import tqdm

    steps = check_positive_int("steps", steps)
    batch_size = check_positive_int("batch_size", batch_size)
    if not sets:
        raise ValueError("sets is empty: give at least one training_set(...)")
    device = torch.device("cpu") if device is None else torch.device(device)
    torch.manual_seed(seed)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    hist: dict[str, list] = {"step": [], "loss": [], "val_step": [], "val": [], "seconds": [0.0]}
    start = 0
    path = None if checkpoint is None else Path(checkpoint)
    if path is not None and path.exists():
        state = torch.load(path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["rng"]
        hist, start = state["history"], int(state["step"])

    def save(step: int) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                        "rng": rng.bit_generator.state, "history": hist, "step": step},
                       path)  # fmt: skip

    t0 = time.perf_counter() - hist["seconds"][-1]
    bar = tqdm(
        range(start, steps),
        disable=None if progress else True,
        desc="train",
        initial=start,
        total=steps,
    )
    model.train()
    step = start
    for step in bar:
        picks = [int(rng.integers(len(sets))) for _ in range(batch_size)]
        coeffs = [_draw(sets[g], rng) for g in picks]
        loss = _batch_loss(model, sets, picks, coeffs, device)
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist["step"].append(step + 1)
        hist["loss"].append(float(loss.detach()))
        hist["seconds"].append(time.perf_counter() - t0)
        bar.set_postfix(loss=f"{hist['loss'][-1]:.4f}")
        if validate is not None and validate_every and (step + 1) % validate_every == 0:
            hist["val_step"].append(step + 1)
            hist["val"].append(float(validate(model)))
        if checkpoint_every and (step + 1) % checkpoint_every == 0:
            save(step + 1)
        if time_limit is not None and hist["seconds"][-1] >= time_limit:
            step += 1
            break
    else:
        step = steps
    save(step)
    return hist
