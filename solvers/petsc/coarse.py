"""The block-aggregate coarse correction on a distributed DMDA system, with PETSc as the engine."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph

from sciconv.validation import as_int_tuple, describe

from ..coarse import singular_pins
from ..grid import FLUID
from ._core import KSPSolver, petsc_module, petsc_to_scipy
from .dmda import dmda_layout, owned_box

__all__ = ["PetscCoarse", "local_aggregates"]


def local_aggregates(mat: Any, da: Any, fluid: np.ndarray, block: tuple[int, ...]) -> np.ndarray:
    """Aggregate of each owned cell (C order in the owned box): ``-1`` off the fluid.

    The connected fluid pieces of (grid block of side ``block``) ∩ (owned box), joined by the
    non-zero couplings of ``mat``'s owned rows, numbered ``0..m-1`` as scipy's
    ``connected_components`` numbers them (the serial :func:`solvers.coarse.block_aggregates`).

    Examples
    --------
    One rank, a 4 x 4 all-fluid grid (the 5-point Laplacian) in blocks of 2 x 2:

    >>> from solvers.petsc import aij_from_csr, petsc_module
    >>> PETSc = petsc_module()
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(4, 4))
    >>> A = (sp.kron(sp.eye(4), T) + sp.kron(T, sp.eye(4))).tocsr()
    >>> da = PETSc.DMDA().create(sizes=(4, 4), stencil_width=1, comm=PETSc.COMM_SELF)
    >>> mat = aij_from_csr(A, PETSc.COMM_SELF)  # one rank: global order = C order
    >>> local_aggregates(mat, da, np.ones((4, 4), dtype=bool), (2, 2)).reshape(4, 4)
    array([[0, 0, 1, 1],
           [0, 0, 1, 1],
           [2, 2, 3, 3],
           [2, 2, 3, 3]])
    >>> for obj in (mat, da):
    ...     _ = obj.destroy()
    """
    box = owned_box(da)
    lo, hi = mat.getOwnershipRange()
    fl = np.asarray(fluid, dtype=bool)[box].ravel()
    coords = np.meshgrid(*(np.arange(s.start, s.stop) for s in box), indexing="ij")
    nb = [-(-int(n) // b) for n, b in zip(fluid.shape, block)]
    bid = np.ravel_multi_index(tuple(c.ravel() // b for c, b in zip(coords, block)), nb)
    indptr, cols, data = mat.getValuesCSR()
    rows = np.repeat(np.arange(hi - lo), np.diff(indptr))
    cols = np.asarray(cols, dtype=np.int64) - lo
    own = (cols >= 0) & (cols < hi - lo)
    rows, cols, data = rows[own], cols[own], np.asarray(data)[own]
    keep = (rows != cols) & (data != 0) & fl[rows] & fl[cols] & (bid[rows] == bid[cols])
    where = np.cumsum(fl) - 1  # fluid-only numbering, as the serial matrix's rows
    nf = int(fl.sum())
    graph = sp.csr_matrix(
        (np.ones(int(keep.sum())), (where[rows[keep]], where[cols[keep]])), shape=(nf, nf)
    )
    agg = np.full(fl.size, -1, dtype=np.int64)
    if nf:
        agg[fl] = csgraph.connected_components(graph, directed=False)[1]
    return agg


class PetscCoarse:
    r"""Galerkin coarse correction :math:`P A_c^{-1} P^T` of a DMDA system, distributed.

    Parameters
    ----------
    mat : PETSc.Mat
        The whole-grid AIJ matrix of ``da`` (non-fluid cells identity rows).
    da : PETSc.DMDA
        Sizes ``reversed(labels.shape)``.
    labels : numpy int array
        The whole grid's labels (every rank holds them); ``FLUID`` (0) cells are unknowns.
    block : int or tuple of int
        Aggregate block side in cells.

    Notes
    -----
    :math:`P` is a distributed AIJ matrix, rows the DMDA's global rows, one column per
    aggregate: row :math:`i` has a single 1 in the column of cell :math:`i`'s aggregate, and
    non-fluid rows are empty. Each rank owns the columns of its own aggregates (a
    contiguous range, offset by an exclusive scan), which are the connected fluid pieces of
    the grid blocks of side :math:`B` *intersected with the rank's box*: a block cut by a
    rank boundary gives one aggregate per side (per connected piece), so every entry of
    :math:`P` lies in the diagonal block and no communication builds it. On one rank the
    aggregates are those of :func:`solvers.coarse.block_aggregates`, in the same order, and
    the correction equals :class:`solvers.coarse.CoarseCorrection`'s. On :math:`p` ranks the
    coarse space has a few more unknowns (the split blocks) and is still piecewise constant
    on connected aggregates, so the two-level theory is unchanged.

    :math:`A_c = P^TAP` comes from PETSc's ``MatPtAP``. A coarse component whose rows sum to
    zero (a fluid pocket with no Dirichlet coupling: :math:`A_c` singular, null vector the
    constant) gets its first coarse unknown pinned (row and column replaced by the
    identity, as in the serial class): the pins are found on a redundant copy of
    :math:`A_c` (its connected components and row sums). The coarse solve is a ``preonly``
    KSP with a *redundant* LU (every rank factors the whole :math:`A_c`: a 128² grid with
    4×4 blocks has about a thousand coarse unknowns), with the pinned entries of the
    right-hand side and solution held at zero. With the exact solve,
    :math:`x \leftarrow x + PA_c^{-1}P^T(r - Ax)` is the A-orthogonal projection of the error
    onto :math:`\mathrm{range}(P)`, and :math:`P^T(r - Ax) = 0` after it (up to the pins).

    Examples
    --------
    On one rank (an 8 x 8 all-fluid grid, 4 x 4 blocks) it is the serial
    :class:`solvers.coarse.CoarseCorrection`:

    >>> from solvers.coarse import CoarseCorrection
    >>> from solvers.petsc import aij_from_csr, petsc_module
    >>> PETSc = petsc_module()
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(8, 8))
    >>> A = (sp.kron(sp.eye(8), T) + sp.kron(T, sp.eye(8))).tocsr()
    >>> labels = np.zeros((8, 8), dtype=int)
    >>> da = PETSc.DMDA().create(sizes=(8, 8), stencil_width=1, comm=PETSc.COMM_SELF)
    >>> mat = aij_from_csr(A, PETSc.COMM_SELF)  # one rank: global order = C order
    >>> coarse = PetscCoarse(mat, da, labels, 4)
    >>> ref = CoarseCorrection(A, labels == FLUID, block=4)
    >>> coarse.size, ref.size
    (4, 4)
    >>> r, out = mat.createVecs()
    >>> v = np.random.default_rng(0).standard_normal(64)
    >>> _ = r.setArray(v)
    >>> coarse(r, out)
    >>> bool(np.allclose(out.getArray(), ref(v)))
    True

    After :meth:`correct` the residual is orthogonal to the coarse space:

    >>> x = mat.createVecLeft()
    >>> coarse.correct(x, r)
    >>> P = petsc_to_scipy(coarse.P)
    >>> P.shape, bool(np.allclose(P.T @ (v - A @ x.getArray()), 0.0))
    ((64, 4), True)
    >>> coarse.destroy()
    >>> for obj in (mat, da, r, out, x):
    ...     _ = obj.destroy()
    """

    def __init__(self, mat: Any, da: Any, labels: Any, block: int | tuple[int, ...]) -> None:
        PETSc = petsc_module()

        shape, _ = dmda_layout(da)
        labels = np.asarray(labels)
        if labels.shape != shape:
            raise ValueError(f"labels must have the DMDA's shape {shape}, got {describe(labels)}")
        self.block = as_int_tuple("block", block, labels.ndim)
        comm = mat.getComm()
        self.mat = mat
        agg = local_aggregates(mat, da, labels == FLUID, self.block)
        m_local = int(agg.max()) + 1 if agg.size else 0
        mpi = comm.tompi4py()
        offset = int(mpi.exscan(m_local) or 0) if mpi.Get_size() > 1 else 0
        lo, hi = mat.getOwnershipRange()
        n_local = hi - lo
        rows = np.flatnonzero(agg >= 0)
        indptr = np.zeros(n_local + 1, dtype=PETSc.IntType)
        indptr[rows + 1] = 1
        indptr = np.cumsum(indptr).astype(PETSc.IntType)
        cols = (agg[rows] + offset).astype(PETSc.IntType)
        self.P = PETSc.Mat().createAIJ(
            size=((n_local, None), (m_local, None)),
            csr=(indptr, cols, np.ones(rows.size)),
            comm=comm,
        )
        self.P.assemble()
        self.Ac = mat.ptap(self.P)
        m = self.Ac.getSize()[0]
        # a redundant copy of A_c for the pins (connected components, row sums)
        every = PETSc.IS().createStride(m, 0, 1, comm=PETSc.COMM_SELF)
        (seq,) = self.Ac.createSubMatrices(every, every)
        self.pinned = singular_pins(petsc_to_scipy(seq))
        seq.destroy()
        every.destroy()
        self.Ac.zeroRowsColumns(self.pinned.astype(PETSc.IntType), diag=1.0)
        # inner KSP of PCREDUNDANT: preonly + LU (its default)
        self.solver = KSPSolver(
            self.Ac,
            ksp_type="preonly",
            pc_type="redundant",
            prefix="sciconv_coarse_",
            norm_type=None,
            monitor=False,
        )
        c_lo, c_hi = self.Ac.getOwnershipRange()
        mine = self.pinned[(self.pinned >= c_lo) & (self.pinned < c_hi)]
        self.pins_local = (mine - c_lo).astype(np.int64)
        self.g, self.y = self.Ac.createVecs()
        self.t = mat.createVecLeft()

    @property
    def size(self) -> int:
        """Number of coarse unknowns (aggregates, all ranks)."""
        return int(self.Ac.getSize()[0])

    def __call__(self, r: Any, out: Any) -> None:
        """``out = P A_c^{-1} P^T r`` (collective)."""
        self.P.multTranspose(r, self.g)
        self.g.getArray()[self.pins_local] = 0.0
        self.solver.solve(self.g, self.y)
        self.y.getArray()[self.pins_local] = 0.0
        self.P.mult(self.y, out)

    def correct(self, x: Any, r: Any) -> None:
        """``x += P A_c^{-1} P^T (r - A x)`` in place (collective)."""
        self.mat.mult(x, self.t)
        self.t.aypx(-1.0, r)
        self(self.t, self.t)
        x.axpy(1.0, self.t)

    def destroy(self) -> None:
        """Free the PETSc objects."""
        self.solver.destroy()
        for obj in (self.Ac, self.P, self.g, self.y, self.t):
            obj.destroy()
