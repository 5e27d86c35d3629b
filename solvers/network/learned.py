"""A geometry-conditioned two-level map: a small CNN predicts the prolongator once, at set-up.

The network reads the matrix's normalised stencil on the grid (couplings per direction, the
Dirichlet excess, the fluid mask) and predicts, for every cell, the weights of the stencil
:math:`K` that smooths the piecewise-constant prolongator, :math:`P = P_0 - KP_0`. After
set-up the map is the classical linear, symmetric two-level cycle
(:class:`~solvers.twolevel.TwoLevelMap`) with that :math:`P`: no network runs per iteration.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from sciconv.validation import check_positive_int, describe

from ..coarse import CoarseCorrection, block_aggregates, smoothed_prolongation
from ..grid import fluid_mask
from ..twolevel import TwoLevelMap

__all__ = ["StencilGeometry", "StencilNet", "learned_map", "learned_prolongation"]


@dataclass
class StencilGeometry:
    """The stencil of a 5-point (7-point) grid matrix, cell by cell.

    Attributes
    ----------
    A : scipy.sparse.csr_matrix
        The matrix, sorted indices.
    fluid : numpy.ndarray of bool
        The unknowns' cells (C order).
    present : numpy.ndarray of bool, shape (n, 2*dim + 1)
        Which stencil slots each row has, in the slots' order ``-axis0, ..., -axis(d-1),
        centre, +axis(d-1), ..., +axis0`` (the column order of a sorted CSR row).
    ratio : numpy.ndarray, shape (n, 2*dim + 1)
        :math:`a_{ij}/a_{ii}` in those slots (zero where absent; 1 at the centre).
    features : numpy.ndarray, shape ``(2*dim + 2, *grid)``
        Network input: :math:`|a_{ij}|/a_{ii}` per direction (channel ``2*axis + side``,
        side 0 for the lower neighbour), the Dirichlet excess
        :math:`(a_{ii} - \\sum_{j\\ne i}|a_{ij}|)/a_{ii}` and the fluid mask; zero off the fluid.

    Examples
    --------
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(3, 3))
    >>> A = sp.csr_matrix(sp.kron(T, sp.eye(3)) + sp.kron(sp.eye(3), T))
    >>> g = StencilGeometry.from_matrix(A, np.zeros((3, 3), int))
    >>> g.features.shape, g.present[4].tolist()   # the centre cell has all 5 slots
    ((6, 3, 3), [True, True, True, True, True])
    >>> float(g.features[4, 0, 0])   # Dirichlet excess of a corner cell: (4 - 2) / 4
    0.5
    """

    A: sp.csr_matrix
    fluid: np.ndarray
    present: np.ndarray
    ratio: np.ndarray
    features: np.ndarray

    @staticmethod
    def slots(dim: int) -> list[tuple[int, int]]:
        """``(axis, step)`` of each stencil slot (``(-1, 0)`` for the centre)."""
        lower = [(a, -1) for a in range(dim)]
        return [*lower, (-1, 0), *[(a, 1) for a in reversed(range(dim))]]

    @classmethod
    def from_matrix(cls, A: Any, labels: Any) -> StencilGeometry:
        """Read the stencil of ``A`` (rows = the FLUID cells of ``labels``, C order)."""
        fluid = fluid_mask(labels)
        if not sp.issparse(A):
            raise TypeError(f"A must be a scipy sparse matrix, got {describe(A)}")
        A = sp.csr_matrix(A, dtype=float)
        A.sort_indices()
        n, dim = int(fluid.sum()), fluid.ndim
        if A.shape != (n, n):
            raise ValueError(f"A has shape {A.shape} but labels have {n} FLUID cells")
        index = np.full(np.add(fluid.shape, 2), -1, dtype=np.int64)
        core = tuple(slice(1, -1) for _ in range(dim))
        index[core][fluid] = np.arange(n)
        cols = []
        for axis, step in cls.slots(dim):
            shifted = list(core)
            if axis >= 0:
                shifted[axis] = slice(1 + step, index.shape[axis] - 1 + step)
            cols.append(index[tuple(shifted)][fluid])
        cols = np.stack(cols, 1)
        present = cols >= 0
        if A.nnz != int(present.sum()) or not np.array_equal(A.indices, cols[present]):
            raise ValueError(
                "A must couple each fluid cell to exactly its fluid grid neighbours (a 5/7-point "
                "stencil with every coupling stored)"
            )
        diag = A.diagonal()
        if np.any(diag <= 0):
            raise ValueError("A must have a positive diagonal (an SPD grid Laplacian)")
        ratio = np.zeros(present.shape)
        ratio[present] = A.data
        ratio /= diag[:, None]
        feats = np.zeros((2 * dim + 2, n))
        for slot, (axis, step) in enumerate(cls.slots(dim)):
            if axis >= 0:
                feats[2 * axis + (step > 0)] = np.abs(ratio[:, slot])
        feats[2 * dim] = 2.0 - np.abs(ratio).sum(1)
        feats[2 * dim + 1] = 1.0
        grid = np.zeros((2 * dim + 2, fluid.size))
        grid[:, np.flatnonzero(fluid)] = feats
        return cls(A, fluid, present, ratio, grid.reshape(2 * dim + 2, *fluid.shape))

    def entries(self, raw: torch.Tensor, omega: float) -> torch.Tensor:
        r"""The entries of :math:`K` on A's CSR pattern from the network output ``raw``.

        ``raw`` has shape ``(2*dim + 1, *grid)``; entries keep its dtype, device and autograd.
        """
        dim = self.fluid.ndim
        dev, dt = raw.device, raw.dtype
        cells = torch.as_tensor(np.flatnonzero(self.fluid), device=dev)
        slots = self.slots(dim)
        channel = [2 * a + (s > 0) for a, s in slots if a >= 0] + [2 * dim]
        off = [i for i, (a, _) in enumerate(slots) if a >= 0]
        # gather the fluid cells' outputs, slot-ordered channels first: (n, 2*dim + 1)
        picked = raw.reshape(raw.shape[0], -1)[channel].index_select(1, cells).T
        w = omega * (1.0 + torch.tanh(picked))
        ratio = torch.as_tensor(np.ascontiguousarray(self.ratio[:, off]), dtype=dt, device=dev)
        k_off = w[:, : 2 * dim] * ratio  # w a_ij / a_ii (<= 0)
        excess = torch.as_tensor(self.features[2 * dim][self.fluid], dtype=dt, device=dev)
        k_ii = w[:, 2 * dim] * excess - k_off.sum(1)
        K = torch.cat([k_off[:, :dim], k_ii[:, None], k_off[:, dim:]], 1)
        return K.reshape(-1).index_select(
            0, torch.as_tensor(np.flatnonzero(self.present), device=dev)
        )


class StencilNet(nn.Module):
    r"""Per-cell prolongation-smoothing weights from the normalised stencil (a plain CNN).

    Parameters
    ----------
    dim : {2, 3}
        Spatial dimension.
    width : int
        Hidden channels.
    depth : int
        Hidden 3×3 (3×3×3) convolutions with ReLU (receptive field ``2*depth + 3`` cells).
    omega : float
        The classical damping :math:`\omega_0` the weights are centred on.
    device, dtype
        As for ``torch.nn`` layers.

    Notes
    -----
    Input ``(B, 2d+2, *grid)`` (:attr:`StencilGeometry.features`), output ``(B, 2d+1, *grid)``
    raw values :math:`o`. The weights are :math:`w = \omega_0(1 + \tanh o)\in(0, 2\omega_0)`:
    one per direction (the coupling to that neighbour's aggregate) and one for the Dirichlet
    excess, so that :math:`k_{ij} = w_{i,d(j)}\,a_{ij}/a_{ii}` and
    :math:`k_{ii} = \sum_{j\ne i} w_{i,d(j)}|a_{ij}|/a_{ii} + w_{i,\mathrm{D}}\,
    (a_{ii}-\sum_{j\ne i}|a_{ij}|)/a_{ii}`. Then :math:`K\mathbf 1 = 0` on every row without
    a Dirichlet coupling (constants stay in the coarse space, so a floating pure-Neumann
    pocket keeps its null vector) and :math:`o = 0` is exactly the classical smoothed
    aggregation :math:`K = \omega_0 D^{-1}A`; the last layer starts at zero, so training
    starts from the classical method. Cost: one forward pass per matrix (set-up), about
    :math:`2\cdot 3^d(c_{in}c + (\mathrm{depth}-1)c^2 + c\,c_{out})` FLOP per cell.

    References
    ----------
    Luz, Galun, Maron, Basri and Yavneh, "Learning Algebraic Multigrid Using Graph Neural
    Networks", ICML 2020 (arXiv 2003.05744); Greenfeld, Galun, Basri, Yavneh and Kimmel,
    "Learning to Optimize Multigrid PDE Solvers", ICML 2019 (arXiv 1902.10248); Lan,
    Gueidon, Kaneda, Panetta and Teran, "A Neural-preconditioned Poisson Solver for Mixed
    Dirichlet and Neumann Boundary Conditions", ICML 2024 (arXiv 2310.00177).

    Examples
    --------
    >>> net = StencilNet(2, width=4, depth=1)
    >>> net(torch.zeros(1, 6, 8, 8)).shape
    torch.Size([1, 5, 8, 8])
    """

    def __init__(
        self,
        dim: int = 2,
        width: int = 8,
        depth: int = 2,
        omega: float = 2.0 / 3.0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if isinstance(dim, bool) or dim not in (2, 3) or not isinstance(dim, int):
            raise ValueError(f"dim must be 2 or 3, got {dim!r}")
        self.dim = dim
        self.width = check_positive_int("width", width)
        self.depth = check_positive_int("depth", depth)
        if isinstance(omega, bool) or not isinstance(omega, (int, float)) or not 0 < omega < 1.5:
            raise ValueError(f"omega must be a number in (0, 1.5) (the damping), got {omega!r}")
        self.omega = float(omega)
        conv = nn.Conv2d if dim == 2 else nn.Conv3d
        kw = dict(kernel_size=3, padding=1, device=device, dtype=dtype)
        chans = [2 * dim + 2] + [width] * depth
        self.hidden = nn.ModuleList(conv(a, b, **kw) for a, b in zip(chans[:-1], chans[1:]))
        self.head = conv(width, 2 * dim + 1, **kw)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        y = features
        for layer in self.hidden:
            y = torch.relu(layer(y))
        return self.head(y)

    def config(self) -> dict[str, Any]:
        """Constructor arguments (stored with the weights)."""
        return {"kind": "stencil", "dim": self.dim, "width": self.width, "depth": self.depth,
                "omega": self.omega}  # fmt: skip

    def flops_per_cell(self) -> int:
        """Multiply-adds × 2 of one forward pass, per grid cell."""
        return sum(2 * m.weight[0].numel() * m.out_channels for m in [*self.hidden, self.head])


def learned_prolongation(
    model: StencilNet,
    A: Any,
    labels: Any,
    *,
    block: int = 4,
    timings: dict[str, float] | None = None,
) -> tuple[sp.csr_matrix, np.ndarray]:
    """``(P, aggregates)``: the prolongator the network predicts for ``A`` on ``labels``.

    Examples
    --------
    >>> from solvers.coarse import smoothed_prolongation
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(8, 8))
    >>> A = sp.csr_matrix(sp.kron(T, sp.eye(8)) + sp.kron(sp.eye(8), T))
    >>> net = StencilNet(2, width=4, depth=1).double()   # untrained: the last layer is zero
    >>> P, agg = learned_prolongation(net, A, np.zeros((8, 8), int))
    >>> P.shape, bool(abs(P - smoothed_prolongation(A, agg, 2 / 3)).max() < 1e-15)
    ((64, 4), True)
    """
    if not isinstance(model, StencilNet):
        raise TypeError(f"model must be a StencilNet, got {describe(model)}")
    if np.ndim(labels) != model.dim:
        raise ValueError(
            f"labels must be {model.dim}D for this {model.dim}D model, got {describe(labels)}"
        )
    geom = StencilGeometry.from_matrix(A, labels)
    p = next(model.parameters())
    x = torch.as_tensor(geom.features, dtype=p.dtype, device=p.device).unsqueeze(0)
    with torch.no_grad():
        t0 = time.perf_counter()
        raw = model(x)[0]
        network_s = time.perf_counter() - t0
        k = geom.entries(raw, model.omega).cpu().double().numpy()
    agg = block_aggregates(geom.A, geom.fluid, block)
    if timings is not None:
        timings["network_s"] = network_s
    return smoothed_prolongation(geom.A, agg, k), agg


def learned_map(model: StencilNet, A: Any, labels: Any, *, block: int = 4) -> TwoLevelMap:
    r"""The linear two-level map with the network's prolongator (network at set-up only).

    Parameters
    ----------
    model : StencilNet
        A trained (or untrained: the classical smoothed aggregation) network.
    A : scipy sparse matrix
        The 5-point (7-point) grid matrix, rows = the FLUID cells of ``labels``.
    labels : array_like of int
        Cell labels of the grid.
    block : int
        Aggregate block side.

    Returns
    -------
    TwoLevelMap
        Linear and symmetric; ``setup_s`` records the whole set-up, ``prolongation_s`` the
        part before the Galerkin coarse matrix (stencil read-out, network, weights, P) and
        ``network_s`` the network's forward pass alone.

    Examples
    --------
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(16, 16))
    >>> A = sp.csr_matrix(sp.kron(T, sp.eye(16)) + sp.kron(sp.eye(16), T))
    >>> M = learned_map(StencilNet(2, width=4, depth=1), A, np.zeros((16, 16), int))
    >>> r = np.random.default_rng(0).standard_normal((2, 256))
    >>> bool(abs(r[0] @ M(r[1]) - r[1] @ M(r[0])) < 1e-12), M.linear
    (True, True)
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    P, agg = learned_prolongation(model, A, labels, block=block, timings=timings)
    t1 = time.perf_counter()
    cc = CoarseCorrection(A, fluid_mask(labels), block=block, aggregates=agg, prolongation=P)
    M = TwoLevelMap(A, cc)
    M.setup_s, M.prolongation_s = time.perf_counter() - t0, t1 - t0
    M.network_s = timings["network_s"]
    return M
