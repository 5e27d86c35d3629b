"""The learned two-level map: stencil weights, prolongator, training loss, against references.

The references are written here: a loop over cells for the per-cell stencil formula of
``StencilNet``'s Notes, dense products for P = P0 - K P0, and the dense two-level error
propagation of ``test_twolevel``; tolerances are stated per test (float64).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from pde import poisson_problem
from solvers.coarse import block_aggregates, smoothed_prolongation
from solvers.network.learned import StencilGeometry, StencilNet, learned_map, learned_prolongation
from solvers.network.stencil_train import TwoLevelProblem, train_stencil

from .test_twolevel import dense_two_level


def random_net(dim: int, seed: int, scale: float = 0.3) -> StencilNet:
    torch.manual_seed(seed)
    net = StencilNet(dim, width=4, depth=2).double()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, scale)
    return net


def loop_reference_K(A: sp.csr_matrix, fluid: np.ndarray, raw: np.ndarray, omega: float):
    """Dense K from the Notes' formula, cell by cell."""
    coords = list(zip(*np.nonzero(fluid)))
    index = {c: i for i, c in enumerate(coords)}
    dim, n = fluid.ndim, len(coords)
    Ad = A.toarray()
    K = np.zeros((n, n))
    for i, c in enumerate(coords):
        w = omega * (1.0 + np.tanh(raw[(slice(None), *c)]))
        total = 0.0
        for axis in range(dim):
            for side, step in ((0, -1), (1, 1)):
                nb = list(c)
                nb[axis] += step
                j = index.get(tuple(nb))
                if j is None or Ad[i, j] == 0.0:
                    continue
                K[i, j] = w[2 * axis + side] * Ad[i, j] / Ad[i, i]
                total += w[2 * axis + side] * abs(Ad[i, j]) / Ad[i, i]
        excess = (Ad[i, i] - sum(abs(Ad[i, j]) for j in range(n) if j != i)) / Ad[i, i]
        K[i, i] = total + w[2 * dim] * excess
    return K


@pytest.mark.parametrize(
    "geo,n,dim,seed",
    [("obstacles", 12, 2, 20_000), ("plume", 10, 2, 20_001), ("obstacles", 6, 3, 20_002)],
)
def test_learned_prolongation_matches_the_cellwise_formula(geo, n, dim, seed):
    p = poisson_problem(geo, n, dim, seed=seed)
    net = random_net(dim, seed)
    geom = StencilGeometry.from_matrix(p.matrix, p.labels)
    with torch.no_grad():
        raw = net(torch.as_tensor(geom.features).unsqueeze(0))[0].numpy()
    K = loop_reference_K(p.matrix, p.labels == 0, raw, net.omega)
    agg = block_aggregates(p.matrix, p.labels == 0, 4)
    P0 = np.eye(agg.max() + 1)[agg]
    P, agg2 = learned_prolongation(net, p.matrix, p.labels)
    assert np.array_equal(agg, agg2)
    assert np.abs(P.toarray() - (P0 - K @ P0)).max() <= 1e-13


def test_constants_stay_in_the_coarse_space_away_from_dirichlet_rows():
    """K 1 = 0 on rows without a Dirichlet coupling, for any weights: P 1_c = 1 there."""
    p = poisson_problem("plume", 16, 2, seed=20_003)
    P, _ = learned_prolongation(random_net(2, 3, scale=1.0), p.matrix, p.labels)
    A = p.matrix
    neumann = np.abs(np.asarray(A.sum(axis=1)).ravel()) <= 1e-12 * A.diagonal()
    ones = P @ np.ones(P.shape[1])
    assert neumann.sum() > 0.5 * p.n
    assert np.abs(ones[neumann] - 1.0).max() <= 1e-13


