"""The distributed DMDA Poisson system against the serial :class:`PoissonProblem`.

The box-local pieces (rows, right-hand sides) are checked serially by tiling the grid into
boxes, as ranks would; the PETSc objects on one rank; a 2-rank ``mpiexec`` job checks the
whole chain (matrix gathered, right-hand sides, four classical solvers vs a direct solve).
"""

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from pde import AIR, FLUID, SOLID, PoissonProblem, dmda_poisson, make_geometry, poisson_problem
from pde.dmda_local import local_divergence, local_normals, local_rows, padded_window
from pde.petsc_views import grid_operator
from tests.mpi import needs_mpiexec, run_mpi

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


def _problem(geometry, shape, exterior, **kw):
    return PoissonProblem(make_geometry(geometry, shape, seed=4), exterior=exterior, **kw)


@pytest.mark.parametrize(("geometry", "shape", "exterior"), CASES)
def test_box_local_rows_tile_to_the_serial_matrix(geometry, shape, exterior):
    """Rows assembled box by box (ghost layer only) = whole-grid matrix, exactly (0 difference)."""
    rng = np.random.default_rng(0)
    coeff = np.exp(rng.uniform(-1, 1, shape)) if geometry == "obstacles" else None
    spacing = tuple(rng.uniform(0.5, 2.0, len(shape)))
    prob = _problem(geometry, shape, exterior, coeff=coeff, spacing=spacing)
    ext = AIR if exterior == "air" else SOLID
    rows, cols, vals = [], [], []
    for box in _tiles(shape):
        gidx = _natural_ghost_index(shape, box)
        indptr, indices, data = local_rows(prob.labels, coeff, prob.spacing, ext, box, gidx)
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
    assert abs(got - grid_operator(prob)).max() == 0.0
    fluid = np.flatnonzero(prob.labels.ravel() == FLUID)
    assert abs(got[fluid][:, fluid] - prob.matrix).max() == 0.0


@pytest.mark.parametrize(("geometry", "shape", "exterior"), CASES)
def test_box_local_right_hand_sides_equal_the_serial_ones(geometry, shape, exterior):
    """Tiled box draws = serial rhs_divergence (before projection) and rhs_random's x, exactly."""
    prob = _problem(geometry, shape, exterior, spacing=0.5)
    ext = AIR if exterior == "air" else SOLID
    fluid = prob.labels == FLUID
    div = np.zeros(shape)
    x = np.zeros(shape)
    for box in _tiles(shape):
        div[box] = local_divergence(prob.labels, ext, prob.spacing, 11, box)
        x[box] = local_normals(11, fluid, box)
    assert np.array_equal(prob.project(prob.from_grid(div)), prob.rhs_divergence(11))
    assert np.array_equal(div[~fluid], np.zeros((~fluid).sum()))
    xs = np.random.default_rng(11).standard_normal(prob.n)
    assert np.array_equal(x, prob.to_grid(xs))


def test_padded_window_reads_fill_and_edge():
    """padded_window = slicing np.pad (constant and edge modes) over any window."""
    a = np.arange(20.0).reshape(4, 5)
    for starts, stops in (((0, 0), (6, 7)), ((2, 3), (5, 7)), ((0, 4), (2, 6))):
        sl = tuple(slice(s, e) for s, e in zip(starts, stops))
        assert np.array_equal(
            padded_window(a, starts, stops, -1.0), np.pad(a, 1, constant_values=-1)[sl]
        )
        assert np.array_equal(padded_window(a, starts, stops, None), np.pad(a, 1, mode="edge")[sl])


needs_petsc = pytest.mark.skipif(
    importlib.util.find_spec("petsc4py") is None, reason="petsc4py is built by scripts/bootstrap.sh"
)


def _csr(mat):
    indptr, indices, data = mat.getValuesCSR()
    return sp.csr_matrix((data, indices, indptr), shape=mat.getSize())


@needs_petsc
@pytest.mark.parametrize(("geometry", "shape", "exterior"), CASES[2:6])
def test_dmda_poisson_one_rank_matches_problem(geometry, shape, exterior):
    """On one rank: matrix = whole-grid matrix; null space, both rhs = serial (1e-14)."""
    prob = _problem(geometry, shape, exterior)
    system = dmda_poisson(prob.labels, exterior=exterior)
    assert system.da.getSizes() == tuple(reversed(shape))
    assert abs(_csr(system.mat) - grid_operator(prob)).max() == 0.0
    null = prob.null_space()
    if len(null):
        vecs = system.nullspace.getVecs()
        got = np.array(
            [system.gather_natural(v).ravel()[prob.labels.ravel() == FLUID] for v in vecs]
        )
        assert np.array_equal(got, null)
        assert system.nullspace.test(system.mat)
    else:
        assert system.nullspace is None and system.mat.getNullSpace().handle == 0
    for ours, ref in (
        (system.rhs_divergence(2), prob.rhs_divergence(2)),
        (system.rhs_random(2), prob.rhs_random(2)),
    ):
        got = prob.from_grid(system.gather_natural(ours))
        assert np.linalg.norm(got - ref) <= 1e-14 * np.linalg.norm(ref)
    b = system.from_natural(np.arange(float(np.prod(shape))).reshape(shape))
    assert np.array_equal(system.gather_natural(b).ravel(), np.arange(float(np.prod(shape))))


