"""Running a test script under ``mpiexec`` from the suite (one helper for every MPI test)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: Skip marker for tests that launch ``mpiexec``.
needs_mpiexec = pytest.mark.skipif(
    shutil.which("mpiexec") is None, reason="MPI (mpiexec) is not installed"
)

ROOT = Path(__file__).resolve().parents[1]


def run_mpi(script: Path, ranks: int = 2, timeout: float = 300) -> subprocess.CompletedProcess:
    """``mpiexec -n ranks python script`` from the repository root; fails the test on error."""
    proc = subprocess.run(
        ["mpiexec", "-n", str(ranks), sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc
