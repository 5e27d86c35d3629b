"""Hostile inputs of issue 20 at the solvers' entry points: each refused by name, or a diverged
reason with a message (ids from the issue's appendix)."""

import json
import shutil

import numpy as np
import petsc4py  # noqa: F401 - required: a missing petsc4py fails, never skips
import pytest
import scipy.sparse as sp

import solvers
from pde import poisson_problem
from solvers.info import check_tolerances
from solvers.maps import check_spec
from solvers.network import NetworkMap, load_pretrained
from solvers.network.registry import WEIGHTS_DIR, WeightsError
from solvers.petsc import petsc_module
from tests.petsc_options import ksp_from_options

NAN, INF = float("nan"), float("inf")


@pytest.fixture(scope="module")
def spd():
    Q = np.random.default_rng(0).standard_normal((20, 20))
    return Q @ Q.T + 20 * np.eye(20)


@pytest.fixture(scope="module")
def prob():
    return poisson_problem("obstacles", 16, 2, seed=0)


# ---------------------------------------------------------------- tolerances (L09 ... K28)
@pytest.mark.parametrize("solver", [solvers.cg, solvers.dcdm, solvers.pyamg_cg])
@pytest.mark.parametrize(
    ("kw", "name", "shown"),
    [
        ({"rtol": -1.0}, "rtol", "-1.0"),  # L09, L10
        ({"rtol": NAN}, "rtol", "nan"),  # L32, L33
        ({"atol": INF}, "atol", "inf"),  # L34
        ({"atol": -1e-3}, "atol", "-0.001"),
        ({"rtol": INF}, "rtol", "inf"),
    ],
)
def test_numpy_solvers_refuse_bad_tolerances(spd, solver, kw, name, shown):
    """L09 L10 L32 L33 L34: never a 'maxiter'/'indefinite'/'atol' at a meaningless tolerance."""
    with pytest.raises(ValueError, match=rf"^{name} must be a finite number >= 0, got {shown}$"):
        solver(sp.csr_matrix(spd), np.ones(20), **kw)


@pytest.mark.parametrize("solver", [solvers.cg, solvers.dcdm])
def test_numpy_solvers_refuse_bad_maxiter_and_types(spd, solver):
    with pytest.raises(ValueError, match=r"^maxiter must be an integer >= 0, got -1$"):
        solver(spd, np.ones(20), maxiter=-1)
    with pytest.raises(TypeError, match=r"^rtol must be a finite number >= 0, got '1e-5'$"):
        solver(spd, np.ones(20), rtol="1e-5")
    with pytest.raises(TypeError, match=r"^atol must be .* got True$"):
        solver(spd, np.ones(20), atol=True)


def test_valid_tolerances_unchanged(spd):
    """No behaviour change: rtol=0 with a maxiter runs the iterations; numpy ints accepted."""
    assert check_tolerances(np.float32(1e-3), np.int64(0), np.int64(5)) == (
        pytest.approx(1e-3),
        0.0,
        5,
    )
    x, info = solvers.cg(spd, np.ones(20), rtol=0.0, maxiter=3)
    assert (info.reason, info.iterations) == ("maxiter", 3)
    x, info = solvers.cg(spd, np.ones(20), rtol=1e-10)
    assert info.converged and np.allclose(spd @ x, 1.0)


@pytest.mark.parametrize("method", ["petsc-cg", "gamg-cg", "jacobi-cg"])
@pytest.mark.parametrize(
    ("kw", "exc", "pattern"),
    [
        ({"rtol": -1.0}, ValueError, r"^rtol must be a finite number >= 0, got -1.0$"),  # K23 K28
        ({"maxiter": -1}, ValueError, r"^maxiter must be an integer >= 0, got -1$"),  # K27
        ({"atol": NAN}, ValueError, r"^atol must be a finite number >= 0, got nan$"),
    ],
)
def test_petsc_solvers_refuse_negative_tolerances(prob, method, kw, exc, pattern):
    """K23 K27 K28: PETSc reads -1 as 'default'; refused before any KSP exists."""
    with pytest.raises(exc, match=pattern):
        solvers.solve(prob.matrix, prob.rhs_divergence(0), method=method, **kw)


def test_ksp_solve_refuses_before_petsc_objects(prob):
    """The check is first in ksp_solve: even a non-matrix A reports the tolerance."""
    from solvers.petsc._core import ksp_solve

    with pytest.raises(ValueError, match=r"^rtol must be a finite number >= 0, got -1.0$"):
        ksp_solve("not a matrix", np.ones(3), rtol=-1.0)


# ---------------------------------------------------------------- maps (L15, L23, K14, N06)
def test_cg_map_of_wrong_size(spd):
    """L15: a map returning 7 entries for n = 20 names M and both sizes."""
    msg = r"^M must return a vector of 20 entries \(one per row of A\), got 7 entries$"
    with pytest.raises(ValueError, match=msg):
        solvers.cg(spd, np.ones(20), M=lambda r: np.ones(7))
    with pytest.raises(ValueError, match=msg):
        solvers.dcdm(spd, np.ones(20), M=lambda r: np.ones(7))
    with pytest.raises(ValueError, match=r"^M must be a 20 x 20 matrix to match A, got ndarray"):
        solvers.cg(spd, np.ones(20), M=np.eye(7))


def test_dcdm_map_nan_is_a_status(spd):
    x, info = solvers.dcdm(spd, np.ones(20), M=lambda r: np.full(20, np.nan))
    assert info.reason == "nan" and "non-finite" in info.message and not info.converged


