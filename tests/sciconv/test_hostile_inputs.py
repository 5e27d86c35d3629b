"""Hostile inputs of issue 20 (appendix table) for the ``sciconv`` core and ``tensors``.

Each input once crashed, hung, answered with a raw numpy/torch/scipy message or returned a
silent wrong result. Each must now end CLEAR: an exception of the stated type whose message
names the argument (and the value and what was expected), quickly and without allocating
the impossible. Grouped by entry point; the ids are those of the issue's appendix.
"""

from __future__ import annotations

import numpy as np
import pytest

from sciconv import dottest


# ------------------------------------------------------------------------------ dottest
class _ConstOp:
    """An operator whose products are constant: NaN or inf (D01, D06)."""

    def __init__(self, value: float) -> None:
        self.shape = (5, 5)
        self.value = value

    def matvec(self, x):
        return np.full(5, self.value)

    def rmatvec(self, y):
        return np.full(5, self.value)


@pytest.mark.parametrize(
    ("op", "kwargs", "exc", "match"),
    [
        pytest.param(_ConstOp(np.nan), {"rtol": 1e-10}, ValueError, "op.matvec", id="D01"),
        pytest.param(_ConstOp(np.inf), {"rtol": 1e-10}, ValueError, "op.matvec", id="D06"),
        pytest.param(_ConstOp(np.nan), {}, ValueError, "NaN or infinity", id="D01-no-rtol"),
        pytest.param(_ConstOp(0.0), {"rtol": float("nan")}, ValueError, "rtol", id="rtol-nan"),
    ],
)
def test_dottest(op, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        dottest(op, rng=0, **kwargs)
