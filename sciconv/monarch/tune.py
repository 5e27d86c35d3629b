"""The in-memory timing table behind ``FFTConvolver(method='auto')``.

A key (device type, transform shape, dtype, ...) maps to the fastest method measured for it.
Each key is timed once, on first use, with the caller's own input; later uses read the table.
A table can be filled by hand (an injected table makes ``'auto'`` deterministic).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from ..validation import check_positive_int, describe

__all__ = ["DEFAULT_TABLE", "TuningTable"]


class TuningTable:
    """Fastest method per key, measured once per key (best of ``repeats`` after one warm-up).

    Parameters
    ----------
    entries : mapping, optional
        Known choices ``{key: method}``; such keys are never timed.
    repeats : int
        Timed runs per candidate (the minimum is kept), after one untimed warm-up run.

    Attributes
    ----------
    timings : dict
        ``{key: {method: seconds}}`` for every key this table timed.

    Examples
    --------
    Candidates are callables; the fastest one's name is stored and returned:

    >>> import time
    >>> from sciconv.monarch.tune import TuningTable
    >>> table = TuningTable(repeats=1)
    >>> slow = lambda: time.sleep(0.02)
    >>> table.choose(("cpu", 1024), {"slow": slow, "fast": lambda: None})
    'fast'
    >>> table.choose(("cpu", 1024), {"slow": slow})  # read from the table, not re-timed
    'fast'
    >>> TuningTable({("cpu", 8): "fft"}).choose(("cpu", 8), {"fft": slow, "direct": slow})
    'fft'
    """

    def __init__(self, entries: Mapping[Hashable, str] | None = None, *, repeats: int = 2) -> None:
        if entries is not None and not isinstance(entries, Mapping):
            raise TypeError(f"entries must be None or a mapping, got {describe(entries)}")
        self._entries: dict[Hashable, str] = dict(entries or {})
        self.repeats = check_positive_int("repeats", repeats)
        self.timings: dict[Hashable, dict[str, float]] = {}

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __getitem__(self, key: Hashable) -> str:
        return self._entries[key]

    def __setitem__(self, key: Hashable, method: str) -> None:
        if not isinstance(method, str):
            raise TypeError(f"method must be a string, got {describe(method)}")
        self._entries[key] = method

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every choice and timing."""
        self._entries.clear()
        self.timings.clear()

    def measure(
        self,
        key: Hashable,
        candidates: Mapping[str, Callable[[], Any]],
        sync: Callable[[], None] | None = None,
    ) -> dict[str, float]:
        """Time every candidate now (warm-up, then best of ``repeats``), store the fastest."""
        if not candidates:
            raise ValueError("candidates must name at least one method, got none")
        times = {}
        for name, fn in candidates.items():
            fn()
            best = float("inf")
            for _ in range(self.repeats):
                if sync is not None:
                    sync()
                t0 = time.perf_counter()
                fn()
                if sync is not None:
                    sync()
                best = min(best, time.perf_counter() - t0)
            times[name] = best
        self.timings[key] = times
        self._entries[key] = min(times, key=times.__getitem__)
        return times

    def choose(
        self,
        key: Hashable,
        candidates: Mapping[str, Callable[[], Any]],
        sync: Callable[[], None] | None = None,
    ) -> str:
        """The stored method for ``key``; on first use, :meth:`measure` the candidates."""
        if key not in self._entries:
            self.measure(key, candidates, sync)
        return self._entries[key]

    def __repr__(self) -> str:
        return f"TuningTable({self._entries!r}, repeats={self.repeats})"


#: The table ``FFTConvolver(method='auto')`` uses unless given another one.
DEFAULT_TABLE = TuningTable()
