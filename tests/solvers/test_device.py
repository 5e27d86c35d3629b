"""DCDM and the two-level map on torch devices, against dense references and the NumPy DCDM.

References: the red-black two-level cycle written as dense matrices here (error propagation
of each colour's Gauss-Seidel update, dense Galerkin solve), and :func:`solvers.dcdm.dcdm`
run on the same map. float64; tolerances per test. Runs on every device of ``DEVICES``
(CUDA when present).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from pde import poisson_problem
from solvers.dcdm import dcdm
from solvers.device import DeviceTwoLevel, dcdm_torch, to_torch_csr
from solvers.maps import make_map
from tests.conftest import DEVICES


def dense_red_black_two_level(A: np.ndarray, P: np.ndarray, red: np.ndarray) -> np.ndarray:
    """M = (I - E) A^-1, E = E_S (I - P Ac^-1 P^T A) E_S, E_S = G_R G_B G_R (red, black, red)."""
    n = A.shape[0]
    eye = np.eye(n)
    dinv = 1.0 / np.diag(A)

    def G(mask: np.ndarray) -> np.ndarray:
        return eye - np.diag(mask * dinv) @ A

    ES = G(red) @ G(~red) @ G(red)
    E = ES @ (eye - P @ np.linalg.solve(P.T @ A @ P, P.T @ A)) @ ES
    return (eye - E) @ np.linalg.inv(A)


@pytest.fixture(scope="module")
def prob():
    return poisson_problem("obstacles", 18, 2, seed=20_030)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("spec", ["coarse", "smoothed", "learned"])
def test_device_map_equals_the_dense_red_black_cycle(prob, spec, device):
    M = make_map(spec, prob.matrix, labels=prob.labels)
    D = DeviceTwoLevel(M, prob.labels, device=device)
    red = (np.add.reduce(np.nonzero(prob.labels == 0)) % 2) == 0
    ref = dense_red_black_two_level(prob.matrix.toarray(), M.coarse.P.toarray(), red)
    R = np.random.default_rng(0).standard_normal((prob.n, 3))
    got = np.stack([D(torch.as_tensor(r, device=device)).cpu().numpy() for r in R.T], 1)
    assert np.abs(got - ref @ R).max() <= 1e-12 * np.abs(ref @ R).max()
    assert np.abs(ref - ref.T).max() <= 1e-12 * np.abs(ref).max()  # symmetric
    assert np.linalg.eigvalsh((ref + ref.T) / 2).min() > 0  # positive definite


def test_dense_and_host_coarse_solves_agree(prob):
    M = make_map("smoothed", prob.matrix, labels=prob.labels)
    dense = DeviceTwoLevel(M, prob.labels, dense_limit=10**6)
    host = DeviceTwoLevel(M, prob.labels, dense_limit=0)
    assert dense.chol is not None and host.chol is None
    r = torch.randn(prob.n, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(dense(r), host(r), rtol=0, atol=1e-13 * float(dense(r).abs().max()))


@pytest.mark.parametrize("device", DEVICES)
def test_dcdm_torch_is_the_numpy_dcdm(prob, device):
    """Same iterations, same iterate (1e-9), with no map and with the device map itself."""
    b = prob.rhs_divergence(0)
    x_np, info_np = dcdm(prob.matrix, b, rtol=1e-8, directions=3, maxiter=2000)
    x_t, info_t = dcdm_torch(prob.matrix, b, rtol=1e-8, directions=3, maxiter=2000, device=device)
    assert info_t.iterations == info_np.iterations and info_t.converged
    assert np.abs(x_t.cpu().numpy() - x_np).max() <= 1e-9 * np.abs(x_np).max()
    D = DeviceTwoLevel(make_map("coarse", prob.matrix, labels=prob.labels), prob.labels,
                       device=device)  # fmt: skip

    def on_host(r: np.ndarray) -> np.ndarray:
        return D(torch.as_tensor(r, device=device)).cpu().numpy()

    x_np, info_np = dcdm(prob.matrix, b, rtol=1e-8, M=on_host, directions=2)
    x_t, info_t = dcdm_torch(prob.matrix, b, D, rtol=1e-8, directions=2, device=device)
    assert info_t.iterations == info_np.iterations and info_t.converged
    assert np.abs(x_t.cpu().numpy() - x_np).max() <= 1e-9 * np.abs(x_np).max()


def test_device_map_takes_as_many_iterations_as_the_numpy_coarse_map():
    """On held-out plume 64² (pure-Neumann pockets handled by the null space): red-black
    instead of lexicographic Gauss-Seidel changes DCDM's count by at most one."""
    p = poisson_problem("plume", 64, 2, seed=20_031)
    b, ns = p.rhs_divergence(1), (p.null_space() if p.is_singular else None)
    M = make_map("coarse", p.matrix, labels=p.labels)
    _, a = dcdm(p.matrix, b, rtol=1e-6, M=M, directions=2, nullspace=ns)
    _, t = dcdm_torch(p.matrix, b, DeviceTwoLevel(M, p.labels), rtol=1e-6, nullspace=ns)
    assert a.converged and t.converged and abs(a.iterations - t.iterations) <= 1


def test_device_code_refuses_bad_input(prob):
    M = make_map("coarse", prob.matrix, labels=prob.labels)
    with pytest.raises(TypeError, match="TwoLevelMap"):
        DeviceTwoLevel(make_map("jacobi", prob.matrix), prob.labels)
    with pytest.raises(ValueError, match="FLUID cells"):
        DeviceTwoLevel(M, np.zeros((3, 3), int))
    nine = sp.csr_matrix(prob.matrix + sp.diags(-0.01 * np.ones(prob.n - 19), 19)
                         + sp.diags(-0.01 * np.ones(prob.n - 19), -19))  # fmt: skip
    with pytest.raises(ValueError, match="one colour"):
        DeviceTwoLevel(make_map("coarse", nine, labels=prob.labels), prob.labels)
    with pytest.raises(ValueError, match="r must have shape"):
        DeviceTwoLevel(M, prob.labels)(torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="b must have"):
        dcdm_torch(prob.matrix, np.ones(3))
    with pytest.raises(ValueError, match="finite"):
        dcdm_torch(prob.matrix, np.full(prob.n, np.nan))
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="rtol"):
            dcdm_torch(prob.matrix, np.ones(prob.n), rtol=bad)
    with pytest.raises(TypeError, match="scipy sparse"):
        to_torch_csr(np.eye(3))


def test_compare_and_the_cli_run_dcdm_on_a_device(prob):
    """`solvers.compare(device=...)` and `sciconv poisson --device cpu`: the torch loop's
    answer meets the tolerance; a map that is not two-level is refused by name."""
    import subprocess
    import sys

    from solvers.compare import compare

    b = prob.rhs_divergence(0)
    (row,) = compare(prob, ["dcdm"], b, rtol=1e-8, dcdm_map="coarse", device="cpu")
    assert row["solver"].endswith("@cpu") and row["converged"] and row["true_relres"] <= 1e-8
    with pytest.raises(ValueError, match="two-level map"):
        compare(prob, ["dcdm"], b, dcdm_map="pyamg", device="cpu")
    cli = [sys.executable, "-m", "sciconv", "poisson", "--n", "16", "--solvers", "dcdm"]
    out = subprocess.run([*cli, "--device", "cpu"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "dcdm[coarse,k=2]@cpu" in out.stdout, out.stderr
    bad = subprocess.run([*cli, "--device", "cpu", "--dcdm-map", "jacobi"], capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert bad.returncode == 2 and "--dcdm-map must be" in bad.stderr
