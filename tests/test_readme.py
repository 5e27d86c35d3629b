"""Every Python block of README.md runs as written, on its own (a fresh namespace each).

The README is the first code a user copies; a block that needs names from another block, or
an API that changed, fails here. Each block runs in a temporary working directory (blocks may
write ``out/`` or ``my_weights/``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 10


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs_as_written(index, tmp_path):
    source = BLOCKS[index]
    namespace = {"__name__": "readme"}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(source, f"README.md python block {index}", "exec"), namespace)
    finally:
        os.chdir(cwd)
    defined = set(namespace) - {"__name__", "__builtins__"}
    assert defined, "the block ran but defined nothing a user could go on with"
