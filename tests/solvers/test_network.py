"""The DCDM network: model, Lanczos data, training, weight registry, and the CG floor."""

import hashlib
import json
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from pde import AIR, FLUID, SOLID, poisson_problem
from solvers.dcdm import dcdm
from solvers.krylov import cg
from solvers.maps import make_map
from solvers.network import (
    MultigridNet,
    NetworkMap,
    WeightsError,
    available,
    count_parameters,
    lanczos,
    load_pretrained,
    precond,
    ritz_pairs,
    ritz_weights,
    save_pretrained,
    scale_invariant_loss,
    train,
    training_set,
    weighted_rhs,
)
from solvers.network.registry import WEIGHTS_DIR

torch.set_num_threads(1)


def code(prob):
    return AIR if prob.exterior == "air" else SOLID


def test_label_codes_match_pde():
    """solvers.network repeats pde.geometry's label codes (it may not import pde)."""
    assert (precond.FLUID, precond.SOLID, precond.AIR) == (FLUID, SOLID, AIR)


@pytest.mark.parametrize("dim,width,depth", [(2, 16, 2), (2, 8, 1), (3, 4, 1)])
def test_parameter_count_formula(dim, width, depth):
    """count_parameters equals the documented sum of convolution sizes (no biases)."""
    k = 3**dim
    expect = (4 * k * width + 2 * depth * ((width + 3) * k * width + k * width * width)
              + 2**dim * width**2 + k * width**2 + width)  # fmt: skip
    assert count_parameters(MultigridNet(dim, width, depth)) == expect


@pytest.mark.parametrize("shape", [(13, 20), (32, 32), (9, 10, 11)])
def test_model_any_grid_masks_and_scale(shape):
    """Any grid size; zero on non-fluid cells; output invariant to the input scale (1e-5)."""
    torch.manual_seed(0)
    model = MultigridNet(len(shape), 6, 1)
    lab = np.random.default_rng(0).choice([FLUID, FLUID, SOLID, AIR], size=shape)
    r = torch.randn(2, *shape, dtype=torch.float64) * torch.as_tensor(lab == FLUID)
    model = model.double()
    x = precond.network_input(r, lab)
    q = model(x)
    assert q.shape == (2, 1, *shape)
    assert torch.all(q[:, 0][:, torch.as_tensor(lab != FLUID)] == 0)
    q5 = model(precond.network_input(5.0 * r, lab))
    assert torch.allclose(q5, q, rtol=1e-5, atol=1e-12)


@pytest.fixture(scope="module")
def small():
    return poisson_problem("obstacles", 16, 2, seed=3)


def test_lanczos_orthonormal_and_tridiagonal(small):
    """Q^T Q = I and Q^T A Q = T to 1e-10 (full reorthogonalisation)."""
    A = small.matrix
    Q, a, b = lanczos(A, small.rhs_random(0), 60)
    T = np.diag(a) + np.diag(b, 1) + np.diag(b, -1)
    assert np.abs(Q.T @ Q - np.eye(Q.shape[1])).max() < 1e-10
    assert np.abs(Q.T @ (A @ Q) - T).max() < 1e-10 * spla.norm(A)


def test_ritz_pairs_against_dense_eigenvalues(small):
    """Each Ritz pair: |A v - θ v| >= distance from θ to the spectrum (dense eigvalsh), and the
    extreme Ritz values match the extreme eigenvalues (scipy eigsh) to 1e-8 relative."""
    A = small.matrix
    theta, V = ritz_pairs(A, small.rhs_random(1), 80)
    lam = np.linalg.eigvalsh(A.toarray())
    res = np.linalg.norm(A @ V - V * theta, axis=0)
    gap = np.abs(theta[:, None] - lam[None]).min(1)
    assert np.all(gap <= res + 1e-10)
    assert np.allclose(np.linalg.norm(V, axis=0), 1.0, atol=1e-10)
    top = spla.eigsh(A, k=1, which="LA", return_eigenvectors=False)[0]
    bottom = spla.eigsh(A, k=1, sigma=0, which="LM", return_eigenvectors=False)[0]
    assert abs(theta[-1] - top) <= 1e-8 * top
    assert abs(theta[0] - bottom) <= 1e-8 * top
    assert res[0] <= 1e-6 * top and res[-1] <= 1e-6 * top


