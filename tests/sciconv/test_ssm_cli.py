"""``sciconv ssm``: the agreement table runs and every method meets the 1e-10 bar (small N, L)."""

from __future__ import annotations

import argparse

from sciconv.cli import ssm


def test_ssm_subcommand_prints_the_table(capsys):
    parser = argparse.ArgumentParser()
    ssm.add_arguments(parser)
    assert ssm.run(parser.parse_args(["--N", "8", "--L", "300"])) == 0
    out = capsys.readouterr().out
    for word in ("vandermonde_chunked", "cauchy", "HiPPO-fout", "worst relative difference"):
        assert word in out


def test_agreement_rows_are_below_the_bar():
    rows = ssm.agreement_rows(12, 257, dt=0.01)
    assert len(rows) == 14
    assert all(r["rel_diff"] <= 1e-10 for r in rows)
