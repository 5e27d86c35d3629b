"""Training the prolongation network: the two-level error propagation, differentiated.

For a training matrix :math:`A` (small grids), the loss is the A-norm contraction of the
two-level cycle of :func:`~solvers.network.learned.learned_map`, with exact symmetric
Gauss-Seidel (the smoother used at run time) and a dense coarse solve, applied to random
probes; gradients flow through :math:`P`, :math:`A_c = P^TAP` and its solve.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

from sciconv.validation import check_positive_int

from ..coarse import singular_pins
from .learned import StencilGeometry, StencilNet, stencil_entries

__all__ = ["TwoLevelProblem", "train_stencil"]


class TwoLevelProblem:
    r"""One training matrix: its stencil geometry, aggregates and dense triangular factors.

    Parameters
    ----------
    A : scipy sparse matrix
        5/7-point grid matrix (rows = FLUID cells of ``labels``), SPD; keep it small (the
        smoother is applied by dense triangular solves: :math:`n \lesssim 5000`).
    labels : array_like of int
    block : int
        Aggregate block side.
    compact : bool
        Train the compact prolongator (:class:`~solvers.network.learned.StencilNet`'s
        ``compact``).

    Notes
    -----
    :meth:`error` applies :math:`E = E_S(I - PA_c^{-1}P^TA)E_S` with
    :math:`E_S = (I-(D+U)^{-1}A)(I-(D+L)^{-1}A)` (one symmetric Gauss-Seidel sweep: forward
    then backward, as :func:`pyamg.relaxation.relaxation.gauss_seidel` does), the error
    propagation :math:`I - MA` of the run-time map.

    Examples
    --------
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(8, 8))
    >>> A = sp.csr_matrix(sp.kron(T, sp.eye(8)) + sp.kron(sp.eye(8), T))
    >>> pb = TwoLevelProblem(A, np.zeros((8, 8), int), block=4)
    >>> P = pb.prolongation(torch.zeros(5, 8, 8, dtype=torch.float64), 2 / 3)
    >>> Z = torch.randn(64, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> ratio = pb.anorm2(pb.error(P, Z, 1)) / pb.anorm2(Z)   # one cycle's contraction
    >>> bool((ratio < 0.1).all())
    True
    """

    def __init__(self, A: Any, labels: Any, block: int = 4, compact: bool = False) -> None:
        self.geom = StencilGeometry.from_matrix(A, labels)
        A = self.geom.A
        self.n = A.shape[0]
        self.agg = self.geom.block_aggregates(block)
        crossing = self.geom.crossings(self.agg)
        kept = self.geom.crossings(self.agg, block if compact else None)
        self.dropped = crossing & ~kept
        self.m = int(self.agg.max()) + 1
        P0 = sp.csr_matrix((np.ones(self.n), (np.arange(self.n), self.agg)), (self.n, self.m))
        if singular_pins(sp.csr_matrix(P0.T @ A @ P0)).size:
            raise ValueError("the training matrix has a floating (pure Neumann) component")
        dense = torch.as_tensor(A.toarray())
        self.A = dense.to_sparse()
        self.lower, self.upper = torch.tril(dense), torch.triu(dense)
        self.features = torch.as_tensor(self.geom.features).unsqueeze(0)
        self.cols = torch.as_tensor(self.agg[A.indices])
        self.rows = torch.as_tensor(np.repeat(np.arange(self.n), np.diff(A.indptr)))
        self.agg_t = torch.as_tensor(self.agg)

    def prolongation(self, raw: torch.Tensor, omega: float) -> torch.Tensor:
        """Dense :math:`P = P_0 - KP_0` from the network output ``raw`` (differentiable)."""
        k = stencil_entries(self.geom, raw, omega, self.dropped)
        P = torch.zeros(self.n, self.m, dtype=k.dtype)
        P[torch.arange(self.n), self.agg_t] = 1.0
        return P.index_put((self.rows, self.cols), -k, accumulate=True)

    def error(self, P: torch.Tensor, Z: torch.Tensor, cycles: int) -> torch.Tensor:
        """``cycles`` applications of the two-level error propagation to the columns of Z."""
        AP = self.A @ P
        Ac = P.T @ AP
        for _ in range(cycles):
            Z = self._sgs(Z)
            Z = Z - P @ torch.linalg.solve(Ac, AP.T @ Z)
            Z = self._sgs(Z)
        return Z

    def _sgs(self, Z: torch.Tensor) -> torch.Tensor:
        tri = torch.linalg.solve_triangular
        Z = Z - tri(self.lower, self.A @ Z, upper=False)
        return Z - tri(self.upper, self.A @ Z, upper=True)

    def anorm2(self, Z: torch.Tensor) -> torch.Tensor:
        """Squared A-norms of the columns of ``Z``."""
        return (Z * (self.A @ Z)).sum(0)


def train_stencil(
    model: StencilNet,
    problems: Sequence[TwoLevelProblem],
    *,
    steps: int = 300,
    lr: float = 3e-3,
    probes: int = 8,
    cycles: int = 3,
    batch: int = 4,
    seed: int = 0,
    validate: Callable[[StencilNet], float] | None = None,
    validate_every: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    r"""Fit ``model`` (float64) to minimise the two-level cycle's contraction on ``problems``.

    The loss of one problem is :math:`\frac{1}{2c}\log\big(\mathrm{mean}_j
    \|E^c z_j\|_A^2/\|z_j\|_A^2\big)`, the log of the average contraction per cycle over
    ``c = cycles`` cycles of random probes (powers of :math:`E` weight its slowest modes, as
    a power iteration does); each step averages ``batch`` random problems.

    Returns
    -------
    dict
        ``losses`` (per step), ``seconds``, and ``validation`` ([step, value] pairs).

    Examples
    --------
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(8, 8))
    >>> A = sp.csr_matrix(sp.kron(T, sp.eye(8)) + sp.kron(sp.eye(8), T))
    >>> prob = TwoLevelProblem(A, np.zeros((8, 8), int), block=4)
    >>> log = train_stencil(StencilNet(2, 4, 1).double(), [prob], steps=2, progress=False)
    >>> len(log["losses"]), bool(log["losses"][0] < 0)
    (2, True)
    """
    steps = check_positive_int("steps", steps)
    for name, value in (("probes", probes), ("cycles", cycles), ("batch", batch)):
        check_positive_int(name, value)
    problems = list(problems)
    if not problems or not all(isinstance(pb, TwoLevelProblem) for pb in problems):
        raise TypeError(
            f"problems must be a non-empty sequence of TwoLevelProblem, got {problems!r:.80}"
        )
    if not isinstance(model, StencilNet) or next(model.parameters()).dtype != torch.float64:
        raise TypeError(f"model must be a float64 StencilNet (call .double()), got {model!r:.80}")
    dims = {pb.geom.fluid.ndim for pb in problems}
    if dims != {model.dim}:
        raise ValueError(f"problems are {sorted(dims)}D but the model is {model.dim}D")
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    log: dict[str, Any] = {"losses": [], "validation": []}
    t0 = time.perf_counter()
    bar = tqdm(
        range(steps), desc="train stencil", disable=None if progress else True, mininterval=2.0
    )
    for step in bar:
        pick = torch.randint(len(problems), (min(batch, len(problems)),), generator=gen)
        loss = torch.zeros((), dtype=torch.float64)
        for i in pick.tolist():
            pb = problems[i]
            raw = model(pb.features)[0]
            P = pb.prolongation(raw, model.omega)
            Z = torch.randn(pb.n, probes, generator=gen, dtype=torch.float64)
            ratio = pb.anorm2(pb.error(P, Z, cycles)) / pb.anorm2(Z)
            loss = loss + torch.log(ratio.mean()) / (2 * cycles)
        loss = loss / len(pick)
        opt.zero_grad()
        loss.backward()
        opt.step()
        log["losses"].append(loss.item())
        bar.set_postfix(contraction=f"{float(np.exp(loss.item())):.3f}")
        if validate is not None and validate_every and (step + 1) % validate_every == 0:
            log["validation"].append([step + 1, float(validate(model))])
    log["seconds"] = time.perf_counter() - t0
    return log
