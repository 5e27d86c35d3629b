"""PETSc options from the command line (issue 19 item 2): ``PETSC_OPTIONS`` and
``--petsc-options`` reach ``sciconv poisson``'s PETSc solves; the plug-ins list their options
under ``-help``; ``-pc_network_labels`` gives the grid; the README's FCG and CG lines work.

References: PETSc's own output (monitor lines, converged reasons, ``-ksp_view``, the
end-of-run unused-option list) read from subprocesses; SciPy's direct solve and NumPy's
:func:`solvers.dcdm.dcdm` with the same map for the solutions and iteration counts.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import petsc4py  # noqa: F401 - required: a missing petsc4py fails, never skips
import pytest
import scipy.sparse.linalg as spla

from pde import poisson_problem
from sciconv.cli import main
from solvers.dcdm import dcdm
from solvers.krylov import petsc_solve
from solvers.maps import make_map
from solvers.petsc import DCDM, MapPC, ksp_solve, petsc_module
from solvers.petsc.options import fan_out, split_options
from tests.mpi import needs_mpiexec, run_mpi_command
from tests.petsc_options import ksp_from_options

PETSc = petsc_module()
R = PETSc.KSP.ConvergedReason
ROOT = Path(__file__).resolve().parents[2]
EXE = Path(sys.executable).with_name("sciconv")
PC = {"pc_type": "python", "pc_python_type": "solvers.petsc.NetworkPC"}


def _run(argv, env=None, timeout=180):
    full = {k: v for k, v in os.environ.items() if k != "PETSC_OPTIONS"}
    full.update(OMP_NUM_THREADS="1", **(env or {}))
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=full, check=False
    )


def _unused(text):
    """The option names of PETSc's end-of-run "Option left" list."""
    return re.findall(r"Option left: name:-(\S+)", text)


def _table_its(out, solver, column=1):
    """The iterations of ``solver``'s table row (column 1 serial, 2 distributed: after ranks)."""
    rows = [ln.split() for ln in out.splitlines() if ln.split()[:1] == [solver]]
    assert len(rows) == 1, out
    return int(rows[0][column])


# -- subprocesses: the command line as a user types it ------------------------------------------


def test_petsc_options_env_and_flag_reach_every_petsc_solve():
    """PETSC_OPTIONS="-ksp_monitor" and --petsc-options "-ksp_converged_reason -gamg_ksp_view
    -bogus_opt" on the serial path: one monitor block per PETSc solve (icc_, gamg_) with the
    table's iterations + 1 lines, none for the NumPy cg; both reasons; the view of GAMG-CG
    only; and PETSc reports only -bogus_opt unused (today's code: no monitor line, no reason,
    and "There are 4 unused database options")."""
    env = {"PETSC_OPTIONS": "-ksp_monitor"}
    argv = [str(EXE), "poisson", "--n", "16", "--solvers", "cg,icc,gamg", "--petsc-options",
            "-ksp_converged_reason -gamg_ksp_view -bogus_opt"]  # fmt: skip
    proc = _run(argv, env=env)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    assert _unused(text) == ["bogus_opt"], text
    blocks = re.split(r"Residual norms for (\S+) solve\.", proc.stdout)
    solves = dict(zip(blocks[1::2], blocks[2::2], strict=True))
    assert sorted(solves) == ["gamg_", "icc_"], text
    for prefix, row in (("icc_", "icc-cg"), ("gamg_", "gamg-cg")):
        its = re.findall(r"^\s*(\d+) KSP Residual norm", solves[prefix], re.M)
        table = _table_its(proc.stdout, row)
        assert [int(i) for i in its] == list(range(table + 1)), prefix
        assert f"Linear {prefix} solve converged due to CONVERGED_RTOL iterations {table}" in text
    assert text.count("KSP Object: (gamg_)") == 1 and "KSP Object: (icc_)" not in text


