"""Cell-centred pressure-Poisson problems on 2D/3D grids with fluid / solid / air cells."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.ndimage as ndi
import scipy.sparse as sp

from sciconv import ConvOperator
from sciconv.validation import check_choice, check_finite, describe

from .geometry import AIR, FLUID, SOLID, make_geometry

__all__ = ["PoissonProblem", "dirichlet_box", "poisson_problem"]


class PoissonProblem:
    r"""The pressure-Poisson system :math:`A p = b` of a labelled grid.

    Parameters
    ----------
    labels : array_like of int, shape (n0, n1) or (n0, n1, n2)
        :data:`~pde.geometry.FLUID`, :data:`~pde.geometry.SOLID` or :data:`~pde.geometry.AIR`
        per cell. Fluid cells are the unknowns (rows of :attr:`matrix`, in C order).
    exterior : {'solid', 'air'}
        What lies outside the grid: closed walls (Neumann) or open air (Dirichlet).
    coeff : array_like, optional
        Positive cell coefficients :math:`k` (e.g. :math:`1/\rho`); default 1.
    spacing : float or sequence of float
        Cell size :math:`h` (per axis).

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
    the component's indicator vector spans the null space (pure Neumann).
    """

    def __init__(
        self,
        labels: Any,
        *,
        exterior: str = "solid",
        coeff: Any = None,
        spacing: float | Sequence[float] = 1.0,
    ) -> None:
        lab = np.asarray(labels)
        if lab.ndim not in (2, 3) or lab.dtype.kind not in "iu":
            raise ValueError(f"labels must be a 2D or 3D integer array, got {describe(lab)}")
        if not np.isin(lab, (FLUID, SOLID, AIR)).all():
            raise ValueError(f"labels must hold only FLUID={FLUID}, SOLID={SOLID}, AIR={AIR}")
        self.exterior = check_choice("exterior", exterior, ("solid", "air"))
        self.labels = lab.astype(np.int8)
        self.shape = tuple(lab.shape)
        self.dim = lab.ndim
        if coeff is None:
            self.coeff = np.ones(self.shape)
            self.constant_coeff = True
        else:
            c = np.broadcast_to(np.asarray(coeff, dtype=float), self.shape).copy()
            check_finite("coeff", c)
            if (c <= 0).any():
                raise ValueError(f"coeff must be positive, got min {c.min():g}")
            self.coeff = c
            self.constant_coeff = bool(np.all(c == c.flat[0]))
        h = np.broadcast_to(np.asarray(spacing, dtype=float), (self.dim,))
        if not np.all(np.isfinite(h) & (h > 0)):
            raise ValueError(f"spacing must be positive, got {spacing!r}")
        self.spacing = tuple(float(v) for v in h)
        fluid = self.labels == FLUID
        self.index = np.full(self.shape, -1, dtype=np.int64)
        self.index[fluid] = np.arange(int(fluid.sum()))
        self.n = int(fluid.sum())
        if self.n == 0:
            raise ValueError("labels has no FLUID cell: the system would be empty")
        self.matrix, touches_air = self._assemble()
        self._null = self._find_null_space(touches_air)

    # ------------------------------------------------------------------ assembly
    def _assemble(self) -> tuple[sp.csr_matrix, np.ndarray]:
        ext = AIR if self.exterior == "air" else SOLID
        lab = np.pad(self.labels, 1, constant_values=ext)
        cof = np.pad(self.coeff, 1, mode="edge")
        inner = tuple(slice(1, -1) for _ in range(self.dim))
        fluid = lab[inner] == FLUID
        c0 = cof[inner]
        idx = np.pad(self.index, 1, constant_values=-1)
        rows, cols, vals = [], [], []
        diag = np.zeros(self.shape)
        touches_air = np.zeros(self.shape, dtype=bool)
        for ax in range(self.dim):
            for step in (-1, 1):
                sl = list(inner)
                sl[ax] = slice(1 + step, lab.shape[ax] - 1 + step)
                nb_lab, nb_c, nb_idx = lab[tuple(sl)], cof[tuple(sl)], idx[tuple(sl)]
                w = 2.0 * c0 * nb_c / (c0 + nb_c) / self.spacing[ax] ** 2
                couple = fluid & (nb_lab != SOLID)
                diag += np.where(couple, w, 0.0)
                touches_air |= fluid & (nb_lab == AIR)
                off = fluid & (nb_lab == FLUID)
                rows.append(self.index[off])
                cols.append(nb_idx[off])
                vals.append(-w[off])
        rows.append(self.index[fluid])
        cols.append(self.index[fluid])
        vals.append(diag[fluid])
        mat = sp.coo_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(self.n, self.n),
        ).tocsr()
        mat.sort_indices()
        return mat, touches_air

    def _find_null_space(self, touches_air: np.ndarray) -> np.ndarray:
        structure = ndi.generate_binary_structure(self.dim, 1)
        comp, ncomp = ndi.label(self.labels == FLUID, structure=structure)
        vecs = []
        for c in range(1, ncomp + 1):
            cells = comp == c
            if not touches_air[cells].any():
                v = np.zeros(self.n)
                v[self.index[cells]] = 1.0 / np.sqrt(cells.sum())
                vecs.append(v)
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
        return self.matrix @ np.random.default_rng(seed).standard_normal(self.n)

    def rhs_divergence(self, seed: int = 0) -> np.ndarray:
        r"""A divergence-like right-hand side :math:`b = -\nabla\cdot u` of random face velocities.

        Faces touching a solid cell (or a solid exterior) carry :math:`u = 0`, so each pure
        Neumann component sums to zero up to rounding; the result is projected anyway.
        """
        rng = np.random.default_rng(seed)
        ext = AIR if self.exterior == "air" else SOLID
        lab = np.pad(self.labels, 1, constant_values=ext)
        div = np.zeros(lab.shape)
        for ax in range(self.dim):
            lo = [slice(None)] * self.dim
            hi = [slice(None)] * self.dim
            lo[ax], hi[ax] = slice(0, -1), slice(1, None)
            open_face = (lab[tuple(lo)] != SOLID) & (lab[tuple(hi)] != SOLID)
            u = rng.standard_normal(open_face.shape) * open_face / self.spacing[ax]
            div[tuple(hi)] += u
            div[tuple(lo)] -= u
        inner = tuple(slice(1, -1) for _ in range(self.dim))
        return self.project(-self.from_grid(div[inner]))

    # ------------------------------------------------------------------ PETSc
    def petsc_aij(self, comm: Any = None) -> Any:
        """The matrix as a PETSc AIJ ``Mat`` (each rank sets its rows), with null space attached."""
        from .petsc_views import aij_matrix

        return aij_matrix(self.matrix, self._null, comm)

    def petsc_dmda(self, comm: Any = None) -> tuple[Any, Any]:
        """A DMDA over the whole grid and its AIJ matrix (non-fluid cells: identity rows).

        Returns ``(da, mat)``, each rank having assembled only its own rows (with the null
        space attached when the problem is singular); grid vectors in natural (C) order map
        to the DMDA's global vectors through ``da.getAO()``. For the right-hand sides as
        global vectors and the natural/global conversions use :func:`pde.dmda_poisson`,
        which this calls (see :func:`pde.petsc_views.dmda_matrix`).
        """
        from .petsc_views import dmda_matrix

        return dmda_matrix(self, comm)

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
    """
    labels = make_geometry(geometry, shape, dim, seed=seed)
    if exterior is None:
        exterior = "solid" if geometry == "plume" else "air"
    return PoissonProblem(labels, exterior=exterior, coeff=coeff, spacing=spacing)


def dirichlet_box(shape: Sequence[int] | int, dim: int | None = None) -> PoissonProblem:
    """The plain Dirichlet box: all cells fluid, ``p = 0`` outside (the 5/7-point matrix)."""
    return poisson_problem("box", shape, dim, exterior="air")
