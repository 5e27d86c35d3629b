"""The distributed DMDA Poisson system against the serial :class:`PoissonProblem`.

The box-local pieces (rows, right-hand sides, null space) are checked serially by tiling the
grid into boxes, as ranks would, in ``test_stencil.py``; here the PETSc objects on one rank
(with an exterior given by name or by label code); a 2-rank ``mpiexec`` job checks the whole
chain (matrix gathered, right-hand sides, four classical solvers vs a direct solve).
"""

from pathlib import Path

import numpy as np
import petsc4py  # noqa: F401 - required: a missing petsc4py fails, never skips
import pytest
import scipy.sparse as sp

from pde import FLUID, SOLID, PoissonProblem, dmda_poisson, make_geometry, poisson_problem
from tests.mpi import needs_mpiexec, run_mpi

CASES = [
    ("obstacles", (17, 15), "solid"),
    ("obstacles", (16, 18), "air"),
    ("plume", (13, 12), "solid"),
    ("obstacles", (9, 8, 7), "solid"),
]


def _problem(geometry, shape, exterior, **kw):
    return PoissonProblem(make_geometry(geometry, shape, seed=4), exterior=exterior, **kw)


def _csr(mat):
    indptr, indices, data = mat.getValuesCSR()
    return sp.csr_matrix((data, indices, indptr), shape=mat.getSize())


@pytest.mark.parametrize(("geometry", "shape", "exterior"), CASES)
def test_dmda_poisson_one_rank_matches_problem(geometry, shape, exterior):
    """On one rank: matrix = whole-grid matrix; null space, both rhs = serial (1e-14)."""
    prob = _problem(geometry, shape, exterior)
    # the exterior by label code in 3D, by name in 2D; the system keeps both spellings
    system = dmda_poisson(
        prob.labels, exterior=prob.exterior_label if len(shape) == 3 else exterior
    )
    assert system.exterior == exterior and system.exterior_label == prob.exterior_label
    assert system.da.getSizes() == tuple(reversed(shape))
    assert abs(_csr(system.mat) - prob.grid_matrix()).max() == 0.0
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
