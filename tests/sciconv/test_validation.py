"""``sciconv.validation``: ``require`` on Python bools and bad types, and the per-thread
``value_checks`` switch (eager, and under ``torch.compile``, whose guard must read the calling
thread's setting)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from sciconv.validation import checking_values, require, value_checks


@pytest.mark.parametrize("ok", [True, np.bool_(True), torch.tensor(True), torch.ones(3) > 0])
def test_require_passes_on_true(ok) -> None:
    assert require(ok, "never raised") is None


@pytest.mark.parametrize("ok", [False, np.bool_(False), torch.tensor([True, False])])
def test_require_raises_the_named_error_on_false(ok) -> None:
    with pytest.raises(ValueError, match=r"^n must be even, got 3$"):
        require(ok, "n must be even", lambda: "got 3")
    with pytest.raises(TypeError, match=r"^n must be an int$"):
        require(ok, "n must be an int", error=TypeError)
    with value_checks(False):
        assert require(ok, "skipped") is None


@pytest.mark.parametrize("ok", ["yes", None, 1, 0.0, [True], np.array([True])])
def test_require_refuses_other_types_by_name(ok) -> None:
    """An int, a list or an ndarray is refused, not read as a truth value (was an
    AttributeError on ``.numel``); also with value checks off, as it is a caller's bug."""
    for enabled in (True, False):
        with value_checks(enabled), pytest.raises(TypeError, match=r"ok must be a torch\.Tensor"):
            require(ok, "x must hold")


def test_require_with_a_python_bool_compiles() -> None:
    """A Python bool is a constant of the trace: ``True`` adds nothing to the graph, ``False``
    raises while tracing, as eagerly."""

    def f(x: torch.Tensor) -> torch.Tensor:
        require(x.shape[-1] % 2 == 0, "x must have an even length")
        return 2 * x

    torch._dynamo.reset()
    compiled = torch.compile(f, fullgraph=True, backend="eager")
    x = torch.arange(4.0)
    assert torch.equal(compiled(x), 2 * x)
    with pytest.raises(Exception, match="x must have an even length"):
        compiled(torch.arange(3.0))


def _in_thread(fn):
    """Run ``fn`` in a new thread; return its result or re-raise its exception."""
    out: dict = {}

    def target() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            out["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join(timeout=60)
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_value_checks_is_per_thread() -> None:
    """Inside ``value_checks(False)`` another thread (started there) still checks values;
    switching checks off in a thread leaves this one checking."""
    bad = torch.tensor([False])
    with value_checks(False):
        assert not checking_values()
        require(bad, "skipped here")
        assert _in_thread(checking_values) is True

        def other() -> None:
            require(bad, "x must hold in the other thread")

        with pytest.raises(ValueError, match="x must hold in the other thread"):
            _in_thread(other)

    def switched_off() -> bool:
        with value_checks(False):
            require(bad, "skipped there")
            return checking_values()

    assert _in_thread(switched_off) is False
    assert checking_values()
    with pytest.raises(ValueError, match="still checked here"):
        require(bad, "still checked here")


def test_compiled_function_follows_the_calling_threads_setting() -> None:
    """Dynamo guards the per-thread flag in the calling thread: the graph compiled without the
    assertion (checks off in one thread) is not reused by a thread that checks."""

    def f(x: torch.Tensor) -> torch.Tensor:
        require(x > 0, "x must be > 0")
        return x.log()

    torch._dynamo.reset()
    compiled = torch.compile(f, fullgraph=True, backend="eager")
    neg = -torch.ones(3)

    def unchecked() -> torch.Tensor:
        with value_checks(False):
            return compiled(neg)

    assert torch.isnan(_in_thread(unchecked)).all()
    with pytest.raises(RuntimeError, match="x must be > 0"):
        compiled(neg)  # this thread checks: the guard fails, the checked graph is compiled
    assert torch.isnan(_in_thread(unchecked)).all()  # and the unchecked one is still valid