@needs_petsc
def test_dmda_poisson_rejects_bad_input():
    """Bad labels / exterior / coeff / spacing raise ValueError naming the argument."""
    good = poisson_problem("box", 4, 2).labels
    for kwargs, word in (
        ({"labels": np.zeros((3,), dtype=int)}, "labels"),
        ({"labels": np.full((3, 3), 7)}, "labels"),
        ({"labels": np.full((3, 3), SOLID)}, "FLUID"),
        ({"labels": good, "exterior": "vacuum"}, "exterior"),
        ({"labels": good, "coeff": -1.0}, "coeff"),
        ({"labels": good, "spacing": 0.0}, "spacing"),
    ):
        with pytest.raises(ValueError, match=word):
            dmda_poisson(**kwargs)


@pytest.mark.mpi
@needs_petsc
@needs_mpiexec
def test_mpiexec_two_ranks_dmda_poisson():
    """`mpiexec -n 2`: gathered matrix = serial (exact), rhs = serial (1e-14), CG/Jacobi/ICC/GAMG
    at rtol 1e-13 = serial direct solve (1e-10), for 2D/3D, singular and not."""
    proc = run_mpi(Path(__file__).with_name("mpi_dmda_script.py"))
    lines = [ln.split() for ln in proc.stdout.splitlines() if "size=2" in ln]
    kinds = {(ln[0], ln[1]) for ln in lines}
    assert len(kinds) == 3 * (2 + 4), proc.stdout
    for kind, _case, *fields in lines:
        f = dict(x.split("=") for x in fields)
        if kind == "matrix":
            assert float(f["maxdiff"]) == 0.0 and float(f["nulldiff"]) == 0.0
            assert f["null"] == f["ref_null"]
        elif kind == "rhs":
            assert float(f["div"]) < 1e-14 and float(f["random"]) < 1e-14
            assert float(f["off"]) == 0.0
        else:
            assert f["converged"] == "1" and float(f["relerr"]) < 1e-10, fields


@needs_petsc
def test_cli_poisson_dmda_path(capsys):
    """`sciconv poisson --dmda --json`: the PETSc solvers on the DMDA converge (true relres <=
    rtol); serial-only solvers are refused with status 2 and a message naming them."""
    import argparse
    import json

    from sciconv.cli import poisson as cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--dmda", "--n", "20", "--geometry", "plume", "--json"])
    assert cli.run(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["solver"] for r in data["results"]] == ["cg", "jacobi", "icc", "gamg"]
    for r in data["results"]:
        assert r["converged"] and r["true_relres"] <= 1e-6 and r["ranks"] == 1
    args = parser.parse_args(["--dmda", "--n", "8", "--solvers", "gamg-cg,pyamg"])
    assert cli.run(args) == 2
    assert "['pyamg'] are serial" in capsys.readouterr().out


@needs_petsc
def test_cli_poisson_dmda_dcdm_matches_the_serial_cli(capsys):
    """DCDM KSP + NetworkPC on the DMDA path (whole-grid vectors, identity rows off the fluid)
    takes the serial CLI's iteration count (NumPy dcdm on the fluid block) to +-1, both to rtol."""
    import argparse
    import json

    from sciconv.cli import poisson as cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    common = ["--n", "24", "--solvers", "dcdm", "--dcdm-map", "jacobi:2", "--json"]
    common += ["--dcdm-directions", "4"]
    assert cli.run(parser.parse_args(["--dmda", *common])) == 0
    dist = json.loads(capsys.readouterr().out)["results"][0]
    assert cli.run(parser.parse_args(common)) == 0
    serial = json.loads(capsys.readouterr().out)["results"][0]
    assert dist["solver"].startswith("dcdm[jacobi:2") and dist["converged"]
    assert dist["true_relres"] <= 1e-6 and serial["true_relres"] <= 1e-6
    assert abs(dist["iterations"] - serial["iterations"]) <= 1, (dist, serial)