def test_untrained_network_is_classical_smoothed_aggregation():
    p = poisson_problem("obstacles", 24, 2, seed=20_004)
    net = StencilNet(2, width=4, depth=1).double()
    P, agg = learned_prolongation(net, p.matrix, p.labels)
    ref = smoothed_prolongation(p.matrix, agg, 2.0 / 3.0)
    assert abs(P - ref).max() <= 1e-15
    P32, _ = learned_prolongation(net.float(), p.matrix, p.labels)  # inference in float32
    assert abs(P32 - ref).max() <= 1e-7


@pytest.mark.parametrize(
    "geo,dim,n", [("obstacles", 2, 14), ("plume", 2, 14), ("obstacles", 3, 6), ("plume", 3, 6)]
)
def test_learned_map_is_linear_symmetric_and_equals_the_dense_cycle(geo, dim, n):
    """The claims of the map's Notes, to 1e-12 in float64: linear, symmetric, positive
    definite on range(A) (plume: closed walls, pure-Neumann pockets possible), and
    (I - MA) = E_S (I - Pi) E_S with the predicted P."""
    p = poisson_problem(geo, n, dim, seed=20_005)
    net = random_net(dim, 5)
    M = learned_map(net, p.matrix, p.labels)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((2, p.n))
    Mx, My = M(x), M(y)
    scale = np.linalg.norm(Mx) * np.linalg.norm(y)
    assert M.linear and abs(y @ Mx - x @ My) <= 1e-12 * scale
    assert np.allclose(M(2.0 * x - 3.0 * y), 2.0 * Mx - 3.0 * My, rtol=0, atol=1e-12 * scale)
    P, _ = learned_prolongation(net, p.matrix, p.labels)
    Ad = p.matrix.toarray()
    if not p.is_singular:
        ref = dense_two_level(Ad, P.toarray())
        assert np.abs(ref @ x - Mx).max() <= 1e-12 * np.abs(Mx).max()
    # positive definite on range(A): the smallest eigenvalue of the symmetrised dense map
    Md = np.stack([M(e) for e in np.eye(p.n)], 1)
    null = 0
    if p.is_singular:
        Z = p.null_space()
        proj = np.eye(p.n) - Z.T @ Z
        Md, null = proj @ Md @ proj, len(Z)
    lam = np.sort(np.linalg.eigvalsh((Md + Md.T) / 2))
    assert lam[null:].min() > 1e-8 * lam.max(), lam[: null + 3]


def test_training_loss_operator_is_the_run_time_cycle():
    """TwoLevelProblem.error (torch, differentiable) = (I - M A) of the numpy map."""
    p = poisson_problem("obstacles", 12, 2, seed=20_006)
    net = random_net(2, 6)
    pb = TwoLevelProblem(p.matrix, p.labels)
    raw = net(pb.features)[0]
    P = pb.prolongation(raw, net.omega)
    Z = torch.randn(pb.n, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    EZ = pb.error(P, Z, 1).detach().numpy()
    M = learned_map(net, p.matrix, p.labels)
    ref = np.stack([z - M(p.matrix @ z) for z in Z.numpy().T], 1)
    assert np.abs(EZ - ref).max() <= 1e-11 * np.abs(ref).max()
    assert (
        np.abs(P.detach().numpy() - learned_prolongation(net, p.matrix, p.labels)[0]).max() < 1e-13
    )


def test_training_loss_gradient_is_the_finite_difference_one():
    p = poisson_problem("obstacles", 8, 2, seed=20_007)
    pb = TwoLevelProblem(p.matrix, p.labels)
    Z = torch.randn(pb.n, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))

    def loss(raw: torch.Tensor) -> torch.Tensor:
        E = pb.error(pb.prolongation(raw, 2.0 / 3.0), Z, 2)
        return (pb.anorm2(E) / pb.anorm2(Z)).mean()

    raw = 0.3 * torch.randn(
        5, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(2)
    )
    assert torch.autograd.gradcheck(loss, (raw.requires_grad_(),), eps=1e-6, atol=1e-7)


