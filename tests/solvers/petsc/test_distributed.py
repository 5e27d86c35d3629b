"""NetworkPC across ranks: DMDA ordering, halo windows, options, and a 2-rank DCDM job."""

import itertools
from pathlib import Path

import numpy as np
import petsc4py  # noqa: F401 - required: a missing petsc4py fails, never skips
import pytest

from pde import AIR, dmda_poisson, poisson_problem
from solvers.dcdm import dcdm
from solvers.maps import make_map
from solvers.network import available
from solvers.petsc import NetworkPC, petsc_module
from solvers.petsc.dmda import global_index, window, window_bounds
from tests.mpi import needs_mpiexec, run_mpi
from tests.petsc_options import fresh_prefix, ksp_from_options

PETSc = petsc_module()
needs_weights = pytest.mark.skipif("poisson2d" not in available(), reason="no shipped weights")


def reference_window(array, box, halo, fill):
    """Cell by cell: the box grown by ``halo``, clipped to the grid plus one exterior layer
    except that a window reaching the grid's edge takes that layer (see window_bounds)."""
    ranges = []
    for s, n in zip(box, array.shape):
        lo, hi = s.start - halo, s.stop + halo
        ranges.append(range(lo if lo > 0 else -1, hi if hi < n else n + 1))
    out = np.empty(tuple(len(r) for r in ranges), dtype=array.dtype)
    for pos in itertools.product(*(range(len(r)) for r in ranges)):
        cell = tuple(r[p] for r, p in zip(ranges, pos))
        inside = all(0 <= c < n for c, n in zip(cell, array.shape))
        out[pos] = array[cell] if inside else fill
    return out


@pytest.mark.parametrize("shape", [(9, 7), (5, 6, 4)])
@pytest.mark.parametrize("halo", [0, 1, 3, 20])
def test_window_matches_cell_by_cell_reference(shape, halo):
    """Extended-box values and labels = the grid read cell by cell with exterior fill."""
    rng = np.random.default_rng(len(shape) + halo)
    values = rng.standard_normal(shape)
    labels = rng.integers(0, 3, shape).astype(np.int8)
    for _ in range(4):
        start = [int(rng.integers(0, n)) for n in shape]
        box = tuple(slice(s, int(rng.integers(s + 1, n + 1))) for s, n in zip(start, shape))
        bounds = window_bounds(box, halo, shape)
        np.testing.assert_array_equal(
            window(values, bounds, 0.0), reference_window(values, box, halo, 0.0)
        )
        np.testing.assert_array_equal(
            window(labels, bounds, AIR), reference_window(labels, box, halo, AIR)
        )


def test_wide_halo_window_is_the_bordered_grid():
    """A halo as wide as the grid gives the whole grid with its one exterior layer."""
    labels = np.random.default_rng(0).integers(0, 3, (6, 5)).astype(np.int8)
    bounds = window_bounds((slice(2, 4), slice(0, 1)), 6, labels.shape)
    np.testing.assert_array_equal(
        window(labels, bounds, AIR), np.pad(labels, 1, constant_values=AIR)
    )


def test_global_index_matches_rank_by_rank_enumeration():
    """Ranks in C order of the process grid, each box's cells in C order after the previous."""
    blocks = (np.array([2, 3]), np.array([1, 3, 2]), np.array([4]))
    shape = tuple(int(b.sum()) for b in blocks)
    edges = [np.concatenate([[0], np.cumsum(b)]) for b in blocks]
    expected = np.empty(shape, dtype=np.int64)
    k = 0
    for p in itertools.product(*(range(len(b)) for b in blocks)):
        box = tuple(slice(e[i], e[i + 1]) for e, i in zip(edges, p))
        m = expected[box].size
        expected[box] = np.arange(k, k + m).reshape(expected[box].shape)
        k += m
    got = global_index(blocks, np.indices(shape))
    np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="coords"):
        global_index(blocks, (np.array([5]), np.array([0]), np.array([0])))


def test_local_threads():
    """Given: as is; 0: the node's cores over its ranks (one rank here); negative: refused."""
    import os

    from solvers.petsc.dmda import local_threads

    assert local_threads(PETSc.COMM_WORLD, 3) == 3
    assert local_threads(PETSc.COMM_WORLD) == max(1, os.cpu_count() or 1)
    with pytest.raises(ValueError, match="threads"):
        local_threads(PETSc.COMM_WORLD, -1)


def make_pc(options):
    pc = PETSc.PC().create()
    pc.setOptionsPrefix(fresh_prefix(options, "mpinet"))
    pc.setType("python")
    ctx = NetworkPC()
    pc.setPythonContext(ctx)
    return pc, ctx


