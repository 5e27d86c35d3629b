"""What every subcommand shares: the one-line refusal and JSON that stays JSON."""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any

__all__ = ["dumps", "launched_rank", "refuse"]


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
