"""NumPy grids and PETSc DMDA vectors: owned boxes, global indices, halo windows.

A DMDA made with ``sizes = reversed(grid.shape)`` (as :mod:`pde` builds them) has NumPy's C
order as its natural ordering. These helpers translate between that picture and PETSc's
distributed (global) ordering without an application ordering (``AO``), so that a rank
needs only the ownership ranges, not an :math:`O(N)` permutation.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from sciconv.validation import check_positive_int, describe

__all__ = [
    "dmda_layout",
    "global_index",
    "local_threads",
    "owned_box",
    "window",
    "window_bounds",
]


def dmda_layout(da: Any) -> tuple[tuple[int, ...], tuple[np.ndarray, ...]]:
    """The grid shape and the ownership block sizes per axis, both in NumPy axis order.

    Examples
    --------
    A DMDA of PETSc sizes ``(5, 4)`` is a NumPy grid of shape ``(4, 5)``; on one rank each
    axis is one block:

    >>> from solvers.petsc import petsc_module
    >>> PETSc = petsc_module()
    >>> da = PETSc.DMDA().create(sizes=(5, 4), stencil_width=1, comm=PETSc.COMM_SELF)
    >>> dmda_layout(da)
    ((4, 5), (array([4]), array([5])))
    >>> _ = da.destroy()
    """
    shape = tuple(int(n) for n in reversed(da.getSizes()))
    blocks = tuple(np.asarray(r, dtype=np.int64) for r in reversed(da.getOwnershipRanges()))
    return shape, blocks


def owned_box(da: Any) -> tuple[slice, ...]:
    """This rank's cells as slices of the grid (NumPy axes).

    Examples
    --------
    >>> from solvers.petsc import petsc_module
    >>> PETSc = petsc_module()
    >>> da = PETSc.DMDA().create(sizes=(5, 4), stencil_width=1, comm=PETSc.COMM_SELF)
    >>> box = owned_box(da)
    >>> box
    (slice(0, 4, None), slice(0, 5, None))
    >>> np.zeros((4, 5))[box].size == da.createGlobalVec().getLocalSize()
    True
    >>> _ = da.destroy()
    """
    starts, sizes = da.getCorners()
    return tuple(slice(s, s + m) for s, m in zip(reversed(starts), reversed(sizes)))


def global_index(blocks: tuple[np.ndarray, ...], coords: tuple[np.ndarray, ...]) -> np.ndarray:
    r"""PETSc global index of the cells at ``coords`` (NumPy axes) of a DMDA.

    Parameters
    ----------
    blocks : tuple of 1-D int arrays
        Ownership block sizes per NumPy axis (:func:`dmda_layout`).
    coords : tuple of int arrays
        One array of cell coordinates per axis (broadcast together).

    Returns
    -------
    numpy.ndarray of int64, the broadcast shape of ``coords``.

    Notes
    -----
    A DMDA splits axis :math:`a` into blocks :math:`b_{a,0}, b_{a,1}, \dots` and numbers its
    ranks with PETSc's first axis (NumPy's last) fastest, i.e. the rank of block
    :math:`(p_0, \dots, p_{d-1})` is its C-order index in the process grid. Rank
    :math:`\rho` owns the cells of its box numbered consecutively in C order after the
    :math:`\sum_{\rho' < \rho} |\mathrm{box}_{\rho'}|` cells of the ranks before it:

    .. math:: g(c) = \mathrm{off}_{\rho(c)} + \mathrm{ravel}_C\big(c - \mathrm{start}(c);\,
              \mathrm{box}(c)\big).

    Examples
    --------
    A 4 x 3 grid whose last axis is split over two ranks (columns 0-1 and column 2): rank 0
    numbers its 8 cells first, then rank 1 its 4.

    >>> blocks = (np.array([4]), np.array([2, 1]))
    >>> global_index(blocks, np.indices((4, 3)))
    array([[ 0,  1,  8],
           [ 2,  3,  9],
           [ 4,  5, 10],
           [ 6,  7, 11]])

    On one rank the global order is the natural (C) order:

    >>> bool((global_index((np.array([4]), np.array([3])), np.indices((4, 3))).ravel()
    ...       == np.arange(12)).all())
    True
    """
    coords = np.broadcast_arrays(*(np.asarray(c, dtype=np.int64) for c in coords))
    if len(coords) != len(blocks):
        raise ValueError(f"coords must have {len(blocks)} arrays, got {len(coords)}")
    edges = [np.concatenate([[0], np.cumsum(b)]) for b in blocks]
    for a, (c, e) in enumerate(zip(coords, edges)):
        if c.size and (c.min() < 0 or c.max() >= e[-1]):
            raise ValueError(f"coords[{a}] must lie in [0, {e[-1]}), got {describe(c)}")
    which = [np.searchsorted(e, c, side="right") - 1 for e, c in zip(edges, coords)]
    rank = np.ravel_multi_index(which, [len(b) for b in blocks])
    sizes = np.prod(np.meshgrid(*blocks, indexing="ij"), axis=0).ravel()
    out = np.concatenate([[0], np.cumsum(sizes)])[rank]
    local = np.zeros_like(out)
    for b, e, c, p in zip(blocks, edges, coords, which):
        local = local * b[p] + (c - e[p])
    return out + local


def window_bounds(
    box: tuple[slice, ...], halo: int, shape: tuple[int, ...], border: int = 1
) -> tuple[tuple[int, int], ...]:
    r"""Per axis ``(lo, hi)`` of ``box`` grown by ``halo`` cells, within the bordered grid.

    The bordered grid is the grid with ``border`` layers of exterior cells around it (1: the
    one layer the network sees in the serial map; 0: none). A window that reaches the edge
    of the grid takes the border too (it says what lies outside, as in the serial input), so
    a halo at least as wide as the grid gives the whole bordered grid, exactly the serial
    network's input: ``lo = start - halo`` if that is positive, else ``-border``, and
    likewise ``hi = stop + halo`` if below ``n``, else ``n + border``.

    Examples
    --------
    Rows 2-3 and columns 0-2 of a 6 x 6 grid, grown by one cell: the window reaches the left
    edge, so it takes the exterior column ``-1`` too.

    >>> window_bounds((slice(2, 4), slice(0, 3)), 1, (6, 6))
    ((1, 5), (-1, 4))
    >>> window_bounds((slice(2, 4), slice(0, 3)), 10, (6, 6))  # the whole bordered grid
    ((-1, 7), (-1, 7))
    """
    halo = check_positive_int("halo", halo, 0)
    border = check_positive_int("border", border, 0)
    return tuple(
        (
            s.start - halo if s.start - halo > 0 else -border,
            s.stop + halo if s.stop + halo < n else n + border,
        )
        for s, n in zip(box, shape)
    )


def window(array: np.ndarray, bounds: tuple[tuple[int, int], ...], fill: Any) -> np.ndarray:
    """``array[lo:hi]`` per axis, with ``fill`` where the window leaves the array.

    Examples
    --------
    >>> window(np.arange(9).reshape(3, 3), ((-1, 2), (1, 4)), fill=-1)
    array([[-1, -1, -1],
           [ 1,  2, -1],
           [ 4,  5, -1]])
    """
    array = np.asarray(array)
    out = np.full(tuple(hi - lo for lo, hi in bounds), fill, dtype=array.dtype)
    src = tuple(slice(max(lo, 0), min(hi, n)) for (lo, hi), n in zip(bounds, array.shape))
    dst = tuple(slice(s.start - lo, s.stop - lo) for s, (lo, _) in zip(src, bounds))
    out[dst] = array[src]
    return out


def local_threads(comm: Any, threads: int = 0) -> int:
    """Torch threads for this rank: ``threads`` if positive, else cores per rank on the node.

    The automatic count is ``max(1, os.cpu_count() // ranks_on_this_node)`` (ranks sharing
    the node found with an MPI shared-memory split), so P ranks on one node do not each
    start a thread per core.

    Examples
    --------
    >>> import os
    >>> from solvers.petsc import petsc_module
    >>> comm = petsc_module().COMM_SELF
    >>> local_threads(comm, 3)
    3
    >>> local_threads(comm) == max(1, os.cpu_count() or 1)  # COMM_SELF: a node of one rank
    True
    """
    threads = check_positive_int("threads", threads, 0)
    if threads:
        return threads
    mpi = comm.tompi4py()
    from mpi4py import MPI

    node = mpi.Split_type(MPI.COMM_TYPE_SHARED)
    local = node.Get_size()
    node.Free()
    return max(1, (os.cpu_count() or 1) // local)