@pytest.mark.parametrize(
    "key, value",
    [
        ("pc_network_strategy", "scatter"),
        ("pc_network_halo", -1),
        ("pc_network_threads", -2),
        ("pc_network_map", "multigrid"),
    ],  # fmt: skip
)
def test_bad_option_values_name_the_option(key, value):
    pc, ctx = make_pc({key: value})
    with pytest.raises(ValueError, match=f"-{key}") as err:
        ctx.setFromOptions(pc)
    assert str(value) in str(err.value)


def test_halo_needs_a_network_on_a_dmda_system():
    """-pc_network_strategy halo with a classical map, or without a DMDA, is refused."""
    prob = poisson_problem("obstacles", 12, 2, seed=10_001)
    system = dmda_poisson(prob.labels, exterior=prob.exterior)
    pc, ctx = make_pc({"pc_network_strategy": "halo", "pc_network_map": "jacobi"})
    pc.setOperators(system.mat)
    ctx.setFromOptions(pc)
    with pytest.raises(ValueError, match="pretrained network"):
        ctx.setUp(pc)
    pc, ctx = make_pc({"pc_network_strategy": "halo", "pc_network": "poisson2d"})
    pc.setOperators(prob.petsc_aij())
    ctx.setFromOptions(pc)
    ctx.set_grid(prob.labels, AIR)
    with pytest.raises(ValueError, match="DMDA"):
        ctx.setUp(pc)


def dmda_dcdm(system, labels, options):
    base = {"ksp_type": "python", "ksp_python_type": "solvers.petsc.DCDM",
            "ksp_dcdm_directions": 10, "pc_type": "python",
            "pc_python_type": "solvers.petsc.NetworkPC", "pc_network": "poisson2d",
            **options}  # fmt: skip
    if "pc_network_map" in options:
        del base["pc_network"]
    ksp = ksp_from_options(system.mat, base, rtol=1e-6, max_it=200, tag="mpinet")
    ksp.getPC().getPythonContext().set_grid(labels, AIR, da=system.da)
    return ksp


@needs_weights
def test_one_rank_dmda_gather_and_halo_equal_serial_dcdm():
    """One rank, whole-grid DMDA system: gather = numpy dcdm with the serial map (same count,
    x to 1e-10); halo 0 (the window is the whole bordered grid on one rank, SOR = pyamg's
    Gauss-Seidel) applies the same map: PC outputs agree to 1e-10."""
    prob = poisson_problem("obstacles", 24, 2, seed=10_007)
    system = dmda_poisson(prob.labels, exterior=prob.exterior)
    b = prob.rhs_divergence(0)
    f = make_map("network:poisson2d", prob.matrix, labels=prob.labels, exterior=AIR)
    xr, info = dcdm(prob.matrix, b, rtol=1e-6, M=f, directions=10)
    bv = system.from_natural(prob.to_grid(b))
    ys = []
    for options in ({}, {"pc_network_strategy": "halo", "pc_network_halo": 0}):
        ksp = dmda_dcdm(system, prob.labels, options)
        x = system.da.createGlobalVec()
        ksp.solve(bv, x)
        assert ksp.getConvergedReason() > 0 and ksp.getIterationNumber() == info.iterations
        xs = prob.from_grid(x.getArray().reshape(prob.shape))
        assert np.linalg.norm(xs - xr) <= 1e-10 * np.linalg.norm(xr)
        y = system.da.createGlobalVec()
        ksp.getPC().apply(bv, y)
        ys.append(y.getArray().copy())
    assert np.linalg.norm(ys[1] - ys[0]) <= 1e-10 * np.linalg.norm(ys[0])


