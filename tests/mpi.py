"""Running a test script under ``mpiexec`` from the suite (one helper for every MPI test)."""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from pathlib import Path

import mpi4py  # noqa: F401 - required by the scripts (comm.tompi4py()): missing fails, never skips
import pytest


def _require_mpiexec(func):
    """Fail (never skip) a test that launches ``mpiexec`` when ``mpiexec`` is not on PATH.

    ``scripts/bootstrap.sh`` installs MPICH and runs ``mpiexec -n 2`` before it stamps the
    environment, so a missing ``mpiexec`` is a broken environment, not an optional capability.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if shutil.which("mpiexec") is None:
            pytest.fail("mpiexec is not on PATH: MPI is required (run scripts/bootstrap.sh)")
        return func(*args, **kwargs)

    return wrapper


#: Marker-style decorator for tests that launch ``mpiexec``: fails when it is missing.
needs_mpiexec = _require_mpiexec

ROOT = Path(__file__).resolve().parents[1]


def run_mpi(script: Path, ranks: int = 2, timeout: float = 300) -> subprocess.CompletedProcess:
    """``mpiexec -n ranks python script`` from the repository root; fails the test on error."""
    return run_mpi_command([sys.executable, str(script)], ranks, timeout)


def run_mpi_command(
    argv: list[str], ranks: int = 2, timeout: float = 300
) -> subprocess.CompletedProcess:
    """``mpiexec -n ranks *argv`` from the repository root; fails the test on error."""
    proc = subprocess.run(
        ["mpiexec", "-n", str(ranks), *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc
