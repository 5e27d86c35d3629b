"""Cell-centred pressure-Poisson problems on 2D/3D grids with fluid / solid / air cells.

References
----------
Harlow and Welch, "Numerical Calculation of Time-Dependent Viscous Incompressible Flow of Fluid
with Free Surface", Physics of Fluids 8(12), 2182-2189, 1965 (cell-centred pressures on the
staggered MAC grid, a free surface where the pressure is fixed).

Bridson, "Fluid Simulation for Computer Graphics", 2nd ed., CRC Press, 2015, ch. 5 "Making
Fluids Incompressible" (the pressure-projection matrix of fluid / solid / air cells: solid
faces drop out (Neumann), air neighbours keep their diagonal term with zero pressure
(Dirichlet)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from sciconv import ConvOperator
from solvers.petsc._core import aij_from_csr, attach_null_space

from .dmda import dmda_poisson
from .geometry import FLUID, make_geometry
from .stencil import check_grid, divergence, neumann_components, normals, stencil_rows

__all__ = ["PoissonProblem", "dirichlet_box", "poisson_problem"]


class PoissonProblem:
    r"""The pressure-Poisson system :math:`A p = b` of a labelled grid.

    Parameters
    ----------
    labels : array_like of int, shape (n0, n1) or (n0, n1, n2)
        :data:`~pde.geometry.FLUID`, :data:`~pde.geometry.SOLID` or :data:`~pde.geometry.AIR`
        per cell. Fluid cells are the unknowns (rows of :attr:`matrix`, in C order).
    exterior : {'solid', 'air'} or {SOLID, AIR}
        What lies outside the grid: closed walls (Neumann) or open air (Dirichlet), by name
        or by label code (kept as the name in :attr:`exterior`, the code in
        :attr:`exterior_label`).
    coeff : array_like, optional
        Positive cell coefficients :math:`k` (e.g. :math:`1/\rho`); default 1.
    spacing : float or sequence of float
        Cell size :math:`h` (per axis).

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix
        :math:`A` over the fluid cells (C order), columns sorted.
    labels : numpy.ndarray of int8
        The labels.
    exterior : str
        ``'solid'`` or ``'air'``.
    exterior_label : int
        The exterior as a label code, :data:`~pde.geometry.SOLID` or :data:`~pde.geometry.AIR`
        (what the grid maps of :mod:`solvers` take).
    coeff : numpy.ndarray
        The cell coefficients (ones by default).
    spacing : tuple of float
        Cell size per axis.
    index : numpy.ndarray of int64
        Row of each fluid cell, -1 elsewhere.
    n : int
        Number of unknowns (fluid cells).

    Notes
    -----
    The matrix is the negated, finite-volume Laplacian :math:`-\nabla\cdot(k\nabla p)`. Each
    face between a fluid cell :math:`i` and a neighbour :math:`j` along axis :math:`a` carries
    :math:`w_{ij} = \bar k_{ij} / h_a^2` with :math:`\bar k_{ij} = 2k_ik_j/(k_i+k_j)` (the
    harmonic mean; the cell's own :math:`k` for faces on the grid border). Then

    .. math:: A_{ii} = \sum_{j \in \mathrm{fluid} \cup \mathrm{air}} w_{ij}, \qquad
              A_{ij} = -w_{ij} \ (j\ \mathrm{fluid}),

    a solid neighbour contributes nothing (zero normal flux: Neumann) and an air neighbour
    keeps its diagonal term with :math:`p_j = 0` (Dirichlet). :math:`A` is symmetric and
    weakly diagonally dominant with non-positive off-diagonals, hence positive semidefinite;
    it is singular exactly on the fluid components (face-connected) that touch no air, where
    the component's indicator vector spans the null space (pure Neumann). The rows, the null
    space and the right-hand sides come from :mod:`pde.stencil` (the whole grid as one box),
    as do those of :func:`pde.dmda.dmda_poisson` (a rank's box).

    Examples
    --------
    >>> prob = PoissonProblem([[0, 0], [1, 0]], exterior="air", spacing=0.5)
    >>> prob.n, prob.exterior_label, prob.is_singular
    (3, 2, False)
    >>> prob.matrix.toarray()
    array([[12., -4.,  0.],
           [-4., 16., -4.],
           [ 0., -4., 12.]])
    """

    def __init__(
        self,
        labels: Any,
        *,
        exterior: str = "solid",
        coeff: Any = None,
        spacing: float | Sequence[float] = 1.0,
    ) -> None:
        grid = check_grid(labels, exterior, coeff, spacing)
        self.exterior = grid.exterior
        self.exterior_label = grid.exterior_label
        self.labels = grid.labels.copy()
        self.shape = grid.shape
        self.dim = grid.dim
        if grid.coeff is None:
            self.coeff = np.ones(self.shape)
            self.constant_coeff = True
        else:
            self.coeff = grid.coeff.copy()
            self.constant_coeff = bool(np.all(self.coeff == self.coeff.flat[0]))
        self.spacing = grid.spacing
        # the stencil reads the problem's own copies (not the caller's arrays)
        coeff_arg = None if grid.coeff is None else self.coeff
        self._grid = replace(grid, labels=self.labels, coeff=coeff_arg)
        fluid = self.labels == FLUID
        self.n = int(fluid.sum())
        self.index = np.full(self.shape, -1, dtype=np.int64)
        self.index[fluid] = np.arange(self.n)
        self.matrix = self._assemble()
        self._null = self._find_null_space()

    # ------------------------------------------------------------------ assembly
    def _assemble(self) -> sp.csr_matrix:
        columns = np.pad(self.index, 1, constant_values=-1)
        indptr, indices, data = stencil_rows(self._grid, None, columns, identity_rows=False)
        return sp.csr_matrix((data, indices, indptr), shape=(self.n, self.n))

    def _find_null_space(self) -> np.ndarray:
        vecs = neumann_components(self._grid).indicators(self.labels == FLUID)
        return np.array(vecs).reshape(len(vecs), self.n)

    # ------------------------------------------------------------------ structure
    @property
    def is_singular(self) -> bool:
        """True when some fluid component is pure Neumann (touches no air)."""
        return len(self._null) > 0

    def null_space(self) -> np.ndarray:
        """Orthonormal rows spanning the null space: one scaled indicator per Neumann component."""
        return self._null.copy()

    def project(self, b: np.ndarray) -> np.ndarray:
        r"""Project ``b`` onto :math:`\mathrm{range}(A) = \mathrm{null}(A)^\perp`."""
        b = np.asarray(b, dtype=float)
        return b - self._null.T @ (self._null @ b) if self.is_singular else b.copy()

    def conv_operator(self) -> ConvOperator:
        """The constant-coefficient stencil as a :class:`~sciconv.ConvOperator`.

        It equals :attr:`matrix` when every cell is fluid, ``exterior='air'`` (zero padding is
        the Dirichlet condition) and ``coeff`` is constant; otherwise a ``ValueError`` says why.
        """
        if not (self.labels == FLUID).all() or self.exterior != "air":
            raise ValueError(
                "conv_operator applies to fluid-only boxes with exterior='air' (a Dirichlet "
                f"box); this problem has exterior={self.exterior!r} and "
                f"{int((self.labels != FLUID).sum())} non-fluid cells"
            )
        if not self.constant_coeff:
            raise ValueError("conv_operator needs a constant coeff; this problem's varies")
        k = float(self.coeff.flat[0])
        kernel = np.zeros((3,) * self.dim)
        centre = (1,) * self.dim
        for ax, h in enumerate(self.spacing):
            for off in (0, 2):
                pos = list(centre)
                pos[ax] = off
                kernel[tuple(pos)] = -k / h**2
            kernel[centre] += 2 * k / h**2
        return ConvOperator(kernel[None, None], (1, *self.shape), padding="zeros")

    # ------------------------------------------------------------------ vectors
    def to_grid(self, v: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Scatter an unknown vector to the grid (non-fluid cells get ``fill``)."""
        g = np.full(self.shape, fill, dtype=float)
        g[self.labels == FLUID] = np.asarray(v)
        return g

    def from_grid(self, g: np.ndarray) -> np.ndarray:
        """Gather the fluid cells of a grid array into an unknown vector."""
        return np.asarray(g, dtype=float)[self.labels == FLUID]

    def rhs_random(self, seed: int = 0) -> np.ndarray:
        """:math:`b = A x` for a standard normal :math:`x`: always in range(A)."""
        return self.matrix @ self.from_grid(normals(self._grid, seed))

    def rhs_divergence(self, seed: int = 0) -> np.ndarray:
        r"""A divergence-like right-hand side :math:`b = -\nabla\cdot u` of random face velocities.

        Faces touching a solid cell (or a solid exterior) carry :math:`u = 0`, so each pure
        Neumann component sums to zero up to rounding; the result is projected anyway.
        """
        return self.project(self.from_grid(divergence(self._grid, seed)))

    # ------------------------------------------------------------------ PETSc
    def grid_matrix(self) -> sp.csr_matrix:
        """The whole-grid matrix in C order: :attr:`matrix` on fluid cells, identity elsewhere.

        Notes
        -----
        The serial twin of the DMDA system of :meth:`petsc_dmda` (rows and columns are all the
        cells; solid and air cells decoupled identity rows).
        """
        fluid = (self.labels == FLUID).ravel()
        sel = sp.csr_matrix(
            (np.ones(self.n), (np.arange(self.n), np.flatnonzero(fluid))),
            shape=(self.n, fluid.size),
        )
        return (sel.T @ self.matrix @ sel + sp.diags((~fluid).astype(float))).tocsr()

    def petsc_aij(self, comm: Any = None) -> Any:
        """The matrix as a PETSc AIJ ``Mat`` (each rank sets its rows), with null space attached.

        Notes
        -----
        Built by :func:`solvers.petsc.aij_from_csr` from :attr:`matrix` (every rank holds it)
        and :func:`solvers.petsc.attach_null_space` with :meth:`null_space`.
        """
        mat = aij_from_csr(self.matrix, comm)
        attach_null_space(mat, self._null)
        return mat

    def petsc_dmda(self, comm: Any = None) -> tuple[Any, Any]:
        """A DMDA over the whole grid and its AIJ matrix (non-fluid cells: identity rows).

        Returns ``(da, mat)``, each rank having assembled only its own rows (with the null
        space attached when the problem is singular); grid vectors in natural (C) order map
        to the DMDA's global vectors through ``da.getAO()``. For the right-hand sides as
        global vectors and the natural/global conversions use :func:`pde.dmda_poisson`,
        which this calls.

        Notes
        -----
        The DMDA sizes are the grid shape reversed, so the natural ordering is NumPy's C
        order; the matrix equals :meth:`grid_matrix`.
        """
        uniform = self.constant_coeff and self.coeff.flat[0] == 1.0
        system = dmda_poisson(
            self.labels,
            exterior=self.exterior,
            coeff=None if uniform else self.coeff,
            spacing=self.spacing,
            comm=comm,
        )
        return system.da, system.mat

    def __repr__(self) -> str:
        return (
            f"PoissonProblem(shape={self.shape}, exterior={self.exterior!r}, n={self.n}, "
            f"nnz={self.matrix.nnz}, singular={self.is_singular})"
        )


def poisson_problem(
    geometry: str,
    shape: Sequence[int] | int,
    dim: int | None = None,
    *,
    seed: int = 0,
    exterior: str | None = None,
    coeff: Any = None,
    spacing: float | Sequence[float] = 1.0,
) -> PoissonProblem:
    """Build the problem of a named geometry (``'box'``, ``'obstacles'``, ``'plume'``).

    ``exterior`` defaults to ``'air'`` for ``'box'`` and ``'obstacles'`` (Dirichlet walls,
    non-singular) and ``'solid'`` for ``'plume'`` (closed walls under an open top).

    Examples
    --------
    >>> from scipy.sparse.linalg import spsolve
    >>> prob = poisson_problem("obstacles", 16, 2, seed=0)
    >>> prob
    PoissonProblem(shape=(16, 16), exterior='air', n=201, nnz=879, singular=False)
    >>> b = prob.rhs_divergence(seed=0)
    >>> p = spsolve(prob.matrix.tocsc(), b)
    >>> bool(np.allclose(prob.matrix @ p, b)), prob.to_grid(p).shape
    (True, (16, 16))

    The same obstacles in a closed box are pure Neumann: singular, one null vector per fluid
    component, and the divergence right-hand side is consistent.

    >>> closed = poisson_problem("obstacles", 16, 2, seed=0, exterior="solid")
    >>> Z = closed.null_space()
    >>> closed.is_singular, Z.shape[1] == closed.n, bool(np.allclose(closed.matrix @ Z.T, 0.0))
    (True, True, True)
    >>> bool(np.allclose(Z @ closed.rhs_divergence(seed=0), 0.0))
    True
    """
    labels = make_geometry(geometry, shape, dim, seed=seed)
    if exterior is None:
        exterior = "solid" if geometry == "plume" else "air"
    return PoissonProblem(labels, exterior=exterior, coeff=coeff, spacing=spacing)


def dirichlet_box(shape: Sequence[int] | int, dim: int | None = None) -> PoissonProblem:
    """The plain Dirichlet box: all cells fluid, ``p = 0`` outside (the 5/7-point matrix).

    Examples
    --------
    The 5-point Laplacian of a 4 x 4 box, :math:`I \\otimes T + T \\otimes I`, and its
    convolution operator:

    >>> import scipy.sparse as sp
    >>> prob = dirichlet_box(4, 2)
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(4, 4))
    >>> L = sp.kron(sp.eye(4), T) + sp.kron(T, sp.eye(4))
    >>> prob.n, (prob.matrix != L).nnz
    (16, 0)
    >>> x = np.random.default_rng(0).standard_normal(16)
    >>> op = prob.conv_operator()
    >>> bool(np.allclose(op.matvec(x), prob.matrix @ x))
    True
    >>> float(dirichlet_box((3, 4, 5)).matrix.diagonal().max())  # 7-point stencil in 3D
    6.0
    """
    return poisson_problem("box", shape, dim, exterior="air")
