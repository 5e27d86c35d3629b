"""What every subcommand shares: the one-line refusal, JSON that stays JSON, and the tour's
checks (a figure against its stated tolerance)."""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass
from typing import Any

__all__ = ["Check", "dumps", "launched_rank", "refuse"]


def refuse(command: str, error: BaseException | str, *, rank: int | None = None) -> int:
    """Print ``sciconv COMMAND: error: MESSAGE`` on stderr (rank 0 only under MPI); return 2.

    Examples
    --------
    >>> import contextlib, io
    >>> err = io.StringIO()
    >>> with contextlib.redirect_stderr(err):
    ...     rc = refuse("poisson", ValueError("rtol must be a finite number >= 0, got -1.0"))
    >>> rc, err.getvalue()
    (2, 'sciconv poisson: error: rtol must be a finite number >= 0, got -1.0\\n')
    """
    if (launched_rank() if rank is None else rank) == 0:
        print(f"sciconv {command}: error: {error}", file=sys.stderr, flush=True)
    return 2


def launched_rank() -> int:
    """This process's rank as an MPI launcher announced it in the environment (0 if none)."""
    for key in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK"):
        value = os.environ.get(key, "")
        if value.isdigit():
            return int(value)
    return 0


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "shape", None) == ():  # numpy scalars
        return _finite(obj.item())
    return obj


def dumps(obj: Any, **kw: Any) -> str:
    """``json.dumps`` that writes strict JSON: a non-finite float becomes ``null``.

    Python's ``json`` writes ``Infinity``/``NaN`` by default, which no JSON parser reads.

    Examples
    --------
    >>> dumps({"objective": float("inf"), "rows": [1.5, float("nan")]})
    '{"objective": null, "rows": [1.5, null]}'
    """
    return json.dumps(_finite(obj), allow_nan=False, **kw)


@dataclass(frozen=True)
class Check:
    """One figure of a ``sciconv tour`` section against its stated tolerance.

    ``claim`` says what must hold, the tolerance included; ``found`` what was measured. A tour
    section returns these among its lines; the tour prints each as ``ok: ...`` or
    ``FAILED: ...`` and exits non-zero when one fails.

    Examples
    --------
    >>> str(Check.at_most("dot-test gap", 3e-17, 1e-12))
    'ok: dot-test gap <= 1e-12 (found 3.0e-17)'
    >>> str(Check.at_most("dot-test gap", float("nan"), 1e-12))
    'FAILED: dot-test gap <= 1e-12 (found nan)'
    """

    claim: str
    ok: bool
    found: str = ""

    def __str__(self) -> str:
        found = f" (found {self.found})" if self.found else ""
        return f"{'ok' if self.ok else 'FAILED'}: {self.claim}{found}"

    @classmethod
    def at_most(cls, what: str, value: float, tol: float) -> Check:
        """``value <= tol``; NaN and infinity fail."""
        v = float(value)
        return cls(f"{what} <= {tol:g}", math.isfinite(v) and v <= tol, f"{v:.1e}")
