"""``sciconv info``: versions, PETSc configuration, CUDA, and whether MPI runs PETSc."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from typing import Any

HELP = "show versions of every dependency, the PETSc/MPI configuration and CUDA availability"

DEPENDENCIES = (
    "numpy",
    "scipy",
    "torch",
    "mpmath",
    "pyamg",
    "tensorly",
    "matplotlib",
    "tqdm",
    "petsc4py",
    "mpi4py",
    "hypothesis",
    "pytest",
)

_MPI_PROBE = (
    "from solvers.petsc import petsc_module\n"
    "PETSc = petsc_module()\n"
    "c = PETSc.COMM_WORLD\n"
    "v = PETSc.Vec().createMPI(8, comm=c); v.set(1.0)\n"
    "s = v.sum()\n"
    "r = c.tompi4py().allreduce(1) if hasattr(c, 'tompi4py') else c.getSize()\n"
    "print(f'rank {c.getRank()} of {c.getSize()}: sum={s:g} ranks={r}')\n"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.add_argument(
        "--no-mpi-check", action="store_true", help="skip running `mpiexec -n 2` on PETSc"
    )


def _version(name: str) -> str | None:
    try:
        mod = importlib.import_module(name)
    except Exception:  # noqa: BLE001 - report any import failure as "absent"
        return None
    return str(getattr(mod, "__version__", "unknown"))


def petsc_config() -> dict[str, Any]:
    """PETSc version, scalar type, precision, MPI (on/off, library) and install dir."""
    import numpy as np

    from solvers.petsc._core import petsc_build_config, petsc_module

    try:
        PETSc = petsc_module()
    except ImportError as exc:
        return {"available": False, "error": str(exc)}
    cfg = petsc_build_config()
    scalar = np.dtype(PETSc.ScalarType)
    out: dict[str, Any] = {
        "available": True,
        "version": ".".join(str(v) for v in PETSc.Sys.getVersion()),
        "scalar_type": "complex" if scalar.kind == "c" else "real",
        "precision": {4: "single", 8: "double", 16: "quad"}.get(
            np.dtype(PETSc.RealType).itemsize, str(PETSc.RealType)
        ),
        "int_bytes": np.dtype(PETSc.IntType).itemsize,
        "petsc_dir": cfg.get("PETSC_DIR"),
        "petsc_arch": cfg.get("PETSC_ARCH"),
    }
    mpiuni = _petscconf_has(cfg, "PETSC_HAVE_MPIUNI")
    out["mpi"] = (not mpiuni) if mpiuni is not None else None
    try:
        from mpi4py import MPI

        out["mpi_library"] = MPI.Get_library_version().strip().splitlines()[0]
    except ImportError:
        out["mpi_library"] = None
    return out


def _petscconf_has(cfg: dict[str, str], macro: str) -> bool | None:
    path = os.path.join(
        cfg.get("PETSC_DIR", ""), cfg.get("PETSC_ARCH", ""), "include", "petscconf.h"
    )
    if not os.path.exists(path):
        path = os.path.join(cfg.get("PETSC_DIR", ""), "include", "petscconf.h")
    if not os.path.exists(path):
        return None
    with open(path) as fh:
        return any(line.startswith(f"#define {macro} ") for line in fh)


def mpi_check(nprocs: int = 2, timeout: float = 120.0) -> dict[str, Any]:
    """Run a small PETSc program under ``mpiexec -n nprocs`` and report what happened."""
    mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        return {"ok": False, "reason": "mpiexec not found on PATH"}
    cmd = [mpiexec, "-n", str(nprocs), sys.executable, "-c", _MPI_PROBE]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"ok": False, "reason": f"timed out after {timeout:.0f} s"}
    # one report per rank; mpiexec may interleave the ranks' lines, so match, do not split
    lines = re.findall(r"rank \d+ of \d+: sum=\S+ ranks=\d+", proc.stdout)
    ok = (
        proc.returncode == 0
        and len(lines) == nprocs
        and all(f"of {nprocs}: sum=8" in ln for ln in lines)
    )
    res: dict[str, Any] = {"ok": ok, "mpiexec": mpiexec, "ranks": nprocs, "output": lines}
    if not ok:
        res["reason"] = (proc.stderr or proc.stdout)[-500:]
    return res


def collect(check_mpi: bool = True) -> dict[str, Any]:
    """Everything ``sciconv info`` reports, as a dictionary."""
    import sciconv

    info: dict[str, Any] = {
        "sciconv": sciconv.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "dependencies": {name: _version(name) for name in DEPENDENCIES},
    }
    try:
        import torch

        info["cuda"] = {
            "available": torch.cuda.is_available(),
            "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
            "torch_cuda": torch.version.cuda,
        }
    except ImportError:  # pragma: no cover
        info["cuda"] = {"available": False}
    info["petsc"] = petsc_config()
    if check_mpi and info["petsc"].get("available"):
        info["mpiexec_petsc"] = mpi_check()
    return info


def run(args: argparse.Namespace) -> int:
    info = collect(check_mpi=not args.no_mpi_check)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(
        f"sciconv {info['sciconv']}  (Python {info['python']}, {info['platform']}, "
        f"{info['cpus']} CPUs)"
    )
    print("dependencies:")
    for name, ver in info["dependencies"].items():
        print(f"  {name:<11} {ver or 'not installed'}")
    cuda = info["cuda"]
    print(f"CUDA: {'available ' + ', '.join(cuda['devices']) if cuda['available'] else 'no'}")
    p = info["petsc"]
    if p.get("available"):
        mpi = {True: "MPI", False: "serial (MPIUNI)", None: "unknown"}[p["mpi"]]
        print(
            f"PETSc {p['version']}: {p['scalar_type']} {p['precision']}, {mpi}"
            f"{' — ' + p['mpi_library'] if p.get('mpi_library') else ''}"
        )
        print(f"  PETSC_DIR={p['petsc_dir']} PETSC_ARCH={p['petsc_arch']}")
    else:
        print(f"PETSc: not available ({p.get('error')})")
    chk = info.get("mpiexec_petsc")
    if chk is not None:
        state = "runs" if chk["ok"] else f"FAILS ({chk.get('reason', '').strip()[:200]})"
        print(f"mpiexec -n 2 PETSc program: {state}")
    return 0