def test_example_help_log_view_and_labels_select_network_coarse(tmp_path):
    """examples/petsc_options.py from options alone: -help lists the -ksp_dcdm_* and
    -pc_network_* options with descriptions; -pc_network_labels (the example's grid, saved
    here) with -pc_network_map network+coarse selects the shipped two-level network map
    without set_grid; the solve converges to SciPy's direct solution; -log_view reports the
    KSPSolve and PCApply events; no option is left unused."""
    labels = tmp_path / "labels.npy"
    np.save(labels, poisson_problem("obstacles", 24, 2, seed=10_000, exterior="air").labels)
    argv = [sys.executable, "examples/petsc_options.py", "-n", "24", "-help", "-log_view",
            "-ksp_view", "-pc_network_map", "network+coarse", "-pc_network_labels", str(labels),
            "-pc_network_exterior", "air"]  # fmt: skip
    proc = _run(argv)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    help_rows = dict(re.findall(r"^\s+-((?:ksp_dcdm|pc_network)\w*) <now [^>]*>: (.+)$", out, re.M))
    for name in ("ksp_dcdm_directions", "ksp_dcdm_recompute", "pc_network_map", "pc_network",
                 "pc_network_labels", "pc_network_exterior", "pc_network_normalize",
                 "pc_network_strategy", "pc_network_coarse"):  # fmt: skip
        assert len(help_rows.get(name, "")) > 20, (name, help_rows)
    assert f"-pc_network_labels <now {labels}>" in out
    assert "MapPC: map network+coarse, normalize=True" in out
    found = re.search(r"(\d+) iterations, reason (-?\d+), true relres (\S+), .* ([0-9.e+-]+)$",
                      out, re.M)  # fmt: skip
    assert found, out[-2000:]
    _its, reason, relres, err = found.groups()
    assert int(reason) > 0 and float(relres.rstrip(",")) <= 1e-8 and float(err) <= 1e-6
    assert re.search(r"^KSPSolve\s+1 ", out, re.M) and re.search(r"^PCApply\s+\d+", out, re.M)
    assert _unused(out) == [], out[-2000:]


def test_petsc_options_dmda_path_reach_the_dcdm_plugin(capfd):
    """--petsc-options on the DMDA path (in process, PETSc's output read from the file
    descriptors): -ksp_converged_reason reaches GAMG-CG and the DCDM KSP, -dcdm_ksp_view views
    only the DCDM KSP, with the -dcdm_ksp_dcdm_directions 3 it was given over the
    --dcdm-directions default 2; the row's map is the one PETSc used."""
    opts = "-ksp_converged_reason -dcdm_ksp_view -dcdm_ksp_dcdm_directions 3"
    db = PETSc.Options()
    try:
        rc = main(["poisson", "--dmda", "--n", "16", "--solvers", "gamg,dcdm", "--dcdm-map",
                   "pyamg", "--petsc-options", opts])  # fmt: skip
    finally:
        for name in ("ksp_converged_reason", "dcdm_ksp_view", "dcdm_ksp_dcdm_directions"):
            db.delValue(name)
    cap = capfd.readouterr()
    text = cap.out + cap.err
    assert rc == 0, text
    reasons = re.findall(r"Linear (\S+) solve converged due to CONVERGED_RTOL iterations (\d+)",
                         text)  # fmt: skip
    assert [p for p, _ in reasons] == ["gamg_", "dcdm_"], text
    assert int(dict(reasons)["dcdm_"]) == _table_its(text, "dcdm[pyamg,gather]", column=2)
    assert int(dict(reasons)["gamg_"]) == _table_its(text, "gamg", column=2)
    assert text.count("KSP Object: (dcdm_)") == 1 and "KSP Object: (gamg_)" not in text
    assert "DCDM: 3 A-orthogonalised directions" in text
    assert "MapPC: map pyamg, normalize=False" in text


# -- in process: the pieces ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prob():
    return poisson_problem("obstacles", 24, 2, seed=10_001)