def test_ritz_drops_null_space_of_singular_matrix():
    """A pure-Neumann (plume) matrix: no Ritz value near 0 survives the drop."""
    p = poisson_problem("box", 10, 2, exterior="solid")
    assert p.is_singular
    theta, V = ritz_pairs(p.matrix, p.rhs_random(0), 99)
    assert theta.min() > 1e-6 * theta.max()
    assert np.abs(p.null_space() @ V).max() < 1e-8


def test_weighted_rhs_unit_and_in_span():
    """b are unit vectors in span(V); the first 55 % of the weights are 9, the rest 1."""
    rng = np.random.default_rng(0)
    V = np.linalg.qr(rng.standard_normal((50, 20)))[0]
    B = weighted_rhs(V, 7, rng)
    assert np.allclose(np.linalg.norm(B, axis=1), 1.0)
    assert np.abs(B - (B @ V) @ V.T).max() < 1e-12
    w = ritz_weights(20)
    assert (w == 9).sum() == 11 and (w == 1).sum() == 9


def test_scale_invariant_loss_against_numpy(small):
    """Loss = |b - (q^T b / q^T A q) A q|^2 in float64; zero at q = A^{-1} b; scale-invariant."""
    A = small.matrix
    coo = A.tocoo()
    At = torch.sparse_coo_tensor(
        np.vstack([coo.row, coo.col]), coo.data, A.shape, check_invariants=True
    )
    rng = np.random.default_rng(0)
    b, q = rng.standard_normal((2, A.shape[0]))
    Aq = A @ q
    ref = np.sum((b - (q @ b) / (q @ Aq) * Aq) ** 2)
    got = scale_invariant_loss(torch.as_tensor(q), torch.as_tensor(b), At)
    assert abs(float(got) - ref) <= 1e-12 * ref
    got3 = scale_invariant_loss(torch.as_tensor(-3 * q), torch.as_tensor(b), At)
    assert abs(float(got3) - ref) <= 1e-12 * ref
    exact = torch.as_tensor(spla.spsolve(A.tocsc(), b))
    assert float(scale_invariant_loss(exact, torch.as_tensor(b), At)) <= 1e-20 * (b @ b)


@pytest.fixture(scope="module")
def tiny_sets():
    sets = []
    for s, geo in enumerate(["obstacles", "plume"]):
        p = poisson_problem(geo, 12, 2, seed=s)
        sets.append(training_set(p.matrix, p.labels, exterior=code(p), ritz_steps=30, seed=s))
    return sets


def test_training_lowers_loss_and_is_deterministic(tiny_sets):
    """40 Adam steps on a tiny model: mean loss of the last 5 < 0.8 x the first 5; a second
    run with the same seed gives the same losses (1e-6)."""
    hist = []
    for _ in range(2):
        torch.manual_seed(1)
        model = MultigridNet(2, 6, 1)
        hist.append(train(model, tiny_sets, steps=40, batch_size=4, lr=5e-3, progress=False))
    h1, h2 = hist
    loss = np.array(h1["loss"])
    assert loss[-5:].mean() < 0.8 * loss[:5].mean()
    assert np.allclose(h1["loss"], h2["loss"], rtol=1e-6)


def test_checkpoint_resume_continues_the_same_run(tiny_sets, tmp_path):
    """Stopping after 6 steps and resuming to 10 gives the losses of an uninterrupted run."""
    ck = tmp_path / "ck.pt"
    torch.manual_seed(2)
    full = train(MultigridNet(2, 4, 1), tiny_sets, steps=10, batch_size=3, progress=False)
    torch.manual_seed(2)
    train(MultigridNet(2, 4, 1), tiny_sets, steps=6, batch_size=3, checkpoint=ck,
          checkpoint_every=3, progress=False)  # fmt: skip
    resumed = train(MultigridNet(2, 4, 1), tiny_sets, steps=10, batch_size=3, checkpoint=ck,
                    progress=False)  # fmt: skip
    assert resumed["step"] == list(range(1, 11))
    assert np.allclose(resumed["loss"], full["loss"], rtol=1e-5)


def test_training_set_rejects_mismatched_matrix(small):
    with pytest.raises(ValueError, match="FLUID cells"):
        training_set(sp.eye(5, format="csr"), small.labels)


