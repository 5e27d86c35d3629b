"""The DCDM KSP and NetworkPC PC python types: equivalences, options, reasons, lifecycle."""

import re
from pathlib import Path

import numpy as np
import petsc4py  # noqa: F401 - required: a missing petsc4py fails, never skips
import pytest
import scipy.sparse as sp

from pde import poisson_problem
from solvers.dcdm import dcdm
from solvers.maps import make_map
from solvers.petsc import DCDM, NetworkPC, as_petsc_mat, petsc_module
from tests.mpi import needs_mpiexec, run_mpi
from tests.petsc_options import ksp_from_options

PETSc = petsc_module()
R = PETSc.KSP.ConvergedReason
#: PETSc's error code for an exception raised in a Python plug-in (PETSC_ERR_PYTHON).
PETSC_ERR_PYTHON = 101


def assert_plugin_error(excinfo, cause_type, match):
    """The PETSc.Error came from our plug-in's own check: code PETSC_ERR_PYTHON, and the
    chained Python exception is ``cause_type`` with a message matching ``match`` (a plug-in
    that fails to import, or any other set-up failure, does not pass)."""
    err = excinfo.value
    assert err.ierr == PETSC_ERR_PYTHON, f"PETSc error code {err.ierr}, expected 101"
    cause = err.__cause__
    assert isinstance(cause, cause_type), f"cause {cause!r}, expected {cause_type.__name__}"
    assert re.search(match, str(cause)), f"cause {cause!r} does not match {match!r}"


def make_ksp(mat, options, rtol=1e-8, max_it=500):
    """A KSP configured only through the options database (under a fresh prefix)."""
    ksp = ksp_from_options(mat, options, rtol=rtol, max_it=max_it, tag="plug")
    return ksp


def run(ksp, rhs):
    b, x = ksp.getOperators()[0].createVecs()
    b.setArray(rhs)
    ksp.solve(b, x)
    return x.getArray().copy()


DCDM_OPTS = {"ksp_type": "python", "ksp_python_type": "solvers.petsc.DCDM"}
PC_OPTS = {"pc_type": "python", "pc_python_type": "solvers.petsc.NetworkPC"}


@pytest.fixture(scope="module")
def prob():
    return poisson_problem("obstacles", 24, 2, seed=0)


@pytest.mark.parametrize("spec", ["jacobi:2", "jacobi:6", "pyamg"])
def test_ksp_matches_numpy_dcdm_and_fcg(prob, spec):
    """KSP DCDM = numpy dcdm (same count, x to 1e-8); fcg mmax=2 standard: same count ±1."""
    b = prob.rhs_divergence(1)
    mat = prob.petsc_aij()
    opts = {**PC_OPTS, "pc_network_map": spec}
    ksp = make_ksp(mat, {**DCDM_OPTS, **opts})
    x = run(ksp, b)
    xr, info = dcdm(prob.matrix, b, rtol=1e-8, M=make_map(spec, prob.matrix))
    assert ksp.getConvergedReason() == R.CONVERGED_RTOL
    assert ksp.getIterationNumber() == info.iterations
    assert np.linalg.norm(x - xr) <= 1e-8 * np.linalg.norm(xr)
    fcg = make_ksp(
        mat,
        {
            "ksp_type": "fcg",
            "ksp_fcg_mmax": 2,
            "ksp_fcg_truncation_type": "standard",
            "ksp_norm_type": "unpreconditioned",
            **opts,
        },
    )
    run(fcg, b)
    assert fcg.getConvergedReason() > 0
    assert abs(fcg.getIterationNumber() - ksp.getIterationNumber()) <= 1