def test_fan_out_marks_used_only_options_that_reached_a_solve(prob):
    """Un-prefixed options reach each prefixed solve; a prefixed value beats them; type options
    are not fanned out; on leaving, an option is marked used exactly when a solve read it."""
    db = PETSc.Options()
    user = {"ksp_max_it": 3, "fanb_ksp_max_it": 5, "pc_type": "jacobi", "pc_fan_nothing": 1}
    for key, val in user.items():
        db[key] = val
    try:
        b = prob.rhs_divergence(0)
        with fan_out(["fana_", "fanb_"]) as names:
            assert sorted(names) == ["ksp_max_it", "pc_fan_nothing"]
            _, a = petsc_solve(prob.petsc_aij(), b, prefix="fana_", rtol=1e-12)
            _, bb = petsc_solve(prob.petsc_aij(), b, prefix="fanb_", rtol=1e-12)
        assert (a.iterations, bb.iterations) == (3, 5)  # maxiter from the options, not None
        assert db.used("ksp_max_it") and not db.used("pc_fan_nothing")
        assert not db.used("pc_type")
        left = db.getAll()
        assert "fana_ksp_max_it" not in left and "fanb_ksp_max_it" in left  # the user's stays
    finally:
        for key in user:
            db.delValue(key)


def test_ksp_solver_defaults_do_not_override_the_users_prefixed_options(prob):
    """options= are defaults under a documented prefix: the user's value wins and survives."""
    db = PETSc.Options()
    db["dflt_ksp_dcdm_directions"] = 4
    try:
        ksp = DCDM()
        x, info = ksp_solve(prob.petsc_aij(), prob.rhs_divergence(1), ksp_type=ksp,
                            pc_type="jacobi", prefix="dflt_",
                            options={"ksp_dcdm_directions": 2}, rtol=1e-8)  # fmt: skip
        assert info.converged and ksp.directions == 4
        assert db.getInt("dflt_ksp_dcdm_directions") == 4
    finally:
        db.delValue("dflt_ksp_dcdm_directions")


def test_baselines_read_their_documented_prefix(prob):
    """solvers.solve(method='gamg-cg') reads -gamg_: -gamg_ksp_max_it 2 stops it at 2."""
    from solvers.krylov import solve

    db = PETSc.Options()
    db["gamg_ksp_max_it"] = 2
    try:
        _, info = solve(prob.matrix, prob.rhs_divergence(2), method="gamg", rtol=1e-12)
        _, icc = solve(prob.matrix, prob.rhs_divergence(2), method="icc", rtol=1e-12)
    finally:
        db.delValue("gamg_ksp_max_it")
    assert info.iterations == 2 and info.reason == "maxiter"
    assert icc.converged  # -gamg_ reaches only GAMG


def test_pc_network_labels_selects_network_coarse(prob, tmp_path):
    """-pc_network_map network+coarse with -pc_network_labels FILE: the DCDM KSP converges in
    the iterations of NumPy's dcdm with make_map('network+coarse', labels=...) (±1, float32
    network) and to SciPy's solution."""
    path = tmp_path / "grid.npy"
    np.save(path, prob.labels)
    opts = {"ksp_type": "python", "ksp_python_type": "solvers.petsc.DCDM", **PC,
            "pc_network_map": "network+coarse", "pc_network_labels": str(path),
            "pc_network_exterior": "air"}  # fmt: skip
    ksp = ksp_from_options(prob.petsc_aij(), opts, rtol=1e-8, tag="labels")
    b = prob.rhs_divergence(3)
    bv, x = ksp.getOperators()[0].createVecs()
    bv.setArray(b)
    ksp.solve(bv, x)
    f = make_map("network+coarse", prob.matrix, labels=prob.labels, exterior="air")
    _, ref = dcdm(prob.matrix, b, rtol=1e-8, M=f, directions=2)
    exact = spla.spsolve(prob.matrix.tocsc(), b)
    assert ksp.getConvergedReason() > 0 and abs(ksp.getIterationNumber() - ref.iterations) <= 1
    assert np.linalg.norm(x.getArray() - exact) <= 1e-6 * np.linalg.norm(exact)
    pctx = ksp.getPC().getPythonContext()
    assert pctx.spec == "network+coarse" and pctx.normalize is True
    np.testing.assert_array_equal(pctx.grid[0], prob.labels)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda d, p: d / "missing.npy", r"-pc_network_labels '.*missing\.npy': no such file"),
        (lambda d, p: _save(d / "f.npy", p.labels.astype(float)),
         r"-pc_network_labels '.*f\.npy' must be a 2D or 3D integer array"),
        (lambda d, p: _save(d / "s.npy", np.zeros((5, 5), dtype=int)),
         r"-pc_network_labels '.*s\.npy': the operator has \d+ rows but the labels have 25"),
        (lambda d, p: _save(d / "v.npy", np.full((24, 24), 7)),
         r"-pc_network_labels '.*v\.npy' must hold only FLUID"),
        (lambda d, p: d / "t.txt" if (d / "t.txt").write_text("0 1") else None,
         r"-pc_network_labels '.*t\.txt': not a \.npy integer array"),
    ],
    ids=["missing", "float", "shape", "values", "not-npy"],
)  # fmt: skip
def test_bad_labels_file_is_refused_by_name(prob, tmp_path, make, match):
    path = make(tmp_path, prob)
    opts = {"ksp_type": "python", "ksp_python_type": "solvers.petsc.DCDM", **PC,
            "pc_network_map": "coarse", "pc_network_labels": str(path)}  # fmt: skip
    with pytest.raises(PETSc.Error) as excinfo:
        ksp = ksp_from_options(prob.petsc_aij(), opts, tag="badlab")
        ksp.setUp()
    cause = excinfo.value.__cause__
    assert isinstance(cause, ValueError) and re.search(match, str(cause)), repr(cause)