def test_training_lowers_the_loss_on_its_problems():
    pairs = (("obstacles", 1), ("plume", 2))
    probs = [TwoLevelProblem(q.matrix, q.labels)
             for q in (poisson_problem(g, 16, 2, seed=s) for g, s in pairs)]  # fmt: skip
    torch.manual_seed(0)
    net = StencilNet(2, 4, 1).double()
    log = train_stencil(net, probs, steps=25, lr=1e-2, probes=16, progress=False)
    assert np.mean(log["losses"][-5:]) < np.mean(log["losses"][:5]) - 0.005


def test_learned_refuses_bad_input():
    p = poisson_problem("obstacles", 8, 2, seed=20_008)
    nine = sp.csr_matrix(
        p.matrix + sp.diags(-0.01 * np.ones(p.n - 9), 9) + sp.diags(-0.01 * np.ones(p.n - 9), -9)
    )
    with pytest.raises(ValueError, match="grid neighbours"):
        StencilGeometry.from_matrix(nine, p.labels)
    with pytest.raises(ValueError, match="FLUID cells"):
        StencilGeometry.from_matrix(p.matrix[:-1, :-1], p.labels)
    with pytest.raises(TypeError, match="StencilNet"):
        learned_map(torch.nn.Identity(), p.matrix, p.labels)
    with pytest.raises(ValueError, match="dim must be 2 or 3"):
        StencilNet(4)
    with pytest.raises(ValueError, match="compact=True needs block >= 3"):
        StencilNet(2, block=2, compact=True)
    with pytest.raises(ValueError, match="kernel_size must be 1 or 3"):
        StencilNet(2, kernel_size=5)


@pytest.mark.parametrize("dim", [2, 3])
def test_pointwise_network_at_cells_equals_the_grid_convolution(dim):
    """kernel_size=1 runs as matrix products over the unknowns; the reference is the same
    network's 1×1 convolution on the feature grid, read at the fluid cells (float64)."""
    p = poisson_problem("obstacles", 10 if dim == 2 else 6, dim, seed=20_009)
    torch.manual_seed(3)
    net = StencilNet(dim, width=5, depth=2, kernel_size=1).double()
    with torch.no_grad():
        for q in net.parameters():
            q.normal_(0.0, 0.5)
    geom = StencilGeometry.from_matrix(p.matrix, p.labels)
    with torch.no_grad():
        grid = net(torch.as_tensor(geom.features).unsqueeze(0))[0].numpy()
    ref = grid.reshape(grid.shape[0], -1)[:, np.flatnonzero(p.labels == 0)]
    assert np.abs(net.at_cells(geom) - ref).max() <= 1e-13
    assert net.flops_per_cell() == 2 * ((2 * dim + 2) * 5 + 5 * 5 + 5 * (2 * dim + 1))


def test_block_aggregates_read_off_the_grid_equal_the_graph_search():
    for geo, n, dim, seed in (("obstacles", 37, 2, 20_010), ("plume", 12, 3, 20_011)):
        p = poisson_problem(geo, n, dim, seed=seed)
        geom = StencilGeometry.from_matrix(p.matrix, p.labels)
        for block in (1, 3, 4, (2, 5) if dim == 2 else (2, 3, 4)):
            ref = block_aggregates(p.matrix, p.labels == 0, block)
            assert np.array_equal(geom.block_aggregates(block), ref), (geo, block)
    # a cell whose stored couplings are all exactly zero is an aggregate of its own (the grid
    # labels would join it to its block: the graph search decides when a zero is stored)
    A = sp.csr_matrix(p.matrix, copy=True)
    rows = np.repeat(np.arange(p.n), np.diff(A.indptr))
    lonely = p.n // 2
    A.data[((rows == lonely) | (A.indices == lonely)) & (rows != A.indices)] = 0.0
    agg = StencilGeometry.from_matrix(A, p.labels).block_aggregates(4)
    assert (agg == agg[lonely]).sum() == 1
    assert np.array_equal(agg, block_aggregates(A, p.labels == 0, 4))
    # duplicate stored entries are summed first, not refused
    dup = sp.csr_matrix((np.r_[A.data, [0.0]], np.r_[A.indices, [A.indices[-1]]],
                         np.r_[A.indptr[:-1], A.indptr[-1] + 1]), shape=A.shape)  # fmt: skip
    assert not dup.has_canonical_format
    g = StencilGeometry.from_matrix(dup, p.labels)
    assert np.array_equal(g.slot_ratio, StencilGeometry.from_matrix(A, p.labels).slot_ratio)


