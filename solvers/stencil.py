"""The stencil of a 5-point (7-point) grid matrix, read once: the grid maps' common set-up.

:class:`StencilGeometry` checks that a matrix couples each fluid cell to exactly its grid
neighbours and keeps, per cell and direction, the neighbour and the normalised coupling. From
it: the network input of the learned map, the block aggregates (by labelling the grid, several
times faster than searching the matrix graph) and smoothed prolongators built without the
smoothing matrix. NumPy/SciPy only (no torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy import ndimage

from sciconv.validation import as_int_tuple, describe

from .coarse import block_aggregates, check_aggregates
from .grid import fluid_mask

__all__ = ["StencilGeometry"]


@dataclass
class StencilGeometry:
    """The stencil of a 5-point (7-point) grid matrix, cell by cell.

    Attributes
    ----------
    A : scipy.sparse.csr_matrix
        The matrix, sorted indices.
    fluid : numpy.ndarray of bool
        The unknowns' cells (C order).
    neighbours : numpy.ndarray of int, shape (2*dim + 1, n)
        Slot-major: the unknown in each stencil slot of each row (-1 where that neighbour is
        not an unknown; the row itself at the centre), in the slots' order ``-axis0, ...,
        -axis(d-1), centre, +axis(d-1), ..., +axis0`` (the column order of a sorted CSR row).
    slot_ratio : numpy.ndarray, shape (2*dim + 1, n)
        Slot-major :math:`a_{ij}/a_{ii}` (zero where absent; 1 at the centre).
    cell_features : numpy.ndarray, shape (2*dim + 2, n)
        Network input per unknown: :math:`|a_{ij}|/a_{ii}` per direction (channel
        ``2*axis + side``, side 0 for the lower neighbour), the Dirichlet excess
        :math:`(a_{ii} - \\sum_{j\\ne i}|a_{ij}|)/a_{ii}` and 1 (the fluid mask).

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
    neighbours: np.ndarray
    slot_ratio: np.ndarray
    cell_features: np.ndarray

    @staticmethod
    def slots(dim: int) -> list[tuple[int, int]]:
        """``(axis, step)`` of each stencil slot (``(-1, 0)`` for the centre)."""
        lower = [(a, -1) for a in range(dim)]
        return [*lower, (-1, 0), *[(a, 1) for a in reversed(range(dim))]]

    @property
    def nonpositive(self) -> bool:
        """True when every coupling :math:`a_{ij}, j \\ne i` is :math:`\\le 0` (an M-matrix stencil:
        then the Dirichlet excess is the row sum over the diagonal, and zero weights give
        exactly :math:`K = \\omega D^{-1}A`)."""
        off = [s for s, (axis, _) in enumerate(self.slots(self.fluid.ndim)) if axis >= 0]
        return bool((self.slot_ratio[off] <= 0).all())

    @property
    def present(self) -> np.ndarray:
        """``(n, 2*dim + 1)`` bool: which slots each row has (row-major: CSR order)."""
        return (self.neighbours >= 0).T

    @property
    def ratio(self) -> np.ndarray:
        """``(n, 2*dim + 1)``: :attr:`slot_ratio` row by row."""
        return self.slot_ratio.T

    @property
    def features(self) -> np.ndarray:
        """``(2*dim + 2, *grid)``: :attr:`cell_features` on the grid, zero off the fluid."""
        grid = np.zeros((self.cell_features.shape[0], self.fluid.size))
        grid[:, np.flatnonzero(self.fluid)] = self.cell_features
        return grid.reshape(-1, *self.fluid.shape)

    @classmethod
    def from_matrix(cls, A: Any, labels: Any) -> StencilGeometry:
        """Read the stencil of ``A`` (rows = the FLUID cells of ``labels``, C order)."""
        fluid = fluid_mask(labels)
        if not sp.issparse(A):
            raise TypeError(f"A must be a scipy sparse matrix, got {describe(A)}")
        A = sp.csr_matrix(A, dtype=float)
        if not A.has_canonical_format:  # sorted, no duplicate entries
            A = A.copy()
            A.sum_duplicates()
        n, dim = int(fluid.sum()), fluid.ndim
        if A.shape != (n, n):
            raise ValueError(f"A has shape {A.shape} but labels have {n} FLUID cells")
        itype = np.int32 if max(fluid.size, A.nnz) < 2**31 - 1 else np.int64
        # unknown number of every cell of the grid padded by one (-1: not an unknown)
        padded = np.add(fluid.shape, 2)
        index = np.full(padded, -1, dtype=itype)
        index[tuple(slice(1, -1) for _ in range(dim))][fluid] = np.arange(n, dtype=itype)
        flat = index.reshape(-1)
        at = np.flatnonzero(flat >= 0)  # the unknowns' positions in the padded grid
        strides = np.cumprod([1, *padded[::-1]])[:dim][::-1]
        slots = cls.slots(dim)
        nbr = np.empty((len(slots), n), dtype=itype)
        pos = np.empty((len(slots), n), dtype=itype)
        count = A.indptr[:-1].astype(itype)  # running position of each slot in its CSR row
        for s, (axis, step) in enumerate(slots):
            nbr[s] = flat[at + step * strides[axis]] if axis >= 0 else np.arange(n, dtype=itype)
            pos[s] = count
            count += nbr[s] >= 0
        present = nbr >= 0
        bad = not np.array_equal(count, A.indptr[1:])
        if n and not bad:
            np.minimum(pos, max(A.nnz - 1, 0), out=pos)  # absent slots: any valid position
            bad = not np.array_equal(np.where(present, A.indices[pos], -1), nbr)
        if bad:
            raise ValueError(
                "A must couple each fluid cell to exactly its fluid grid neighbours (a 5/7-point "
                "stencil with every coupling stored)"
            )
        diag = A.data[pos[dim]]
        if np.any(diag <= 0):
            raise ValueError("A must have a positive diagonal (an SPD grid Laplacian)")
        ratio = A.data[pos]
        ratio *= present
        ratio /= diag
        feats = np.empty((2 * dim + 2, n))
        for slot, (axis, step) in enumerate(slots):
            if axis >= 0:
                np.abs(ratio[slot], out=feats[2 * axis + (step > 0)])
        excess = feats[2 * dim]
        np.subtract(1.0, feats[: 2 * dim].sum(0), out=excess)
        excess[np.abs(excess) <= 8 * dim * np.finfo(float).eps] = 0.0  # rounding, not Dirichlet
        feats[2 * dim + 1] = 1.0
        return cls(A, fluid, nbr, ratio, feats)

    def block_aggregates(self, block: int | tuple[int, ...]) -> np.ndarray:
        """:func:`~solvers.coarse.block_aggregates` of this matrix, read off the grid.

        The same numbers (each aggregate is a connected piece of a block's fluid cells,
        numbered in the order of their first cell), found by labelling the fluid grid with a
        one-cell gap between blocks instead of searching A's graph: valid because
        :meth:`from_matrix` checked that A couples exactly the grid neighbours. A stored
        coupling that is exactly zero disconnects its cells, so then the graph search runs.

        Examples
        --------
        >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(4, 4))
        >>> A = sp.csr_matrix(sp.kron(T, sp.eye(4)) + sp.kron(sp.eye(4), T))
        >>> StencilGeometry.from_matrix(A, np.zeros((4, 4), int)).block_aggregates(2)
        array([0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3])
        """
        fluid = self.fluid
        blk = as_int_tuple("block", block, fluid.ndim)
        if not np.all(self.A.data):
            return block_aggregates(self.A, fluid, blk)
        # cell p goes to p + p // block: a row of empty cells after every block
        at = [np.arange(s) + np.arange(s) // b for s, b in zip(fluid.shape, blk)]
        spread = np.zeros([int(a[-1]) + 1 if a.size else 0 for a in at], dtype=bool)
        spread[np.ix_(*at)] = fluid
        labels, _ = ndimage.label(spread)  # face neighbours: the 5/7-point couplings
        return labels[np.ix_(*at)][fluid].astype(np.int64) - 1

    def crossings(
        self, aggregates: Any, compact_block: int | tuple[int, ...] | None = None
    ) -> np.ndarray:
        """``(2*dim + 1, n)`` bool: the slots whose neighbour lies in another aggregate.

        With ``compact_block`` (the side(s) of the blocks the aggregates were cut from), only
        the slots the compact prolongator smooths: a cell on exactly one face of its block's
        box (that block at least 3 cells across there) and with one neighbour in another
        aggregate. Smoothing those rows alone keeps the Galerkin coarse matrix's pattern
        that of the piecewise-constant prolongator (face-adjacent aggregates only).

        Examples
        --------
        >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(8, 8))
        >>> A = sp.csr_matrix(sp.kron(T, sp.eye(8)) + sp.kron(sp.eye(8), T))
        >>> g = StencilGeometry.from_matrix(A, np.zeros((8, 8), int))
        >>> agg = g.block_aggregates(4)
        >>> g.crossings(agg).sum(0).reshape(8, 8)[:4, :4]   # block (0, 0): its right/bottom
        array([[0, 0, 0, 1],
               [0, 0, 0, 1],
               [0, 0, 0, 1],
               [1, 1, 1, 2]])
        >>> g.crossings(agg, compact_block=4).sum(0).reshape(8, 8)[:4, :4]  # no corner
        array([[0, 0, 0, 0],
               [0, 0, 0, 1],
               [0, 0, 0, 1],
               [0, 1, 1, 0]])
        """
        n = self.neighbours.shape[1]
        agg = check_aggregates(aggregates, n)
        return self._crossings(agg.astype(np.int32) if n < 2**31 - 1 else agg, compact_block)

    def _crossings(
        self, agg: np.ndarray, compact_block: int | tuple[int, ...] | None
    ) -> np.ndarray:
        """:meth:`crossings` of checked aggregates."""
        n = self.neighbours.shape[1]
        cross = np.zeros(self.neighbours.shape, dtype=bool)
        for slot, nb in enumerate(self.neighbours):
            if slot != self.fluid.ndim:  # the centre never crosses
                cross[slot] = (nb >= 0) & (agg[np.maximum(nb, 0)] != agg)
        if compact_block is None:
            return cross
        dim = self.fluid.ndim
        blk = as_int_tuple("compact_block", compact_block, dim)
        faces = np.zeros(n, dtype=np.int8)  # block-box faces each cell lies on (per axis)
        wide = np.ones(n, dtype=bool)  # its block is >= 3 cells across on its face's axis
        for p, b, size in zip(np.nonzero(self.fluid), blk, self.fluid.shape):
            local, side = p % b, np.minimum(b, size - (p // b) * b)
            on = (local == 0) | (local == side - 1)
            faces += on
            wide &= ~on | (side >= 3)
        cross &= (faces == 1) & wide & (cross.sum(0) == 1)
        return cross

    def prolongation(
        self,
        raw: Any,
        omega: float,
        aggregates: Any,
        *,
        compact_block: int | tuple[int, ...] | None = None,
    ) -> sp.csr_matrix:
        r""":math:`P = P_0 - KP_0` straight from the network output, without forming :math:`K`.

        Parameters
        ----------
        raw : array_like, shape ``(2*dim + 1, n)``
            Raw weights :math:`o` at the unknowns (channel ``2*axis + side`` per direction, then
            the Dirichlet channel): :math:`w = \omega(1 + \tanh o)`, so zeros give the
            classical :math:`K = \omega D^{-1}A`.
        omega : float
            The damping the weights are centred on.
        aggregates : array of int, shape (n,)
        compact_block : int or tuple of int, optional
            The aggregates' block side(s): smooth only the rows :meth:`crossings` keeps for
            it (the others keep their piecewise-constant row), so the coarse matrix keeps the
            pattern of the unsmoothed one.

        Notes
        -----
        The same matrix as :func:`~solvers.coarse.smoothed_prolongation` of the entries of
        :math:`K` (:func:`solvers.network.learned.stencil_entries`, torch, for training):
        row :math:`i` holds :math:`1 - \sum_{j:\,a(j)=a(i)} k_{ij}` in its own aggregate's
        column and :math:`-k_{ij}` in the column of each neighbour :math:`j` in another
        aggregate. As :math:`K\mathbf 1` is the weighted Dirichlet excess, the own entry is
        :math:`1 - w_{i,\mathrm D}\,\mathrm{excess}_i + \sum_{j:\,a(j)\ne a(i)} k_{ij}`,
        so only the couplings across aggregates are visited. Compact, the couplings across
        aggregates are dropped from :math:`K` in every row that :meth:`crossings` does not keep
        (rows on more than one face of their block, rows whose block is under 3 cells across
        there, rows with more than one such coupling); the diagonal follows, so
        :math:`K\mathbf 1` is unchanged. Aggregates that are not grid blocks may give a row two
        entries in one column: SciPy's products sum them.
        """
        dim = self.fluid.ndim
        n = self.neighbours.shape[1]
        agg = check_aggregates(aggregates, n)
        raw = np.asarray(raw, dtype=float)
        if raw.shape != (2 * dim + 1, n):
            raise ValueError(f"raw must have shape {(2 * dim + 1, n)}, got {describe(raw)}")
        agg32 = agg.astype(np.int32) if n < 2**31 - 1 else agg
        excess = self.cell_features[2 * dim]
        own = np.ones(n)
        wet = np.flatnonzero(excess)  # the Dirichlet-coupled rows
        own[wet] -= omega * (1.0 + np.tanh(raw[2 * dim, wet])) * excess[wet]
        smoothed = self._crossings(agg32, compact_block)
        crossing = []  # per off slot: the rows whose neighbour there is in another aggregate
        for slot, (axis, step) in enumerate(self.slots(dim)):
            if axis < 0:
                continue
            cross = np.flatnonzero(smoothed[slot])
            other = agg32[self.neighbours[slot, cross]]
            # w = omega (1 + tanh o) = 2 omega / (1 + exp(-2 o)) (exp is the faster ufunc)
            k = np.exp(-2.0 * raw[2 * axis + (step > 0), cross])
            k += 1.0
            np.divide(2.0 * omega * self.slot_ratio[slot, cross], k, out=k)
            own[cross] += k
            crossing.append((cross, other, -k))
        # CSR straight away: the own entry first in each row, then the crossing ones
        count = np.ones(n, dtype=np.int64)
        for cross, _, _ in crossing:
            count[cross] += 1
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(count, out=indptr[1:])
        indices = np.empty(indptr[-1], dtype=agg32.dtype)
        data = np.empty(indptr[-1])
        indices[indptr[:-1]], data[indptr[:-1]] = agg32, own
        fill = indptr[:-1] + 1
        for cross, col, val in crossing:
            at = fill[cross]
            indices[at], data[at] = col, val
            fill[cross] += 1
        m = int(agg.max()) + 1 if n else 0
        return sp.csr_matrix((data, indices, indptr), shape=(n, m))
