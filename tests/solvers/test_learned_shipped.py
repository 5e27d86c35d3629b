"""The shipped prolongation networks (stencil2d, stencil3d): checks that fail on a bad checkpoint.

On test geometries (seeds from 20 000: used neither in training, seeds 0.., nor in the
benchmark, seeds from 10 000), DCDM with the shipped ``learned`` map must
1. stay within the iteration budget recorded in the model's metadata,
2. take strictly fewer iterations in total over the test geometries than the same map with
   the network removed (the same architecture untrained: its last layer is zero, so the
   weights are the classical ω = 2/3 of smoothed aggregation, ``smoothed`` for a full
   prolongator), and never more on any one of them,
and a network with random weights must fail these checks (shown here, so the checks can fail).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pde import poisson_problem
from solvers import dcdm, make_map
from solvers.network.learned import StencilNet, learned_map
from solvers.network.registry import WEIGHTS_DIR, available, load_pretrained

SHIPPED = ["stencil2d", "stencil3d"]


def budget(name: str) -> dict:
    return json.loads((WEIGHTS_DIR / f"{name}.json").read_text())["test_budget"]


def iterations(M, p, seed: int) -> int:
    ns = p.null_space() if p.is_singular else None
    _, info = dcdm(p.matrix, p.rhs_divergence(seed), rtol=1e-6, M=M, directions=2,
                   nullspace=ns, maxiter=200)  # fmt: skip
    assert info.converged, info.message
    return info.iterations


def without_network(model: StencilNet, p) -> object:
    """The same map with the network removed: the untrained model (zero head)."""
    plain = StencilNet(**{k: v for k, v in model.config().items() if k != "kind"})
    assert not any(plain.head.weight.flatten()) and not any(plain.head.bias)
    return learned_map(plain, p.matrix, p.labels)


def cases(name: str):
    b = budget(name)
    for geo, seed in zip(b["geometries"], b["seeds"]):
        yield poisson_problem(geo, b["n"], b["dim"], seed=seed), seed


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_is_there_and_checksummed(name):
    assert name in available()
    model = load_pretrained(name)  # verifies the sha256 before unpickling (weights_only)
    assert isinstance(model, StencilNet)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_meets_its_budget_and_beats_the_map_without_it(name):
    b = budget(name)
    model = load_pretrained(name)
    learned, without = [], []
    for p, seed in cases(name):
        learned.append(iterations(learned_map(model, p.matrix, p.labels), p, seed))
        without.append(iterations(without_network(model, p), p, seed))
    assert max(learned) <= b["max_iterations"], (learned, b)
    assert sum(learned) < sum(without) and all(a <= c for a, c in zip(learned, without)), (
        learned,
        without,
    )


@pytest.mark.parametrize("name", SHIPPED)
def test_random_weights_fail_the_checkpoint_checks(name):
    """The same architecture with random weights: over budget or no better than no network."""
    b = budget(name)
    good = load_pretrained(name)
    torch.manual_seed(0)
    bad = StencilNet(**{k: v for k, v in good.config().items() if k != "kind"})
    with torch.no_grad():
        for param in bad.parameters():
            param.normal_(0.0, 1.0)
    its, without = [], []
    for p, seed in cases(name):
        its.append(iterations(learned_map(bad, p.matrix, p.labels), p, seed))
        without.append(iterations(without_network(good, p), p, seed))
    assert max(its) > b["max_iterations"] or sum(its) >= sum(without), (its, without)


def test_learned_spec_loads_the_shipped_model_by_dimension():
    p = poisson_problem("obstacles", 12, 3, seed=20_010)
    M = make_map("learned", p.matrix, labels=p.labels)
    assert M.linear and M.shape == (p.n, p.n)
    x = np.random.default_rng(0).standard_normal(p.n)
    assert np.isfinite(M(x)).all()


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_metadata_records_how_it_was_made_and_what_it_costs(name):
    """Item 2 of the issue: the command, the training time, the held-out iterations, the cost
    per application and FLOP per cell, and a config that is the model's own."""
    meta = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())
    model = load_pretrained(name)
    assert meta["command"].startswith("python examples/train_stencil_network.py")
    assert "--out solvers/network/weights" in meta["command"]
    assert meta["training"]["seconds"] > 0 and meta["training"]["steps"] >= 1
    held = meta["held_out"]
    assert sum(held["learned"]) < sum(held["coarse"])  # the iterations it was shipped with
    assert meta["flops_per_cell"] == model.flops_per_cell()
    (cost,) = meta["application"].values()
    assert cost["ms"] > 0 and 0 < cost["flops_per_cell"] <= 300  # the FLOP budget
    assert meta["config"] == model.config()
