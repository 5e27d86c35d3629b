"""The one Poisson stencil (:mod:`pde.stencil`) against independent references.

* whole grid: :class:`PoissonProblem`'s matrix, null space and right-hand sides against a
  dense assembly written here cell by cell (loops, a breadth-first component search, the
  face velocities drawn and summed face by face), at 1e-14 relative to the largest entry;
* boxes: rows and right-hand sides assembled box by box (ghost layer only), as the ranks of
  :func:`pde.dmda_poisson` do, tile to the whole-grid ones exactly (0 difference);
* the one argument validation.
"""

import itertools
from collections import deque

import numpy as np
import pytest
import scipy.sparse as sp

from pde import AIR, FLUID, SOLID, PoissonProblem, make_geometry, poisson_problem
from pde.stencil import (
    Grid,
    check_box,
    check_grid,
    divergence,
    neumann_components,
    normals,
    padded_window,
    stencil_rows,
)

TOL = 1e-14

CASES = [
    ("box", (9, 7), "air"),
    ("box", (6, 5), "solid"),
    ("obstacles", (17, 15), "solid"),
    ("obstacles", (16, 18), "air"),
    ("plume", (13, 12), "solid"),
    ("obstacles", (9, 8, 7), "solid"),
    ("plume", (8, 9, 7), "solid"),
    ("obstacles", (7, 8, 9), "air"),
]


# ---------------------------------------------------------------------- dense reference
def _neighbours(c, shape):
    """(axis, lower/upper neighbour, inside?) of cell ``c``, axis by axis, lower first."""
    for ax in range(len(shape)):
        for step in (-1, 1):
            nb = list(c)
            nb[ax] += step
            yield ax, tuple(nb), 0 <= nb[ax] < shape[ax]


def dense_reference(labels, exterior, coeff, spacing, seed):
    """Matrix, null space, rhs_divergence and rhs_random of a grid, cell by cell.

    Written from the definitions (harmonic face means, zero flux through solid faces,
    p = 0 in air; components by breadth-first search; face velocities u = xi * open / h with
    xi one standard-normal array per axis over the faces of the exterior-padded grid).
    """
    shape = labels.shape
    dim = len(shape)
    ext = AIR if exterior == "air" else SOLID
    cells = [c for c in itertools.product(*map(range, shape)) if labels[c] == FLUID]
    row = {c: i for i, c in enumerate(cells)}
    n = len(cells)

    def label_at(c):
        return labels[c] if all(0 <= c[a] < shape[a] for a in range(dim)) else ext

    dense = np.zeros((n, n))
    for c in cells:
        for ax, nb, inside in _neighbours(c, shape):
            k1 = coeff[c]
            k2 = coeff[nb] if inside else k1
            w = 2 * k1 * k2 / (k1 + k2) / spacing[ax] ** 2
            if label_at(nb) == SOLID:
                continue
            dense[row[c], row[c]] += w
            if label_at(nb) == FLUID:
                dense[row[c], row[nb]] -= w

    seen, null = set(), []
    for start in cells:  # C order, as scipy.ndimage.label numbers its components
        if start in seen:
            continue
        comp, queue, air = [], deque([start]), False
        seen.add(start)
        while queue:
            c = queue.popleft()
            comp.append(c)
            for _, nb, _ in _neighbours(c, shape):
                lab = label_at(nb)
                air |= lab == AIR
                if lab == FLUID and nb not in seen:
                    seen.add(nb)
                    queue.append(nb)
        if not air:
            v = np.zeros(n)
            for c in comp:
                v[row[c]] = 1.0 / np.sqrt(len(comp))
            null.append(v)
    null = np.array(null).reshape(len(null), n)

    rng = np.random.default_rng(seed)
    padded = tuple(s + 2 for s in shape)
    xi = [
        rng.standard_normal(tuple(p - (a == ax) for a, p in enumerate(padded))) for ax in range(dim)
    ]

    def velocity(ax, lower):
        """u on the face between grid cells ``lower`` and ``lower + e_ax``.

        Padded cell = grid cell + 1 on every axis; padded face f lies between padded cells
        f and f + e_ax, so this face is f = lower + 1."""
        upper = list(lower)
        upper[ax] += 1
        open_face = label_at(lower) != SOLID and label_at(tuple(upper)) != SOLID
        f = tuple(lower[a] + 1 for a in range(dim))
        return xi[ax][f] * open_face / spacing[ax]

    b = np.zeros(n)
    for c in cells:
        div = 0.0
        for ax in range(dim):
            below = list(c)
            below[ax] -= 1
            div += velocity(ax, tuple(below))
            div -= velocity(ax, c)
        b[row[c]] = -div
    b_div = b - null.T @ (null @ b) if len(null) else b
    b_random = dense @ np.random.default_rng(seed).standard_normal(n)
    return dense, null, b_div, b_random


