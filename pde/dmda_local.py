"""The box-local pieces of the distributed Poisson system (pure NumPy, testable serially).

The rows of a box of cells, the Neumann components, and the seeded right-hand sides of
:class:`~pde.poisson.PoissonProblem` restricted to a box.

A rank of a distributed run owns a box of cells. To reproduce the serial right-hand sides
bit for bit it must read the same pseudo-random stream, in the same order, as the serial
code; it does so in slabs (a few MB at a time) and keeps only the values of its box, so the
memory is that of the box, the time that of the whole stream (see Notes of
:func:`local_divergence`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.ndimage as ndi

from .geometry import AIR, FLUID, SOLID

__all__ = [
    "local_divergence",
    "local_normals",
    "local_rows",
    "neumann_components",
    "padded_window",
]

#: Target number of values drawn per slab.
_SLAB = 1 << 20


def padded_window(
    array: np.ndarray, starts: Sequence[int], stops: Sequence[int], fill: float | None
) -> np.ndarray:
    """``array`` padded by one cell on every side, read over ``[starts, stops)`` (padded indices).

    Padded index ``q`` is array index ``q - 1``; cells outside the array read ``fill``, or
    the nearest array cell when ``fill`` is None (NumPy's ``mode='edge'``). Only the window
    is materialised.
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


def _stream(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    window: tuple[slice, ...],
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


def local_normals(seed: int, fluid: np.ndarray, box: tuple[slice, ...]) -> np.ndarray:
    """The box of :meth:`PoissonProblem.rhs_random`'s :math:`x` on the grid (0 off fluid).

    ``x = default_rng(seed).standard_normal(n)`` in the C order of the ``fluid`` cells;
    the serial right-hand side is :math:`b = A x`.
    """
    rng = np.random.default_rng(seed)
    return _stream(rng, fluid.shape, box, mask=fluid, consume_all=False)


def local_divergence(
    labels: np.ndarray,
    exterior: int,
    spacing: Sequence[float],
    seed: int,
    box: tuple[slice, ...],
) -> np.ndarray:
    r"""The box of :meth:`PoissonProblem.rhs_divergence` before projection (0 off fluid).

    Parameters
    ----------
    labels : numpy.ndarray of int8
        The whole grid's labels.
    exterior : int
        The label outside the grid (:data:`~pde.geometry.SOLID` or :data:`~pde.geometry.AIR`).
    spacing : sequence of float
        Cell sizes :math:`h_a`.
    seed : int
        Seed of the face velocities.
    box : tuple of slice
        The cells wanted (numpy axes, unpadded indices, step 1).

    Notes
    -----
    On the grid padded by one exterior layer, axis :math:`a` has faces :math:`f` between
    padded cells :math:`f` and :math:`f+1`, velocities :math:`u_f = \xi_f [\text{open}_f]/h_a`
    with :math:`\xi` drawn axis by axis in C order, and a face is open when neither side is
    solid. Cell :math:`p` receives :math:`\mathrm{div}_p = \sum_a (u_{p-1} - u_p)` (summed in
    the serial order, so the result is bit-identical) and :math:`b_p = -\mathrm{div}_p`.
    Every rank draws the whole stream (:math:`O(N)` time, :math:`O(\text{slab} + \text{box})`
    memory): exact reproduction of a serial pseudo-random stream cannot be split further,
    since normal draws consume a variable number of raw bits.
    """
    rng = np.random.default_rng(seed)
    dim = labels.ndim
    padded = tuple(n + 2 for n in labels.shape)
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
        lab = padded_window(labels, starts, stops, fill=exterior)
        lo = [slice(None)] * dim
        hi = [slice(None)] * dim
        lo[ax], hi[ax] = slice(0, -1), slice(1, None)
        open_face = (lab[tuple(lo)] != SOLID) & (lab[tuple(hi)] != SOLID)
        u = _stream(rng, face_shape, window, consume_all=ax < dim - 1) * open_face / spacing[ax]
        div += u[tuple(lo)]
        div -= u[tuple(hi)]
    fluid = labels[box] == FLUID
    return np.where(fluid, -div, 0.0)


def local_rows(
    labels: np.ndarray,
    coeff: np.ndarray | None,
    spacing: tuple[float, ...],
    ext: int,
    box: tuple[slice, ...],
    gidx: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The rows of the cells of ``box`` as CSR: local row pointers, global columns (sorted).

    Parameters
    ----------
    labels : numpy.ndarray of int8
        The whole grid's labels (only the box grown by one layer is read).
    coeff : numpy.ndarray or None
        Cell coefficients of the grid shape (edge-padded, as the serial code), or None for 1.
    spacing : tuple of float
        Cell sizes :math:`h_a`.
    ext : int
        The label outside the grid.
    box : tuple of slice
        The rows wanted (NumPy axes); rows come in the box's C order.
    gidx : numpy.ndarray of int64
        Column index of each cell of the box grown by one layer (any numbering; -1 where
        there is no cell).

    Notes
    -----
    Row of a fluid cell :math:`i`: :math:`-w_{ij}` at each fluid face neighbour :math:`j`,
    :math:`\sum_{j \notin \mathrm{solid}} w_{ij}` on the diagonal, with
    :math:`w_{ij} = 2k_ik_j/(k_i+k_j)/h_a^2` evaluated and summed in the order of
    :class:`~pde.poisson.PoissonProblem` (so the entries agree bit for bit); row of a solid
    or air cell: 1 on the diagonal.
    """
    dim = labels.ndim
    starts, stops = [s.start for s in box], [s.stop + 2 for s in box]
    lab = padded_window(labels, starts, stops, fill=ext)
    cof = np.ones(lab.shape) if coeff is None else padded_window(coeff, starts, stops, fill=None)
    inner = (slice(1, -1),) * dim
    fluid = lab[inner] == FLUID
    c0 = cof[inner]
    big = np.iinfo(np.int64).max
    ncell = fluid.size
    cols = np.full((ncell, 2 * dim + 1), big, dtype=np.int64)
    vals = np.zeros((ncell, 2 * dim + 1))
    diag = np.zeros(fluid.shape)
    k = 0
    for ax in range(dim):
        for step in (-1, 1):
            sl = list(inner)
            sl[ax] = slice(1 + step, lab.shape[ax] - 1 + step)
            nb_lab, nb_c, nb_g = lab[tuple(sl)], cof[tuple(sl)], gidx[tuple(sl)]
            w = 2.0 * c0 * nb_c / (c0 + nb_c) / spacing[ax] ** 2
            diag += np.where(fluid & (nb_lab != SOLID), w, 0.0)
            off = (fluid & (nb_lab == FLUID)).ravel()
            cols[off, k] = nb_g.ravel()[off]
            vals[off, k] = -w.ravel()[off]
            k += 1
    cols[:, k] = gidx[inner].ravel()
    vals[:, k] = np.where(fluid, diag, 1.0).ravel()
    order = np.argsort(cols, axis=1, kind="stable")
    cols = np.take_along_axis(cols, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    valid = cols != big
    indptr = np.concatenate([[0], np.cumsum(valid.sum(axis=1))])
    return indptr, cols[valid], vals[valid]


def neumann_components(labels: np.ndarray, ext: int) -> tuple[np.ndarray, list[int], np.ndarray]:
    """Face-connected fluid components of the whole grid, those touching no air, their sizes.

    Returns ``(comp, neumann, sizes)``: ``scipy.ndimage.label``'s int32 component array,
    the labels of the components with no air neighbour (the exterior counts as ``ext``) in
    increasing order, and the cell count per label.
    """
    dim = labels.ndim
    fluid = labels == FLUID
    comp, ncomp = ndi.label(fluid, structure=ndi.generate_binary_structure(dim, 1))
    lab = np.pad(labels, 1, constant_values=ext)
    near_air = np.zeros(labels.shape, dtype=bool)
    for ax in range(dim):
        for step in (-1, 1):
            sl = [slice(1, -1)] * dim
            sl[ax] = slice(1 + step, lab.shape[ax] - 1 + step)
            near_air |= lab[tuple(sl)] == AIR
    touches = np.zeros(ncomp + 1, dtype=bool)
    touches[comp[fluid & near_air]] = True
    sizes = np.bincount(comp.ravel(), minlength=ncomp + 1)
    return comp, [c for c in range(1, ncomp + 1) if not touches[c]], sizes
