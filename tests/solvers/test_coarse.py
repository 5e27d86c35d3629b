"""The block-aggregation coarse correction: aggregates, Galerkin projection, singular pockets."""

import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from pde import FLUID, SOLID, poisson_problem
from solvers.coarse import (
    CoarseCorrection,
    block_aggregates,
    nested_dissection,
    smoothed_prolongation,
)


def brute_aggregates(labels, block):
    """Reference: label the fluid of each block separately with scipy.ndimage (face links)."""
    fluid = labels == FLUID
    idx = -np.ones(labels.shape, dtype=int)
    idx[fluid] = np.arange(fluid.sum())
    agg = np.empty(fluid.sum(), dtype=int)
    count = 0
    struct = ndi.generate_binary_structure(labels.ndim, 1)
    for corner in np.ndindex(*[-(-s // block) for s in labels.shape]):
        sl = tuple(slice(c * block, (c + 1) * block) for c in corner)
        comp, k = ndi.label(fluid[sl], structure=struct)
        for c in range(1, k + 1):
            agg[idx[sl][comp == c]] = count
            count += 1
    return agg


def same_partition(a, b):
    """Two labellings describe the same partition (up to renumbering)."""
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.mark.parametrize("geo,n,dim,block", [("obstacles", 37, 2, 8), ("plume", 30, 2, 4),
                                             ("obstacles", 13, 3, 4)])  # fmt: skip
def test_aggregates_are_connected_pieces_of_blocks(geo, n, dim, block):
    p = poisson_problem(geo, n, dim, seed=3)
    agg = block_aggregates(p.matrix, p.labels == FLUID, block)
    assert same_partition(agg, brute_aggregates(p.labels, block))


def test_split_block_gives_two_aggregates():
    """A solid wall through the middle of one 4x4 block splits it into two aggregates."""
    lab = np.zeros((4, 4), dtype=np.int8)
    lab[:, 2] = SOLID
    p = poisson_problem("box", 4, 2)
    p = type(p)(lab, exterior="air")
    assert len(set(block_aggregates(p.matrix, lab == FLUID, 4).tolist())) == 2


@pytest.mark.parametrize("geo,exterior", [("obstacles", None), ("plume", None), ("box", "solid")])
def test_exact_correction_is_the_galerkin_projection(geo, exterior):
    """Against dense linear algebra (1e-9): P^T (r - A y) = 0 for y = correction(r) with r in
    range(A); the A-norm error never grows; and y equals P pinv(P^T A P) P^T r up to ker A."""
    p = poisson_problem(geo, 24, 2, seed=5, exterior=exterior)
    A = p.matrix
    c = CoarseCorrection(A, p.labels == FLUID, block=6)
    rng = np.random.default_rng(0)
    x_true = p.project(rng.standard_normal(p.n))
    r = A @ x_true
    y = c(r)
    P = c.P.toarray()
    assert np.abs(P.T @ (r - A @ y)).max() <= 1e-9 * np.abs(r).max()
    ref = P @ (np.linalg.pinv(P.T @ A.toarray() @ P, rcond=1e-10) @ (P.T @ r))
    assert np.linalg.norm(p.project(y - ref)) <= 1e-9 * np.linalg.norm(ref)
    e0, e1 = x_true, x_true - y
    assert e1 @ (A @ e1) <= e0 @ (A @ e0) * (1 + 1e-12)
    assert (len(c.pinned) > 0) == p.is_singular


def test_inexact_coarse_solve_still_reduces_the_error():
    """exact_limit=0: PyAMG V-cycles on the coarse system; on a smooth error (A^-1 of noise)
    the A-norm error drops by at least 0.9 of what the exact coarse solve removes."""
    p = poisson_problem("obstacles", 40, 2, seed=1)
    c = CoarseCorrection(p.matrix, p.labels == FLUID, block=4, exact_limit=0, cycles=2)
    exact = CoarseCorrection(p.matrix, p.labels == FLUID, block=4)
    assert exact.exact and not c.exact
    e = spla.spsolve(p.matrix.tocsc(), np.random.default_rng(1).standard_normal(p.n))

    def energy(v):
        return v @ (p.matrix @ v)

    drop = energy(e) - energy(e - c(p.matrix @ e))
    assert drop >= 0.9 * (energy(e) - energy(e - exact(p.matrix @ e))) > 0.2 * energy(e)


def test_bad_arguments():
    p = poisson_problem("obstacles", 16, 2, seed=0)
    with pytest.raises(ValueError, match="block"):
        CoarseCorrection(p.matrix, p.labels == FLUID, block=0)
    with pytest.raises(ValueError, match="unknowns"):
        block_aggregates(p.matrix, np.ones((3, 3), bool), 2)
    with pytest.raises(ValueError, match="2D or 3D"):
        block_aggregates(p.matrix, np.ones(5, bool), 2)


@pytest.mark.parametrize(
    "geo,n,dim,smooth",
    [("obstacles", 14, 3, True), ("plume", 13, 3, False), ("box", 11, 3, True),
     ("plume", 30, 2, True)],
)  # fmt: skip
def test_nested_dissection_ordering_gives_the_same_exact_coarse_solve(geo, n, dim, smooth):
    """'nd' and 'mmd' factor the same (pinned) coarse matrix: the corrections agree to 1e-12
    of their size, and both equal the dense pseudo-inverse formula (1e-9) on range(A)."""
    p = poisson_problem(geo, n, dim, seed=7, exterior="solid" if geo == "box" else None)
    fluid = p.labels == FLUID
    agg = block_aggregates(p.matrix, fluid, 4)
    P = smoothed_prolongation(p.matrix, agg, 2 / 3) if smooth else None
    kw = dict(block=4, aggregates=agg, prolongation=P)
    nd = CoarseCorrection(p.matrix, fluid, ordering="nd", **kw)
    mmd = CoarseCorrection(p.matrix, fluid, ordering="mmd", **kw)
    auto = CoarseCorrection(p.matrix, fluid, **kw)
    assert (nd.ordering, mmd.ordering) == ("nd", "mmd")
    assert auto.ordering == ("nd" if dim == 3 and smooth else "mmd")
    r = p.matrix @ p.project(np.random.default_rng(2).standard_normal(p.n))
    y_nd, y_mmd = nd(r), mmd(r)
    assert np.abs(y_nd - y_mmd).max() <= 1e-12 * np.abs(y_mmd).max()
    Pd = nd.P.toarray()
    ref = Pd @ (np.linalg.pinv(Pd.T @ p.matrix.toarray() @ Pd, rcond=1e-10) @ (Pd.T @ r))
    assert np.linalg.norm(p.project(y_nd - ref)) <= 1e-9 * np.linalg.norm(ref)


def test_nested_dissection_separates_the_two_sides():
    """Every cut: no coarse coupling between the low and high sides of a separator, so the
    8x8 grid's 5-point matrix factors with less fill than in natural order."""
    coords = np.array([(i, j) for i in range(8) for j in range(8)])
    perm = nested_dissection(coords, leaf=4)
    assert sorted(perm.tolist()) == list(range(64))
    T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(8, 8))
    A = sp.csc_matrix(sp.kron(T, sp.eye(8)) + sp.kron(sp.eye(8), T))
    # the first cut: x < 3, then x > 3, then the plane x = 3; no coupling between the sides
    low, high, sep = perm[:24], perm[24:56], perm[56:]
    assert set(coords[low, 0]) == {0, 1, 2} and set(coords[high, 0]) == {4, 5, 6, 7}
    assert set(coords[sep, 0]) == {3} and A[low][:, high].nnz == 0
    natural = spla.splu(A, permc_spec="NATURAL", diag_pivot_thresh=0.0)
    dissected = spla.splu(A[perm][:, perm].tocsc(), permc_spec="NATURAL", diag_pivot_thresh=0.0)
    fill = lambda lu: lu.L.nnz + lu.U.nnz  # noqa: E731
    assert fill(dissected) < fill(natural)
    with pytest.raises(ValueError, match="ordering"):
        CoarseCorrection(A, np.ones((8, 8), bool), block=4, ordering="metis")


def test_nested_dissection_needs_block_aggregates_of_side_three():
    """'auto' keeps minimum degree for 2-blocks (a smoothed P couples blocks two apart) and for
    a prolongator whose columns are not the aggregates; 'nd' refuses both by name."""
    p = poisson_problem("obstacles", 12, 3, seed=8)
    fluid = p.labels == FLUID
    agg2 = block_aggregates(p.matrix, fluid, 2)
    P2 = smoothed_prolongation(p.matrix, agg2, 2 / 3)
    c = CoarseCorrection(p.matrix, fluid, block=2, aggregates=agg2, prolongation=P2)
    assert c.ordering == "mmd"
    with pytest.raises(ValueError, match="blocks of side >= 3"):
        CoarseCorrection(p.matrix, fluid, block=2, aggregates=agg2, prolongation=P2, ordering="nd")
    with pytest.raises(ValueError, match="one prolongator column per aggregate"):
        CoarseCorrection(p.matrix, fluid, block=4, prolongation=P2, ordering="nd")
    auto = CoarseCorrection(p.matrix, fluid, block=4, prolongation=P2)
    assert auto.ordering == "mmd"
    r = p.matrix @ np.random.default_rng(3).standard_normal(p.n)
    y = auto(r)
    assert np.abs(P2.T @ (r - p.matrix @ y)).max() <= 1e-9 * np.abs(r).max()