def _close(got, ref):
    scale = max(np.abs(ref).max(), 1.0) if ref.size else 1.0
    return ref.shape == got.shape and (ref.size == 0 or np.abs(got - ref).max() <= TOL * scale)


def _split_box():
    lab = np.zeros((6, 7), dtype=np.int8)
    lab[:, 3] = SOLID
    lab[4, 5] = SOLID
    return lab


def _pockets_3d():
    lab = np.random.default_rng(7).choice([FLUID] * 4 + [SOLID, AIR], size=(5, 6, 4))
    lab[1:4, 1:4, 1:3] = SOLID
    lab[2, 2, 1] = FLUID  # an enclosed one-cell pocket: its own pure-Neumann component
    return lab.astype(np.int8)


REGRESSION = [
    ("obstacles-2d-air", lambda: make_geometry("obstacles", (14, 11), seed=3), "air"),
    ("obstacles-2d-solid", lambda: make_geometry("obstacles", (12, 13), seed=5), "solid"),
    ("split-2d-solid", _split_box, "solid"),
    ("plume-2d-solid", lambda: make_geometry("plume", (11, 9), seed=2), "solid"),
    ("obstacles-3d-solid", lambda: make_geometry("obstacles", (7, 6, 8), seed=1), "solid"),
    ("plume-3d-air", lambda: make_geometry("plume", (6, 7, 5), seed=4), "air"),
    ("pockets-3d-solid", _pockets_3d, "solid"),
    ("pockets-3d-air", _pockets_3d, "air"),
]


@pytest.mark.parametrize(("name", "make", "exterior"), REGRESSION, ids=[r[0] for r in REGRESSION])
def test_problem_equals_dense_cell_by_cell_reference(name, make, exterior):
    """Matrix, null space, rhs_divergence, rhs_random (variable coefficients and spacing) =
    the cell-by-cell reference to 1e-14 relative to the largest entry."""
    labels = make()
    rng = np.random.default_rng(len(name))
    coeff = np.exp(rng.uniform(-1.5, 1.5, labels.shape))
    spacing = tuple(rng.uniform(0.5, 2.0, labels.ndim))
    prob = PoissonProblem(labels, exterior=exterior, coeff=coeff, spacing=spacing)
    dense, null, b_div, b_random = dense_reference(labels, exterior, coeff, spacing, seed=9)
    assert _close(prob.matrix.toarray(), dense)
    assert _close(prob.null_space(), null)
    assert prob.is_singular == (len(null) > 0)
    assert _close(prob.rhs_divergence(9), b_div)
    assert _close(prob.rhs_random(9), b_random)
    if name.startswith(("split", "pockets")):  # two closed halves; an enclosed 1-cell pocket
        assert len(null) >= (2 if name.startswith("split") else 1)


def test_exterior_by_name_or_label():
    """exterior='air' / AIR (and 'solid' / SOLID) give the same problem; both spellings kept."""
    labels = make_geometry("obstacles", (10, 9), seed=2)
    for name, code in (("air", AIR), ("solid", SOLID)):
        by_name = PoissonProblem(labels, exterior=name)
        by_code = PoissonProblem(labels, exterior=code)
        assert by_name.exterior == by_code.exterior == name
        assert by_name.exterior_label == by_code.exterior_label == code
        assert abs(by_name.matrix - by_code.matrix).max() == 0.0
        assert np.array_equal(by_name.rhs_divergence(1), by_code.rhs_divergence(1))


def test_problem_keeps_its_own_copies():
    """Editing the caller's labels/coeff afterwards changes nothing in the problem."""
    labels = make_geometry("obstacles", (9, 9), seed=1)
    coeff = np.linspace(1, 2, 81).reshape(9, 9)
    prob = PoissonProblem(labels, exterior="solid", coeff=coeff)
    b, A = prob.rhs_divergence(3), prob.matrix.copy()
    labels[:] = AIR
    coeff[:] = 5.0
    assert np.array_equal(prob.rhs_divergence(3), b)
    assert (
        abs(PoissonProblem(prob.labels, exterior="solid", coeff=prob.coeff).matrix - A).max() == 0
    )


