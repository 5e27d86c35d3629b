"""Shared test configuration: the devices to run torch code on, and the hypothesis profiles.

Devices
-------
``DEVICES`` is ``["cpu"]`` plus ``"cuda"`` when ``torch.cuda.is_available()``. Tests take it

* as the ``device`` fixture (one test per available device, ids ``cpu`` / ``cuda``), or
* as ``@pytest.mark.parametrize("device", DEVICES)`` after ``from tests.conftest import DEVICES``,
* or whole, as the ``devices`` fixture.

Threads
-------
torch runs on one intra-op thread in the tests (override with ``SCICONV_TEST_THREADS=n``). The
test tensors are tiny, and on a loaded machine (two shared cores, other pytest processes)
OpenMP's barrier makes a 0.01 ms float64 conv take 40-150 ms when a second thread is
descheduled; one thread removes that without slowing any test measurably.

Hypothesis
----------
Profiles ``ci`` (the default: 200 examples, no deadline, derandomized so a run is reproducible
and writes no example database) and ``dev`` (30 random examples, with the database, for a
quick local loop). Choose one with ``--hypothesis-profile=dev`` or ``HYPOTHESIS_PROFILE=dev``.
The operator identity tests also pin ``@settings(max_examples=200, deadline=None)`` themselves
(as the issue requires), so they run 200 examples whatever the profile.
"""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import HealthCheck, settings

torch.set_num_threads(int(os.environ.get("SCICONV_TEST_THREADS", "1")))

#: Devices the torch code paths are tested on.
DEVICES: list[str] = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

#: Examples the operator identity tests (adjoint, dense reference) draw.
IDENTITY_EXAMPLES = 200

settings.register_profile(
    "ci",
    max_examples=IDENTITY_EXAMPLES,
    deadline=None,  # two shared cores: timing varies too much for a per-example deadline
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=30, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def devices() -> list[str]:
    """All devices available to torch in this run (``["cpu"]`` or ``["cpu", "cuda"]``)."""
    return list(DEVICES)


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    """One available device per test instance (a direct ``parametrize`` overrides it)."""
    return request.param
