"""A serial map applied to a distributed PETSc vector: gather to rank 0, apply, scatter back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._core import petsc_module, petsc_to_scipy
from .dmda import dmda_layout, global_index

__all__ = ["GatherMap", "gather_matrix", "natural_to_global"]


def natural_to_global(da: Any) -> np.ndarray:
    """PETSc global index of every cell, in natural (C) order: an :math:`O(N)` array.

    Examples
    --------
    On one rank the two orders agree; PETSc's application ordering says the same:

    >>> PETSc = petsc_module()
    >>> da = PETSc.DMDA().create(sizes=(4, 3), stencil_width=1, comm=PETSc.COMM_SELF)
    >>> perm = natural_to_global(da)
    >>> perm
    array([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11])
    >>> ao = da.getAO().app2petsc(np.arange(12, dtype=PETSc.IntType))
    >>> bool((np.asarray(ao) == perm).all())
    True
    >>> _ = da.destroy()
    """
    shape, blocks = dmda_layout(da)
    return global_index(blocks, np.unravel_index(np.arange(int(np.prod(shape))), shape))


def gather_matrix(mat: Any, da: Any = None) -> sp.csr_matrix | None:
    """The whole of ``mat`` as scipy CSR on rank 0 (None on the others), collective.

    An AIJ matrix is gathered with ``MatCreateSubMatrices`` (rank 0 asks for every row and
    column, the others for none); a shell whose operator has ``to_sparse`` (every rank holds
    it) is materialised on rank 0. With a DMDA ``da`` the rows and columns are permuted from
    PETSc's global ordering to the natural (C) ordering of the grid.

    Examples
    --------
    >>> from solvers.petsc import aij_from_csr
    >>> A = sp.random(6, 6, density=0.5, format="csr", random_state=0) + sp.eye(6)
    >>> mat = aij_from_csr(A, petsc_module().COMM_SELF)
    >>> full = gather_matrix(mat)  # rank 0
    >>> type(full).__name__, (full != A).nnz
    ('csr_matrix', 0)
    >>> _ = mat.destroy()
    """
    PETSc = petsc_module()
    rank = mat.getComm().getRank()
    if mat.getType() == "python":
        full = petsc_to_scipy(mat) if rank == 0 else None
    else:
        n = mat.getSize()[0] if rank == 0 else 0
        rows = PETSc.IS().createStride(n, 0, 1, comm=PETSc.COMM_SELF)
        (sub,) = mat.createSubMatrices(rows, rows)
        full = petsc_to_scipy(sub) if rank == 0 else None
        sub.destroy()
        rows.destroy()
    if full is None or da is None:
        return full
    perm = natural_to_global(da)
    return sp.csr_matrix(full[perm][:, perm])


class GatherMap:
    r"""Apply a serial map to the selected entries of a distributed vector, on rank 0.

    Parameters
    ----------
    mat : PETSc.Mat
        The operator (its layout is the vectors').
    build : callable
        ``build(A) -> f`` run on rank 0 only, with ``A`` the gathered scipy matrix restricted
        to the selected rows and columns (None when ``need_matrix`` is False); ``f`` maps a
        numpy vector of the selected entries to its image.
    da : PETSc.DMDA, optional
        When given, vectors are DMDA global vectors and ``f`` sees the natural (C) order.
    select : numpy bool array, optional
        Natural-order mask of the entries ``f`` acts on (e.g. the fluid cells); the others
        are passed through unchanged (the inverse of their identity rows). Default: all.
    need_matrix : bool
        Gather the matrix for ``build`` (a user-given map does not need it).

    Notes
    -----
    With :math:`G` the gather to rank 0 (natural order) and :math:`S` the selection,
    :math:`y = G^T\big(S^T f(S\,Gx) + (I - S^TS)\,Gx\big)`: the serial map's result exactly,
    on any number of ranks, at the cost of moving the whole vector twice per application
    and holding it (and the matrix, once) on rank 0; simple, for small and moderate grids.
    Whether ``build`` or ``f`` failed on rank 0 is broadcast, so every rank raises instead of
    waiting on the next collective.

    Examples
    --------
    On one rank: the exact inverse of the gathered matrix, acting on the first four entries
    only (the last two pass through):

    >>> from scipy.sparse.linalg import spsolve
    >>> from solvers.petsc import aij_from_csr
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(6, 6), format="csr")
    >>> mat = aij_from_csr(A, petsc_module().COMM_SELF)
    >>> select = np.array([True, True, True, True, False, False])
    >>> g = GatherMap(mat, lambda S: (lambda r: spsolve(S.tocsc(), r)), select=select)
    >>> x, y = mat.createVecs()
    >>> _ = x.setArray(np.arange(1.0, 7.0))
    >>> g.apply(x, y)
    >>> out = y.getArray()
    >>> bool(np.allclose(A[:4, :4] @ out[:4], [1.0, 2.0, 3.0, 4.0])), out[4:]
    (True, array([5., 6.]))
    >>> g.destroy()
    >>> for obj in (mat, x, y):
    ...     _ = obj.destroy()
    """

    def __init__(
        self,
        mat: Any,
        build: Callable[[sp.csr_matrix | None], Callable[[np.ndarray], np.ndarray]],
        *,
        da: Any = None,
        select: np.ndarray | None = None,
        need_matrix: bool = True,
    ) -> None:
        PETSc = petsc_module()
        self.comm = mat.getComm()
        self.rank = self.comm.getRank()
        self.da = da
        self.nat = da.createNaturalVec() if da is not None else None
        self.scatter, self.v0 = PETSc.Scatter.toZero(
            self.nat if da is not None else mat.createVecLeft()
        )
        n = mat.getSize()[0]
        self.select = None if select is None else np.asarray(select, dtype=bool).reshape(-1)
        if self.select is not None and self.select.size != n:
            raise ValueError(f"select must have {n} entries (the rows), got {self.select.size}")
        A = gather_matrix(mat, da) if need_matrix else None
        self.fmap: Callable[[np.ndarray], np.ndarray] | None = None
        self._on_root(lambda: self._build(build, A))

    def _build(self, build: Callable, A: sp.csr_matrix | None) -> None:
        if A is not None and self.select is not None:
            A = sp.csr_matrix(A[self.select][:, self.select])
        self.fmap = build(A)

    def _on_root(self, work: Callable[[], None]) -> None:
        """Run ``work`` on rank 0 and make every rank raise if it failed there."""
        error: BaseException | None = None
        if self.rank == 0:
            try:
                work()
            except Exception as exc:  # re-raised below, on every rank
                error = exc
        message = self.comm.tompi4py().bcast(None if error is None else repr(error), root=0)
        if error is not None:
            raise error
        if message is not None:
            raise RuntimeError(f"MapPC: the map failed on rank 0: {message}")

    def _apply_root(self) -> None:
        a = self.v0.getArray()
        sel = slice(None) if self.select is None else self.select
        out = np.asarray(self.fmap(np.array(a[sel])), dtype=float).reshape(-1)
        if out.size != a[sel].size:
            raise ValueError(f"the map returned {out.size} entries for {a[sel].size} inputs")
        a[sel] = out

    def apply(self, x: Any, y: Any) -> None:
        """``y = G^T f(G x)`` (collective)."""
        PETSc = petsc_module()
        fwd, rev = PETSc.ScatterMode.FORWARD, PETSc.ScatterMode.REVERSE
        ins = PETSc.InsertMode.INSERT
        src = x
        if self.da is not None:
            self.da.globalToNatural(x, self.nat)
            src = self.nat
        self.scatter.scatter(src, self.v0, ins, fwd)
        self._on_root(self._apply_root)
        if self.da is None:
            self.scatter.scatter(self.v0, y, ins, rev)
        else:
            self.scatter.scatter(self.v0, self.nat, ins, rev)
            self.da.naturalToGlobal(self.nat, y)

    def destroy(self) -> None:
        """Free the PETSc objects."""
        for obj in (self.scatter, self.v0, self.nat):
            if obj is not None:
                obj.destroy()