def _save(path, arr):
    np.save(path, arr)
    return path


def test_missing_grid_error_names_what_was_asked(prob):
    """-pc_network_map network+coarse -pc_network poisson2d-coarse keeps the coarse grid (the
    map network+coarse:poisson2d-coarse; it used to become network:poisson2d-coarse) and the
    missing-grid error names the options given and how to give the grid."""
    opts = {"ksp_type": "python", "ksp_python_type": "solvers.petsc.DCDM", **PC,
            "pc_network_map": "network+coarse", "pc_network": "poisson2d-coarse"}  # fmt: skip
    ksp = ksp_from_options(prob.petsc_aij(), opts, tag="nogrid")
    assert ksp.getPC().getPythonContext().spec == "network+coarse:poisson2d-coarse"
    with pytest.raises(PETSc.Error) as excinfo:
        ksp.setUp()
    msg = str(excinfo.value.__cause__)
    assert msg.startswith(
        "-pc_network_map network+coarse -pc_network poisson2d-coarse: the map "
        "network+coarse:poisson2d-coarse needs the grid"
    ), msg
    assert "-pc_network_labels FILE.npy" in msg and "set_grid(labels, exterior)" in msg
    pc = MapPC(spec="network+coarse")
    with pytest.raises(PETSc.Error) as excinfo:
        ksp_solve(prob.petsc_aij(), prob.rhs_divergence(0), ksp_type=DCDM(), pc_type=pc)
    assert str(excinfo.value.__cause__).startswith("MapPC(spec='network+coarse') needs the grid")


def _readme_lines():
    """The option lines of README's "Inside PETSc" block, by their first words."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"Inside PETSc \(any PETSc program.*?```bash\n(.*?)```", text, re.S)
    assert block, "README's 'Inside PETSc' block is gone"
    lines = [ln for ln in block.group(1).splitlines() if ln.startswith("-")]
    return {" ".join(ln.split()[:2]): ln for ln in lines}


def _options(line):
    words = split_options(line)
    out, i = {}, 0
    while i < len(words):
        name = words[i].lstrip("-")
        if i + 1 < len(words) and not words[i + 1].startswith("-"):
            out[name], i = words[i + 1], i + 2
        else:
            out[name], i = None, i + 1
    return out


@pytest.mark.parametrize("ksp_line", ["-ksp_type fcg", "-ksp_type cg", "-ksp_type python"])
def test_readme_petsc_lines_work_as_printed(prob, ksp_line):
    """README's KSP lines with its NetworkPC line, exactly as printed, converge to SciPy's
    solution at PETSc's default rtol (1e-5 on |r|/|b| with the unpreconditioned norm)."""
    lines = _readme_lines()
    opts = {**_options(lines["-pc_type python"]), **_options(lines[ksp_line])}
    ksp = ksp_from_options(prob.petsc_aij(), opts, rtol=1e-8, max_it=500, tag="readme")
    b = prob.rhs_divergence(4)
    bv, x = ksp.getOperators()[0].createVecs()
    bv.setArray(b)
    ksp.solve(bv, x)
    assert ksp.getConvergedReason() > 0, ksp.getConvergedReason()
    assert ksp.getIterationNumber() < 30
    exact = spla.spsolve(prob.matrix.tocsc(), b)
    assert np.linalg.norm(x.getArray() - exact) <= 1e-6 * np.linalg.norm(exact)


