"""Hostile inputs of issue 20 at the ``sciconv`` command: one ``error:`` line and exit status 2,
quickly, never a traceback or a silent run (ids from the issue's appendix)."""

import argparse
import json
import re
import shutil
import subprocess
import time

import pytest

from sciconv.cli import build_parser, main
from sciconv.cli._common import dumps, refuse
from sciconv.cli.poisson import check_args
from tests.mpi import ROOT, needs_mpiexec


def refused(capsys, argv, stream="err"):
    """Run ``sciconv argv`` in-process; return its one error line (asserting rc 2, fast)."""
    t0 = time.perf_counter()
    rc = main(argv)
    elapsed = time.perf_counter() - t0
    out = capsys.readouterr()
    text = getattr(out, stream)
    lines = [line for line in text.splitlines() if line.strip()]
    assert rc == 2, (rc, out.out[-500:], out.err[-500:])
    assert len(lines) == 1 and "error:" in lines[0], text
    assert "Traceback" not in out.out + out.err
    assert elapsed < 20.0
    return lines[0]


# ---------------------------------------------------------------- sciconv poisson
@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        (["--n", "100000", "--dim", "3"], r"--n 100000 with --dim 3 gives 1e\+15 cells"),  # Z07
        (["--n", "16", "--rtol", "-1"], r"rtol must be a finite number >= 0, got -1\.0"),  # Z09
        (["--n", "16", "--rtol", "nan"], r"rtol must be a finite number >= 0, got nan"),  # Z15
        (["--n", "16", "--rtol", "inf"], r"rtol must be a finite number >= 0, got inf"),
        (["--n", "16", "--maxiter", "-1"], r"maxiter must be an integer >= 0, got -1"),
        (["--n", "1"], r"--n must be an integer >= 2, got 1"),
        (["--n", "16", "--dcdm-map", "jacobi:abc"], r"--dcdm-map 'jacobi:abc': the sweep count"),
        (["--n", "16", "--dcdm-directions", "0"], r"--dcdm-directions must be an integer >= 1"),
        (["--n", "16", "--threads", "0"], r"--threads must be an integer >= 1, got 0"),
    ],
)
def test_poisson_bad_values(capsys, extra, pattern):
    """Z07 Z09 Z15 (and neighbours): refused before the problem is built."""
    line = refused(capsys, ["poisson", "--solvers", "cg", *extra])
    assert line.startswith("sciconv poisson: error: ")
    assert re.search(pattern, line), line


def test_poisson_check_args_is_rank_independent(monkeypatch, capsys):
    """Q08 Q12: the check is pure, so every rank refuses alike; only rank 0 prints."""
    args = build_parser().parse_args(["poisson", "--n", "100000", "--solvers", "cg"])
    with pytest.raises(ValueError, match=r"^--n 100000 with --dim 2 gives 1e\+10 cells"):
        check_args(args)
    monkeypatch.setenv("PMI_SIZE", "2")
    for rank, printed in (("0", True), ("1", False)):
        monkeypatch.setenv("PMI_RANK", rank)
        assert main(["poisson", "--n", "16", "--solvers", "cg", "--rtol", "-1"]) == 2
        err = capsys.readouterr().err
        assert ("rtol must be a finite number >= 0, got -1.0" in err) is printed


@needs_mpiexec
def test_mpiexec_poisson_bad_rtol_every_rank_refuses():
    """Q08: under mpiexec -n 2, rtol=-1 was CONVERGED_RTOL (PETSc's default); now rc 2, once."""
    sciconv = shutil.which("sciconv", path=str(ROOT / ".venv" / "bin")) or "sciconv"
    t0 = time.perf_counter()
    proc = subprocess.run(
        ["mpiexec", "-n", "2", sciconv, "poisson", "--n", "16", "--solvers", "cg", "--rtol", "-1"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert time.perf_counter() - t0 < 60
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count("error: rtol must be a finite number >= 0, got -1.0") == 1
    assert "Traceback" not in proc.stderr and "CONVERGED" not in proc.stdout


# ---------------------------------------------------------------- winograd, ortho, tour
def test_winograd_m_out_of_reach(capsys):
    """Z28: --m 100000 ran past 60 s; now refused by name at once."""
    line = refused(capsys, ["winograd", "--m", "100000"])
    assert "m must be an integer in [1, 16]" in line and "100000" in line


def test_winograd_search_json_never_writes_infinity(capsys):
    """Z45: --json printed the non-JSON token Infinity; m=40 is now refused, and the JSON
    writer of every subcommand turns a non-finite float into null."""
    line = refused(
        capsys, ["winograd", "search", "--m", "40", "--r", "3", "--budget", "5", "--json"]
    )
    assert "m must be an integer in [1, 16]" in line and "40" in line
    text = dumps({"objective": float("inf"), "rows": [{"E": float("nan"), "k": 1.5}]}, indent=2)
    assert "Infinity" not in text and "NaN" not in text
    assert json.loads(text) == {"objective": None, "rows": [{"E": None, "k": 1.5}]}


def test_ortho_certify_out_of_reach(capsys):
    """Z26: C = M = 64, k = 99 with --certify ran past 120 s; now refused at once (ortho's
    own one-line refusal, on stdout)."""
    argv = ["ortho", "exists", "--in-channels", "64", "--out-channels", "64", "--kernel", "99"]
    line = refused(capsys, [*argv, "--certify"], stream="out")
    assert line.startswith("error: --certify with --in-channels 64 --out-channels 64 --kernel 99")
    assert "out of reach" in line
    assert main(argv) == 0  # the oracle alone still answers
    assert "EXISTS" in capsys.readouterr().out


def test_tour_only_matching_nothing(capsys):
    """Z38: --only nonexistentword printed nothing with rc 0; now says nothing matched."""
    line = refused(capsys, ["tour", "--only", "nonexistentword"])
    assert line.startswith("sciconv tour: error: --only nonexistentword: no section title")


def test_refuse_and_dumps_helpers(capsys):
    assert refuse("x", "bad value", rank=1) == 2 and capsys.readouterr().err == ""
    assert refuse("x", ValueError("bad value"), rank=0) == 2
    assert capsys.readouterr().err == "sciconv x: error: bad value\n"
    assert isinstance(build_parser(), argparse.ArgumentParser)
