#!/usr/bin/env bash
# Idempotent set-up of sciconv's environment in .venv:
#   system packages (BLAS/LAPACK, MPICH) through apt when root, torch (CPU wheel where the
#   machine provides one), PETSc built once with MPI, petsc4py and mpi4py against it, then the
#   scientific stack and sciconv itself in editable mode.
# A stamp file records what was installed; when nothing changed the script returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${SCICONV_VENV:-.venv}
PY=${PYTHON:-python3}
PETSC_VERSION=3.26.1
PETSC4PY_VERSION=3.26.1
TORCH_VERSION=2.13.0
STAMP="$VENV/.sciconv-bootstrap"

say() { printf '[bootstrap %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

want=$(cat scripts/bootstrap.sh pyproject.toml | sha256sum | cut -c1-16)
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  say "environment up to date ($VENV)"
  exit 0
fi

# 1. system packages
need_apt=()
dpkg -s libopenblas-dev >/dev/null 2>&1 || need_apt+=(libopenblas-dev)
dpkg -s liblapack-dev >/dev/null 2>&1 || need_apt+=(liblapack-dev)
command -v mpicc >/dev/null 2>&1 || need_apt+=(mpich libmpich-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing system packages: ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    say "WARNING: missing ${need_apt[*]} and not root: PETSc may build without MPI/BLAS"
  fi
fi

# 2. virtual environment
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --progress-bar off -q)
"${PIP[@]}" --upgrade pip setuptools wheel

# 3. torch: pin the release whose CPU wheel this kind of machine keeps on disk
if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  say "installing torch==$TORCH_VERSION"
  "${PIP[@]}" "torch==$TORCH_VERSION"
fi

# 4. PETSc (once, with MPI when mpicc is present), then petsc4py and mpi4py against it
"${PIP[@]}" "numpy>=1.26" cython
if ! "$VENV/bin/python" -c "import petsc" >/dev/null 2>&1; then
  say "building PETSc $PETSC_VERSION (about 7 minutes on 2 cores the first time; pip's wheel cache serves later runs)"
  PETSC_CONFIGURE_OPTIONS="--with-debugging=0 COPTFLAGS=-O2 CXXOPTFLAGS=-O2 --with-fc=0" \
    "${PIP[@]}" "petsc==$PETSC_VERSION"
fi
if ! "$VENV/bin/python" -c "import petsc4py" >/dev/null 2>&1; then
  say "building petsc4py $PETSC4PY_VERSION against it (about 5 minutes the first time)"
  "${PIP[@]}" --no-build-isolation "petsc4py==$PETSC4PY_VERSION"
fi
# mpi4py from source against the system MPICH: its binary wheel loads libmpi.so.12, which
# Debian's MPICH does not provide, and would not be the MPI that PETSc was built with.
if ! "$VENV/bin/python" -c "from mpi4py import MPI" >/dev/null 2>&1; then
  say "building mpi4py against $(command -v mpicc || echo 'no mpicc') (about 4 minutes the first time)"
  "${PIP[@]}" --no-build-isolation --no-binary mpi4py --force-reinstall --no-deps mpi4py
fi

# 5. the rest and sciconv itself
say "installing sciconv (editable) with its test, bench, examples and docs extras"
"${PIP[@]}" -e ".[test,bench,examples,docs]"

# 6. verify what is about to be stamped: the solver half imports, and MPI runs a PETSc program.
#    Any failure leaves the stamp unwritten (so the next run tries again) and exits non-zero.
fail() { say "ERROR: $*"; say "environment NOT stamped; fix the above and re-run scripts/bootstrap.sh"; exit 1; }
for mod in petsc4py mpi4py pyamg geoopt; do
  err=$("$VENV/bin/python" -c "import $mod" 2>&1) || fail "import $mod failed: ${err##*$'\n'}"
done
command -v mpiexec >/dev/null 2>&1 || fail "mpiexec is not on PATH (MPICH did not install)"
probe=$(mktemp "${TMPDIR:-/tmp}/sciconv-mpi-probe.XXXXXX.py")
trap 'rm -f "$probe"' EXIT
cat > "$probe" <<'PY'
import sys

import petsc4py

petsc4py.init(sys.argv)
from petsc4py import PETSc

comm = PETSc.COMM_WORLD
v = PETSc.Vec().createMPI(4, comm=comm)
v.set(1.0)
total = v.sum()
assert comm.getSize() == 2, f"expected 2 ranks, got {comm.getSize()}"
assert total == 4.0, f"sum over 2 ranks is {total}, expected 4"
PY
if ! out=$(timeout 120 mpiexec -n 2 "$VENV/bin/python" "$probe" 2>&1); then
  fail "mpiexec -n 2 could not run a petsc4py program: $(printf '%s' "$out" | tail -n 5)"
fi
say "verified: petsc4py, mpi4py, pyamg, geoopt import; mpiexec -n 2 runs a PETSc program"

echo "$want" > "$STAMP"
say "done: $("$VENV/bin/python" -c 'import torch, petsc4py; print("torch", torch.__version__, "petsc4py", petsc4py.__version__)')"