def test_options_are_honoured(prob):
    """-ksp_dcdm_directions / -ksp_dcdm_recompute / -pc_network_map / -pc_network_normalize."""
    mat = prob.petsc_aij()
    ksp = make_ksp(
        mat,
        {
            **DCDM_OPTS,
            **PC_OPTS,
            "ksp_dcdm_directions": 3,
            "ksp_dcdm_recompute": 7,
            "pc_network_map": "jacobi:1",
            "pc_network_normalize": "false",
        },
    )
    ctx, pctx = ksp.getPythonContext(), ksp.getPC().getPythonContext()
    assert isinstance(ctx, DCDM) and isinstance(pctx, NetworkPC)
    assert (ctx.directions, ctx.recompute_every) == (3, 7)
    assert pctx.spec == "jacobi:1" and pctx.normalize is False
    assert ksp.getNormType() == PETSc.KSP.NormType.UNPRECONDITIONED
    ksp.setUp()
    x, y = mat.createVecs()
    v = np.random.default_rng(0).standard_normal(prob.n)
    x.setArray(v)
    ksp.getPC().apply(x, y)
    np.testing.assert_allclose(y.getArray(), (2 / 3) * v / prob.matrix.diagonal(), rtol=1e-14)
    pctx.normalize = True
    ksp.getPC().apply(x, y)
    np.testing.assert_allclose(
        y.getArray(), (2 / 3) * v / np.linalg.norm(v) / prob.matrix.diagonal(), rtol=1e-14
    )


def test_preconditioned_norm_is_refused(prob):
    """-ksp_norm_type preconditioned would monitor |f(r/|r|)|, which need not fall: refused."""
    ksp = make_ksp(prob.petsc_aij(), {**DCDM_OPTS, "ksp_norm_type": "preconditioned"})
    with pytest.raises(PETSc.Error) as excinfo:
        ksp.setUp()
    assert_plugin_error(excinfo, ValueError, r"DCDM monitors the unpreconditioned residual norm")


def test_identity_pc_k1_matches_petsc_cg(prob):
    """DCDM with PC none and k = 1 is CG: PETSc's own CG takes the same count (±1)."""
    b = prob.rhs_divergence(2)
    mat = prob.petsc_aij()
    ksp = make_ksp(mat, {**DCDM_OPTS, "pc_type": "none", "ksp_dcdm_directions": 1})
    run(ksp, b)
    ref = make_ksp(mat, {"ksp_type": "cg", "pc_type": "none", "ksp_norm_type": "unpreconditioned"})
    run(ref, b)
    assert abs(ksp.getIterationNumber() - ref.getIterationNumber()) <= 1


def test_monitors_and_history(prob):
    """A PETSc monitor sees iterations 0..its with the unpreconditioned residual norms."""
    b = prob.rhs_divergence(3)
    mat = prob.petsc_aij()
    ksp = make_ksp(mat, {**DCDM_OPTS, **PC_OPTS, "pc_network_map": "jacobi:3"})
    seen = []
    ksp.setMonitor(lambda k, its, rn: seen.append((its, rn)))
    ksp.setConvergenceHistory()
    x = run(ksp, b)
    its = ksp.getIterationNumber()
    assert [s[0] for s in seen] == list(range(its + 1))
    assert seen[0][1] == pytest.approx(np.linalg.norm(b), rel=1e-12)
    assert seen[-1][1] <= 1e-8 * np.linalg.norm(b)
    assert seen[-1][1] == pytest.approx(np.linalg.norm(b - prob.matrix @ x), rel=1e-6)
    assert len(ksp.getConvergenceHistory()) >= its


def _reason(mat, rhs, fmap=None, max_it=200, pc="none"):
    ksp = PETSc.KSP().create()
    ksp.setOperators(mat)
    ksp.setType("python")
    ctx = DCDM()
    ksp.setPythonContext(ctx)
    if fmap is not None:
        ksp.getPC().setType("python")
        ksp.getPC().setPythonContext(NetworkPC(fmap))
    else:
        ksp.getPC().setType(pc)
    ksp.setTolerances(rtol=1e-8, max_it=max_it)
    run(ksp, rhs)
    return ksp.getConvergedReason(), ctx.message


def test_diverged_reasons(prob):
    """Indefinite A, NaN map, degenerate map and the iteration limit each set their reason."""
    indefinite = as_petsc_mat(sp.diags([1.0, -1.0, 2.0]).tocsr())
    reason, msg = _reason(indefinite, np.array([0.0, 1.0, 0.0]))
    assert reason == R.DIVERGED_INDEFINITE_MAT and "positive definite" in msg
    mat, b = prob.petsc_aij(), prob.rhs_divergence(4)
    reason, msg = _reason(mat, b, lambda r: np.full_like(r, np.nan))
    assert reason == R.DIVERGED_NANORINF and msg
    e = np.ones(prob.n)
    reason, msg = _reason(mat, b, lambda r: e)
    assert reason == R.DIVERGED_BREAKDOWN and "span" in msg
    reason, msg = _reason(mat, b, max_it=3)
    assert reason == R.DIVERGED_MAX_IT
    reason, msg = _reason(mat, b, pc="jacobi")
    assert reason == R.CONVERGED_RTOL and msg == ""


def test_lifecycle_setup_once_reset_frees(prob):
    """Two solves with the same operator: one setUp each; reset frees the work vectors."""
    mat, b = prob.petsc_aij(), prob.rhs_divergence(5)
    ksp = PETSc.KSP().create()
    ksp.setOperators(mat)
    ksp.setType("python")
    ctx, pctx = DCDM(), NetworkPC(spec="jacobi:2")
    ksp.setPythonContext(ctx)
    ksp.getPC().setType("python")
    ksp.getPC().setPythonContext(pctx)
    run(ksp, b)
    run(ksp, b)
    assert ctx.calls["solve"] == 2 and ctx.calls["setUp"] == 1 and pctx.calls["setUp"] == 1
    assert ctx.work is not None and len(ctx.work["p"]) == ctx.directions + 1
    ksp.reset()
    assert ctx.calls["reset"] >= 1 and ctx.work is None and pctx.calls["reset"] >= 1
    ksp.setOperators(mat)
    run(ksp, b)
    assert ctx.calls["setUp"] == 2 and ksp.getConvergedReason() > 0
    ksp.destroy()
    assert ctx.work is None


def test_singular_problem_with_null_space():
    """Closed box: the AIJ carries its null space; DCDM + V-cycle reaches rtol."""
    prob = poisson_problem("obstacles", 16, 2, seed=1, exterior="solid")
    b = prob.rhs_divergence(0)
    ksp = make_ksp(prob.petsc_aij(), {**DCDM_OPTS, **PC_OPTS, "pc_network_map": "pyamg"})
    x = run(ksp, b)
    assert ksp.getConvergedReason() > 0
    assert np.linalg.norm(b - prob.matrix @ x) <= 1e-8 * np.linalg.norm(b)


def test_network_pc_without_map_errors(prob):
    ksp = make_ksp(prob.petsc_aij(), {"ksp_type": "cg", **PC_OPTS})
    with pytest.raises(PETSc.Error) as excinfo:
        ksp.setUp()
    assert_plugin_error(excinfo, ValueError, r"MapPC has no map: call set_map")


@pytest.mark.mpi
@needs_mpiexec
def test_mpiexec_two_ranks_dcdm_and_dmda():
    """`mpiexec -n 2`: DCDM KSP (PC jacobi) = serial numpy dcdm (same its, x to 1e-10); DMDA ok."""
    proc = run_mpi(Path(__file__).with_name("mpi_dcdm_script.py"))
    lines = {ln.split()[0]: ln for ln in proc.stdout.splitlines() if "size=2" in ln}
    assert set(lines) == {"dcdm", "dmda"}, proc.stdout
    fields = dict(f.split("=") for f in lines["dcdm"].split()[1:])
    assert int(fields["reason"]) > 0 and fields["its"] == fields["ref_its"]
    assert float(fields["relerr"]) < 1e-10
    assert float(lines["dmda"].split("relerr=")[1]) < 1e-13


def test_shell_matrix_of_conv_operator():
    """DCDM KSP + NetworkPC on the ConvOperator shell (map built from to_sparse) = on the AIJ."""
    from pde import dirichlet_box

    prob = dirichlet_box((12, 10))
    b = prob.rhs_random(0)
    its = []
    for mat in (as_petsc_mat(prob.conv_operator()), prob.petsc_aij()):
        ksp = make_ksp(mat, {**DCDM_OPTS, **PC_OPTS, "pc_network_map": "jacobi:2"})
        x = run(ksp, b)
        assert ksp.getConvergedReason() > 0
        assert np.linalg.norm(b - prob.matrix @ x) <= 1e-8 * np.linalg.norm(b)
        its.append(ksp.getIterationNumber())
    assert its[0] == its[1]
