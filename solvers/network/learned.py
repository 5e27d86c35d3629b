"""A geometry-conditioned two-level map: a small CNN predicts the prolongator once, at set-up.

The network reads the matrix's normalised stencil on the grid (couplings per direction, the
Dirichlet excess, the fluid mask) and predicts, for every cell, the weights of the stencil
:math:`K` that smooths the piecewise-constant prolongator, :math:`P = P_0 - KP_0`. After
set-up the map is the classical linear, symmetric two-level cycle
(:class:`~solvers.twolevel.TwoLevelMap`) with that :math:`P`: no network runs per iteration.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from sciconv.validation import check_bool, check_positive_int, describe

from ..coarse import CoarseCorrection
from ..grid import fluid_mask
from ..stencil import StencilGeometry
from ..twolevel import TwoLevelMap

__all__ = [
    "StencilGeometry",
    "StencilNet",
    "learned_map",
    "learned_prolongation",
    "stencil_entries",
]


def stencil_entries(
    geom: StencilGeometry, raw: torch.Tensor, omega: float, dropped: np.ndarray | None = None
) -> torch.Tensor:
    r"""The entries of :math:`K` on A's CSR pattern from the network output ``raw`` (torch).

    Parameters
    ----------
    geom : StencilGeometry
        The matrix's stencil.
    raw : torch.Tensor, shape ``(2*dim + 1, *grid)``
        The network's output on the grid; the entries keep its dtype, device and autograd
        (the training loss differentiates through them; :meth:`StencilGeometry.prolongation`
        is the NumPy path of the run-time set-up).
    omega : float
        The damping the weights are centred on.
    dropped : numpy.ndarray of bool, shape ``(2*dim + 1, n)``, optional
        Slot-major: couplings left out of :math:`K` (those the compact prolongator does not
        smooth).

    Returns
    -------
    torch.Tensor, shape (nnz(A),)
        :math:`K` on A's sorted CSR pattern.

    Examples
    --------
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(3, 3))
    >>> A = sp.csr_matrix(sp.kron(T, sp.eye(3)) + sp.kron(sp.eye(3), T))
    >>> g = StencilGeometry.from_matrix(A, np.zeros((3, 3), int))
    >>> k = stencil_entries(g, torch.zeros(5, 3, 3, dtype=torch.float64), 2 / 3)
    >>> rows = np.repeat(np.arange(9), np.diff(A.indptr))   # zeros: K = (2/3) D^-1 A
    >>> bool(np.allclose(k.numpy(), 2 / 3 * A.data / A.diagonal()[rows]))
    True
    """
    dim = geom.fluid.ndim
    dev, dt = raw.device, raw.dtype
    cells = torch.as_tensor(np.flatnonzero(geom.fluid), device=dev)
    slots = geom.slots(dim)
    channel = [2 * a + (s > 0) for a, s in slots if a >= 0] + [2 * dim]
    off = [i for i, (a, _) in enumerate(slots) if a >= 0]
    # gather the fluid cells' outputs, slot-ordered channels first: (n, 2*dim + 1)
    picked = raw.reshape(raw.shape[0], -1)[channel].index_select(1, cells).T
    w = omega * (1.0 + torch.tanh(picked))
    ratio = torch.as_tensor(np.ascontiguousarray(geom.ratio[:, off]), dtype=dt, device=dev)
    k_off = w[:, : 2 * dim] * ratio  # w a_ij / a_ii (<= 0)
    if dropped is not None:
        keep = np.ascontiguousarray(~np.asarray(dropped, dtype=bool)[off].T)
        k_off = k_off * torch.as_tensor(keep, dtype=dt, device=dev)
    excess = torch.as_tensor(geom.cell_features[2 * dim], dtype=dt, device=dev)
    k_ii = w[:, 2 * dim] * excess - k_off.sum(1)
    K = torch.cat([k_off[:, :dim], k_ii[:, None], k_off[:, dim:]], 1)
    return K.reshape(-1).index_select(0, torch.as_tensor(np.flatnonzero(geom.present), device=dev))


class StencilNet(nn.Module):
    r"""Per-cell prolongation-smoothing weights from the normalised stencil (a plain CNN).

    Parameters
    ----------
    dim : {2, 3}
        Spatial dimension.
    width : int
        Hidden channels.
    depth : int
        Hidden convolutions with ReLU.
    omega : float
        The classical damping :math:`\omega_0` the weights are centred on.
    kernel_size : {1, 3}
        Side of every convolution: 3 (receptive field ``2*depth + 3`` cells) or 1 (a
        per-cell MLP of the normalised stencil, which already describes the cell's
        neighbours: :math:`3^d` times cheaper).
    block : int
        The aggregate block side the network is trained for (:func:`learned_map` uses it).
    compact : bool
        Smooth only the prolongator rows on one face of their block with one neighbour in
        another aggregate (:meth:`StencilGeometry.crossings`), so the coarse matrix keeps the
        pattern of the unsmoothed one (a cheaper coarse factorisation); trained that way too.
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
    starts from the classical method. Cost: one forward pass per matrix (set-up),
    :math:`2k^d(c_{in}c + (\mathrm{depth}-1)c^2 + c\,c_{out})` FLOP per cell for kernel side
    :math:`k` (the shipped per-cell networks, :math:`k = 1`, width 4, depth 1: 88 FLOP per
    cell in 2D, 120 in 3D).

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
        kernel_size: int = 3,
        block: int = 4,
        compact: bool = False,
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
        if isinstance(kernel_size, bool) or kernel_size not in (1, 3):
            raise ValueError(f"kernel_size must be 1 or 3, got {kernel_size!r}")
        self.kernel_size = int(kernel_size)
        self.block = check_positive_int("block", block)
        self.compact = check_bool("compact", compact)
        if self.compact and self.block < 3:
            raise ValueError(
                f"compact=True needs block >= 3 (smaller blocks leave no row to smooth), "
                f"got block={block!r}"
            )
        conv = nn.Conv2d if dim == 2 else nn.Conv3d
        kw = dict(kernel_size=kernel_size, padding=kernel_size // 2, device=device, dtype=dtype)
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

    def at_cells(self, geom: StencilGeometry) -> np.ndarray:
        """The raw output at the unknowns, ``(2*dim + 1, n)`` float64 (no autograd).

        A pointwise network (``kernel_size=1``) runs on the unknowns' features alone, with no
        grid, as float64 NumPy products on the host whatever the model's device; a 3×3 one
        runs on :attr:`StencilGeometry.features` on the model's device and is read at the
        fluid cells.

        Examples
        --------
        >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(4, 4))
        >>> A = sp.csr_matrix(sp.kron(T, sp.eye(4)) + sp.kron(sp.eye(4), T))
        >>> g = StencilGeometry.from_matrix(A, np.zeros((4, 4), int))
        >>> StencilNet(2, width=4, depth=1, kernel_size=1).at_cells(g).shape
        (5, 16)
        """
        p = next(self.parameters())
        with torch.no_grad():
            if self.kernel_size == 1:
                # a per-cell MLP: float64 matrix products over the unknowns, on the host where
                # the features and the result live (a few dozen FLOP per cell: moving them to
                # an accelerator would cost more than the products)
                y = geom.cell_features
                for i, layer in enumerate([*self.hidden, self.head]):
                    y = layer.weight.detach().double().cpu().flatten(1).numpy() @ y
                    y += layer.bias.detach().double().cpu().numpy()[:, None]
                    if i < self.depth:
                        np.maximum(y, 0.0, out=y)
                return y
            x = torch.as_tensor(geom.features, dtype=p.dtype, device=p.device).unsqueeze(0)
            y = self(x)[0].reshape(2 * self.dim + 1, -1)
            cells = torch.as_tensor(np.flatnonzero(geom.fluid), device=p.device)
            return y.index_select(1, cells).cpu().double().numpy()

    def config(self) -> dict[str, Any]:
        """Constructor arguments (stored with the weights)."""
        return {"kind": "stencil", "dim": self.dim, "width": self.width, "depth": self.depth,
                "omega": self.omega, "kernel_size": self.kernel_size,
                "block": self.block, "compact": self.compact}  # fmt: skip

    def flops_per_cell(self) -> int:
        """Multiply-adds × 2 of one forward pass, per grid cell."""
        return sum(2 * m.weight[0].numel() * m.out_channels for m in [*self.hidden, self.head])


def learned_prolongation(
    model: StencilNet,
    A: Any,
    labels: Any,
    *,
    block: int | None = None,
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
    with torch.no_grad():
        t0 = time.perf_counter()
        raw = model.at_cells(geom)
        network_s = time.perf_counter() - t0
    agg = geom.block_aggregates(model.block if block is None else block)
    if timings is not None:
        timings["network_s"] = network_s
    compact = (model.block if block is None else block) if model.compact else None
    return geom.prolongation(raw, model.omega, agg, compact_block=compact), agg


def learned_map(model: StencilNet, A: Any, labels: Any, *, block: int | None = None) -> TwoLevelMap:
    r"""The linear two-level map with the network's prolongator (network at set-up only).

    Parameters
    ----------
    model : StencilNet
        A trained (or untrained: the classical smoothed aggregation) network.
    A : scipy sparse matrix
        The 5-point (7-point) grid matrix, rows = the FLUID cells of ``labels``.
    labels : array_like of int
        Cell labels of the grid.
    block : int, optional
        Aggregate block side (default: the one the model was trained for, ``model.block``).

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
    block = model.block if block is None else block
    cc = CoarseCorrection(A, fluid_mask(labels), block=block, aggregates=agg, prolongation=P)
    M = TwoLevelMap(A, cc)
    M.setup_s, M.prolongation_s = time.perf_counter() - t0, t1 - t0
    M.network_s = timings["network_s"]
    return M
