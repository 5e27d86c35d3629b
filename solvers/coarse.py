"""A two-level coarse-grid correction: piecewise-constant aggregates of fixed grid blocks."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph
import scipy.sparse.linalg as spla

from sciconv.validation import as_int_tuple, check_choice, check_positive_int, describe

from .amg import pyamg_hierarchy

__all__ = [
    "CoarseCorrection",
    "aggregate_blocks",
    "block_aggregates",
    "check_aggregates",
    "nested_dissection",
    "piecewise_constant",
    "singular_pins",
    "smoothed_prolongation",
]


def block_aggregates(A: Any, fluid: Any, block: int | tuple[int, ...]) -> np.ndarray:
    r"""Aggregate of each unknown: a connected piece of the unknowns inside one grid block.

    Parameters
    ----------
    A : scipy sparse matrix, shape (n, n)
        Its off-diagonal pattern is the connectivity of the unknowns.
    fluid : array_like of bool, 2D or 3D
        The grid cells that are unknowns (``n`` of them, numbered in C order).
    block : int or tuple of int
        Block side(s) in cells: the grid is cut into ``block``-sized boxes.

    Returns
    -------
    numpy.ndarray of int, shape (n,)
        Aggregate numbers ``0..m-1``.

    Notes
    -----
    Two unknowns share an aggregate when they lie in the same block and are joined by a
    path of non-zero couplings inside it; fluid cells of a block split by an obstacle form
    separate aggregates, so each aggregate is connected and the coarse matrix inherits the
    fine matrix's component structure (a floating fluid pocket stays a floating coarse
    component).
    """
    mask = np.asarray(fluid, dtype=bool)
    if mask.ndim not in (2, 3):
        raise ValueError(f"fluid must be a 2D or 3D boolean grid, got {describe(mask)}")
    blk = as_int_tuple("block", block, mask.ndim)
    A = sp.csr_matrix(A)
    n = int(mask.sum())
    if A.shape != (n, n):
        raise ValueError(f"A has shape {A.shape} but fluid marks {n} unknowns")
    pos = np.nonzero(mask)
    nb = [-(-s // b) for s, b in zip(mask.shape, blk)]
    bid = np.ravel_multi_index(tuple(p // b for p, b in zip(pos, blk)), nb)
    # the couplings inside a block, kept in A's CSR order (no re-sorting)
    counts = np.diff(A.indptr)
    rows = np.repeat(np.arange(n), counts)
    keep = (bid[A.indices] == np.repeat(bid, counts)) & (A.indices != rows) & (A.data != 0)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows[keep], minlength=n), out=indptr[1:])
    graph = sp.csr_matrix((np.ones(int(indptr[-1])), A.indices[keep], indptr), shape=(n, n))
    _, agg = csgraph.connected_components(graph, directed=False)
    return agg.astype(np.int64)


def check_aggregates(aggregates: Any, n: int) -> np.ndarray:
    """``aggregates`` as int64, checked: ``n`` entries numbering every aggregate ``0..m-1``.

    Examples
    --------
    >>> check_aggregates([0, 0, 1], 3)
    array([0, 0, 1])
    """
    agg = np.asarray(aggregates)
    if agg.dtype.kind not in "iu" or agg.shape != (n,):
        raise ValueError(f"aggregates must be {n} integers, got {describe(aggregates)}")
    agg = agg.astype(np.int64)
    # bincount (O(n)) finds a missing number; a maximum >= n always leaves one out
    if n and (agg.min() < 0 or agg.max() >= n or not np.bincount(agg).all()):
        raise ValueError(
            "aggregates must number every aggregate 0..m-1 (no negative or missing numbers), "
            f"got values from {agg.min()} to {agg.max()} with {np.unique(agg).size} distinct"
        )
    return agg


def piecewise_constant(aggregates: np.ndarray) -> sp.csr_matrix:
    """The 0/1 prolongator :math:`P_0` with one 1 per row, in the unknown's aggregate column.

    Examples
    --------
    >>> piecewise_constant(np.array([0, 0, 1])).toarray()
    array([[1., 0.],
           [1., 0.],
           [0., 1.]])
    """
    agg = check_aggregates(aggregates, np.size(aggregates))
    m = int(agg.max()) + 1 if agg.size else 0
    return sp.csr_matrix((np.ones(agg.size), (np.arange(agg.size), agg)), shape=(agg.size, m))


def smoothed_prolongation(A: Any, aggregates: np.ndarray, weights: Any) -> sp.csr_matrix:
    r"""The prolongator :math:`P = P_0 - K P_0` of a per-row smoothing stencil :math:`K`.

    Parameters
    ----------
    A : scipy sparse matrix, shape (n, n)
        Gives the pattern of :math:`K` (the diagonal and the couplings of each unknown).
    aggregates : array of int, shape (n,)
        The aggregates of :math:`P_0` (:func:`block_aggregates`).
    weights : float or array of float, shape (nnz(A),)
        The entries of :math:`K` on A's CSR pattern (sorted indices), or a scalar
        :math:`\omega` for the classical choice :math:`K = \omega D^{-1}A`.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n, m)

    Notes
    -----
    Row :math:`i` of :math:`P` is :math:`e_{a(i)}^T - \sum_j k_{ij} e_{a(j)}^T`, where
    :math:`a(i)` is the aggregate of unknown :math:`i` and :math:`j` runs over the pattern of
    row :math:`i` of :math:`A`. With :math:`K = \omega D^{-1}A` this is the smoothed
    aggregation prolongator (one damped-Jacobi step applied to :math:`P_0`); a learned
    :math:`K` (:mod:`solvers.network.learned`) varies the stencil from cell to cell. The
    Galerkin coarse matrix :math:`P^TAP` keeps :math:`A`'s symmetry and semi-definiteness for
    any :math:`K`.

    References
    ----------
    Vaněk, Mandel and Brezina, "Algebraic multigrid by smoothed aggregation for second and
    fourth order elliptic problems", Computing 56 (1996).

    Examples
    --------
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(4, 4), format="csr")
    >>> P = smoothed_prolongation(A, np.array([0, 0, 1, 1]), 0.5)
    >>> P.toarray().round(2)
    array([[0.75, 0.  ],
           [0.75, 0.25],
           [0.25, 0.75],
           [0.  , 0.75]])
    """
    A = sp.csr_matrix(A, dtype=float)
    A.sort_indices()
    n = A.shape[0]
    agg = check_aggregates(aggregates, n)
    rows = np.repeat(np.arange(n), np.diff(A.indptr))
    if np.ndim(weights) == 0:
        v = A.data * (-float(weights) / A.diagonal())[rows]
    else:
        v = -np.asarray(weights, dtype=float).reshape(-1)
        if v.shape != A.data.shape:
            raise ValueError(f"weights must have nnz(A) = {A.nnz} entries, got {v.shape}")
    on_diagonal = A.indices == rows
    if int(on_diagonal.sum()) != n:
        raise ValueError("A must store its diagonal in every row")
    v[on_diagonal] += 1.0
    m = int(agg.max()) + 1 if n else 0
    P = sp.csr_matrix((v, agg[A.indices], A.indptr.copy()), shape=(n, m))
    P.sum_duplicates()
    P.eliminate_zeros()
    return P


class CoarseCorrection:
    r"""Galerkin coarse correction :math:`x \leftarrow x + P A_c^{-1} P^T (r - Ax)`.

    Parameters
    ----------
    A : scipy sparse matrix, shape (n, n)
        Symmetric positive (semi)definite.
    fluid : array_like of bool
        Grid cells that are unknowns (C order), see :func:`block_aggregates`.
    block : int or tuple of int
        Aggregate block side in cells (8: a 1024² grid gets a 128² coarse problem).
    exact_limit : int, optional
        Factor :math:`A_c` by sparse LU up to this many coarse unknowns; above it, apply
        ``cycles`` PyAMG V-cycles to the coarse system instead. Default 70 000 in 2D (a
        1024² grid with 4×4 blocks factors in about a second) and 8 000 in 3D (LU fill grows
        much faster: 32³ coarse unknowns take over a minute).
    cycles : int
        V-cycles of the inexact coarse solve.
    ordering : {'auto', 'mmd', 'nd'}
        Fill-reducing ordering of the exact factorisation: SuperLU's minimum degree on
        :math:`A_c + A_c^T` (``'mmd'``) or a nested dissection of the aggregates' block
        coordinates (``'nd'``, :func:`nested_dissection`). ``'auto'``: ``'nd'`` for a 3D
        coarse matrix wider than the 7-point stencil (a smoothed prolongator's 27-point
        one: measured 1.5-3× faster to factor at 64³) when the blocks are at least 3 cells
        across and ``P`` has one column per aggregate, ``'mmd'`` otherwise.
    aggregates : array of int, shape (n,), optional
        The aggregates, when the caller has them already (:func:`block_aggregates` of the
        same ``A``, ``fluid`` and ``block``).
    prolongation : scipy sparse matrix, shape (n, m), optional
        A prolongator :math:`P` to use instead of the piecewise-constant one (for example a
        smoothed one, :func:`smoothed_prolongation`); ``block`` then only names the
        aggregates it was built from.

    Notes
    -----
    By default :math:`P \in \{0,1\}^{n\times m}` has one 1 per row (the unknown's aggregate;
    with ``prolongation=`` it is the given matrix) and :math:`A_c = P^TAP`. With an exact
    coarse solve the update is the A-orthogonal projection of the error onto
    :math:`\mathrm{range}(P)`: :math:`e \leftarrow (I - P A_c^{-1}P^TA)e`, so it never
    increases :math:`\|e\|_A` and removes every error component in :math:`\mathrm{range}(P)`
    (with the default :math:`P`, every component constant on the aggregates). With blocks of a fixed
    side the two-level condition number depends on the block side, not on the grid size:
    the correction supplies the grid-independent global coupling that a smoother (or a
    network trained on small grids) lacks.

    Singular :math:`A` (pure Neumann pockets): a coarse component whose rows sum to zero
    (no Dirichlet coupling) is singular with the constant as null vector; one unknown of it
    is pinned to zero (row and column replaced by the identity). For a consistent right-hand
    side, :math:`\mathbf 1_c^TP^Tr = \mathbf 1^T r = 0` on that component, the pinned system
    gives an exact solution (unique up to that constant, which lies in :math:`\ker A`).
    """

    def __init__(
        self,
        A: Any,
        fluid: Any,
        *,
        block: int | tuple[int, ...] = 8,
        exact_limit: int | None = None,
        cycles: int = 1,
        aggregates: Any = None,
        prolongation: Any = None,
        ordering: str = "auto",
    ) -> None:
        self.A = sp.csr_matrix(A, dtype=float)
        n = self.A.shape[0]
        if aggregates is None:
            self.aggregates = block_aggregates(self.A, fluid, block)
        else:
            self.aggregates = check_aggregates(aggregates, n)
        if prolongation is None:
            self.P = piecewise_constant(self.aggregates)
        else:
            self.P = sp.csr_matrix(prolongation, dtype=float)
            if self.P.shape[0] != n:
                raise ValueError(
                    f"prolongation must have {n} rows (the unknowns), got shape {self.P.shape}"
                )
        m = self.P.shape[1]
        Ac = sp.csr_matrix(self.P.T.tocsr() @ (self.A @ self.P))  # the fastest order here
        self.pinned = singular_pins(Ac)
        if self.pinned.size:
            keep = np.ones(m)
            keep[self.pinned] = 0.0
            K = sp.diags(keep)
            Ac = sp.csr_matrix(K @ Ac @ K + sp.diags(1.0 - keep))
        self.coarse_matrix = Ac
        self.cycles = check_positive_int("cycles", cycles)
        if exact_limit is None:
            exact_limit = 70_000 if np.ndim(fluid) == 2 else 8_000
        self.exact = m <= check_positive_int("exact_limit", exact_limit, 0)
        ordering = check_choice("ordering", ordering, ("auto", "mmd", "nd"))
        dim = np.ndim(fluid)
        blk = as_int_tuple("block", block, dim)
        # nested dissection cuts along block planes: it needs one column of P per aggregate
        # and blocks of side >= 3 (a smoothed P couples only neighbouring blocks then)
        dissectable = m == int(self.aggregates.max(initial=-1)) + 1 and min(blk) >= 3
        if ordering == "auto":
            wide = Ac.nnz > (2 * dim + 1.5) * m
            ordering = "nd" if dim == 3 and wide and dissectable else "mmd"
        elif ordering == "nd" and not dissectable:
            raise ValueError(
                f"ordering='nd' needs one prolongator column per aggregate ({m} columns, "
                f"{int(self.aggregates.max(initial=-1)) + 1} aggregates) and blocks of side >= 3 "
                f"(block={block!r})"
            )
        self.ordering = ordering if self.exact else None
        self._perm: np.ndarray | None = None
        if self.exact:
            # SPD (pinned): no pivoting; minimum degree on A + A^T (half the fill of the
            # default COLAMD on these grid matrices) or nested dissection, applied here
            spec = "MMD_AT_PLUS_A"
            if ordering == "nd":
                self._perm = nested_dissection(aggregate_blocks(fluid, self.aggregates, blk))
                Ac, spec = Ac[self._perm][:, self._perm], "NATURAL"
            self._lu = spla.splu(
                Ac.tocsc(),
                permc_spec=spec,
                diag_pivot_thresh=0.0,
                options={"SymmetricMode": True},
            )
        else:
            self._ml = pyamg_hierarchy(Ac)

    @property
    def size(self) -> int:
        """Number of coarse unknowns (aggregates)."""
        return self.P.shape[1]

    def flops(self) -> int:
        r"""Floating-point operations of one :meth:`correct` (residual, restriction, coarse
        solve, prolongation, update): :math:`2\,\mathrm{nnz}(A) + 4\,\mathrm{nnz}(P) + 2n`
        plus :math:`2\,\mathrm{nnz}(L+U)` for the exact coarse solve, or the V-cycles'
        :math:`\mathrm{cycles}\times 2\,\mathrm{nnz}(A_c)\times` cycle complexity."""
        n = self.A.shape[0]
        base = 2 * self.A.nnz + 4 * self.P.nnz + 2 * n
        if self.exact:
            return base + 2 * (self._lu.L.nnz + self._lu.U.nnz)
        work = self._ml.cycle_complexity() * 2 * self.coarse_matrix.nnz
        return base + int(self.cycles * work)

    def coarse_solve(self, g: np.ndarray) -> np.ndarray:
        """:math:`A_c^{-1} g` with the pinned unknowns held at zero."""
        g = np.array(g, dtype=float)
        g[self.pinned] = 0.0
        if self.exact and self._perm is not None:
            y = np.empty_like(g)
            y[self._perm] = self._lu.solve(g[self._perm])
        elif self.exact:
            y = self._lu.solve(g)
        else:
            y = self._ml.solve(g, x0=np.zeros_like(g), maxiter=self.cycles, tol=1e-300)
        y[self.pinned] = 0.0
        return y

    def __call__(self, r: np.ndarray) -> np.ndarray:
        """:math:`P A_c^{-1} P^T r` (the correction from :math:`x = 0`)."""
        return self.P @ self.coarse_solve(self.P.T @ np.asarray(r, dtype=float))

    def correct(self, x: np.ndarray, r: np.ndarray) -> None:
        """Update ``x`` in place by the correction of the residual ``r - A x``."""
        x += self(r - self.A @ x)


def singular_pins(Ac: sp.csr_matrix) -> np.ndarray:
    """One coarse unknown per connected component of ``Ac`` whose rows all sum to ~0."""
    ncomp, comp = csgraph.connected_components(Ac, directed=False)
    rowsum = np.asarray(Ac.sum(axis=1)).ravel()
    scale = np.bincount(comp, weights=np.abs(Ac.diagonal()), minlength=ncomp)
    dirichlet = np.bincount(comp, weights=np.abs(rowsum), minlength=ncomp)
    floating = np.flatnonzero(dirichlet <= 1e-12 * np.maximum(scale, np.finfo(float).tiny))
    _, first = np.unique(comp, return_index=True)  # the first unknown of each component
    return np.sort(first[floating])


def aggregate_blocks(fluid: Any, aggregates: np.ndarray, block: tuple[int, ...]) -> np.ndarray:
    """``(m, dim)``: the grid block of each aggregate (that of its first cell).

    Examples
    --------
    >>> aggregate_blocks(np.ones((4, 4), bool), np.repeat([0, 1], 8), (2, 4))
    array([[0, 0],
           [1, 0]])
    """
    agg = np.asarray(aggregates)
    m = int(agg.max()) + 1 if agg.size else 0
    first = np.empty(m, dtype=np.int64)
    first[agg[::-1]] = np.arange(agg.size - 1, -1, -1)  # the last write is the first cell
    pos = np.nonzero(np.asarray(fluid, dtype=bool))
    return np.stack([p[first] // b for p, b in zip(pos, block)], 1)


def nested_dissection(coords: np.ndarray, leaf: int = 32) -> np.ndarray:
    """A nested-dissection ordering of points on a grid of blocks (``coords``: ``(m, dim)``).

    Each step cuts the points' bounding box across its longest side at the middle block
    plane: the points on one side, then the other (each ordered the same way), then the plane
    (the separator), last. A coarse matrix that couples only neighbouring blocks (5/7, 9 or
    27-point patterns: block aggregates with the piecewise-constant or a once-smoothed
    prolongator on blocks at least 3 cells across) has no entry between the two sides, so its
    Cholesky/LU factors fill only inside each side and in the separators' rows.

    References
    ----------
    George, "Nested dissection of a regular finite element mesh", SIAM J. Numer. Anal. 10
    (1973).

    Examples
    --------
    >>> c = np.array([[i, 0] for i in range(5)])
    >>> nested_dissection(c, leaf=1).tolist()   # sides 0-1 and 3-4 first, separator 2 last
    [0, 1, 3, 4, 2]
    """
    coords = np.asarray(coords)
    out: list[np.ndarray] = []
    stack = [np.arange(len(coords))]
    while stack:  # depth first, separators emitted after both sides
        ids = stack.pop()
        if isinstance(ids, tuple):
            out.append(ids[0])
            continue
        c = coords[ids]
        span = c.max(0) - c.min(0) if ids.size else np.zeros(1)
        axis = int(np.argmax(span))
        if ids.size <= leaf or span[axis] < 2:
            out.append(ids)
            continue
        mid = (int(c[:, axis].min()) + int(c[:, axis].max())) // 2
        side = c[:, axis]
        # pushed in reverse: low side, high side, then the separator (a tuple marks it)
        stack += [(ids[side == mid],), ids[side > mid], ids[side < mid]]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
