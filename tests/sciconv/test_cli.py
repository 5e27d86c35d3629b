"""The command-line face: `sciconv info`, the console script, `python -m`, every tour section,
and `mpiexec -n 2 sciconv poisson`.

References: the installed distributions' metadata and petsc4py itself for `info`; numpy's
float64 condition numbers and each section's own printed gap to its reference for the tour.
"""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch  # warm: `import sciconv` is lazy; a timed tour section would pay torch's import

from sciconv.cli import SUBCOMMANDS, build_parser, main, tour
from sciconv.cli._common import Check
from sciconv.cli.info import DEPENDENCIES
from tests.mpi import ROOT, needs_mpiexec, run_mpi_command


def test_import_sciconv_does_not_load_petsc():
    """`import sciconv` and building the CLI parser never import petsc4py or the upper packages."""
    code = (
        "import sys, sciconv, sciconv.cli; sciconv.cli.build_parser();"
        "bad = [m for m in ('petsc4py', 'solvers', 'pde', 'tensors') if m in sys.modules];"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_info_json_reports_dependencies(capsys):
    """`sciconv info --json`: every dependency's version equals its installed distribution's
    (so "not installed", None, fails); PETSc's version, scalar type and precision equal what
    petsc4py itself reports, with MPI on and mpi4py's library named."""
    from importlib.metadata import version

    from petsc4py import PETSc

    assert main(["info", "--json", "--no-mpi-check"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert set(info["dependencies"]) == set(DEPENDENCIES)
    for name in DEPENDENCIES:  # the installed distribution's metadata, not __version__
        assert info["dependencies"][name] == version(name), name
    assert isinstance(info["cuda"]["available"], bool)
    p = info["petsc"]
    assert p["available"] is True
    assert p["version"] == ".".join(str(v) for v in PETSc.Sys.getVersion())
    assert (p["scalar_type"], p["precision"]) == ("real", "double")
    assert p["int_bytes"] == np.dtype(PETSc.IntType).itemsize
    assert p["mpi"] is True and "MPI" in (p["mpi_library"] or "")
    assert "mpiexec_petsc" not in info  # --no-mpi-check


def _run(argv, timeout=120):
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=ROOT
    )


def test_console_script_help():
    """The installed console script `sciconv --help` runs and lists every subcommand."""
    exe = Path(sys.executable).with_name("sciconv")
    assert exe.exists(), f"console script {exe} is not installed (pip install -e .)"
    proc = _run([str(exe), "--help"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: sciconv")
    for name in SUBCOMMANDS:
        assert f"    {name} " in proc.stdout, name


def test_python_m_sciconv_cli_info():
    """`python -m sciconv.cli info --no-mpi-check` prints a version for every dependency (no
    "not installed"), and PETSc's line with real double scalars and MPI."""
    from importlib.metadata import version

    proc = _run([sys.executable, "-m", "sciconv.cli", "info", "--no-mpi-check"])
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "not installed" not in out and "not available" not in out
    for name in DEPENDENCIES:
        assert re.search(rf"^  {re.escape(name)}\s+{re.escape(version(name))}$", out, re.M), name
    assert re.search(r"^PETSc \d+\.\d+\.\d+: real double, MPI", out, re.M), out


def test_python_m_sciconv_info():
    """`python -m sciconv info --no-mpi-check` (the form issue 20 names) prints the same
    dependency lines as the console script."""
    from importlib.metadata import version

    proc = _run([sys.executable, "-m", "sciconv", "info", "--no-mpi-check"])
    assert proc.returncode == 0, proc.stderr
    for name in DEPENDENCIES:
        assert re.search(rf"^  {re.escape(name)}\s+{re.escape(version(name))}$", proc.stdout,
                         re.M), name  # fmt: skip


@pytest.mark.mpi
@needs_mpiexec
def test_mpiexec_two_ranks_sciconv_poisson():
    """`mpiexec -n 2 sciconv poisson --n 16 --solvers cg`: the console script on two ranks
    solves on a 1x2 DMDA, converges (CONVERGED_RTOL) and prints one table, from rank 0."""
    exe = Path(sys.executable).with_name("sciconv")
    proc = run_mpi_command([str(exe), "poisson", "--n", "16", "--solvers", "cg"], ranks=2)
    out = proc.stdout
    assert "DMDA of 2 ranks" in out, out
    rows = [ln.split() for ln in out.splitlines() if ln.startswith("cg ")]
    assert len(rows) == 1, out  # printed once, not once per rank
    name, ranks, its, _setup, _solve, relres, reason = rows[0]
    assert ranks == "2" and reason == "CONVERGED_RTOL"
    assert 0 < int(its) < 201 and float(relres) <= 1e-6


# -- the tour: every section, one by one, with the figures it prints checked ------------------


def _floats_after(text, label):
    """Every number printed right after ``label`` (e.g. 'dot test gap')."""
    return [float(v) for v in re.findall(re.escape(label) + r"\s*=?\s*([-+0-9.e]+)", text)]


def _check_operator(out):
    gaps = _floats_after(out, "dot test gap")
    errs = _floats_after(out, "|Ax - dense x|/|dense x|")
    assert len(gaps) == 4 and max(gaps) < 1e-12
    assert len(errs) == 4 and max(errs) < 1e-13


def _check_spectrum(out):
    diffs = _floats_after(out, "max rel. diff vs dense SVD")
    assert len(diffs) == 2 and max(diffs) < 1e-12


def _check_fft(out):
    diffs = _floats_after(out, "vs direct: max abs diff")
    assert len(diffs) == 3 and max(diffs) < 1e-12


def _check_monarch(out):
    """Monarch DFT at orders 2 and 3, the convolvers and both sparse convolutions."""
    assert "monarch_fft N=4096 factors" in out and out.count("ok: monarch_fft") == 2
    assert all(f"frequency-sparse {s}%" in out for s in (50, 90)), out


def _check_streaming(out):
    """Streamed outputs equal windowed inference (and signal padding its valid twin) to
    rounding; the zero-padded twin deviates measurably and is flagged by name."""
    diffs = [float(v) for v in re.findall(r"max abs diff (?:<= 1e-12 \(found )?([0-9.e+-]+)", out)]
    assert len(diffs) >= 2 and max(diffs) <= 1e-12, out
    nrmse = float(re.search(r"NRMSE ([0-9.]+) %", out).group(1))
    assert 0 < nrmse < 100, out
    assert "warning: layer [0] Conv1d" in out, out


def _check_interpret(out):
    """A(x) x + c(x) = f(x), jvp/vjp and the dense Jacobian's SVD, all to rounding."""
    figs = [float(v) for v in re.findall(r"\(found ([0-9.e+-]+)\)", out)]
    assert len(figs) == 5 and max(figs[:4]) <= 1e-12 and figs[4] <= 1e-10, out  # svds: 1e-10
    share = float(re.search(r"bias share \|c\|/\|f\| = ([0-9.]+)", out).group(1))
    assert 0 <= share, out


def _check_subpixel(out):
    """The sub-pixel layer equals its transposed convolution, converts back, has the dense
    SVD's singular values and starts (ICNR) as nearest-neighbour upsampling."""
    figs = [float(v) for v in re.findall(r"\(found ([0-9.e+-]+)\)", out)]
    assert len(figs) == 4 and max(figs) <= 1e-12, out
    assert "108 singular values" in out, out


def _check_vandermonde(out):
    """kappa_2 against numpy's float64 condition number of the same Vandermonde matrices."""
    got = [float(v.replace(",", "")) for v in re.findall(r": ([0-9,]+\.\d\d)$", out, re.M)]
    nova = [0, 2 / 5, -2 / 5, 5 / 6, -5 / 6, 1, -1, 7 / 6, -7 / 6]
    ref = [
        np.linalg.cond(np.vander(p, increasing=True))
        for p in ([0, 1, -1, 2, -2, 3, -3, 4, -4], nova)
    ]
    assert len(got) == 2
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=0.0051)  # printed to 2 decimals


def _check_petsc(out):
    assert re.search(r"reason 2,", out), out  # KSP_CONVERGED_RTOL
    assert _floats_after(out, "|x - scipy|/|scipy|")[0] < 1e-8


def _check_poisson(out):
    rows = [
        ln.split()
        for ln in out.splitlines()
        if re.match(r"\s+(cg|icc-cg|gamg-cg|pyamg-sa|dcdm)", ln)
    ]
    assert len(rows) == 5, out
    for row in rows:
        assert row[-1] == "rtol" and float(row[-4]) < 1e-8, row  # true relres
    ksp = _floats_after(out, "|x - lsqr| / |lsqr|")
    assert len(ksp) == 2 and max(ksp) < 1e-6 and out.count("CONVERGED_RTOL") == 2


def _check_dcdm_network(out):
    rows = [ln.split() for ln in out.splitlines() if "rtol" in ln.split()[-1:]]
    assert len(rows) == 14, out  # 7 solvers x (2D, 3D)
    for row in rows:
        assert float(row[-4]) <= 1e-6, row  # true relres (names may hold spaces)


def _check_orthogonal(out):
    assert "agrees True" in out
    assert _floats_after(out, "max |sigma - 1|")[0] < 1e-12


def _check_winograd(out):
    assert out.count("exact: True") == 4


def _check_ssm(out):
    assert _floats_after(out, "worst relative difference from dense Krylov:")[0] < 1e-12


def _check_hyperbolic(out):
    assert _floats_after(out, "vs unfold recipe, max diff")[0] < 1e-12


def _check_generalized(out):
    assert _floats_after(out, "vs unfold: max error")[0] < 1e-12
    assert "identity: True" in out and "changes by 0.0e+00" in out


def _check_tensors(out):
    diffs = _floats_after(out, "|layer - conv(W_hat)|")
    assert len(diffs) == 3 and max(diffs) < 1e-12


def _check_wave(out):
    ratios = re.search(r"ratios ([0-9.]+), ([0-9.]+)", out)
    assert ratios and all(3.8 < float(r) < 4.2 for r in ratios.groups())  # second order
    assert _floats_after(out, "max |E/E0 - 1|")[0] < 1e-12
    assert "refused" in out


def _check_environment(out):
    """Every dependency listed with a version; PETSc real double with MPI; mpiexec runs it."""
    deps = re.search(r"dependencies: (.*)$", out, re.M).group(1)
    assert {item.split()[0] for item in deps.split(", ")} == set(DEPENDENCIES)
    assert re.search(r"PETSc \S+ \(real, double, MPI on\)", out), out
    assert "mpiexec -n 2 runs a PETSc program: yes" in out


#: (a word that selects exactly one section, its check, its time budget in seconds)
TOUR = [
    ("adjoint", _check_operator, 10),
    ("Sedghi", _check_spectrum, 10),
    ("summation", _check_fft, 10),
    ("Monarch", _check_monarch, 10),
    ("mpmath", _check_vandermonde, 10),
    ("shell", _check_petsc, 10),
    ("baselines", _check_poisson, 10),
    ("held", _check_dcdm_network, 300),  # ~1 min: marked slow (SLOW_SECTIONS)
    ("Orthogonal", _check_orthogonal, 10),
    ("Toom-Cook", _check_winograd, 10),
    ("State-space", _check_ssm, 10),
    ("Hyperbolic", _check_hyperbolic, 10),
    ("HyperZ", _check_generalized, 10),
    ("CP/Tucker", _check_tensors, 10),
    ("leapfrog", _check_wave, 10),
    ("StreamiNNC", _check_streaming, 30),  # torch.nn start-up falls in it (~8 s under load)
    ("LinearScope", _check_interpret, 30),
    ("Sub-pixel", _check_subpixel, 30),
    ("Environment", _check_environment, 60),  # starts mpiexec -n 2 (~5-8 s)
]


def test_tour_words_select_every_section_once():
    """Each word of TOUR selects exactly one section, and every section has a word (a new
    section without a test fails here)."""
    words = [word for word, _, _ in TOUR]
    for title, _ in tour.SECTIONS:
        assert sum(w.lower() in title.lower() for w in words) == 1, title
    assert len(words) == len(tour.SECTIONS)


#: sections too slow for `make test` (run by `make test-slow`)
SLOW_SECTIONS = {"held"}


@pytest.mark.parametrize(
    ("word", "check", "budget"),
    [
        pytest.param(*row, id=row[0], marks=[pytest.mark.slow] if row[0] in SLOW_SECTIONS else [])
        for row in TOUR
    ],
)
def test_tour_section(word, check, budget, capsys, tmp_path, monkeypatch):
    """`sciconv tour --only WORD` runs one section within its budget, its printed figures meet
    the section's reference tolerance, and the section's own checks all pass (every section
    but the environment report has at least one)."""
    monkeypatch.chdir(tmp_path)  # sections that plot write under ./out
    t0 = time.perf_counter()
    assert main(["tour", "--only", word]) == 0
    elapsed = time.perf_counter() - t0
    out = capsys.readouterr().out
    assert out.count("\n[1/1] ") == 1, out
    check(out)
    assert "FAILED" not in out, out
    if word == "Environment":
        assert "report only, no checks" in out, out
    else:
        n = int(re.search(r"; (\d+) checks? passed\)", out).group(1))
        assert n >= 1 and out.count("\n  ok: ") == n, out
    assert re.search(r"\ntour: all 1 sections passed their \d+ checks\n$", out), out
    assert elapsed <= budget, f"{word}: {elapsed:.1f} s > {budget} s"


def test_tour_failing_or_raising_section_exits_nonzero_and_is_named(capsys, monkeypatch):
    """A section with a failing check (NaN included) and one that raises are both reported as
    FAILED, the sections after them still run, every line is flushed, and the tour ends with
    status 1 naming exactly the failed sections."""

    def raises():
        raise RuntimeError("boom in the section")

    sections = [
        ("alpha passes", lambda: ["a figure", Check.at_most("alpha gap", 1e-16, 1e-12)]),
        ("beta fails", lambda: ["b figure", Check.at_most("beta gap", 2e-3, 1e-12)]),
        ("gamma raises", raises),
        ("delta is NaN", lambda: [Check.at_most("delta gap", float("nan"), 1e-12)]),
        ("omega runs after", lambda: [Check("omega holds", True, "yes")]),
    ]
    monkeypatch.setattr(tour, "SECTIONS", sections)
    flushed = []

    def spy(*args, **kw):
        flushed.append(kw.get("flush", False))
        print(*args, **kw)

    monkeypatch.setattr(tour, "print", spy, raising=False)
    assert main(["tour"]) == 1
    captured = capsys.readouterr()
    out = captured.out
    assert flushed and all(flushed)
    assert "  ok: alpha gap <= 1e-12 (found 1.0e-16)" in out
    assert "  FAILED: beta gap <= 1e-12 (found 2.0e-03)" in out
    assert "  FAILED: the section runs (found raised RuntimeError('boom in the section'))" in out
    assert "boom in the section" in captured.err  # the traceback, on stderr
    assert "  FAILED: delta gap <= 1e-12 (found nan)" in out
    assert "[5/5] omega runs after" in out and "  ok: omega holds (found yes)" in out
    assert "; 1 of 1 checks FAILED)" in out
    assert out.rstrip().endswith(
        "tour FAILED: 3 of 5 sections: [2] beta fails; [3] gamma raises; [4] delta is NaN"
    ), out


def test_tour_environment_says_why_a_capability_is_missing(capsys, monkeypatch):
    """When CUDA or the `mpiexec -n 2` PETSc probe is unavailable, the Environment section
    prints the reason (torch's message, the probe's error text), not only 'NO'."""
    import sciconv.cli.info as info

    def collect(check_mpi=True):
        return {
            "dependencies": {"numpy": np.__version__},
            "cuda": {"available": False, "devices": [], "torch_cuda": None},
            "petsc": {
                "available": True,
                "version": "3.x",
                "scalar_type": "real",
                "precision": "double",
                "mpi": True,
            },
            "mpiexec_petsc": {
                "ok": False,
                "reason": "mpiexec: error while loading shared libraries:\n  libmpi.so.40",
            },
        }

    monkeypatch.setattr(info, "collect", collect)
    assert main(["tour", "--only", "Environment"]) == 0  # optional capabilities: report only
    out = capsys.readouterr().out
    cuda = re.search(r"CUDA available: False: (.*)$", out, re.M).group(1)
    assert cuda.startswith("torch.cuda.is_available() is False; ") and len(cuda) > 40, cuda
    assert (
        "mpiexec -n 2 runs a PETSc program: NO: mpiexec: error while loading shared libraries: "
        "libmpi.so.40" in out
    ), out

    monkeypatch.setattr(
        info,
        "collect",
        lambda check_mpi=True: {
            "dependencies": {},
            "cuda": {"available": False},
            "petsc": {"available": False, "error": "No module named 'petsc4py'"},
        },
    )
    assert main(["tour", "--only", "Environment"]) == 0
    out = capsys.readouterr().out
    assert "PETSc: not available: No module named 'petsc4py'" in out
    assert "mpiexec -n 2 runs a PETSc program: not tried (PETSc is not available)" in out


def test_tour_cuda_line_gives_torch_reason(monkeypatch):
    """A CUDA build of torch with no usable device: the line carries torch.cuda.init()'s own
    message; a device present: its name."""

    def init():
        raise RuntimeError("Found no NVIDIA driver on your system.")

    monkeypatch.setattr(torch.version, "cuda", "12.4")
    monkeypatch.setattr(torch.cuda, "init", init)
    line = tour._cuda_line({"available": False, "devices": []})
    assert line == (
        "CUDA available: False: torch.cuda.is_available() is False; no CUDA device (torch built "
        "for CUDA 12.4): Found no NVIDIA driver on your system."
    )
    assert tour._cuda_line({"available": True, "devices": ["NVIDIA H100"]}) == (
        "CUDA available: True (NVIDIA H100)"
    )


def test_every_subcommand_has_help():
    parser = build_parser()
    assert set(SUBCOMMANDS) <= set(parser._subparsers._group_actions[0].choices)


def test_version_flag():
    """`sciconv --version` prints the installed distribution's version and exits 0."""
    from importlib.metadata import version

    proc = _run([sys.executable, "-m", "sciconv", "--version"])
    assert proc.returncode == 0 and proc.stdout.strip() == f"sciconv {version('sciconv')}"
