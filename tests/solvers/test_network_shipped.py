"""The shipped MultigridNet checkpoints: checks that fail on a bad checkpoint.

For each shipped network (``poisson2d``, ``poisson3d`` between SGS sweeps; ``poisson2d-coarse``,
``poisson3d-coarse`` with the block-4 coarse correction), on test geometries (seeds from 20 000:
used neither in training, seeds 0.., nor in the benchmark, seeds from 10 000), DCDM (rtol 1e-6,
10 directions) with the network's map must
1. stay within the per-geometry iteration budget recorded in the model's metadata, and
2. take strictly fewer iterations than the same map with the network removed,
and the same architecture with random weights must fail (shown here, so the checks can fail:
the line-searched network step cannot make a map worse than its classical part, so a useless
network lands on the no-network count, above every budget).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pde import poisson_problem
from solvers import dcdm
from solvers.coarse import CoarseCorrection
from solvers.network import MultigridNet, NetworkMap, load_pretrained
from solvers.network.registry import WEIGHTS_DIR
from solvers.twolevel import TwoLevelMap

SHIPPED = ["poisson2d", "poisson3d", "poisson2d-coarse", "poisson3d-coarse"]

torch.set_num_threads(1)


def budget(name: str) -> dict:
    return json.loads((WEIGHTS_DIR / f"{name}.json").read_text())["test_budget"]


def iterations(M, p, seed: int) -> int:
    ns = p.null_space() if p.is_singular else None
    _, info = dcdm(p.matrix, p.rhs_divergence(seed), rtol=1e-6, M=M, directions=10,
                   nullspace=ns, maxiter=500)  # fmt: skip
    return info.iterations if info.converged else 10**6


def run(name: str, model) -> tuple[list[int], list[int]]:
    """(iterations with ``model`` in the map, iterations without a network) per test case."""
    dim = load_pretrained(name).config()["dim"]
    block = 4 if name.endswith("-coarse") else None
    with_net, without = [], []
    for geo, n, seed in budget(name)["cases"]:
        p = poisson_problem(geo, n, dim, seed=seed)
        M = NetworkMap(model, p.labels, exterior=p.exterior, A=p.matrix, coarse=block)
        with_net.append(iterations(M, p, seed))
        cc = None if block is None else CoarseCorrection(p.matrix, p.labels == 0, block=block)
        without.append(iterations(TwoLevelMap(p.matrix, cc), p, seed))
    return with_net, without


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_network_meets_its_budget_and_beats_the_map_without_it(name):
    b = budget(name)
    its, without = run(name, load_pretrained(name))
    assert all(i <= m for i, m in zip(its, b["max_iterations"])), (its, b["max_iterations"])
    assert all(i < w for i, w in zip(its, without)), (its, without)


@pytest.mark.parametrize("name", SHIPPED)
def test_random_weights_fail_the_checkpoint_checks(name):
    b = budget(name)
    torch.manual_seed(0)
    bad = MultigridNet(**load_pretrained(name).config())
    with torch.no_grad():
        for param in bad.parameters():
            param.normal_(0.0, 1.0)
    with np.errstate(invalid="ignore", over="ignore"):
        its, without = run(name, bad)
    over = any(i > m for i, m in zip(its, b["max_iterations"]))
    no_better = any(i >= w for i, w in zip(its, without))
    assert over or no_better, (its, b["max_iterations"], without)