@pytest.mark.parametrize(
    ("spec", "pattern"),
    [
        ("pyamg:abc", r"^spec 'pyamg:abc': the sweep count must be an integer >= 1, got 'abc'$"),
        ("jacobi:abc", r"^spec 'jacobi:abc': the sweep count must be an integer >= 1, got 'abc'"),
        ("coarse:x", r"block side must be an integer >= 1, got 'x'"),
        ("bogus", r"^spec must be one of \["),
    ],
)
def test_make_map_bad_specs(spec, pattern):
    """L23 (and its neighbours): the spec and the bad part are named."""
    with pytest.raises(ValueError, match=pattern):
        solvers.make_map(spec, sp.eye(4, format="csr"))


def test_check_spec_names_the_option():
    with pytest.raises(ValueError, match=r"^-pc_network_map 'jacobi:abc': the sweep count"):
        check_spec("jacobi:abc", "-pc_network_map")
    with pytest.raises(ValueError, match=r"^-pc_network_map 'coarse:0': .*block side"):
        check_spec("coarse:0", "-pc_network_map")
    with pytest.raises(TypeError, match=r"^spec must be a string"):
        check_spec(4)
    assert check_spec("network+coarse:poisson2d-coarse:8") == "network+coarse:poisson2d-coarse:8"


def _ksp(mat, options):
    return ksp_from_options(mat, options, rtol=1e-8, max_it=200, tag="hostile")


DCDM_PC = {
    "ksp_type": "python",
    "ksp_python_type": "solvers.petsc.DCDM",
    "pc_type": "python",
    "pc_python_type": "solvers.petsc.NetworkPC",
}


def test_pc_option_bad_sweep_count_names_the_option(prob):
    """K14: -pc_network_map jacobi:abc -> the PETSc error's Python cause names the option."""
    PETSc = petsc_module()
    mat = prob.petsc_aij()
    with pytest.raises(PETSc.Error) as err:
        _ksp(mat, {**DCDM_PC, "pc_network_map": "jacobi:abc"})
    cause = err.value.__cause__
    assert isinstance(cause, ValueError)
    assert str(cause) == (
        "-pc_network_map 'jacobi:abc': the sweep count must be an integer >= 1, got 'abc'"
    )
    mat.destroy()


def test_dcdm_ksp_nan_rhs_is_diverged_nanorinf(prob):
    """K18: a NaN right-hand side ends DIVERGED_NANORINF with a message naming NaN."""
    PETSc = petsc_module()
    mat = prob.petsc_aij()
    ksp = _ksp(mat, {**DCDM_PC, "pc_network_map": "jacobi"})
    b, x = mat.createVecs()
    rhs = prob.rhs_divergence(0)
    rhs[5] = np.nan
    b.setArray(rhs)
    ksp.solve(b, x)
    assert ksp.getConvergedReason() == PETSc.KSP.ConvergedReason.DIVERGED_NANORINF
    assert ksp.getIterationNumber() == 0
    assert "NaN" in ksp.getPythonContext().message
    for obj in (ksp, mat, b, x):
        obj.destroy()


def test_network_map_refuses_unknown_labels(prob):
    """N06: a label 5 (outside FLUID/SOLID/AIR) is refused by name, as PoissonProblem does."""
    l5 = prob.labels.copy()
    l5[l5 == 1] = 5
    pattern = (
        r"^labels must hold only FLUID \(0\), SOLID \(1\) or AIR \(2\), got the value\(s\) \[5\]$"
    )
    with pytest.raises(ValueError, match=pattern):
        NetworkMap(load_pretrained("poisson2d"), l5, exterior=2, A=prob.matrix)
    with pytest.raises(ValueError, match=pattern):
        solvers.make_map("coarse", prob.matrix, labels=l5)
    neg = prob.labels.copy()
    neg[0, 0] = -1
    with pytest.raises(ValueError, match=r"got the value\(s\) \[-1\]"):
        solvers.make_map("network", prob.matrix, labels=neg, exterior="air")


# ---------------------------------------------------------------- weights JSON (X09, X10)
@pytest.mark.parametrize(
    ("name", "edit", "pattern"),
    [
        (
            "poisson2d",
            {"width": 10**6},
            r"poisson2d\.pt does not fit the model config of poisson2d\.json",
        ),  # X09
        ("poisson2d", {"evil": 1}, r"poisson2d\.json: config has unknown key\(s\) \['evil'\]"),
        ("poisson2d", {"depth": 10**6}, r"poisson2d\.json: config depth=1000000 does not fit"),
        ("poisson2d", {"min_size": -3}, r"config min_size must be a positive integer"),
        ("poisson2d", {"width": "16"}, r"poisson2d\.json: config width must be a positive integer"),
        # the prolongation network's flags and sizes
        ("stencil2d", {"compact": "yes"}, r"stencil2d\.json: config compact must be a bool"),
        ("stencil2d", {"compact": 1}, r"stencil2d\.json: config compact must be a bool"),
        ("stencil2d", {"kernel_size": 2}, r"invalid model config .*kernel_size must be 1 or 3"),
        ("stencil2d", {"kernel_size": 3}, r"stencil2d\.pt does not fit the model config"),
        ("stencil2d", {"block": 0}, r"stencil2d\.json: config block must be a positive integer"),
    ],
)
def test_weights_config_is_validated(tmp_path, name, edit, pattern):
    """X09 X10: the JSON beside the weights (not covered by the checksum) is checked."""
    for ext in (".pt", ".json"):
        shutil.copy(WEIGHTS_DIR / f"{name}{ext}", tmp_path)
    js = tmp_path / f"{name}.json"
    meta = json.loads(js.read_text())
    meta["config"].update(edit)
    js.write_text(json.dumps(meta))
    with pytest.raises(WeightsError, match=pattern):
        load_pretrained(name, folder=tmp_path)
