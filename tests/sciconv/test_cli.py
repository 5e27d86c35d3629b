"""The command-line face: `sciconv info` and `sciconv tour`."""

import json
import subprocess
import sys

from sciconv.cli import SUBCOMMANDS, build_parser, main


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
    """`sciconv info --json` is valid JSON naming every dependency and the CUDA state."""
    assert main(["info", "--json", "--no-mpi-check"]) == 0
    info = json.loads(capsys.readouterr().out)
    for name in ("numpy", "scipy", "torch", "mpmath", "pyamg", "tensorly", "petsc4py"):
        assert name in info["dependencies"]
    import numpy

    assert info["dependencies"]["numpy"] == numpy.__version__
    assert isinstance(info["cuda"]["available"], bool)
    assert "petsc" in info


def test_tour_operator_section_runs(capsys):
    """The tour's operator section prints dot-test gaps at round-off level."""
    assert main(["tour", "--only", "ConvOperator"]) == 0
    out = capsys.readouterr().out
    gaps = [float(line.rsplit(" ", 1)[1]) for line in out.splitlines() if "dot test gap" in line]
    assert len(gaps) == 4 and max(gaps) < 1e-12


def test_every_subcommand_has_help():
    parser = build_parser()
    assert set(SUBCOMMANDS) <= set(parser._subparsers._group_actions[0].choices)
