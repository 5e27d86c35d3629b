"""PETSc matrices of Poisson problems: AIJ over the unknowns, and DMDA over the whole grid.

The DMDA matrix is assembled rank by rank in :mod:`pde.dmda`; this module keeps the views
of a serial :class:`~pde.poisson.PoissonProblem`.

petsc4py is imported lazily (inside the functions), so ``import pde`` never loads PETSc.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:  # pragma: no cover
    from .poisson import PoissonProblem

__all__ = ["aij_matrix", "dmda_matrix", "grid_operator"]


def _petsc() -> Any:
    import petsc4py

    petsc4py.init()
    from petsc4py import PETSc

    return PETSc


def _comm(PETSc: Any, comm: Any) -> Any:
    comm = PETSc.COMM_WORLD if comm is None else comm
    return comm if isinstance(comm, PETSc.Comm) else PETSc.Comm(comm)


def _attach_null_space(PETSc: Any, mat: Any, vectors: list[Any]) -> None:
    if vectors:
        mat.setNullSpace(PETSc.NullSpace().create(vectors=vectors, comm=mat.getComm()))


def aij_matrix(csr: sp.csr_matrix, null: np.ndarray, comm: Any = None) -> Any:
    """AIJ ``Mat`` of a square CSR matrix; ``null`` (orthonormal rows) becomes its MatNullSpace."""
    PETSc = _petsc()
    comm = _comm(PETSc, comm)
    n = csr.shape[0]
    lo, hi = PETSc.Vec().createMPI(n, comm=comm).getOwnershipRange()
    local = csr[lo:hi]
    mat = PETSc.Mat().createAIJ(
        ((hi - lo, n), (hi - lo, n)),
        csr=(
            local.indptr.astype(PETSc.IntType),
            local.indices.astype(PETSc.IntType),
            local.data.astype(PETSc.ScalarType),
        ),
        comm=comm,
    )
    mat.assemble()
    vecs = []
    for v in null:
        pv = mat.createVecLeft()
        pv.setArray(v[lo:hi])
        vecs.append(pv)
    _attach_null_space(PETSc, mat, vecs)
    return mat


def grid_operator(problem: PoissonProblem) -> sp.csr_matrix:
    """The whole-grid matrix in C order: :attr:`matrix` on fluid cells, identity elsewhere."""
    fluid = (problem.labels == 0).ravel()
    big = fluid.size
    sel = sp.csr_matrix(
        (np.ones(problem.n), (np.arange(problem.n), np.flatnonzero(fluid))),
        shape=(problem.n, big),
    )
    return (sel.T @ problem.matrix @ sel + sp.diags((~fluid).astype(float))).tocsr()


def dmda_matrix(problem: PoissonProblem, comm: Any = None) -> tuple[Any, Any]:
    """A star-stencil DMDA over the grid and its AIJ matrix, each rank assembling its rows.

    Notes
    -----
    A thin view of :func:`pde.dmda.dmda_poisson` (which see) with the problem's labels,
    exterior, coefficients and spacing: the DMDA sizes are the grid shape reversed, so the
    natural ordering is NumPy's C order (``da.getAO()`` maps it to the global ordering).
    Non-fluid cells get identity rows (decoupled, right-hand side 0), which adds the
    eigenvalue 1 to the spectrum of the fluid block; the null space (pure-Neumann fluid
    components) is attached to the matrix.
    """
    from .dmda import dmda_poisson

    coeff = None if problem.constant_coeff and problem.coeff.flat[0] == 1.0 else problem.coeff
    system = dmda_poisson(
        problem.labels,
        exterior=problem.exterior,
        coeff=coeff,
        spacing=problem.spacing,
        comm=comm,
    )
    return system.da, system.mat
