"""Print the README's deployment matrix of the torch layers as a Markdown table.

Runs the checks of ``tests/test_torch_deploy.py`` (``meta``, ``torch.export``,
``torch.compile(fullgraph=True, backend="eager")``, a float32 input to a float64 layer) on
every layer of its ``CASES`` and writes one row per layer: "yes", or "no" with the reason
recorded in the test's ``LIMITS``. A check that fails without a recorded reason is printed as
"FAILS (unexplained)" and the script exits 1. It took 7 min wall (1.4 min CPU) on the
shared 2-core machine at load 13 (``PoincareResNet``'s traces take most of it).

Usage: ``.venv/bin/python scripts/deploy_matrix.py`` from the repository root.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from tests.test_torch_deploy import (  # noqa: E402
    CASES,
    DTYPE_FOLLOWS_INPUT,
    LIMITS,
    build,
    run_check,
)

CHECKS = ("meta", "export", "compile")
HEADER = ["layer", "`meta`", "`torch.export`", "`torch.compile(fullgraph=True)`", "dtype mismatch"]


def _cell(name: str, check: str) -> tuple[str, bool]:
    """The table cell and whether it is explained (passes, or fails as recorded)."""
    try:
        run_check(name, check)
    except Exception:  # noqa: BLE001 - any failure is reported in the table
        limit = LIMITS.get((name, check))
        return ("no: " + limit[0], True) if limit else ("FAILS (unexplained)", False)
    if (name, check) in LIMITS:
        return "passes, but LIMITS says no: update the test", False
    return "yes", True


def _dtype_cell(name: str) -> str:
    if name in DTYPE_FOLLOWS_INPUT:
        return "follows the input: " + DTYPE_FOLLOWS_INPUT[name]
    layer, _ = build(name, torch.float64)
    x = CASES[name][1](torch.float32, "cpu")
    try:
        layer(*x)
    except TypeError:
        return "`TypeError`"
    except RuntimeError:
        return "`RuntimeError` (from torch)"
    return "SILENTLY PROMOTES"


def main() -> int:
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    torch.set_num_threads(1)
    rows, ok = [], True
    for name in sorted(CASES, key=str.lower):
        cells = []
        for check in CHECKS:
            cell, explained = _cell(name, check)
            ok &= explained
            cells.append(cell)
        cells.append(_dtype_cell(name))
        rows.append([f"`{name}`", *cells])
        print(f"{name}: done", file=sys.stderr, flush=True)
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" * len(HEADER))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
