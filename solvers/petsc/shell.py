"""PETSc views of operators: shell matrices (MATPYTHON) of matrix-free ones, AIJ of sparse ones.

``as_petsc_mat(op)`` lets a PETSc ``KSP`` run on a :class:`sciconv.ConvOperator`, on any
:class:`scipy.sparse.linalg.LinearOperator`, or on a scipy sparse matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from sciconv.validation import describe

from ._core import aij_from_csr, as_comm, petsc_module

__all__ = ["OperatorShell", "as_petsc_mat"]


class OperatorShell:
    """Context of a MATPYTHON matrix that applies a matrix-free operator.

    Every rank holds the whole (small, structured) operator: ``mult`` gathers the
    distributed input to all ranks, applies ``matvec`` and keeps the locally owned rows.
    This is exact on any number of ranks; it is not a scalable distribution (a DMDA path
    distributes the grid instead).

    Parameters
    ----------
    op : object
        Anything with ``shape``, ``matvec`` and ``rmatvec`` acting on flat numpy vectors.

    Examples
    --------
    The context of a shell made by :func:`as_petsc_mat`, counting PETSc's calls:

    >>> from scipy.sparse.linalg import aslinearoperator
    >>> A = sp.diags([-1.0, 3.0, -2.0], [-1, 0, 1], shape=(4, 4), format="csr")
    >>> mat = as_petsc_mat(aslinearoperator(A), petsc_module().COMM_SELF)
    >>> ctx = mat.getPythonContext()
    >>> isinstance(ctx, OperatorShell)
    True
    >>> x, y = mat.createVecs()
    >>> _ = x.setArray(np.arange(4.0))
    >>> mat.mult(x, y)
    >>> mat.multTranspose(x, y)
    >>> bool(np.allclose(y.getArray(), A.T @ np.arange(4.0))), ctx.calls
    (True, {'mult': 1, 'multTranspose': 1, 'getDiagonal': 0})
    >>> for obj in (mat, x, y):
    ...     _ = obj.destroy()
    """

    def __init__(self, op: Any) -> None:
        self.op = op
        self.calls = {"mult": 0, "multTranspose": 0, "getDiagonal": 0}
        self._gather: dict[int, tuple[Any, Any]] = {}

    def _full(self, x: Any) -> np.ndarray:
        PETSc = petsc_module()
        if x.getComm().getSize() == 1:
            return x.getArray(readonly=True)
        key = x.getSize()
        if key not in self._gather:
            self._gather[key] = PETSc.Scatter.toAll(x)
        scatter, xall = self._gather[key]
        scatter.scatter(x, xall, PETSc.InsertMode.INSERT, PETSc.ScatterMode.FORWARD)
        return xall.getArray(readonly=True)

    def _apply(self, fn: Any, x: Any, y: Any) -> None:
        out = np.asarray(fn(np.array(self._full(x))))
        lo, hi = y.getOwnershipRange()
        y.setArray(out[lo:hi].astype(y.getArray(readonly=True).dtype, copy=False))

    def mult(self, mat: Any, x: Any, y: Any) -> None:
        self.calls["mult"] += 1
        self._apply(self.op.matvec, x, y)

    def multTranspose(self, mat: Any, x: Any, y: Any) -> None:  # noqa: N802 - PETSc protocol
        self.calls["multTranspose"] += 1
        self._apply(self.op.rmatvec, x, y)

    def getDiagonal(self, mat: Any, d: Any) -> None:  # noqa: N802 - PETSc protocol
        """Diagonal for Jacobi preconditioning, taken from the exact sparse matrix."""
        self.calls["getDiagonal"] += 1
        if not hasattr(self.op, "to_sparse"):
            raise NotImplementedError("the operator has no to_sparse(); no diagonal available")
        diag = self.op.to_sparse().diagonal()
        lo, hi = d.getOwnershipRange()
        d.setArray(diag[lo:hi])


def as_petsc_mat(op: Any, comm: Any = None) -> Any:
    """Return a PETSc matrix for ``op``.

    Parameters
    ----------
    op : ConvOperator, scipy LinearOperator or scipy sparse matrix
        A sparse matrix becomes an AIJ matrix (each rank sets its own rows); anything with
        ``shape``/``matvec``/``rmatvec`` becomes a shell matrix (MATPYTHON) whose context is an
        :class:`OperatorShell`.
    comm : petsc4py.PETSc.Comm or mpi4py communicator, optional
        Defaults to ``PETSC_COMM_WORLD``.

    Returns
    -------
    petsc4py.PETSc.Mat
        Assembled and set up, ready for ``KSP.setOperators``.

    Notes
    -----
    PETSc here is built with real double scalars; a complex operator is refused with a
    ``TypeError`` rather than silently dropping its imaginary part.

    Examples
    --------
    A matrix-free operator (here a :class:`scipy.sparse.linalg.LinearOperator` of a 2D
    Dirichlet Laplacian) solved by PETSc's CG through its shell matrix:

    >>> from scipy.sparse.linalg import LinearOperator, spsolve
    >>> from solvers.petsc import ksp_solve
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(8, 8))
    >>> A = (sp.kron(sp.eye(8), T) + sp.kron(T, sp.eye(8))).tocsc()
    >>> op = LinearOperator(A.shape, matvec=lambda v: A @ v, rmatvec=lambda v: A.T @ v)
    >>> mat = as_petsc_mat(op)
    >>> mat.getType(), mat.getSize()
    ('python', (64, 64))
    >>> b = np.random.default_rng(0).standard_normal(64)
    >>> x, info = ksp_solve(mat, b, ksp_type="cg", pc_type="none", rtol=1e-10)
    >>> info.converged, bool(np.allclose(x, spsolve(A, b)))
    (True, True)
    >>> mat.getPythonContext().calls["mult"] >= info.iterations
    True
    >>> _ = mat.destroy()

    A sparse matrix becomes an AIJ matrix instead:

    >>> mat = as_petsc_mat(A)
    >>> mat.getType()
    'seqaij'
    >>> _ = mat.destroy()
    """
    PETSc = petsc_module()
    comm = as_comm(comm)
    if sp.issparse(op):
        return aij_from_csr(op, comm)
    dtype = np.dtype(getattr(op, "dtype", np.float64))
    if dtype.kind == "c" and np.dtype(PETSc.ScalarType).kind != "c":
        raise TypeError(
            f"op has complex dtype {dtype} but this PETSc build has real scalars "
            f"({np.dtype(PETSc.ScalarType)})"
        )
    if not all(hasattr(op, a) for a in ("shape", "matvec", "rmatvec")):
        raise TypeError(
            f"op must be a ConvOperator, a scipy LinearOperator or a scipy sparse matrix, "
            f"got {describe(op)}"
        )
    m, n = (int(v) for v in op.shape)
    mat = PETSc.Mat().createPython(
        ((PETSc.DECIDE, m), (PETSc.DECIDE, n)), OperatorShell(op), comm=comm
    )
    mat.setUp()
    return mat
