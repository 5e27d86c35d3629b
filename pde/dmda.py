"""Pressure-Poisson systems on a distributed PETSc DMDA: each rank assembles its own rows.

``sys = dmda_poisson(labels, exterior="solid")`` gives ``sys.da`` (a star-stencil DMDA of
stencil width 1 over the whole grid), ``sys.mat`` (its AIJ matrix) and ``sys.nullspace`` (a
``PETSc.NullSpace`` or None), plus the serial right-hand sides as DMDA global vectors
(:meth:`DMDAPoisson.rhs_divergence`, :meth:`DMDAPoisson.rhs_random`) and the conversions
between NumPy grids in natural (C) order and global vectors (:meth:`DMDAPoisson.from_natural`,
:meth:`DMDAPoisson.local_grid`, :meth:`DMDAPoisson.gather_natural`).

PETSc is reached only through :mod:`solvers.petsc._core` (the project's one PETSc loader),
and only when a function here runs, so ``import pde`` never loads PETSc.

References
----------
Bridson, "Fluid Simulation for Computer Graphics", 2nd ed., CRC Press, 2015, ch. 5 (the
discretisation, shared with :mod:`pde.poisson` through :mod:`pde.stencil`).

Balay et al., "PETSc/TAO Users Manual", Argonne National Laboratory, ANL-21/39 (DMDA:
structured-grid layouts, natural and global orderings).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sciconv.validation import describe
from solvers.petsc._core import as_comm, attach_null_space, petsc_module

from .geometry import EXTERIORS, FLUID
from .stencil import (
    Grid,
    check_grid,
    divergence,
    neumann_components,
    normals,
    stencil_rows,
)

__all__ = ["DMDAPoisson", "dmda_poisson"]


@dataclass(eq=False)
class DMDAPoisson:
    """A Poisson system distributed on a DMDA (build it with :func:`dmda_poisson`).

    Attributes
    ----------
    da : PETSc.DMDA
        Sizes are the grid shape reversed (PETSc's first axis is NumPy's last), so PETSc's
        natural ordering is NumPy's C order; each rank's global-vector block is its box of
        cells in C order.
    mat : PETSc.Mat
        AIJ matrix over all cells: the rows of :attr:`PoissonProblem.matrix` on fluid cells,
        identity rows (decoupled, right-hand side 0) on solid and air cells.
    nullspace : PETSc.NullSpace or None
        One normalised indicator per pure-Neumann fluid component (also set on ``mat``).
    labels : numpy.ndarray of int8
        The whole grid's labels (held by every rank).
    exterior : str
        ``'solid'`` or ``'air'`` (:attr:`exterior_label`: its label code).
    spacing : tuple of float
        Cell sizes per NumPy axis.
    box : tuple of slice
        This rank's cells (NumPy axes).
    assembly_s : float
        This rank's wall time in :func:`dmda_poisson` (labels to assembled matrix).
    timings : dict of str to float
        This rank's wall (``*_s``) and CPU (``*_cpu_s``) seconds of the phases ``setup``
        (checks, DMDA), ``rows`` (this rank's CSR rows, NumPy only), ``insert`` (matrix
        preallocation and assembly, collective) and ``nullspace`` (component labelling of
        the whole grid, local vectors). The CPU seconds of ``rows`` show the work split even
        when ranks share cores (collective phases spin in MPI waits and count CPU there).

    Examples
    --------
    On one rank: a plume in a closed box (singular), the divergence right-hand side as a
    global vector, PETSc's CG (the null space rides on the matrix), and the solution back
    on the grid in natural order, against the serial :class:`~pde.poisson.PoissonProblem`:

    >>> from solvers.petsc._core import ksp_solve
    >>> from pde import poisson_problem
    >>> prob = poisson_problem("plume", 12, 2, seed=1, exterior="solid")
    >>> system = dmda_poisson(prob.labels, exterior="solid")
    >>> system.shape, system.box, system.mat.getSize()
    ((12, 12), (slice(0, 12, None), slice(0, 12, None)), (144, 144))
    >>> b = system.rhs_divergence(seed=0)
    >>> bool(np.allclose(prob.to_grid(prob.rhs_divergence(seed=0)), system.local_grid(b)))
    True
    >>> x, info = ksp_solve(system.mat, b, ksp_type="cg", pc_type="jacobi", rtol=1e-10)
    >>> grid = system.gather_natural(x)  # rank 0
    >>> p = prob.from_grid(grid)
    >>> info.converged, bool(np.allclose(prob.matrix @ p, prob.rhs_divergence(seed=0)))
    (True, True)
    >>> float(np.abs(grid[prob.labels != 0]).max())  # identity rows, zero right-hand side
    0.0
    >>> for obj in (b, x):
    ...     _ = obj.destroy()
    >>> system.destroy()
    """

    da: Any
    mat: Any
    nullspace: Any
    labels: np.ndarray
    exterior: str
    spacing: tuple[float, ...]
    box: tuple[slice, ...]
    assembly_s: float
    timings: dict[str, float]

    @property
    def shape(self) -> tuple[int, ...]:
        """The grid shape (NumPy axes)."""
        return tuple(self.labels.shape)

    @property
    def exterior_label(self) -> int:
        """The exterior as a label code (:data:`~pde.geometry.SOLID` or ``AIR``)."""
        return EXTERIORS[self.exterior]

    @property
    def _grid(self) -> Grid:
        # already checked by dmda_poisson; the right-hand sides need no coefficients
        return Grid(self.labels, self.exterior, None, self.spacing)

    @property
    def fluid(self) -> np.ndarray:
        """Boolean mask of this rank's fluid cells (box shape)."""
        return self.labels[self.box] == FLUID

    def local_grid(self, vec: Any) -> np.ndarray:
        """This rank's block of a global vector as a box-shaped array (a view, writable).

        Entry ``[i, j(, k)]`` is cell ``labels[box][i, j(, k)]``. To read a one-cell halo
        as well (e.g. for a stencil or a convolution), scatter into a local vector with
        ``da.globalToLocal(vec, loc)``: its array has the shape of ``da.getGhostCorners()``
        reversed.
        """
        return vec.getArray().reshape(tuple(s.stop - s.start for s in self.box))

    def from_natural(self, grid: np.ndarray) -> Any:
        """A global vector from a whole-grid array in C order (each rank copies its box).

        Every rank passes the whole grid (:math:`O(N)` input); at scale, create
        ``da.createGlobalVec()`` and fill :meth:`local_grid` with the box's values instead.
        """
        grid = np.asarray(grid, dtype=float)
        if grid.shape != self.shape:
            raise ValueError(f"grid must have shape {self.shape}, got {describe(grid)}")
        vec = self.da.createGlobalVec()
        self.local_grid(vec)[...] = grid[self.box]
        return vec

    def gather_natural(self, vec: Any) -> np.ndarray | None:
        """The whole grid (C order) on rank 0, None on the others.

        A gather of the full vector: for checks and output of modest grids, not for scale.
        """
        PETSc = petsc_module()
        nat = self.da.createNaturalVec()
        self.da.globalToNatural(vec, nat)
        scatter, v0 = PETSc.Scatter.toZero(nat)
        scatter.scatter(nat, v0, PETSc.InsertMode.INSERT, PETSc.ScatterMode.FORWARD)
        out = v0.getArray().reshape(self.shape).copy() if self.da.getComm().getRank() == 0 else None
        for obj in (scatter, v0, nat):
            obj.destroy()
        return out

    def destroy(self) -> None:
        """Free the PETSc objects (matrix, null space, DMDA); collective."""
        for obj in (self.mat, self.nullspace, self.da):
            if obj is not None:
                obj.destroy()

    def rhs_random(self, seed: int = 0) -> Any:
        """:meth:`PoissonProblem.rhs_random` as a global vector: :math:`b = A x`, 0 off fluid."""
        x = self.da.createGlobalVec()
        self.local_grid(x)[...] = normals(self._grid, seed, self.box)
        b = self.da.createGlobalVec()
        self.mat.mult(x, b)
        x.destroy()
        return b

    def rhs_divergence(self, seed: int = 0) -> Any:
        """:meth:`PoissonProblem.rhs_divergence` as a global vector (projected, 0 off fluid)."""
        b = self.da.createGlobalVec()
        self.local_grid(b)[...] = divergence(self._grid, seed, self.box)
        if self.nullspace is not None:
            self.nullspace.remove(b)
        return b