# ---------------------------------------------------------------------- registry
@pytest.fixture()
def saved(tmp_path):
    torch.manual_seed(0)
    model = MultigridNet(2, 4, 1)
    save_pretrained(model, "tiny", {"command": "test"}, tmp_path)
    return model, tmp_path


def test_save_pretrained_never_writes_into_the_package_by_default():
    with pytest.raises(ValueError, match="folder is required"):
        save_pretrained(MultigridNet(2, 4, 1), "tiny", {"command": "test"}, None)


def test_registry_round_trip(saved):
    """Save then load gives identical tensors; the JSON's sha256 is the file's."""
    model, folder = saved
    meta = json.loads((folder / "tiny.json").read_text())
    assert meta["sha256"] == hashlib.sha256((folder / "tiny.pt").read_bytes()).hexdigest()
    loaded = load_pretrained("tiny", folder=folder)
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    assert available(folder) == ["tiny"]


def test_corrupted_file_fails_checksum(saved):
    _, folder = saved
    data = bytearray((folder / "tiny.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "tiny.pt").write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="checksum mismatch"):
        load_pretrained("tiny", folder=folder)


def test_truncated_file_and_wrong_recorded_checksum_are_refused_by_file_name(saved):
    """Issue 20 item 5: a truncated weight file, and a JSON whose sha256 is wrong, both end in
    a WeightsError that names the file."""
    _, folder = saved
    pt, js = folder / "tiny.pt", folder / "tiny.json"
    good = pt.read_bytes()
    pt.write_bytes(good[: len(good) // 3])
    with pytest.raises(WeightsError, match=r"checksum mismatch for .*tiny\.pt"):
        load_pretrained("tiny", folder=folder)
    pt.write_bytes(good)
    meta = json.loads(js.read_text())
    meta["sha256"] = "0" * 64
    js.write_text(json.dumps(meta))
    with pytest.raises(WeightsError, match=r"checksum mismatch for .*tiny\.pt"):
        load_pretrained("tiny", folder=folder)


class _Payload:
    def __reduce__(self):
        return (exec, ("import builtins; builtins._sciconv_pwned = True",))


def test_pickle_code_is_never_executed(saved):
    """A file carrying code, with a *matching* checksum, is refused by weights_only loading."""
    _, folder = saved
    (folder / "tiny.pt").write_bytes(pickle.dumps({"encode.weight": _Payload()}, protocol=2))
    meta = json.loads((folder / "tiny.json").read_text())
    meta["sha256"] = hashlib.sha256((folder / "tiny.pt").read_bytes()).hexdigest()
    (folder / "tiny.json").write_text(json.dumps(meta))
    import builtins

    with pytest.raises(WeightsError, match="not a plain tensor state dict"):
        load_pretrained("tiny", folder=folder)
    assert not hasattr(builtins, "_sciconv_pwned")


def test_mismatched_config_and_unknown_name(saved):
    _, folder = saved
    meta = json.loads((folder / "tiny.json").read_text())
    meta["config"]["width"] = 5
    (folder / "tiny.json").write_text(json.dumps(meta))
    with pytest.raises(WeightsError, match="does not fit the model config"):
        load_pretrained("tiny", folder=folder)
    with pytest.raises(WeightsError, match="no pretrained model 'nope'"):
        load_pretrained("nope", folder=folder)
    with pytest.raises(WeightsError, match="plain file stem"):
        load_pretrained("../tiny", folder=folder)


# ---------------------------------------------------------------------- the floor
class _Adversary(torch.nn.Module):
    """A 'network' returning seeded noise: the worst a map can get from its network."""

    def forward(self, x):
        g = torch.Generator().manual_seed(int(1e6 * float(x[:, 0].abs().sum())) % (2**31))
        return torch.randn(x[:, :1].shape, generator=g, dtype=x.dtype) * x[:, 1:2]


HELD_OUT = [("obstacles", 48, 10_000), ("obstacles", 64, 10_001), ("plume", 64, 10_002)]


@pytest.mark.parametrize("geo,n,seed", HELD_OUT)
def test_floor_adversarial_network_still_beats_cg(geo, n, seed):
    """With the smoother sandwich even a noise 'network' converges (rtol 1e-6) in no more
    DCDM iterations than plain CG: the floor holds by design, not by training."""
    p = poisson_problem(geo, n, 2, seed=seed)
    b = p.rhs_divergence(seed)
    ns = p.null_space() if p.is_singular else None
    f = NetworkMap(_Adversary(), p.labels, exterior=code(p), A=p.matrix)
    _, info = dcdm(p.matrix, b, rtol=1e-6, M=f, directions=10, nullspace=ns, maxiter=2000)
    _, ref = cg(p.matrix, b, rtol=1e-6)
    assert info.converged and ref.converged
    assert info.iterations <= ref.iterations


needs_shipped = pytest.mark.skipif("poisson2d" not in available(), reason="no shipped weights")


def assert_floor(p, seed, spec, maxiter):
    """DCDM with make_map(spec) converges to rtol 1e-6 in no more iterations than plain CG."""
    b = p.rhs_divergence(seed)
    ns = p.null_space() if p.is_singular else None
    f = make_map(spec, p.matrix, labels=p.labels, exterior=code(p))
    _, info = dcdm(p.matrix, b, rtol=1e-6, M=f, directions=10, nullspace=ns, maxiter=maxiter)
    _, ref = cg(p.matrix, b, rtol=1e-6)
    assert info.converged and info.iterations <= ref.iterations, (info, ref.iterations)


@needs_shipped
@pytest.mark.parametrize("geo,n,seed", HELD_OUT)
def test_floor_pretrained_network_on_held_out(geo, n, seed):
    """The shipped poisson2d model (through make_map('network:poisson2d')) on geometries never
    trained on: converges to rtol 1e-6 in no more iterations than plain CG."""
    assert_floor(poisson_problem(geo, n, 2, seed=seed), seed, "network:poisson2d", 2000)


@pytest.mark.parametrize("name", available())
def test_shipped_metadata_is_complete(name):
    """Each shipped JSON records the command, data and a parameter count matching the model;
    the file is small (< 2 MB)."""
    meta = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())
    model = load_pretrained(name)
    assert meta["parameters"] == count_parameters(model)
    assert {"command", "data", "training", "sha256"} <= set(meta)
    assert (WEIGHTS_DIR / f"{name}.pt").stat().st_size < 2**21


def test_network_map_needs_labels(small):
    with pytest.raises(ValueError, match="needs labels"):
        make_map("network:poisson2d", small.matrix)


def test_presmoothed_training_inputs(small):
    """presmooth=1: inputs are s = b - A S b / |.| with S one symmetric Gauss-Seidel sweep,
    checked against a dense triangular-solve SGS in float64 (1e-5, the float32 storage)."""
    ts = training_set(small.matrix, small.labels, ritz_steps=20, presmooth=1)
    B = torch.as_tensor(weighted_rhs(ts.vectors.double().numpy(), 3, np.random.default_rng(0)))
    S = ts.inputs(B.float()).double().numpy()
    A = small.matrix.toarray()
    L, U = np.tril(A), np.triu(A)
    for b, s in zip(B.numpy(), S):
        x = np.linalg.solve(L, b)
        x = x + np.linalg.solve(U, b - A @ x)
        ref = b - A @ x
        assert np.allclose(s, ref / np.linalg.norm(ref), atol=1e-5)


def test_iteration_residuals_are_cg_residuals_for_identity(small):
    """Identity map, 1 direction (= CG): the collected unit residuals are mutually orthogonal
    (a CG property, |r_i . r_j| <= 1e-8) and the first is b - alpha A b, normalised."""
    from solvers.network import iteration_residuals

    A, b = small.matrix, small.rhs_random(0)
    R = iteration_residuals(A, b, lambda r: r.copy(), 8, directions=1)
    assert R.shape == (8, A.shape[0])
    G = R @ R.T
    assert np.abs(G - np.eye(8)).max() < 1e-8
    Ab = A @ b
    r1 = b - (b @ b) / (b @ Ab) * Ab
    assert np.allclose(R[0], r1 / np.linalg.norm(r1), atol=1e-12)


@pytest.mark.skipif("poisson3d" not in available(), reason="no shipped 3D weights")
@pytest.mark.parametrize("geo,n,seed", [("obstacles", 20, 10_000), ("plume", 16, 10_001)])
def test_floor_pretrained_3d_network_on_held_out(geo, n, seed):
    """The shipped poisson3d model on held-out 3D geometries: converges to rtol 1e-6 in no more
    DCDM iterations than plain CG."""
    p = poisson_problem(geo, n, 3, seed=seed)
    b = p.rhs_divergence(seed)
    ns = p.null_space() if p.is_singular else None
    f = make_map("network:poisson3d", p.matrix, labels=p.labels, exterior=code(p))
    _, info = dcdm(p.matrix, b, rtol=1e-6, M=f, directions=10, nullspace=ns, maxiter=2000)
    _, ref = cg(p.matrix, b, rtol=1e-6)
    assert info.converged and info.iterations <= ref.iterations


# ---------------------------------------------------------------------- the coarse partner
def energy(A, e):
    return float(e @ (A @ e))


@pytest.mark.parametrize("geo,seed", [("obstacles", 10_000), ("plume", 10_001)])
def test_coarse_orthogonalised_network_step_never_loses_to_the_two_level_step(geo, seed):
    """sweeps=0 isolates network step + coarse correction: with the noise 'network', the
    A-norm error after it is <= that of the coarse correction alone (the line search along a
    direction A-orthogonal to the coarse space cannot undo the projection), to 1e-12."""
    p = poisson_problem(geo, 40, 2, seed=seed)
    A, ext = p.matrix, code(p)
    e_true = p.project(np.random.default_rng(0).standard_normal(p.n))
    r = A @ e_true
    both = NetworkMap(_Adversary(), p.labels, exterior=ext, A=A, sweeps=0, coarse=4)
    alone = NetworkMap(None, p.labels, A=A, mode="smoother", sweeps=0, coarse=both.coarse)
    err_both = p.project(e_true - both(r))
    err_alone = p.project(e_true - alone(r))
    assert energy(A, err_both) <= energy(A, err_alone) * (1 + 1e-12)
    assert energy(A, err_alone) < energy(A, e_true)


@pytest.mark.parametrize("geo,n,seed", HELD_OUT)
def test_floor_adversarial_network_with_coarse_correction(geo, n, seed):
    """Noise 'network' inside the network+coarse map: DCDM still converges (rtol 1e-6) in no
    more iterations than plain CG, and in at most 25 (the two-level cycle carries it)."""
    p = poisson_problem(geo, n, 2, seed=seed)
    b = p.rhs_divergence(seed)
    ns = p.null_space() if p.is_singular else None
    f = NetworkMap(_Adversary(), p.labels, exterior=code(p), A=p.matrix, coarse=4)
    _, info = dcdm(p.matrix, b, rtol=1e-6, M=f, directions=10, nullspace=ns, maxiter=2000)
    _, ref = cg(p.matrix, b, rtol=1e-6)
    assert info.converged and info.iterations <= min(ref.iterations, 25)


@pytest.mark.parametrize("geo", ["obstacles", "plume"])
def test_coarse_map_iterations_flat_in_grid_size(geo):
    """make_map('coarse') (SGS + 4x4 block two-level correction + SGS, no network): DCDM
    iterations on held-out 32², 64², 128², 256² stay within 9..15 (plain CG grows ~n)."""
    its = []
    for n in (32, 64, 128, 256):
        p = poisson_problem(geo, n, 2, seed=10_000)
        b = p.rhs_divergence(0)
        ns = p.null_space() if p.is_singular else None
        f = make_map("coarse", p.matrix, labels=p.labels)
        _, info = dcdm(p.matrix, b, rtol=1e-6, M=f, directions=10, nullspace=ns, maxiter=500)
        assert info.converged
        its.append(info.iterations)
    assert 9 <= min(its) and max(its) <= 15, its


@needs_shipped
@pytest.mark.parametrize("spec", ["network+coarse", "network+coarse:poisson2d:8", "coarse:8"])
def test_coarse_map_specs_converge_on_held_out(spec):
    """The make_map specs with a coarse correction: held-out plume 48², converged, <= 20 its."""
    p = poisson_problem("plume", 48, 2, seed=10_003)
    b = p.rhs_divergence(3)
    f = make_map(spec, p.matrix, labels=p.labels, exterior=code(p))
    _, info = dcdm(p.matrix, b, rtol=1e-6, M=f, directions=10, nullspace=p.null_space(),
                   maxiter=200)  # fmt: skip
    assert info.converged and info.iterations <= 20


def test_coarse_specs_need_labels_and_a_model_for_the_network(small):
    with pytest.raises(ValueError, match="needs labels"):
        make_map("coarse", small.matrix)
    with pytest.raises(ValueError, match="needs a network"):
        NetworkMap(None, small.labels, A=small.matrix)
    with pytest.raises(ValueError, match="block"):
        make_map("coarse:0", small.matrix, labels=small.labels)


def test_level_cap_matches_the_uncapped_net_where_it_does_not_bind():
    """A 16² grid has 3 levels down to min_size 4: levels=3 (or max_levels=3 in the config)
    gives the uncapped output exactly; levels=1 gives a different one."""
    torch.manual_seed(0)
    model = MultigridNet(2, 4, 1).double()
    capped = MultigridNet(2, 4, 1, max_levels=3).double()
    capped.load_state_dict(model.state_dict())
    lab = np.zeros((16, 16), dtype=np.int64)
    x = precond.network_input(torch.randn(1, 16, 16, dtype=torch.float64), lab)
    assert torch.equal(model(x, levels=3), model(x))
    assert torch.equal(capped(x), model(x))
    assert not torch.allclose(model(x, levels=1), model(x))
    assert capped.config()["max_levels"] == 3 and "max_levels" not in model.config()


def test_coarse_aware_training_loss(small):
    """coarse_block: the loss sees q - P Ac^+ P^T A q (P^T A of it ~ 0 in float32) and the
    coarse-corrected unit residual; the exact solution A^-1 b still has loss ~0."""
    ts = training_set(small.matrix, small.labels, ritz_steps=20, coarse_block=4)
    B = torch.as_tensor(weighted_rhs(ts.vectors.double().numpy(), 3, np.random.default_rng(0)))
    Q = torch.randn(3, small.n)
    Qc, Bc = ts.coarse_complement(Q, B.float())
    P = ts.coarse[0].to_dense()
    AQc = torch.sparse.mm(ts.matrix, Qc.T)
    assert float((P.T @ AQc).abs().max()) <= 1e-4 * float(AQc.abs().max())
    assert torch.allclose(Bc.norm(dim=1), torch.ones(3), atol=1e-5)
    X = torch.as_tensor(spla.spsolve(small.matrix.tocsc(), B.numpy().T).T, dtype=torch.float32)
    Xc, Bc = ts.coarse_complement(X, B.float())
    assert float(scale_invariant_loss(Xc, Bc, ts.matrix)) <= 1e-8


@pytest.mark.skipif("poisson2d-coarse" not in available(), reason="no shipped coarse partner")
@pytest.mark.parametrize("geo,n,seed", HELD_OUT)
def test_shipped_coarse_partner_beats_the_two_level_cycle_on_held_out(geo, n, seed):
    """make_map('network+coarse') (the shipped poisson2d-coarse) on held-out geometries:
    converged (rtol 1e-6), no more iterations than CG, and fewer than the same map without
    the network ('coarse'): what the network buys."""
    p = poisson_problem(geo, n, 2, seed=seed)
    b = p.rhs_divergence(seed)
    ns = p.null_space() if p.is_singular else None
    its = {}
    for spec in ("coarse", "network+coarse"):
        f = make_map(spec, p.matrix, labels=p.labels, exterior=code(p))
        _, info = dcdm(p.matrix, b, rtol=1e-6, M=f, directions=10, nullspace=ns, maxiter=500)
        assert info.converged
        its[spec] = info.iterations
    _, ref = cg(p.matrix, b, rtol=1e-6)
    assert its["network+coarse"] < its["coarse"] <= ref.iterations


@pytest.mark.skipif("poisson3d-coarse" not in available(), reason="no shipped 3D coarse partner")
@pytest.mark.parametrize("geo,n,seed", [("obstacles", 20, 10_000), ("plume", 16, 10_001)])
def test_floor_shipped_3d_coarse_partner_on_held_out(geo, n, seed):
    """make_map('network+coarse') in 3D (poisson3d-coarse): converged, <= CG iterations."""
    assert_floor(poisson_problem(geo, n, 3, seed=seed), seed, "network+coarse", 500)
