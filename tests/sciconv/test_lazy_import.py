"""The lazy ``import sciconv`` (issue 19 item 6): what a bare import and ``sciconv --help`` load.

Each check runs in a fresh interpreter (``sys.modules`` of this test process already holds
torch). The reference is the interpreter itself: the modules it reports as imported, either
from ``sys.modules`` or from ``-X importtime``'s log of every import. No wall time is asserted
(timings are in the report and in README, not in the suite); what is asserted is which modules
were loaded, which a regression to eager imports fails at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import sciconv

ROOT = Path(__file__).resolve().parents[2]
#: what a bare ``import sciconv`` or ``sciconv --help`` must not load
HEAVY = ("torch", "scipy", "mpmath", "petsc4py", "mpi4py", "pyamg", "tensorly", "matplotlib")


def _python(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object as its last line."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _imported(*args: str) -> set[str]:
    """Every module imported by ``python -X importtime ARGS`` (its stderr log), top to bottom."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", *args], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr[-2000:]
    names = {
        line.rsplit("|", 1)[1].strip()
        for line in out.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "sciconv" in names, out.stderr[-2000:]  # the log is the one we meant to read
    return names


def test_bare_import_loads_only_the_standard_library():
    """``import sciconv`` imports the package's ``__init__``, its lazy-attribute helper and
    standard-library modules only: no torch, no numpy, no family, no primitive."""
    got = _python(
        "import sys; before = set(sys.modules); import sciconv, json;"
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    new = set(got)
    assert "sciconv" in new
    tops = {name.split(".")[0] for name in new} - {"sciconv", "json"}
    assert tops <= set(sys.stdlib_module_names), sorted(tops - set(sys.stdlib_module_names))
    assert [m for m in new if m.startswith("sciconv.")] == ["sciconv.lazy"]
    assert not any(m.split(".")[0] in HEAVY + ("numpy",) for m in new)


def test_first_access_imports_and_keeps():
    """A name loads on first access, is the object its module defines, and is then kept on the
    package; ``dottest`` stays the function although ``sciconv.dottest`` the module was
    imported first (which binds the module on the package); an unknown name is an
    AttributeError. (Fresh interpreter, torch-free names: ``ConvOperator`` and the families
    are checked in :func:`test_all_resolves_and_dir_lists_it`.)"""
    got = _python(
        "import sys, json, sciconv\n"
        "import sciconv.dottest\n"
        "loaded = 'sciconv.dottest' in sys.modules\n"
        "modes = sciconv.PADDING_MODES\n"
        "val = sciconv.validation\n"
        "d = vars(sciconv)\n"
        "try:\n    sciconv.no_such_name; err = None\n"
        "except AttributeError as exc:\n    err = str(exc)\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'loaded': loaded,"
        " 'modes': modes is sys.modules['sciconv.padding'].PADDING_MODES,"
        " 'val': val is sys.modules['sciconv.validation'],"
        " 'kept': d.get('PADDING_MODES') is modes and d.get('validation') is val,"
        " 'dottest': sciconv.dottest is sys.modules['sciconv.dottest'].dottest, 'err': err}))"
    )
    assert got == {
        "torch": False,
        "loaded": True,
        "modes": True,
        "val": True,
        "kept": True,
        "dottest": True,
        "err": "module 'sciconv' has no attribute 'no_such_name'",
    }


def test_vandermonde_stays_the_function():
    """``sciconv.vandermonde`` is the function once ``sciconv.winograd`` has imported the
    module ``sciconv.vandermonde``."""
    import sciconv.winograd  # noqa: F401 - imports the module sciconv.vandermonde

    module = sys.modules["sciconv.vandermonde"]
    assert sciconv.vandermonde is module.vandermonde
    assert sciconv.dottest is sys.modules["sciconv.dottest"].dottest


def test_all_resolves_and_dir_lists_it():
    """Every name of ``__all__`` (``ConvOperator``, ``ssm``, ...) resolves to what its module
    defines; ``dir`` lists them all;
    ``from sciconv import *`` binds them all; every family folder (a regular package) is in
    ``__all__``."""
    assert set(sciconv.__all__) <= set(dir(sciconv))
    for name in sciconv.__all__:
        value = getattr(sciconv, name)
        if name in sciconv._ORIGIN:
            module = sys.modules[f"sciconv{sciconv._ORIGIN[name]}"]
            assert value is getattr(module, name), name
        elif name != "__version__":
            assert value is sys.modules[f"sciconv.{name}"], name
    star: dict = {}
    exec("from sciconv import *", star)
    assert set(sciconv.__all__) <= set(star)
    packages = {
        p.parent.name for p in (ROOT / "sciconv").glob("*/__init__.py") if p.parent.name != "cli"
    }
    assert packages <= set(sciconv.__all__), sorted(packages - set(sciconv.__all__))


def test_dunder_and_dotted_names_are_not_imported():
    """``sciconv.__main__`` is never run by an attribute read (it would start the command)."""
    assert not hasattr(sciconv, "__main__")
    assert not sciconv.lazy.is_submodule("sciconv", "cli.tour")
    with pytest.raises(AttributeError, match="'sciconv' has no attribute 'nope'"):
        sciconv.nope  # noqa: B018 - the attribute read is the test


@pytest.mark.parametrize(
    "args",
    [("-m", "sciconv", "--help"), ("-m", "sciconv", "--version"), ("-m", "sciconv", "tour", "-h")],
)
def test_help_and_version_load_no_heavy_module(args):
    """``sciconv --help``, ``--version`` and a subcommand's ``-h`` import no torch, SciPy,
    mpmath, PETSc, MPI, PyAMG, tensorly or matplotlib, and none of the upper packages."""
    names = _imported(*args)
    bad = sorted(n for n in names if n.split(".")[0] in HEAVY + ("pde", "solvers", "tensors"))
    assert bad == []


def test_console_script_help_loads_no_torch():
    """The installed ``sciconv`` console script (what a user types) answers ``--help`` from
    the same lazy path."""
    script = Path(sys.executable).parent / "sciconv"
    assert script.is_file(), f"no console script at {script}"
    names = _imported(str(script), "--help")
    assert "torch" not in names and "scipy" not in names


def test_solvers_is_lazy_and_its_classical_path_loads_no_torch():
    """``import solvers`` loads no torch, NumPy or PETSc; ``make_map``, ``dcdm``, ``SolveInfo``
    and ``solvers.twolevel`` load no torch either (ARCHITECTURE.md's serial stack); ``dcdm``
    stays the function once ``solvers.dcdm`` the module is imported."""
    got = _python(
        "import sys, json, types, solvers\n"
        "bare = sorted(m for m in ('torch', 'numpy', 'scipy', 'petsc4py') if m in sys.modules)\n"
        "from solvers import SolveInfo, dcdm, make_map\n"
        "from solvers.twolevel import TwoLevelMap\n"
        "import solvers.dcdm\n"
        "print(json.dumps({'bare': bare, 'torch': 'torch' in sys.modules,"
        " 'dcdm': solvers.dcdm is sys.modules['solvers.dcdm'].dcdm,"
        " 'make_map': make_map is sys.modules['solvers.maps'].make_map}))"
    )
    assert got == {"bare": [], "torch": False, "dcdm": True, "make_map": True}


def test_solvers_all_resolves_and_dir_lists_it():
    """Every name of ``solvers.__all__`` is what its module defines, and ``dir`` lists it."""
    import solvers

    assert set(solvers.__all__) <= set(dir(solvers))
    for name in solvers.__all__:
        module = sys.modules.get(f"solvers{solvers._ORIGIN[name]}") or __import__(
            f"solvers{solvers._ORIGIN[name]}", fromlist=["_"]
        )
        assert getattr(solvers, name) is getattr(module, name), name


def test_solvers_petsc_is_lazy_and_the_krylov_drivers_load_no_torch():
    """``import solvers.petsc`` loads neither PETSc nor torch, and the Krylov drivers
    (``cg``, ``solve``, ``petsc_solve``, which reach ``solvers.petsc._core``) load no torch;
    the plug-ins PETSc finds by dotted path resolve to their classes on first access."""
    got = _python(
        "import sys, json, solvers.petsc as p\n"
        "bare = sorted(m for m in ('torch', 'petsc4py') if m in sys.modules)\n"
        "from solvers import cg, petsc_solve, solve\n"
        "after = 'torch' in sys.modules\n"
        "print(json.dumps({'bare': bare, 'torch': after,"
        " 'dcdm': p.DCDM is sys.modules['solvers.petsc.ksp'].DCDM,"
        " 'pc': p.NetworkPC is sys.modules['solvers.petsc.pc'].MapPC,"
        " 'all': sorted(set(p.__all__) - set(dir(p)))}))"
    )
    assert got == {"bare": [], "torch": False, "dcdm": True, "pc": True, "all": []}
