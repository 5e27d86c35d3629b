"""The finite-volume pressure-Poisson stencil of a labelled grid, for any box of its cells.

One implementation of the discretisation, read two ways:

* :class:`~pde.poisson.PoissonProblem` takes the box that covers the whole grid, keeps the
  fluid rows and numbers the columns by fluid cell (a CSR matrix of the unknowns);
* :func:`~pde.dmda.dmda_poisson` takes each rank's box, keeps every row (identity rows off
  the fluid) and numbers the columns by the DMDA's global index.

Here are the argument checks (:func:`check_grid`), the matrix rows (:func:`stencil_rows`), the
pure-Neumann components that span the null space (:func:`neumann_components`) and the seeded
right-hand sides (:func:`divergence`, :func:`normals`). A box reads only itself plus one ghost
layer of the grid, except for the component labelling and the pseudo-random streams, which
are whole-grid by nature (see the Notes of :func:`divergence`).

References
----------
Harlow and Welch, "Numerical Calculation of Time-Dependent Viscous Incompressible Flow of Fluid
with Free Surface", Physics of Fluids 8(12), 2182-2189, 1965 (cell-centred pressures on the
staggered MAC grid, a free surface where the pressure is fixed).

Bridson, "Fluid Simulation for Computer Graphics", 2nd ed., CRC Press, 2015, ch. 5 "Making
Fluids Incompressible" (the pressure-projection matrix of fluid / solid / air cells: solid
faces drop out (Neumann), air neighbours keep their diagonal term with zero pressure
(Dirichlet)).

Patankar, "Numerical Heat Transfer and Fluid Flow", Hemisphere, 1980 (the harmonic mean of
the cell coefficients on a face of a variable-coefficient finite-volume Laplacian).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.ndimage as ndi

from sciconv.validation import check_finite, describe

from .geometry import AIR, EXTERIORS, FLUID, SOLID

__all__ = [
    "COEFF_RANGE",
    "WEIGHT_RANGE",
    "Box",
    "Grid",
    "NeumannComponents",
    "check_box",
    "check_grid",
    "divergence",
    "neumann_components",
    "normals",
    "padded_window",
    "stencil_rows",
]

#: A box of cells: one ``slice(start, stop)`` per NumPy axis (step 1, inside the grid).
Box = tuple[slice, ...]

#: Target number of values drawn per slab of a pseudo-random stream.
_SLAB = 1 << 20


@dataclass(frozen=True, eq=False)
class Grid:
    """A checked labelled grid: what the stencil needs (build it with :func:`check_grid`).

    Attributes
    ----------
    labels : numpy.ndarray of int8
        FLUID / SOLID / AIR per cell, at least one FLUID.
    exterior : str
        ``'solid'`` or ``'air'``: what lies outside the grid.
    coeff : numpy.ndarray or None
        Positive finite cell coefficients of the grid's shape (possibly a read-only broadcast
        view), or None for 1 everywhere.
    spacing : tuple of float
        Positive cell size per NumPy axis.

    Examples
    --------
    >>> g = check_grid(np.zeros((3, 4), dtype=int), exterior="air", spacing=0.5)
    >>> g.shape, g.exterior, g.exterior_label, g.spacing
    ((3, 4), 'air', 2, (0.5, 0.5))
    """

    labels: np.ndarray
    exterior: str
    coeff: np.ndarray | None
    spacing: tuple[float, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        """The grid shape (NumPy axes)."""
        return tuple(self.labels.shape)

    @property
    def dim(self) -> int:
        """2 or 3."""
        return self.labels.ndim

    @property
    def exterior_label(self) -> int:
        """The exterior as a label code (:data:`~pde.geometry.AIR` or ``SOLID``)."""
        return EXTERIORS[self.exterior]

    @property
    def fluid(self) -> np.ndarray:
        """Boolean mask of the FLUID cells (the unknowns)."""
        return self.labels == FLUID


def _exterior_name(exterior: Any) -> str:
    if isinstance(exterior, str):
        if exterior in EXTERIORS:
            return exterior
    elif isinstance(exterior, (int, np.integer)) and not isinstance(exterior, bool):
        for name, code in EXTERIORS.items():
            if int(exterior) == code:
                return name
    else:
        raise TypeError(
            f"exterior must be 'air' or 'solid' (or the label AIR={AIR} / SOLID={SOLID}), "
            f"got {describe(exterior)}"
        )
    raise ValueError(
        f"exterior must be 'air' or 'solid' (or the label AIR={AIR} / SOLID={SOLID}), "
        f"got {exterior!r}"
    )


#: Accepted cell coefficients: the product 2 k_i k_j of a face weight stays a normal float.
COEFF_RANGE = (1e-150, 1e150)
#: Accepted face weights k / h^2 (a row sums 2 dim of them): finite, and no row underflows to 0.
WEIGHT_RANGE = (1e-300, 1e300)


def check_grid(
    labels: Any,
    exterior: Any = "solid",
    coeff: Any = None,
    spacing: float | Sequence[float] = 1.0,
) -> Grid:
    """Check the arguments of a Poisson problem; the one validation of :mod:`pde`'s Poisson code.

    Parameters
    ----------
    labels : array_like of int, shape (n0, n1) or (n0, n1, n2)
        :data:`~pde.geometry.FLUID`, :data:`~pde.geometry.SOLID` or :data:`~pde.geometry.AIR`
        per cell, with at least one FLUID cell.
    exterior : {'solid', 'air'} or {SOLID, AIR}
        What lies outside the grid, by name or by label code.
    coeff : array_like, optional
        Positive finite cell coefficients, broadcast to the grid shape (not copied); None: 1.
    spacing : float or sequence of float
        Positive cell size (per NumPy axis).

    Returns
    -------
    Grid
        Labels as int8 (no copy when they already are), the exterior's name, the coefficients
        (a broadcast view, or None) and the spacing as a tuple of ``dim`` floats.

    Raises
    ------
    ValueError
        Labels not a 2D/3D integer array, holding other codes or no FLUID cell; an unknown
        exterior; a non-positive or non-finite coefficient or spacing; a coefficient outside
        :data:`COEFF_RANGE` or face weights :math:`k/h^2` outside :data:`WEIGHT_RANGE` (they
        would overflow to infinity or underflow to zero rows).
    TypeError
        An exterior that is neither a string nor an integer.

    Examples
    --------
    >>> g = check_grid([[0, 1], [0, 2]], exterior=SOLID, coeff=2.0, spacing=(1, 0.5))
    >>> g.labels.dtype, g.exterior, g.coeff.shape, g.spacing
    (dtype('int8'), 'solid', (2, 2), (1.0, 0.5))
    >>> check_grid([[1, 1], [1, 2]])
    Traceback (most recent call last):
    ...
    ValueError: labels has no FLUID cell: the system would be empty
    """
    lab = np.asarray(labels)
    if lab.ndim not in (2, 3) or lab.dtype.kind not in "iu":
        raise ValueError(f"labels must be a 2D or 3D integer array, got {describe(lab)}")
    if not np.isin(lab, (FLUID, SOLID, AIR)).all():
        raise ValueError(f"labels must hold only FLUID={FLUID}, SOLID={SOLID}, AIR={AIR}")
    if not (lab == FLUID).any():
        raise ValueError("labels has no FLUID cell: the system would be empty")
    name = _exterior_name(exterior)
    kmin = kmax = 1.0
    if coeff is not None:
        arr = np.asarray(coeff, dtype=float)
        try:
            coeff = np.broadcast_to(arr, lab.shape)
        except ValueError:
            raise ValueError(
                f"coeff must be a number or an array broadcastable to the grid shape "
                f"{lab.shape}, got {describe(arr)}"
            ) from None
        check_finite("coeff", coeff)
        if (coeff <= 0).any():
            raise ValueError(f"coeff must be positive, got min {coeff.min():g}")
        kmin, kmax = float(coeff.min()), float(coeff.max())
        if kmin < COEFF_RANGE[0] or kmax > COEFF_RANGE[1]:
            raise ValueError(
                f"coeff must lie in [{COEFF_RANGE[0]:g}, {COEFF_RANGE[1]:g}] (the face weight "
                "2 k_i k_j / (k_i + k_j) would overflow or underflow), got min "
                f"{kmin:g} and max {kmax:g}"
            )
    try:
        h = np.broadcast_to(np.asarray(spacing, dtype=float), (lab.ndim,))
    except (ValueError, TypeError):
        raise ValueError(
            f"spacing must be a positive number or {lab.ndim} of them, got {describe(spacing)}"
        ) from None
    if not np.all(np.isfinite(h) & (h > 0)):
        raise ValueError(f"spacing must be positive, got {spacing!r}")
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        wmax, wmin = float(kmax / h.min() ** 2), float(kmin / h.max() ** 2)
    if not (WEIGHT_RANGE[0] <= wmin and wmax <= WEIGHT_RANGE[1]):
        raise ValueError(
            f"spacing {spacing!r} with coeff in [{kmin:g}, {kmax:g}] gives face weights "
            f"k / h^2 in [{wmin:g}, {wmax:g}], outside [{WEIGHT_RANGE[0]:g}, "
            f"{WEIGHT_RANGE[1]:g}] (the matrix would hold infinities or zero rows)"
        )
    return Grid(lab.astype(np.int8, copy=False), name, coeff, tuple(float(v) for v in h))


def check_box(box: Any, shape: Sequence[int]) -> Box:
    """``box`` as a tuple of ``slice(start, stop)`` with ``0 <= start < stop <= n`` per axis.

    None means the box that covers the whole grid.

    Examples
    --------
    >>> check_box(None, (3, 4))
    (slice(0, 3, None), slice(0, 4, None))
    >>> check_box((slice(1, 3), slice(0, 9)), (3, 4))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: box must be one slice(start, stop) per axis ... got (slice(1, 3, None), ...)
    """
    if box is None:
        return tuple(slice(0, int(n)) for n in shape)
    ok = isinstance(box, tuple) and len(box) == len(shape)
    if ok:
        for s, n in zip(box, shape):
            ok = ok and (
                isinstance(s, slice)
                and s.step in (None, 1)
                and isinstance(s.start, (int, np.integer))
                and isinstance(s.stop, (int, np.integer))
                and 0 <= s.start < s.stop <= n
            )
    if not ok:
        raise ValueError(
            "box must be one slice(start, stop) per axis with 0 <= start < stop <= n (step 1) "
            f"for shape {tuple(shape)}, got {box!r}"
        )
    return tuple(slice(int(s.start), int(s.stop)) for s in box)


def _check_grid_arg(grid: Any) -> Grid:
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a Grid (from check_grid), got {describe(grid)}")
    return grid


def padded_window(
    array: np.ndarray, starts: Sequence[int], stops: Sequence[int], fill: float | None
) -> np.ndarray:
    """``array`` padded by one cell on every side, read over ``[starts, stops)`` (padded indices).

    Parameters
    ----------
    array : numpy.ndarray
        Any array.
    starts, stops : sequence of int
        The window per axis, in padded indices (padded index ``q`` is array index ``q - 1``).
    fill : float or None
        Value of the cells outside ``array``; None reads the nearest array cell (NumPy's
        ``mode='edge'``).

    Returns
    -------
    numpy.ndarray
        ``np.pad(array, 1, ...)[starts:stops]``, with only the window materialised.

    Examples
    --------
    >>> padded_window(np.arange(4).reshape(2, 2), (0, 1), (2, 4), fill=-1)
    array([[-1, -1, -1],
           [ 0,  1, -1]])
    """
    index = [np.clip(np.arange(a, b) - 1, 0, n - 1) for a, b, n in zip(starts, stops, array.shape)]
    out = array[np.ix_(*index)]
    if fill is not None:
        out = out.copy()
        for ax, (a, b, n) in enumerate(zip(starts, stops, array.shape)):
            q = np.arange(a, b)
            outside = (q < 1) | (q > n)
            sel = [slice(None)] * array.ndim
            sel[ax] = outside
            out[tuple(sel)] = fill
    return out


def stencil_rows(
    grid: Grid, box: Box | None, columns: np.ndarray, *, identity_rows: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The matrix rows of the cells of ``box`` as CSR: row pointers, columns (sorted), values.

    Parameters
    ----------
    grid : Grid
        The checked grid (:func:`check_grid`); only the box grown by one layer is read.
    box : tuple of slice or None
        The rows wanted (NumPy axes), in the box's C order; None: the whole grid.
    columns : numpy.ndarray of int
        Column index of each cell of the box grown by one layer (shape ``box + 2`` per axis;
        any numbering, e.g. fluid-cell numbers or a DMDA's global indices). Entries outside
        the grid and, with ``identity_rows=False``, on non-fluid cells are never read.
    identity_rows : bool
        True: one row per cell of the box, 1 on the diagonal of solid and air cells (the
        DMDA layout). False: rows of the fluid cells only (the unknowns).

    Returns
    -------
    indptr : numpy.ndarray of int64
        Row pointers (``rows + 1`` entries).
    indices : numpy.ndarray of int64
        Column indices, increasing within each row.
    data : numpy.ndarray of float64
        The entries.

    Notes
    -----
    The matrix is the negated finite-volume Laplacian :math:`-\nabla\cdot(k\nabla p)`. The
    face between a fluid cell :math:`i` and its neighbour :math:`j` along axis :math:`a`
    carries

    .. math:: w_{ij} = \frac{2 k_i k_j}{k_i + k_j} \frac{1}{h_a^2}

    (the harmonic mean of the coefficients; the cell's own :math:`k` on the grid border,
    where the neighbour is the exterior). The row of :math:`i` is

    .. math:: A_{ii} = \sum_{j \notin \mathrm{solid}} w_{ij}, \qquad
              A_{ij} = -w_{ij} \ (j\ \mathrm{fluid}),

    so a solid neighbour adds nothing (Neumann) and an air neighbour only its diagonal term
    (Dirichlet, :math:`p_j = 0`). The diagonal is summed over axes :math:`0, 1, \dots` and
    within an axis over the lower then the upper neighbour, for every box alike, so any
    tiling of the grid gives the whole-grid rows bit for bit.

    Examples
    --------
    A fluid row between solid rows, open to the air at both ends, columns numbered in the
    grid's C order:

    >>> g = check_grid([[1, 1, 1], [0, 0, 0], [1, 1, 1]], exterior="air")
    >>> cols = np.pad(np.arange(9).reshape(3, 3), 1, constant_values=-1)[1:4]
    >>> indptr, indices, data = stencil_rows(g, (slice(1, 2), slice(0, 3)), cols)
    >>> indptr.tolist(), indices.tolist(), data.tolist()
    ([0, 2, 5, 7], [3, 4, 3, 4, 5, 4, 5], [2.0, -1.0, -1.0, 2.0, -1.0, -1.0, 2.0])
    """
    grid = _check_grid_arg(grid)
    box = check_box(box, grid.shape)
    grown = tuple(s.stop - s.start + 2 for s in box)
    columns = np.asarray(columns)
    if columns.shape != grown or columns.dtype.kind not in "iu":
        raise ValueError(
            f"columns must be an integer array of shape {grown} (the box grown by one layer), "
            f"got {describe(columns)}"
        )
    dim, spacing = grid.dim, grid.spacing
    starts, stops = [s.start for s in box], [s.stop + 2 for s in box]
    lab = padded_window(grid.labels, starts, stops, fill=grid.exterior_label)
    cof = (
        np.ones(lab.shape)
        if grid.coeff is None
        else padded_window(grid.coeff, starts, stops, fill=None)
    )
    inner = (slice(1, -1),) * dim
    fluid = lab[inner] == FLUID
    c0 = cof[inner]
    big = np.iinfo(np.int64).max
    cols = np.full((fluid.size, 2 * dim + 1), big, dtype=np.int64)
    vals = np.zeros((fluid.size, 2 * dim + 1))
    diag = np.zeros(fluid.shape)
    k = 0
    for ax in range(dim):
        for step in (-1, 1):
            sl = list(inner)
            sl[ax] = slice(1 + step, lab.shape[ax] - 1 + step)
            nb_lab, nb_c, nb_col = lab[tuple(sl)], cof[tuple(sl)], columns[tuple(sl)]
            w = 2.0 * c0 * nb_c / (c0 + nb_c) / spacing[ax] ** 2
            diag += np.where(fluid & (nb_lab != SOLID), w, 0.0)
            off = (fluid & (nb_lab == FLUID)).ravel()
            cols[off, k] = nb_col.ravel()[off]
            vals[off, k] = -w.ravel()[off]
            k += 1
    cols[:, k] = columns[inner].ravel()
    vals[:, k] = np.where(fluid, diag, 1.0).ravel()
    if not identity_rows:
        keep = fluid.ravel()
        cols, vals = cols[keep], vals[keep]
    order = np.argsort(cols, axis=1, kind="stable")
    cols = np.take_along_axis(cols, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    valid = cols != big
    indptr = np.concatenate([[0], np.cumsum(valid.sum(axis=1))]).astype(np.int64)
    return indptr, cols[valid], vals[valid]


@dataclass(frozen=True, eq=False)
class NeumannComponents:
    """The pure-Neumann fluid components of a grid (build it with :func:`neumann_components`).

    Attributes
    ----------
    comp : numpy.ndarray of int32
        ``scipy.ndimage.label``'s face-connected component of each cell (0 off the fluid).
    ids : tuple of int
        The components that touch no air (the exterior counting as its label), increasing.
    sizes : numpy.ndarray of int
        Cell count per component label (index 0: the non-fluid cells).

    Examples
    --------
    >>> lab = np.array([[0, 1, 0], [0, 1, 0]])
    >>> nc = neumann_components(check_grid(lab, exterior="solid"))
    >>> nc.ids, [v.round(4).tolist() for v in nc.indicators(lab == 0)]
    ((1, 2), [[0.7071, 0.0, 0.7071, 0.0], [0.0, 0.7071, 0.0, 0.7071]])
    """

    comp: np.ndarray
    ids: tuple[int, ...]
    sizes: np.ndarray

    def indicators(self, where: Any = None) -> list[np.ndarray]:
        r"""The normalised indicator of each component in :attr:`ids`, read at ``where``.

        ``where`` is any NumPy index of the grid: a box (tuple of slices) gives box-shaped
        arrays, the fluid mask gives vectors in the C order of the unknowns, None the grid.
        The indicator of component :math:`c` is :math:`[\,\mathrm{comp} = c\,]/\sqrt{|c|}`.
        """
        part = self.comp if where is None else self.comp[where]
        return [(part == c) / np.sqrt(self.sizes[c]) for c in self.ids]


def neumann_components(grid: Grid) -> NeumannComponents:
    r"""The fluid components of the whole grid that touch no air: the null space of the matrix.

    Parameters
    ----------
    grid : Grid
        The checked grid (:func:`check_grid`).

    Returns
    -------
    NeumannComponents

    Notes
    -----
    The matrix of :func:`stencil_rows` is symmetric and weakly diagonally dominant with
    non-positive off-diagonals, hence positive semidefinite, and block diagonal over the
    face-connected fluid components. A component with an air neighbour (inside the grid or
    the exterior, if ``'air'``) is irreducibly diagonally dominant, hence non-singular; one
    without is pure Neumann, with row sums 0 and null space spanned by its indicator vector.
    So the normalised indicators of :attr:`NeumannComponents.ids` are an orthonormal basis of
    :math:`\mathrm{null}(A)`. The labelling is of the whole grid (:math:`O(N)` on every rank).

    Examples
    --------
    >>> neumann_components(check_grid([[0, 0], [0, 2]], exterior="solid")).ids
    ()
    """
    grid = _check_grid_arg(grid)
    labels, dim = grid.labels, grid.dim
    fluid = grid.fluid
    comp, ncomp = ndi.label(fluid, structure=ndi.generate_binary_structure(dim, 1))
    lab = np.pad(labels, 1, constant_values=grid.exterior_label)
    near_air = np.zeros(labels.shape, dtype=bool)
    for ax in range(dim):
        for step in (-1, 1):
            sl = [slice(1, -1)] * dim
            sl[ax] = slice(1 + step, lab.shape[ax] - 1 + step)
            near_air |= lab[tuple(sl)] == AIR
    touches = np.zeros(ncomp + 1, dtype=bool)
    touches[comp[fluid & near_air]] = True
    sizes = np.bincount(comp.ravel(), minlength=ncomp + 1)
    ids = tuple(c for c in range(1, ncomp + 1) if not touches[c])
    return NeumannComponents(comp, ids, sizes)


def _stream(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    window: Box,
    mask: np.ndarray | None = None,
    consume_all: bool = True,
) -> np.ndarray:
    """The window of ``rng.standard_normal(shape)`` (or of its values scattered to ``mask``).

    With ``mask``, ``rng.standard_normal(mask.sum())`` is drawn and scattered to the True
    cells of ``mask`` in C order (zeros elsewhere). Draws run in slabs along axis 0; the
    stream is identical to one big draw (NumPy's ``Generator`` keeps no cached normals).
    ``consume_all=False`` stops after the window (the generator is then left mid-stream).
    """
    row = int(np.prod(shape[1:], dtype=np.int64))
    step = max(1, _SLAB // max(row, 1))
    w0 = window[0]
    out = np.zeros(tuple(s.stop - s.start for s in window))
    stop = shape[0] if consume_all else w0.stop
    for s in range(0, stop, step):
        e = min(s + step, shape[0])
        if mask is None:
            slab = rng.standard_normal((e - s, *shape[1:]))
        else:
            m = mask[s:e]
            slab = np.zeros(m.shape)
            slab[m] = rng.standard_normal(int(np.count_nonzero(m)))
        lo, hi = max(s, w0.start), min(e, w0.stop)
        if lo < hi:
            out[lo - w0.start : hi - w0.start] = slab[(slice(lo - s, hi - s), *window[1:])]
    return out


def normals(grid: Grid, seed: int, box: Box | None = None) -> np.ndarray:
    """``default_rng(seed).standard_normal(n)`` scattered to the fluid cells, read over ``box``.

    The :math:`n` values are drawn in the C order of the fluid cells (the unknowns), so on
    the whole grid the fluid entries are exactly ``default_rng(seed).standard_normal(n)``;
    the other cells are 0. A box reads the stream up to its last row only.

    Examples
    --------
    >>> g = check_grid([[0, 1], [0, 0]])
    >>> x = np.random.default_rng(3).standard_normal(3)
    >>> bool(np.array_equal(normals(g, 3)[g.fluid], x))
    True
    """
    grid = _check_grid_arg(grid)
    box = check_box(box, grid.shape)
    rng = np.random.default_rng(seed)
    return _stream(rng, grid.shape, box, mask=grid.fluid, consume_all=False)


def divergence(grid: Grid, seed: int, box: Box | None = None) -> np.ndarray:
    r"""A divergence-like right-hand side :math:`b = -\nabla\cdot u` of random face velocities.

    Parameters
    ----------
    grid : Grid
        The checked grid (:func:`check_grid`).
    seed : int
        Seed of the face velocities (``numpy.random.default_rng``).
    box : tuple of slice or None
        The cells wanted (NumPy axes); None: the whole grid.

    Returns
    -------
    numpy.ndarray
        :math:`b` on the box, 0 off the fluid; not projected onto :math:`\mathrm{range}(A)`.

    Notes
    -----
    On the grid padded by one exterior layer, axis :math:`a` has faces :math:`f` between
    padded cells :math:`f` and :math:`f+1`, velocities :math:`u_f = \xi_f [\text{open}_f]/h_a`
    with :math:`\xi` drawn axis by axis, each axis one ``standard_normal`` array of its face
    grid in C order, and a face is open when neither side is solid. Cell :math:`p` receives
    :math:`\mathrm{div}_p = \sum_a (u_{p-1} - u_p)` (axis by axis, lower face first) and
    :math:`b_p = -\mathrm{div}_p`. Faces touching a solid carry :math:`u = 0`, so :math:`b`
    sums to zero over a pure-Neumann component up to rounding.

    A box draws the whole stream (:math:`O(N)` time, :math:`O(\text{slab} + \text{box})`
    memory) and keeps its faces: exact reproduction of a pseudo-random stream cannot be
    split further, since normal draws consume a variable number of raw bits. So every box
    of a tiling gives the whole-grid values bit for bit.

    Examples
    --------
    >>> g = check_grid(np.zeros((4, 5), dtype=int), exterior="solid")
    >>> b = divergence(g, 0)
    >>> bool(abs(b.sum()) < 1e-12)
    True
    >>> bool(np.array_equal(divergence(g, 0, (slice(1, 3), slice(2, 5))), b[1:3, 2:5]))
    True
    """
    grid = _check_grid_arg(grid)
    box = check_box(box, grid.shape)
    rng = np.random.default_rng(seed)
    dim = grid.dim
    padded = tuple(n + 2 for n in grid.shape)
    div = np.zeros(tuple(s.stop - s.start for s in box))
    for ax in range(dim):
        face_shape = tuple(n - 1 if a == ax else n for a, n in enumerate(padded))
        # faces f in [start, stop] along ax; padded cells [start+1, stop+1) along the others
        window = tuple(
            slice(s.start, s.stop + 1) if a == ax else slice(s.start + 1, s.stop + 1)
            for a, s in enumerate(box)
        )
        starts = [w.start for w in window]
        stops = [w.stop + 1 if a == ax else w.stop for a, w in enumerate(window)]
        lab = padded_window(grid.labels, starts, stops, fill=grid.exterior_label)
        lo = [slice(None)] * dim
        hi = [slice(None)] * dim
        lo[ax], hi[ax] = slice(0, -1), slice(1, None)
        open_face = (lab[tuple(lo)] != SOLID) & (lab[tuple(hi)] != SOLID)
        u = _stream(rng, face_shape, window, consume_all=ax < dim - 1)
        u = u * open_face / grid.spacing[ax]
        div += u[tuple(lo)]
        div -= u[tuple(hi)]
    fluid = grid.labels[box] == FLUID
    return np.where(fluid, -div, 0.0)
