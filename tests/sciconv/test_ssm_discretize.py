"""Discretisations against ``scipy.signal.cont2discrete`` (Abar, Bbar; 1e-12 relative)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.signal import cont2discrete

from sciconv.ssm import discretize, hippo

SCIPY = {
    "zoh": ("zoh", {}),
    "bilinear": ("bilinear", {}),
    "forward_euler": ("euler", {}),
    "backward_euler": ("backward_diff", {}),
    "gbt": ("gbt", {"alpha": 0.3}),
}


def _systems():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((6, 6)) - 2 * np.eye(6)
    yield "random", A, rng.standard_normal((6, 2))
    for measure in ("legs", "legt", "lmu", "fout"):
        A, B = hippo(measure, 8)
        yield measure, A, B


@pytest.mark.parametrize("method", list(SCIPY))
def test_dense_matches_cont2discrete(method):
    """Abar and Bbar equal scipy's (1e-12 relative, atol 1e-13), numpy and torch float64."""
    name, kw = SCIPY[method]
    for label, A, B in _systems():
        dt = 0.037
        Bm = B if B.ndim == 2 else B[:, None]
        C, D = np.ones((1, A.shape[0])), np.zeros((1, Bm.shape[1]))
        Ad, Bd, *_ = cont2discrete((A, Bm, C, D), dt, method=name, **kw)
        alpha = kw.get("alpha")
        Ab, Bb = discretize(A, B, dt, method, alpha=alpha)
        np.testing.assert_allclose(Ab, Ad, rtol=1e-12, atol=1e-13, err_msg=label)
        np.testing.assert_allclose(Bb, Bd if B.ndim == 2 else Bd[:, 0], rtol=1e-12, atol=1e-13)
        At, Bt = discretize(torch.as_tensor(A), torch.as_tensor(B), dt, method, alpha=alpha)
        assert isinstance(At, torch.Tensor)
        np.testing.assert_allclose(At.numpy(), Ad, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(
            Bt.numpy(), Bd if B.ndim == 2 else Bd[:, 0], rtol=1e-12, atol=1e-13
        )


@pytest.mark.parametrize("dt", [1e-4, 1e-2, 2.0])
def test_torch_zoh_is_accurate_relative_to_bbar(dt):
    """Dense complex A (S4D-Lin as a matrix), small and large steps: torch ZOH Bbar equals the
    closed form expm1(dt a) / a to 1e-12 relative (the augmented-matrix exponential in torch
    loses ~1e-10 here), and scipy's cont2discrete to 1e-12."""
    a = -0.5 + 1j * np.pi * np.arange(12)
    At, Bt = discretize(
        torch.as_tensor(np.diag(a)), torch.ones(12, dtype=torch.complex128), dt, "zoh"
    )
    np.testing.assert_allclose(Bt.numpy(), np.expm1(dt * a) / a, rtol=1e-12)
    np.testing.assert_allclose(np.diag(At.numpy()), np.exp(dt * a), rtol=1e-12)
    Ad, Bd, *_ = cont2discrete((np.diag(a), np.ones((12, 1)), np.ones((1, 12)), 0), dt, "zoh")
    np.testing.assert_allclose(Bt.numpy(), Bd[:, 0], rtol=1e-12)


@pytest.mark.parametrize("method", list(SCIPY))
def test_diagonal_equals_dense_of_the_diagonal_matrix(method):
    """Diagonal path (complex, incl. a zero eigenvalue for ZOH) = dense path on diag(a); 1e-12."""
    a = np.array([-0.5 + 3j, -1.0, 0.0, -2.0 - 1j, -0.1 + 20j])
    b = np.array([1.0, 2.0, -1.0, 0.5, 1j])
    alpha = SCIPY[method][1].get("alpha")
    Ab, Bb = discretize(a, b, 0.1, method, alpha=alpha)
    Ad, Bd = discretize(np.diag(a), b, 0.1, method, alpha=alpha)
    np.testing.assert_allclose(Ab, np.diag(Ad), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(Bb, Bd, rtol=1e-12, atol=1e-14)
    At, Bt = discretize(torch.as_tensor(a), torch.as_tensor(b), 0.1, method, alpha=alpha)
    np.testing.assert_allclose(At.numpy(), Ab, rtol=1e-13)
    np.testing.assert_allclose(Bt.numpy(), Bb, rtol=1e-13, atol=1e-15)


def test_batched_steps_equal_a_loop():
    """dt of shape (H,) gives (H, N, N) for dense A and broadcasts (H, 1) for diagonal A."""
    A, B = hippo("legt", 5)
    dts = np.array([0.01, 0.1, 1.0])
    for method in ("zoh", "bilinear"):
        Ab, Bb = discretize(A, B, dts, method)
        for h, dt in enumerate(dts):
            Ah, Bh = discretize(A, B, dt, method)
            np.testing.assert_allclose(Ab[h], Ah, rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(Bb[h], Bh, rtol=1e-13, atol=1e-15)
    a = np.array([[-1.0, -2.0], [-0.5, -3.0], [-1.0, -1.0]])
    Ab, _ = discretize(a, 1.0, dts[:, None], "zoh", diagonal=True)
    np.testing.assert_allclose(Ab, np.exp(dts[:, None] * a), rtol=1e-15)


def test_torch_discretize_is_differentiable_in_dt():
    """d Abar / d dt = A exp(dt A) for ZOH (finite check against the closed form, 1e-12)."""
    a = torch.tensor([-1.0, -0.3], dtype=torch.float64)
    dt = torch.tensor(0.2, dtype=torch.float64, requires_grad=True)
    Ab, _ = discretize(a, torch.ones(2, dtype=torch.float64), dt, "zoh")
    Ab.sum().backward()
    ref = (a * torch.exp(0.2 * a)).sum()
    assert abs(dt.grad.item() - ref.item()) < 1e-12


def test_bad_input_names_the_argument():
    A, B = hippo("legs", 4)
    for bad in (0.0, -1.0, float("nan"), np.array([0.1, -0.1])):
        with pytest.raises(ValueError, match="dt must be"):
            discretize(A, B, bad)
    with pytest.raises(ValueError, match="dt must be"):
        discretize(torch.as_tensor(A), torch.as_tensor(B), torch.tensor(0.0))
    with pytest.raises(ValueError, match="method"):
        discretize(A, B, 0.1, "tustin")
    with pytest.raises(ValueError, match="alpha"):
        discretize(A, B, 0.1, "gbt")
    with pytest.raises(ValueError, match="alpha"):
        discretize(A, B, 0.1, "zoh", alpha=0.5)
    with pytest.raises(ValueError, match="B must have shape"):
        discretize(A, np.ones(3), 0.1)
    with pytest.raises(ValueError, match="B and dt must broadcast"):
        discretize(np.ones(4), np.ones(3), 0.1)
    with pytest.raises(ValueError, match="A must be a square matrix"):
        discretize(np.ones((3, 4)), np.ones(3), 0.1, diagonal=False)


def test_discretize_compiles_with_fullgraph():
    """A tensor discretisation (dense bilinear, diagonal ZOH) traces whole under
    torch.compile(fullgraph=True) and equals eager to 1e-14; it called torch.result_type,
    which Dynamo cannot trace."""
    A, B = (torch.as_tensor(v) for v in hippo("legt", 6))
    lam = torch.complex(-torch.rand(4, dtype=torch.float64), torch.rand(4, dtype=torch.float64))
    dt = torch.tensor([0.1, 0.2], dtype=torch.float64)[:, None]
    cases = [
        (lambda A, B: discretize(A, B, 0.05), (A, B)),
        (lambda a, d: discretize(a, torch.ones_like(a), d, "zoh", diagonal=True), (lam, dt)),
    ]
    for fn, args in cases:
        torch._dynamo.reset()
        got = torch.compile(fn, fullgraph=True, backend="eager")(*args)
        for g, w in zip(got, fn(*args)):
            assert (g - w).abs().max() <= 1e-14 * w.abs().max()