# ---------------------------------------------------------------------- boxes (ranks)
def _tiles(shape, cuts=3):
    """Boxes that tile the grid (uneven cuts along every axis)."""
    edges = [np.unique(np.linspace(0, n, min(cuts, n) + 1).astype(int)) for n in shape]
    for corner in itertools.product(*[range(len(e) - 1) for e in edges]):
        yield tuple(slice(int(e[i]), int(e[i + 1])) for e, i in zip(edges, corner))


def _natural_ghost_index(shape, box):
    """Natural (C-order) index of the box grown by one layer; -1 outside (a fake LG map)."""
    idx = np.arange(int(np.prod(shape))).reshape(shape).astype(float)
    win = padded_window(idx, [s.start for s in box], [s.stop + 2 for s in box], fill=-1.0)
    return win.astype(np.int64)


def _whole_grid_operator(prob):
    """The whole-grid matrix in C order: the problem's matrix on fluid cells, identity elsewhere."""
    fluid = (prob.labels == FLUID).ravel()
    sel = sp.csr_matrix(
        (np.ones(prob.n), (np.arange(prob.n), np.flatnonzero(fluid))), shape=(prob.n, fluid.size)
    )
    return (sel.T @ prob.matrix @ sel + sp.diags((~fluid).astype(float))).tocsr()


def _problem(geometry, shape, exterior, **kw):
    return PoissonProblem(make_geometry(geometry, shape, seed=4), exterior=exterior, **kw)


@pytest.mark.parametrize(("geometry", "shape", "exterior"), CASES)
def test_box_local_rows_tile_to_the_serial_matrix(geometry, shape, exterior):
    """Rows assembled box by box (ghost layer only) = whole-grid matrix, exactly (0 difference)."""
    rng = np.random.default_rng(0)
    coeff = np.exp(rng.uniform(-1, 1, shape)) if geometry == "obstacles" else None
    spacing = tuple(rng.uniform(0.5, 2.0, len(shape)))
    prob = _problem(geometry, shape, exterior, coeff=coeff, spacing=spacing)
    grid = check_grid(prob.labels, exterior, coeff, prob.spacing)
    rows, cols, vals = [], [], []
    for box in _tiles(shape):
        gidx = _natural_ghost_index(shape, box)
        indptr, indices, data = stencil_rows(grid, box, gidx)
        own = gidx[(slice(1, -1),) * len(shape)].ravel()
        for k in range(len(own)):
            seg = indices[indptr[k] : indptr[k + 1]]
            assert np.all(np.diff(seg) > 0), "columns must be sorted and unique"
        rows.append(np.repeat(own, np.diff(indptr)))
        cols.append(indices)
        vals.append(data)
    size = int(np.prod(shape))
    got = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(size, size)
    )
    assert abs(got - _whole_grid_operator(prob)).max() == 0.0
    fluid = np.flatnonzero(prob.labels.ravel() == FLUID)
    assert abs(got[fluid][:, fluid] - prob.matrix).max() == 0.0


@pytest.mark.parametrize(("geometry", "shape", "exterior"), CASES)
def test_box_local_right_hand_sides_equal_the_serial_ones(geometry, shape, exterior):
    """Tiled box draws = serial rhs_divergence (before projection) and rhs_random's x, exactly."""
    prob = _problem(geometry, shape, exterior, spacing=0.5)
    grid = check_grid(prob.labels, exterior, None, prob.spacing)
    fluid = prob.labels == FLUID
    div = np.zeros(shape)
    x = np.zeros(shape)
    for box in _tiles(shape):
        div[box] = divergence(grid, 11, box)
        x[box] = normals(grid, 11, box)
    assert np.array_equal(prob.project(prob.from_grid(div)), prob.rhs_divergence(11))
    assert np.array_equal(div[~fluid], np.zeros((~fluid).sum()))
    xs = np.random.default_rng(11).standard_normal(prob.n)
    assert np.array_equal(x, prob.to_grid(xs))