def test_cg_gets_a_linear_pc_by_default(prob):
    """Why the CG line works as printed: a classical map is no longer normalised by default,
    so the PC is linear and CG takes the iterations of NumPy's CG with the same map (±1);
    normalised (the old default), the PC is f(r/|r|), CG's preconditioned norm is rescaled
    every iteration and it takes over 10x as many."""
    from solvers.krylov import cg

    b = prob.rhs_divergence(4)
    its = {}
    for normalize in ("default", "true"):
        opts = {"ksp_type": "cg", **PC, "pc_network_map": "pyamg:1"}
        if normalize != "default":
            opts["pc_network_normalize"] = normalize
        ksp = ksp_from_options(prob.petsc_aij(), opts, rtol=1e-5, max_it=2000, tag="cgnorm")
        assert ksp.getPC().getPythonContext().normalize is (normalize == "true")
        bv, x = ksp.getOperators()[0].createVecs()
        bv.setArray(b)
        ksp.solve(bv, x)
        assert ksp.getConvergedReason() > 0
        its[normalize] = ksp.getIterationNumber()
    _, ref = cg(prob.matrix, b, rtol=1e-5, M=make_map("pyamg:1", prob.matrix))
    assert abs(its["default"] - ref.iterations) <= 1, (its, ref.iterations)
    assert its["true"] > 10 * its["default"], its


def test_cli_refuses_bad_petsc_options_by_name(capsys):
    """--petsc-options that is not an option string, and a plug-in's refusal of an option,
    end with exit status 2 and a one-line error naming the option."""
    assert main(["poisson", "--n", "8", "--petsc-options", "ksp_monitor"]) == 2
    assert "--petsc-options must start with an option like -ksp_monitor, got 'ksp_monitor'" in (
        capsys.readouterr().err
    )
    assert main(["poisson", "--n", "8", "--petsc-options", "-ksp_monitor 'x"]) == 2
    assert "cannot be split like a shell line" in capsys.readouterr().err
    db = PETSc.Options()
    try:
        rc = main(["poisson", "--dmda", "--n", "8", "--solvers", "dcdm", "--petsc-options",
                   "-dcdm_pc_network_labels /nonexistent/grid.npy"])  # fmt: skip
    finally:
        db.delValue("dcdm_pc_network_labels")
    err = capsys.readouterr().err
    assert rc == 2 and "-pc_network_labels '/nonexistent/grid.npy': no such file" in err, err


@pytest.mark.parametrize(("how", "option"), [("flag", "-ksp_rtol abc"), ("env", "-ksp_max_it -5")])
def test_cli_refuses_a_value_petsc_rejects(how, option):
    """A value PETSc itself rejects while reading the options (not a number, out of range),
    given by --petsc-options or PETSC_OPTIONS, ends with exit status 2, PETSc's own message
    and one error line naming the options: no Python traceback."""
    argv = [str(EXE), "poisson", "--n", "16", "--solvers", "gamg"]
    if how == "flag":
        res = _run([*argv, "--petsc-options", option])
    else:
        res = _run(argv, env={"PETSC_OPTIONS": option})
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    assert f"error code 63 while reading the options '{option}'" in res.stderr, res.stderr


def test_poisson_help_lists_the_prefixes(capsys):
    """`sciconv poisson --help` documents --petsc-options and each solve's prefix."""
    with pytest.raises(SystemExit):
        main(["poisson", "--help"])
    text = capsys.readouterr().out
    assert "--petsc-options" in text and "PETSC_OPTIONS" in text
    for prefix in ("-cg_", "-jacobi_", "-icc_", "-gamg_", "-dcdm_"):
        assert re.search(rf"(^|\s){prefix}\s", text, re.M), prefix


