"""The ``sciconv winograd`` subcommand module (HELP / add_arguments / run)."""

from __future__ import annotations

import argparse
import json

import pytest

from sciconv.cli import winograd as cli
from sciconv.winograd import kappa_vfin, transforms


def _run(argv: list[str], capsys: pytest.CaptureFixture) -> str:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert cli.run(parser.parse_args(argv)) == 0
    return capsys.readouterr().out


def test_show_json(capsys: pytest.CaptureFixture) -> None:
    """JSON output: exact, kappa equals the library's mpmath value, errors present."""
    out = json.loads(
        _run(
            [
                "--m",
                "6",
                "--r",
                "3",
                "--points",
                "0,3/5,-3/5,1,-1,7/6,-7/6",
                "--trials",
                "50",
                "--json",
            ],
            capsys,
        )
    )
    assert out["verified"] and out["points"][-1] == "INF"
    ref = float(kappa_vfin(transforms(6, 3, "0,3/5,-3/5,1,-1,7/6,-7/6").points))
    assert out["conditioning"]["kappa_Vfin"] == pytest.approx(ref, rel=1e-12)
    assert out["errors"]["2d"]["dtype"] == "float16" and out["errors"]["2d"]["mean"] > 0
    assert len(out["AT"]) == 6 and len(out["BT"]) == 8


def test_show_text_and_search(capsys: pytest.CaptureFixture) -> None:
    text = _run(["--m", "2", "--r", "3", "--trials", "20", "--dtype", "bfloat16"], capsys)
    assert "kappa_2(V finite points)" in text and "exact: yes" in text
    out = json.loads(_run(["search", "--m", "2", "--r", "3", "--budget", "24", "--json"], capsys))
    assert out["rows"] and all(r["verified"] for r in out["rows"])
    assert cli.HELP