@pytest.mark.parametrize(("geometry", "shape", "exterior"), CASES)
def test_box_null_space_indicators_tile_to_the_serial_null_space(geometry, shape, exterior):
    """Indicators read box by box, scattered, restricted to the fluid = null_space(), exactly."""
    prob = _problem(geometry, shape, exterior)
    comps = neumann_components(check_grid(prob.labels, exterior))
    grids = [np.zeros(shape) for _ in comps.ids]
    for box in _tiles(shape):
        for g, ind in zip(grids, comps.indicators(box)):
            g[box] = ind
    got = np.array([prob.from_grid(g) for g in grids]).reshape(len(grids), prob.n)
    assert np.array_equal(got, prob.null_space())


def test_padded_window_reads_fill_and_edge():
    """padded_window = slicing np.pad (constant and edge modes) over any window."""
    a = np.arange(20.0).reshape(4, 5)
    for starts, stops in (((0, 0), (6, 7)), ((2, 3), (5, 7)), ((0, 4), (2, 6))):
        sl = tuple(slice(s, e) for s, e in zip(starts, stops))
        assert np.array_equal(
            padded_window(a, starts, stops, -1.0), np.pad(a, 1, constant_values=-1)[sl]
        )
        assert np.array_equal(padded_window(a, starts, stops, None), np.pad(a, 1, mode="edge")[sl])


# ---------------------------------------------------------------------- validation
def test_check_grid_rejects_bad_input():
    """Bad labels / exterior / coeff / spacing raise ValueError (TypeError for an exterior of
    the wrong type) naming the argument; PoissonProblem raises the same."""
    good = poisson_problem("box", 4, 2).labels
    for kwargs, err, word in (
        ({"labels": np.zeros((3,), dtype=int)}, ValueError, "labels"),
        ({"labels": np.zeros((3, 3))}, ValueError, "labels"),
        ({"labels": np.full((3, 3), 7)}, ValueError, "labels"),
        ({"labels": np.full((3, 3), SOLID)}, ValueError, "FLUID"),
        ({"labels": good, "exterior": "vacuum"}, ValueError, "exterior"),
        ({"labels": good, "exterior": FLUID}, ValueError, "exterior"),
        ({"labels": good, "exterior": 2.0}, TypeError, "exterior"),
        ({"labels": good, "exterior": True}, TypeError, "exterior"),
        ({"labels": good, "coeff": -1.0}, ValueError, "coeff"),
        ({"labels": good, "coeff": np.nan}, ValueError, "coeff"),
        ({"labels": good, "spacing": 0.0}, ValueError, "spacing"),
        ({"labels": good, "spacing": (1.0, np.inf)}, ValueError, "spacing"),
    ):
        with pytest.raises(err, match=word):
            check_grid(**kwargs)
        with pytest.raises(err, match=word):
            PoissonProblem(**kwargs)


def test_check_grid_normalises():
    """int8 labels, the exterior's name, a broadcast coefficient view, a spacing tuple."""
    g = check_grid([[0, 1], [2, 0]], exterior=AIR, coeff=3.0, spacing=(1, 2))
    assert isinstance(g, Grid) and g.labels.dtype == np.int8 and g.exterior == "air"
    assert g.exterior_label == AIR and g.shape == (2, 2) and g.dim == 2
    assert g.coeff.shape == (2, 2) and np.all(g.coeff == 3.0) and g.spacing == (1.0, 2.0)
    assert check_grid(np.zeros((2, 2, 2), dtype=int)).spacing == (1.0, 1.0, 1.0)


def test_box_and_grid_arguments_are_checked():
    grid = check_grid(np.zeros((4, 5), dtype=int))
    assert check_box(None, (4, 5)) == (slice(0, 4), slice(0, 5))
    for bad in ((slice(0, 4),), (slice(0, 5), slice(0, 5)), (slice(2, 2), slice(0, 5)),
                (slice(0, 4, 2), slice(0, 5)), [slice(0, 4), slice(0, 5)]):  # fmt: skip
        with pytest.raises(ValueError, match="box"):
            check_box(bad, (4, 5))
    with pytest.raises(ValueError, match="columns"):
        stencil_rows(grid, None, np.zeros((4, 5), dtype=np.int64))
    with pytest.raises(TypeError, match="grid"):
        divergence(np.zeros((4, 5), dtype=int), 0)