@pytest.mark.mpi
@needs_weights
@needs_mpiexec
def test_mpiexec_two_ranks_network_pc():
    """`mpiexec -n 2`: ordering and halo windows exact; gather = serial numpy dcdm (same its,
    x to 1e-8), also for a classical map on a fluid-only AIJ; halo wider than the grid:
    network stage = serial network (1e-12), DCDM its = gather's ±1 (the sweeps are block
    Jacobi between ranks); halo 4 converges. Coarse correction with 5x5 blocks cut at the
    rank boundary = scipy with the same aggregates (1e-10) and Galerkin-orthogonal; halo +
    coarse DCDM: halo 64 = gather network+coarse ±1, halo 4 within 3."""
    proc = run_mpi(Path(__file__).with_name("mpi_network_script.py"))
    rows = {}
    for line in proc.stdout.splitlines():
        if line.endswith("size=2"):
            key, *fields = line.split()
            rows[key] = dict(f.split("=") for f in fields)
    keys = {"index", "window", "gather", "aij", "halonet", "halo", "coarse", "halocoarse"}
    assert set(rows) == keys, proc.stdout
    assert rows["index"]["ok"] == "1"
    assert float(rows["window"]["maxerr"]) == 0.0
    g = rows["gather"]
    assert int(g["reason"]) > 0 and g["its"] == g["ref_its"]
    assert float(g["relerr"]) < 1e-8
    a = rows["aij"]
    assert a["its"] == a["ref_its"] and float(a["relerr"]) < 1e-10
    assert float(rows["halonet"]["relerr"]) < 1e-12
    h = rows["halo"]
    assert int(h["reason64"]) > 0 and int(h["reason4"]) > 0
    assert abs(int(h["its64"]) - int(h["gather_its"])) <= 1
    c = rows["coarse"]
    assert float(c["relerr"]) < 1e-10 and float(c["galerkin"]) < 1e-10
    assert int(c["m"]) > int(c["serial_m"])  # 5x5 blocks cut by the rank boundary
    hc = rows["halocoarse"]
    assert int(hc["reason64"]) > 0 and int(hc["reason4"]) > 0 and int(hc["gather_reason"]) > 0
    assert abs(int(hc["its64"]) - int(hc["gather_its"])) <= 1
    assert int(hc["its4"]) <= int(hc["gather_its"]) + 3


@pytest.mark.parametrize(
    "geometry, n, dim, exterior, block",
    [
        ("obstacles", 30, 2, "solid", 4),
        ("obstacles", 24, 2, "air", 5),
        ("obstacles", 10, 3, "solid", (3, 4, 2)),
    ],  # fmt: skip
)
def test_one_rank_petsc_coarse_equals_serial_coarse_correction(geometry, n, dim, exterior, block):
    """One rank: the PETSc coarse correction (P as an AIJ, MatPtAP, redundant LU, pins) applied
    to a random vector = solvers.coarse.CoarseCorrection (scipy) on its fluid entries, 1e-10;
    same aggregates and pins (pure Neumann cases: exterior solid)."""
    from solvers.coarse import CoarseCorrection
    from solvers.petsc.coarse import PetscCoarse

    prob = poisson_problem(geometry, n, dim, seed=10_003, exterior=exterior)
    system = dmda_poisson(prob.labels, exterior=prob.exterior)
    pcc = PetscCoarse(system.mat, system.da, prob.labels, block)
    ref = CoarseCorrection(prob.matrix, prob.labels == 0, block=block)
    assert pcc.size == ref.size
    np.testing.assert_array_equal(pcc.pinned, ref.pinned)
    assert (ref.pinned.size > 0) == prob.is_singular
    v = np.random.default_rng(1).standard_normal(prob.shape)
    out = system.da.createGlobalVec()
    pcc(system.from_natural(v), out)
    got = out.getArray().reshape(prob.shape)
    want = ref(prob.from_grid(v))
    assert np.abs(prob.from_grid(got) - want).max() <= 1e-10 * np.abs(want).max()
    assert np.all(got[prob.labels != 0] == 0.0)
    pcc.destroy()


@needs_weights
def test_one_rank_halo_coarse_pc_equals_serial_network_coarse_map():
    """One rank: halo strategy with the network+coarse map (-pc_network_coarse 4) applies the
    serial NetworkMap(coarse=4) with the poisson2d-coarse network: PC outputs to 1e-10."""
    if "poisson2d-coarse" not in available():
        pytest.skip("no poisson2d-coarse weights")
    prob = poisson_problem("obstacles", 24, 2, seed=10_007)
    system = dmda_poisson(prob.labels, exterior=prob.exterior)
    f = make_map("network+coarse::4", prob.matrix, labels=prob.labels, exterior=AIR)
    b = prob.rhs_divergence(0)
    ref = f(b / np.linalg.norm(b))
    bv = system.from_natural(prob.to_grid(b))
    for options in ({"pc_network_map": "network+coarse::4"},
                    {"pc_network": "poisson2d-coarse", "pc_network_coarse": 4}):  # fmt: skip
        ksp = dmda_dcdm(system, prob.labels, {"pc_network_strategy": "halo",
                                              "pc_network_halo": 0, **options})  # fmt: skip
        ksp.setUp()
        y = system.da.createGlobalVec()
        ksp.getPC().apply(bv, y)
        got = prob.from_grid(y.getArray().reshape(prob.shape))
        assert np.linalg.norm(got - ref) <= 1e-10 * np.linalg.norm(ref)