def _readme_petsc_commands():
    """README's shell lines that hand PETSc options to the command, and the example's line."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    lines = [ln for b in blocks for ln in b.splitlines() if ln.split()[:1] != ["#"]]
    cmds = [ln for ln in lines if "petsc-options" in ln or ln.startswith("PETSC_OPTIONS=")]
    cmds = [ln for ln in cmds if " ... " not in ln]  # a synopsis, not a command
    example = re.search(r"`(python examples/petsc_options\.py [^`]*)`", text)
    assert len(cmds) >= 3 and example, cmds
    return [*cmds, example.group(1)]


@pytest.mark.slow
@pytest.mark.parametrize("command", _readme_petsc_commands())
def test_readme_petsc_command_lines_run_as_printed(command):
    """Each README command line with PETSc options runs as printed (through bash, with the
    venv's `sciconv` and `python` first on PATH): exit status 0, no unused option, and the
    output its options ask for (monitor lines, reasons, views, -log_view's events, -help's
    plug-in options). About 5 s each on an idle machine."""
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = _run(["bash", "-o", "pipefail", "-c", command], env=env, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert _unused(out) == [], out[-3000:]
    expect = {
        "-ksp_monitor": r"KSP Residual norm",
        "-ksp_converged_reason": r"solve converged due to CONVERGED_RTOL",
        "ksp_view": r"KSP Object: \(?",
        "-log_view": r"^KSPSolve\s+\d+",
        "-help": r"-dcdm_pc_network_map <now",
    }
    for option, pattern in expect.items():
        if option in command:
            assert re.search(pattern, out, re.M), (option, out[-3000:])


def test_pc_network_exterior_option_replaces_set_grids(prob):
    """-pc_network_exterior solid with set_grid(labels, 'air'): the PC applies the map built
    with the solid exterior (equal to make_map's to 1e-12 on x/|x|, and unlike the air one)."""
    opts = {**PC, "ksp_type": "preonly", "pc_network_map": "network:poisson2d",
            "pc_network_exterior": "solid"}  # fmt: skip
    ksp = ksp_from_options(prob.petsc_aij(), opts, tag="ext")
    ksp.getPC().getPythonContext().set_grid(prob.labels, "air")
    ksp.setUp()
    x, y = ksp.getOperators()[0].createVecs()
    v = np.random.default_rng(5).standard_normal(prob.n)
    x.setArray(v)
    ksp.getPC().apply(x, y)
    maps = {e: make_map("network:poisson2d", prob.matrix, labels=prob.labels, exterior=e)
            for e in ("solid", "air")}  # fmt: skip
    want = {e: np.asarray(f(v / np.linalg.norm(v)), dtype=float) for e, f in maps.items()}
    got = y.getArray()
    assert np.linalg.norm(got - want["solid"]) <= 1e-12 * np.linalg.norm(want["solid"])
    assert np.linalg.norm(got - want["air"]) > 1e-3 * np.linalg.norm(want["air"])


@pytest.mark.slow
@pytest.mark.mpi
@needs_mpiexec
def test_petsc_options_reach_the_solves_on_two_ranks():
    """mpiexec -n 2 sciconv poisson --petsc-options ...: every rank reads the options, each
    solve reports its reason once (PETSc prints from rank 0), the DCDM KSP gets the
    -dcdm_ksp_dcdm_directions it was given, and only -bogus is left unused. About 9 s."""
    proc = run_mpi_command([str(EXE), "poisson", "--n", "16", "--solvers", "gamg,dcdm",
                            "--dcdm-map", "pyamg", "--petsc-options",
                            "-ksp_converged_reason -dcdm_ksp_view -dcdm_ksp_dcdm_directions 3 "
                            "-bogus"], ranks=2)  # fmt: skip
    out = proc.stdout + proc.stderr
    reasons = re.findall(
        r"Linear (\S+) solve converged due to CONVERGED_RTOL iterations (\d+)", out
    )
    assert [p for p, _ in reasons] == ["gamg_", "dcdm_"], out
    assert int(dict(reasons)["dcdm_"]) == _table_its(out, "dcdm[pyamg,gather]", column=2)
    assert "DCDM: 3 A-orthogonalised directions" in out and "2 MPI processes" in out
    assert _unused(out) == ["bogus"], out
