"""A trained network as a DCDM map: grid input, and a smoother sandwich that keeps it robust.

References
----------
Kaneda, Akar, Chen, Kala, Hyde and Teran, "A Deep Conjugate Direction Method for Iteratively
Solving Linear Systems", ICML 2023. arXiv:2205.10763 (the network as the map of DCDM, fed the
normalised residual).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from sciconv.validation import check_choice, check_positive_int

from ..coarse import CoarseCorrection
from ..grid import AIR, FLUID, SOLID, pad_labels
from ..twolevel import TwoLevelMap
from .model import forward_flops

__all__ = ["AIR", "FLUID", "SOLID", "NetworkMap", "network_input", "pad_labels"]


def network_input(r_grid: torch.Tensor, labels: np.ndarray) -> torch.Tensor:
    """Stack a batch of residual grids ``(B, *grid)`` with the label masks: ``(B, 4, *grid)``.

    ``labels`` (the padded grid) gives fluid / solid / air indicator channels.

    Examples
    --------
    >>> labels = pad_labels(np.array([[0, 0, 1], [0, 0, 0]]), "air")
    >>> x = network_input(torch.ones(2, *labels.shape), labels)
    >>> tuple(x.shape)
    (2, 4, 4, 5)
    >>> bool((x[:, 1:].sum(1) == 1).all())  # exactly one mask per cell
    True
    >>> x[0, 2]  # the solid mask
    tensor([[0., 0., 0., 0., 0.],
            [0., 0., 0., 1., 0.],
            [0., 0., 0., 0., 0.],
            [0., 0., 0., 0., 0.]])
    """
    lab = torch.as_tensor(np.asarray(labels), device=r_grid.device)
    masks = torch.stack([(lab == c) for c in (FLUID, SOLID, AIR)]).to(r_grid.dtype)
    masks = masks.unsqueeze(0).expand(r_grid.shape[0], *masks.shape)
    return torch.cat([r_grid.unsqueeze(1), masks], 1)


class NetworkMap:
    r"""``f(r)``: the network between symmetric Gauss-Seidel sweeps, optionally with a coarse grid.

    Parameters
    ----------
    model : torch.nn.Module or None
        A :class:`~solvers.network.model.MultigridNet` (or any ``(B,4,*g) -> (B,1,*g)`` net);
        None only with ``mode='smoother'`` (the two-level cycle without a network; prefer
        :class:`~solvers.twolevel.TwoLevelMap` or ``make_map('coarse')`` for it, which do not
        load torch).
    labels : array_like of int
        Cell labels of the grid (:data:`FLUID` cells are the unknowns, in C order).
    exterior : {'air', 'solid'} or int, optional
        What lies outside the grid, as a name or label code (shown to the network as a
        one-cell border).
    A : scipy sparse matrix, optional
        The matrix; needed for ``mode`` other than ``'network'``.
    mode : {'network+smoother', 'network', 'smoother'}
        What the map applies (the pieces are kept selectable to measure what each buys).
    sweeps : int
        Symmetric Gauss-Seidel sweeps before and after the network.
    coarse : int or CoarseCorrection, optional
        Add a two-level coarse correction (:class:`~solvers.coarse.CoarseCorrection`, built
        with this block side when an int) after the network step.
    device, dtype
        Where and in which precision the network runs.

    Notes
    -----
    With :math:`S` one symmetric Gauss-Seidel sweep from zero, :math:`N` the network and
    :math:`\Pi = PA_c^{-1}P^TA` the coarse projection, the default map is

    .. math:: x_1 = S r, \quad s = r - Ax_1, \quad e = (I - \Pi)N(s), \quad
              x_2 = x_1 + \frac{e^Ts}{e^TAe}\, e, \\
              x_3 = x_2 + PA_c^{-1}P^T(r - Ax_2), \quad x_4 = x_3 + S(r - Ax_3),

    and returns :math:`x_4` (without ``coarse``: :math:`\Pi = 0` and no :math:`x_3` step).
    Each stage can only decrease the A-norm error :math:`\|A^{-1}r - x\|_A`: Gauss-Seidel
    is an A-norm contraction, the network step is an exact line search and the coarse step
    an A-orthogonal projection, so a useless (even adversarial) network output leaves the
    map at least as good as the classical two-level cycle :math:`S, \Pi, S`, and the
    network's output scale does not matter. Because :math:`e \perp_A \mathrm{range}(P)`,
    the line search and the coarse step together pick the best combination of :math:`e` and
    the coarse space. The smoother removes the high-frequency error, the coarse space the
    global smooth error (grid-size independent), and the network what lies between: error
    that varies inside the coarse blocks. Cost: one network evaluation, two sweeps, four
    products with :math:`A` and one or two coarse solves.

    Examples
    --------
    An (untrained, seeded) network with a 4 x 4-block coarse correction as the map of DCDM on
    an 8 x 8 Dirichlet box (``exterior='air'``; the 5-point Laplacian over the fluid cells):

    >>> from scipy.sparse.linalg import spsolve
    >>> from solvers.dcdm import dcdm
    >>> from solvers.network import MultigridNet
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(8, 8))
    >>> A = (sp.kron(sp.eye(8), T) + sp.kron(T, sp.eye(8))).tocsr()
    >>> b = np.random.default_rng(0).standard_normal(64)
    >>> _ = torch.manual_seed(0)
    >>> net = MultigridNet(2, width=4, depth=1)
    >>> f = NetworkMap(net, np.zeros((8, 8), dtype=int), exterior="air", A=A, coarse=4)
    >>> f.linear, f(b).shape
    (False, (64,))
    >>> x, info = dcdm(A, b, M=f, rtol=1e-10)
    >>> info.converged, bool(np.allclose(x, spsolve(A.tocsc(), b)))
    (True, True)

    Without a network (``mode='smoother'``) the map is the symmetric Gauss-Seidel cycle, a
    linear and symmetric map:

    >>> g = NetworkMap(None, np.zeros((8, 8), dtype=int), A=A, mode="smoother")
    >>> v, w = np.random.default_rng(1).standard_normal((2, 64))
    >>> g.linear, bool(np.isclose(v @ g(w), w @ g(v)))
    (True, True)
    """

    def __init__(
        self,
        model: torch.nn.Module | None,
        labels: Any,
        *,
        exterior: str | int | None = None,
        A: Any = None,
        mode: str = "network+smoother",
        sweeps: int = 1,
        coarse: Any = None,
        device: Any = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.mode = check_choice("mode", mode, ("network+smoother", "network", "smoother"))
        self.sweeps = check_positive_int("sweeps", sweeps, 0)
        if model is None and self.mode != "smoother":
            raise ValueError(f"model is None but mode={self.mode!r} needs a network")
        self.labels = pad_labels(labels, exterior)
        inner = tuple(slice(1, -1) for _ in range(self.labels.ndim))
        core = self.labels if exterior is None else self.labels[inner]
        self.grid_shape = core.shape
        self.fluid = core == FLUID
        self.inner = inner if exterior is not None else None
        self.n = int(self.fluid.sum())
        self.model = model
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self.dtype = dtype
        self.A = None if A is None else sp.csr_matrix(A, dtype=float)
        if self.mode != "network" and self.A is None:
            raise ValueError(f"mode={self.mode!r} needs the matrix A")
        if self.A is not None and self.A.shape != (self.n, self.n):
            raise ValueError(f"A has shape {self.A.shape}, the labels have {self.n} fluid cells")
        self.coarse = None
        if coarse is not None:
            if self.A is None:
                raise ValueError("coarse= needs the matrix A")
            if not isinstance(coarse, CoarseCorrection):
                coarse = CoarseCorrection(self.A, self.fluid, block=coarse)
            self.coarse = coarse
        self.cycle = None
        if self.mode != "network":
            step = self.network_step if self.mode == "network+smoother" else None
            self.cycle = TwoLevelMap(self.A, self.coarse, sweeps=self.sweeps, inner=step)
        self.calls = 0

    @property
    def linear(self) -> bool:
        """False with a network in the map (it is then a nonlinear map: use DCDM, not PCG)."""
        return self.mode == "smoother"

    def flops(self) -> int:
        """Floating-point operations of one application: the network's convolutions
        (:func:`~solvers.network.model.forward_flops`), the line-searched step (three products
        with A, the coarse projection) and the two-level cycle around it."""
        x = torch.zeros((1, *self.labels.shape), dtype=self.dtype, device=self.device)
        net = forward_flops(self.model, network_input(x, self.labels)) if self.model else 0
        if self.mode == "network":
            return net
        step = 0
        if self.mode == "network+smoother":
            step = 3 * 2 * self.A.nnz + 6 * self.n
            step += self.coarse.flops() if self.coarse is not None else 0
        return net + step + self.cycle.flops()

    def network(self, r: np.ndarray) -> np.ndarray:
        """The bare network output for the vector ``r`` (fluid cells), as float64."""
        g = np.zeros(self.labels.shape)
        (g if self.inner is None else g[self.inner])[self.fluid] = r
        x = torch.as_tensor(g, dtype=self.dtype, device=self.device).unsqueeze(0)
        was = self.model.training
        self.model.eval()
        with torch.no_grad():
            q = self.model(network_input(x, self.labels))[0, 0].double().cpu().numpy()
        self.model.train(was)
        return (q if self.inner is None else q[self.inner])[self.fluid]

    def smooth(self, x: np.ndarray, r: np.ndarray) -> None:
        """``sweeps`` symmetric Gauss-Seidel sweeps on ``A x = r``, updating ``x`` in place."""
        self.cycle.smooth(x, r)

    def network_step(self, x: np.ndarray, r: np.ndarray) -> None:
        """The line-searched (coarse-orthogonalised) network step on ``A x = r``, in place."""
        s = r - self.A @ x
        e = self.network(s)
        if self.coarse is not None:
            e -= self.coarse(self.A @ e)
        eAe = float(e @ (self.A @ e))
        if np.isfinite(eAe) and eAe > 0.0:
            x += float(e @ s) / eAe * e

    def __call__(self, r: np.ndarray) -> np.ndarray:
        self.calls += 1
        r = np.asarray(r, dtype=float).reshape(-1)
        if r.size != self.n:
            raise ValueError(f"r must have {self.n} entries (fluid cells), got {r.size}")
        if self.mode == "network":
            return self.network(r)
        return self.cycle.apply(r)
