"""`sciconv ortho exists` / `sciconv ortho measure`: JSON output vs the library functions.

The subcommand module is mounted on a parser exactly as `sciconv.cli.build_parser` mounts
registered subcommands (HELP, add_arguments, run); references: `sciconv.orthogonal.exists`
and a dense-matrix Gram computed here with numpy (1e-10 relative).
"""

import argparse
import json

import numpy as np
import pytest

from sciconv import ConvOperator
from sciconv.cli import ortho


def _main(argv):
    parser = argparse.ArgumentParser(prog="sciconv")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ortho", help=ortho.HELP)
    ortho.add_arguments(p)
    p.set_defaults(_run=ortho.run)
    args = parser.parse_args(argv)
    return args._run(args)


def test_exists_json_states_the_violated_condition(capsys):
    argv = "ortho exists --in-channels 32 --out-channels 289 --kernel 3 --stride 4 --json"
    assert _main(argv.split()) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["exists"] is False and out["kind"] == "RO"
    assert "M = 289 > C·k² = 288" in out["reason"]


def test_exists_text_with_certificate(capsys):
    argv = "ortho exists --in-channels 2 --out-channels 3 --kernel 1 --stride 2 --dim 1 --certify"
    assert _main(argv.split()) == 0
    out = capsys.readouterr().out
    assert out.startswith("DOES NOT EXIST (RO)")
    assert "agrees with the oracle: True" in out


def test_exists_rectangular_and_padding(capsys):
    argv = "ortho exists --in-channels 1 --out-channels 5 --kernel 3,1 --stride 2,2 --json"
    assert _main(argv.split()) == 0
    assert json.loads(capsys.readouterr().out)["exists"] is False
    argv = "ortho exists --in-channels 2 --out-channels 5 --kernel 2 --stride 2 --dim 1"
    assert _main([*argv.split(), "--padding", "valid", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["exists"] is True


@pytest.mark.parametrize("padding", ["circular", "same"])
def test_measure_json_matches_dense_gram(tmp_path, capsys, padding):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((6, 2, 3, 3)) / 3
    path = tmp_path / "w.npy"
    np.save(path, w)
    argv = ["ortho", "measure", "--weight", str(path), "--input-size", "8", "--stride", "2"]
    assert _main([*argv, "--padding", padding, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    a = ConvOperator(w, (2, 8, 8), stride=2, padding=padding).to_dense()
    g = a @ a.T - np.eye(a.shape[0])  # RO: 6 <= 2 * 4
    sv = np.linalg.svd(a, compute_uv=False)
    assert out["kind"] == "RO"
    assert out["err_F"] == pytest.approx(np.linalg.norm(g), rel=1e-10)
    assert out["err_s"] == pytest.approx(np.linalg.norm(g, 2), rel=1e-10)
    assert out["sigma_max"] == pytest.approx(sv[0], rel=1e-8)
    assert out["sigma_min"] == pytest.approx(sv[-1], rel=1e-6)
    assert {"l_orth", "alpha"} <= out.keys()


def test_errors_are_reported_not_raised(tmp_path, capsys):
    np.save(tmp_path / "w.npy", np.ones((2, 2, 3)))
    argv = ["ortho", "measure", "--weight", str(tmp_path / "w.npy"), "--input-size", "7"]
    assert _main([*argv, "--stride", "2"]) == 2
    assert "error:" in capsys.readouterr().out