def compact_reference_K(A, fluid, raw, omega, agg, block=4):
    """The Notes' K, then the couplings across aggregates dropped (their diagonal recomputed
    from the kept ones) in every row except those of a cell on exactly one face of its
    block's box, that block >= 3 cells across there, with one such coupling; cell by cell."""
    K = loop_reference_K(A, fluid, raw, omega)
    coords = list(zip(*np.nonzero(fluid)))
    for i, c in enumerate(coords):
        across = [j for j in np.flatnonzero(K[i]) if j != i and agg[j] != agg[i]]
        faces, wide = 0, True
        for x, size in zip(c, fluid.shape):
            start = (x // block) * block
            side = min(block, size - start)
            if x in (start, start + side - 1):
                faces += 1
                wide = wide and side >= 3
        if across and not (faces == 1 and wide and len(across) == 1):
            K[i, i] -= sum(-K[i, j] for j in across)  # k_ii = sum_kept w|a|/a_ii + w_D excess
            K[i, across] = 0.0
    return K


@pytest.mark.parametrize(
    "geo,n,dim,seed",
    [("obstacles", 13, 2, 20_012), ("obstacles", 32, 2, 20_012), ("plume", 7, 3, 20_013),
     ("obstacles", 9, 3, 20_014)],
)  # fmt: skip
def test_compact_prolongation_matches_the_cellwise_formula_and_keeps_the_coarse_stencil(
    geo, n, dim, seed
):
    p = poisson_problem(geo, n, dim, seed=seed)
    torch.manual_seed(seed)
    net = StencilNet(dim, width=4, depth=1, kernel_size=1, compact=True).double()
    with torch.no_grad():
        for q in net.parameters():
            q.normal_(0.0, 0.4)
    geom = StencilGeometry.from_matrix(p.matrix, p.labels)
    raw_cells = net.at_cells(geom)
    raw = np.zeros((2 * dim + 1, p.labels.size))
    raw[:, np.flatnonzero(p.labels == 0)] = raw_cells
    agg = block_aggregates(p.matrix, p.labels == 0, 4)
    K = compact_reference_K(
        p.matrix, p.labels == 0, raw.reshape(-1, *p.labels.shape), net.omega, agg
    )
    P0 = np.eye(agg.max() + 1)[agg]
    P, _ = learned_prolongation(net, p.matrix, p.labels)
    assert np.abs(P.toarray() - (P0 - K @ P0)).max() <= 1e-13
    Ad = p.matrix.toarray()
    pattern = np.abs(P0.T @ Ad @ P0) > 0
    assert np.array_equal(np.abs(P.T @ Ad @ P) > 1e-14, pattern)  # the 5/7-point coarse stencil
    full, _ = learned_prolongation(
        StencilNet(dim, 4, 1, kernel_size=1).double().requires_grad_(False), p.matrix, p.labels
    )
    assert (np.abs(full.T @ Ad @ full) > 1e-14).sum() > pattern.sum()  # the full one widens it
    # the training path (torch entries with the dropped couplings) builds the same P
    pb = TwoLevelProblem(p.matrix, p.labels, compact=True)
    with torch.no_grad():
        Pt = pb.prolongation(torch.as_tensor(raw.reshape(-1, *p.labels.shape)), net.omega)
    assert np.abs(Pt.numpy() - P.toarray()).max() <= 1e-13