def _box(da: Any) -> tuple[slice, ...]:
    starts, sizes = da.getCorners()
    return tuple(slice(s, s + m) for s, m in zip(reversed(starts), reversed(sizes)))


def _ghost_index(da: Any, box: tuple[slice, ...]) -> np.ndarray:
    """Global (PETSc) index of each cell of the box grown by one layer; -1 outside the grid."""
    gstarts, gsizes = da.getGhostCorners()
    gstarts, gsizes = tuple(reversed(gstarts)), tuple(reversed(gsizes))
    ltog = np.asarray(da.getLGMap().getIndices(), dtype=np.int64).reshape(gsizes)
    out = np.full(tuple(s.stop - s.start + 2 for s in box), -1, dtype=np.int64)
    sel = tuple(
        slice(g - (s.start - 1), g - (s.start - 1) + m) for g, m, s in zip(gstarts, gsizes, box)
    )
    out[sel] = ltog
    return out


def dmda_poisson(
    labels: Any,
    *,
    exterior: str = "solid",
    coeff: Any = None,
    spacing: float | Sequence[float] = 1.0,
    comm: Any = None,
) -> DMDAPoisson:
    r"""Assemble the pressure-Poisson system of ``labels`` on a DMDA, each rank its own rows.

    Parameters
    ----------
    labels : array_like of int, shape (n0, n1) or (n0, n1, n2)
        FLUID / SOLID / AIR per cell, the whole grid, the same on every rank.
    exterior : {'solid', 'air'} or {SOLID, AIR}
        What lies outside the grid (Neumann walls or Dirichlet air), by name or label code.
    coeff : array_like, optional
        Positive cell coefficients (broadcast to the grid shape); default 1.
    spacing : float or sequence of float
        Cell size per NumPy axis.
    comm : mpi4py or PETSc communicator, optional
        Default ``PETSc.COMM_WORLD``.

    Returns
    -------
    DMDAPoisson

    Notes
    -----
    The discretisation is that of :class:`~pde.poisson.PoissonProblem`, from the same code
    (:func:`pde.stencil.stencil_rows` on this rank's box): on a fluid cell :math:`i`,
    :math:`A_{ij} = -w_{ij}` for each fluid face neighbour :math:`j`,
    :math:`A_{ii} = \sum w_{ij}` over fluid and air neighbours (the exterior counts as
    ``exterior``), with :math:`w_{ij} = 2k_ik_j/(k_i+k_j)/h_a^2`, so the fluid block equals
    ``PoissonProblem.matrix`` exactly. Solid and air cells get identity rows, decoupled from
    the fluid (eigenvalue 1 added to the spectrum).

    What each rank holds: the whole ``labels`` (int8, one byte a cell; cheap, and what lets
    every rank regenerate a seeded geometry) and, for the null space, a component labelling
    of the whole grid (``scipy.ndimage.label``, int32 a cell, :math:`O(N)` work per rank).
    Its matrix rows, right-hand sides and null-space vectors are built from its own box plus
    one ghost layer only (:math:`O(N/P)`); column indices of ghost cells come from the
    DMDA's local-to-global map; rows are inserted by one CSR preallocation call. No rank
    ever holds the whole matrix. (The right-hand sides read the whole seeded stream, keeping
    their box: see :func:`pde.stencil.divergence`.)

    Examples
    --------
    >>> import numpy as np
    >>> system = dmda_poisson(np.zeros((4, 5), dtype=np.int8), exterior="solid")
    >>> system.shape, system.exterior_label, system.mat.getSize()
    ((4, 5), 1, (20, 20))
    """
    PETSc = petsc_module()
    clock = _Clock()
    grid = check_grid(labels, exterior, coeff, spacing)
    lab = grid.labels
    comm = as_comm(comm)
    da = PETSc.DMDA().create(
        dim=lab.ndim,
        dof=1,
        sizes=tuple(reversed(lab.shape)),
        stencil_type=PETSc.DMDA.StencilType.STAR,
        stencil_width=1,
        comm=comm,
    )
    da.setUp()
    box = _box(da)
    clock.lap("setup")
    indptr, indices, data = stencil_rows(grid, box, _ghost_index(da, box))
    clock.lap("rows")
    mat = da.createMat()
    mat.setPreallocationCSR(
        (
            indptr.astype(PETSc.IntType),
            indices.astype(PETSc.IntType),
            data.astype(PETSc.ScalarType),
        )
    )
    mat.assemble()
    clock.lap("insert")
    components = neumann_components(grid)
    nullspace = None
    if components.ids:
        vecs = []
        for ind in components.indicators(box):  # every rank: every vector, its own cells
            v = da.createGlobalVec()
            v.getArray().reshape(ind.shape)[...] = ind
            vecs.append(v)
        nullspace = attach_null_space(mat, vecs)
    clock.lap("nullspace")
    total = sum(v for k, v in clock.times.items() if not k.endswith("cpu_s"))
    return DMDAPoisson(
        da, mat, nullspace, lab, grid.exterior, grid.spacing, box, total, clock.times
    )


class _Clock:
    """Wall and CPU seconds per named phase."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def lap(self, name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.times[f"{name}_s"] = wall - self._wall
        self.times[f"{name}_cpu_s"] = cpu - self._cpu
        self._wall, self._cpu = wall, cpu
