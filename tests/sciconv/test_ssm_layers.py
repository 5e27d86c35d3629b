"""SSM application and layers: convolution mode = step mode = scan (float64, 1e-10 relative).

References: an explicit float64 loop for the causal convolution; the recurrence with an
explicit state for every layer; numpy formulas for the squash and smooth regularisers.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciconv import FFTConvolver
from sciconv.ssm import (
    LMU,
    LSSL,
    S4D,
    ConvSSM,
    LMUState,
    LongConv,
    SSMState,
    causal_conv,
    discretize,
    hippo,
    smooth,
    squash,
    ssm_kernel,
    ssm_recurrence,
    ssm_step,
)

F64 = torch.float64
TOL = 1e-10


def rel(x, ref):
    return (torch.linalg.norm(x - ref) / torch.linalg.norm(ref)).item()


def test_causal_conv_matches_a_direct_loop():
    """y_t = sum_{j<=t} K_j u_{t-j} + D u_t against a float64 loop; FFTConvolver reuse equal."""
    rng = np.random.default_rng(0)
    u, K, D = rng.standard_normal((2, 3, 40)), rng.standard_normal((3, 25)), rng.standard_normal(3)
    ref = np.zeros_like(u)
    for t in range(40):
        for j in range(min(t + 1, 25)):
            ref[..., t] += K[:, j] * u[..., t - j]
    ref += D[:, None] * u
    np.testing.assert_allclose(causal_conv(u, K, D), ref, rtol=1e-12, atol=1e-12)
    conv = FFTConvolver(torch.as_tensor(K), 40, mode="causal")
    ut = torch.as_tensor(u)
    for _ in range(2):
        np.testing.assert_allclose(
            causal_conv(ut, None, torch.as_tensor(D), convolver=conv).numpy(), ref, atol=1e-12
        )
    assert conv.spectra_computed == 1


@pytest.mark.parametrize("diagonal", [False, True])
def test_recurrence_equals_kernel_convolution(diagonal):
    """ssm_recurrence (explicit state) = causal_conv(ssm_kernel) for dense LegT and a diagonal
    system; splitting the sequence and passing the state on gives the same outputs."""
    rng = np.random.default_rng(1)
    if diagonal:
        A = torch.as_tensor(-rng.uniform(0.1, 1, 6) + 1j * rng.uniform(-5, 5, 6))
        B = torch.ones(6, dtype=torch.complex128)
    else:
        A, B = (torch.as_tensor(x) for x in hippo("legt", 6))
    C = torch.as_tensor(rng.standard_normal((2, 6))).to(A.dtype)
    D = torch.as_tensor(rng.standard_normal(2)).to(A.dtype)
    u = torch.as_tensor(rng.standard_normal((3, 2, 120))).to(A.dtype)
    Ab, Bb = discretize(A, B, 0.05, "zoh")
    y, state = ssm_recurrence(Ab, Bb, C, u, D)
    K = ssm_kernel(A, B, C, 0.05, 120, discretization="zoh")
    assert rel(y, causal_conv(u, K, D)) <= TOL
    assert state.t == 120
    y1, s1 = ssm_recurrence(Ab, Bb, C, u[..., :50], D)
    y2, _ = ssm_recurrence(Ab, Bb, C, u[..., 50:], D, state=s1)
    assert rel(torch.cat([y1, y2], -1), y) <= 1e-14
    again, _ = ssm_step(Ab, Bb, C, u[..., 50], s1, D)
    assert torch.equal(again, y2[..., 0]) and s1.t == 50  # the state object was not modified


@pytest.mark.parametrize("init", ["lin", "inv", "real"])
def test_s4d_conv_scan_step_agree(init, device):
    """S4D: conv (Vandermonde kernel + FFT) = scan = step to 1e-10; kernel methods agree; the
    kernel of one channel equals a numpy loop 2 Re sum C_n Bbar_n Abar_n^l."""
    torch.manual_seed(0)
    layer = S4D(4, 16, init=init, dtype=F64, device=device)
    u = torch.randn(2, 4, 257, dtype=F64, device=device)
    y = layer(u)
    assert rel(layer(u, "scan"), y) <= TOL
    assert rel(layer(u, "step"), y) <= TOL
    for method in ("vandermonde_chunked", "krylov_doubling"):
        layer.kernel_method = method
        assert rel(layer(u), y) <= TOL
    Ab, Bb, C = (x[1].detach().cpu().numpy() for x in layer.discrete())
    ref = [2 * np.real(np.sum(C * Bb * Ab**l)) for l in range(257)]
    np.testing.assert_allclose(
        layer.kernel(257)[1].detach().cpu().numpy(), ref, rtol=1e-10, atol=1e-13
    )
    y.square().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in layer.parameters())


def test_lssl_conv_equals_step(device):
    """LSSL (dense LegT, bilinear, per-channel dt): conv mode = step mode (1e-10)."""
    torch.manual_seed(1)
    for measure in ("legt", "legs"):
        layer = LSSL(3, 12, measure=measure, dtype=F64, device=device)
        u = torch.randn(2, 3, 150, dtype=F64, device=device)
        assert rel(layer(u, "step"), layer(u)) <= TOL


def test_convssm_scan_conv_step_agree(device):
    """ConvSSM: parallel scan = FFT convolution in time (Vandermonde powers) = step (1e-10)."""
    torch.manual_seed(2)
    layer = ConvSSM(2, 3, 5, kernel_size=3, dtype=F64, device=device)
    U = torch.randn(2, 2, 33, 6, 5, dtype=F64, device=device)  # (batch, C, L, H, W)
    y = layer(U)
    assert y.shape == (2, 3, 33, 6, 5)
    assert rel(layer(U, "conv"), y) <= TOL
    assert rel(layer(U, "step"), y) <= TOL
    y.square().sum().backward()
    assert torch.isfinite(layer.log_dt.grad).all() and layer.B.grad.abs().sum() > 0


def test_convssm_and_lmu_layouts_are_transposes():
    """layout='BLC' (time first, the layout before issue 19) is the default 'BCL' with the
    channel and time axes swapped, in every mode (exactly: the same computation)."""
    torch.manual_seed(12)
    conv = ConvSSM(2, 3, 4, dtype=F64)
    U = torch.randn(2, 2, 7, 4, 4, dtype=F64)
    for mode in ("scan", "conv", "step"):
        conv.layout = "BCL"
        y = conv(U, mode)
        conv.layout = "BLC"
        assert torch.equal(conv(U.transpose(1, 2), mode), y.transpose(1, 2))
    lmu = LMU(2, 3, order=4, parallel=True, dtype=F64)
    x = torch.randn(2, 2, 9, dtype=F64)
    for mode in ("step", "conv"):
        lmu.layout = "BCL"
        h = lmu(x, mode)
        lmu.layout = "BLC"
        assert torch.equal(lmu(x.transpose(1, 2), mode), h.transpose(1, 2))


def test_convssm_1x1_is_a_diagonal_ssm():
    """With 1x1 kernels and one pixel, ConvSSM is the diagonal SSM Re(C Abar^l g B) + D: its
    output equals causal_conv with the dense Krylov kernel from ssm_kernel (1e-10)."""
    torch.manual_seed(3)
    layer = ConvSSM(1, 1, 4, kernel_size=1, dtype=F64)
    U = torch.randn(1, 64, 1, 1, 1, dtype=F64)  # (batch, L, C, H, W): layout 'BLC'
    layer.layout = "BLC"
    lam = torch.complex(-torch.exp(layer.log_A_real), layer.A_imag)
    Bc = torch.view_as_complex(layer.B)[:, 0, 0, 0]
    Cc = torch.view_as_complex(layer.C)[0, :, 0, 0]
    dt = torch.exp(layer.log_dt)  # one step per mode: ZOH of (dt lam, dt B) with step 1
    K = ssm_kernel(lam * dt, Bc * dt, Cc, 1.0, 64, "krylov", "zoh").real
    ref = causal_conv(U[:, :, 0, 0, 0], K, None) + layer.D[0, 0, 0, 0] * U[:, :, 0, 0, 0]
    assert rel(layer(U)[:, :, 0, 0, 0], ref) <= TOL


def test_lmu_parallel_conv_equals_recurrent_cell(device):
    """Parallel LMU: memory by FFT convolution = the cell stepped in time (1e-10)."""
    torch.manual_seed(4)
    lmu = LMU(3, 7, order=8, theta=20.0, parallel=True, dtype=F64, device=device)
    x = torch.randn(2, 3, 60, dtype=F64, device=device)  # (batch, C, L), as S4D
    assert rel(lmu(x, "conv"), lmu(x)) <= TOL
    full = LMU(3, 7, order=8, theta=20.0, dtype=F64, device=device)
    h = full(x)
    assert h.shape == (2, 7, 60) and torch.isfinite(h).all()


def _lmu_numpy_reference(lmu, theta, x, h0, m0):
    """The recurrent LMU's published equations ([1] Voelker et al. 2019, eqs. 1-4) as a numpy loop.

    A and B are built here from the paper's closed form (not from ``hippo``), and the zero-order
    hold from the augmented matrix exponential ``expm([[A, B], [0, 0]])`` (Van Loan), so neither
    the layer's matrices nor its discretisation is reused; only the learned weights are read.
    """
    import scipy.linalg

    N = lmu.order
    i, j = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    A = (2 * i + 1) / theta * np.where(i < j, -1.0, (-1.0) ** (i - j + 1))
    B = (2 * np.arange(N) + 1) * (-1.0) ** np.arange(N) / theta
    aug = np.zeros((N + 1, N + 1))
    aug[:N, :N], aug[:N, N] = A, B
    E = scipy.linalg.expm(aug)
    Abar, Bbar = E[:N, :N], E[:N, N]
    g = {k: v.detach().cpu().numpy() for k, v in lmu.named_parameters()}
    h, m, out = h0.copy(), m0.copy(), []
    for t in range(x.shape[1]):
        u = x[:, t] @ g["e_x"] + h @ g["e_h"] + m @ g["e_m"]
        m = m @ Abar.T + u[:, None] * Bbar
        h = np.tanh(x[:, t] @ g["W_x.weight"].T + g["W_x.bias"] + m @ g["W_m.weight"].T
                    + h @ g["W_h.weight"].T)  # fmt: skip
        out.append(h)
    return np.stack(out, 1), h, m


def test_recurrent_lmu_against_a_numpy_loop_of_its_equations(device):
    """Recurrent LMU (e_h, e_m, W_h all nonzero) from random initial states (h0, m0), stepped
    60 times, equals a numpy float64 loop of the published equations: outputs and final
    state to 1e-12 relative (measured ~1e-15; the reference's expm and the layer's ZOH agree to
    rounding)."""
    torch.manual_seed(11)
    rng = np.random.default_rng(11)
    lmu = LMU(3, 7, order=8, theta=20.0, dtype=F64, device=device)
    with torch.no_grad():  # the defaults zero e_h and e_m: make every recurrent path count
        lmu.e_h.copy_(torch.as_tensor(rng.standard_normal(7) / 3, dtype=F64))
        lmu.e_m.copy_(torch.as_tensor(rng.standard_normal(8) / 3, dtype=F64))
    x = rng.standard_normal((2, 60, 3))
    h0, m0 = rng.standard_normal((2, 7)), rng.standard_normal((2, 8))
    state = LMUState(torch.as_tensor(h0, device=device), torch.as_tensor(m0, device=device))
    hs = []
    with torch.no_grad():
        for t in range(60):
            h, state = lmu.step(torch.as_tensor(x[:, t], device=device), state)
            hs.append(h)
    ref, h_ref, m_ref = _lmu_numpy_reference(lmu, 20.0, x, h0, m0)
    got = torch.stack(hs, 1).cpu().numpy()
    assert np.linalg.norm(got - ref) <= 1e-12 * np.linalg.norm(ref)
    assert np.linalg.norm(state.m.cpu().numpy() - m_ref) <= 1e-12 * np.linalg.norm(m_ref)
    assert np.abs(state.h.cpu().numpy() - h_ref).max() <= 1e-12 and state.t == 60
    # the zero-state forward() is the same loop from h0 = m0 = 0
    zero = _lmu_numpy_reference(lmu, 20.0, x, np.zeros((2, 7)), np.zeros((2, 8)))[0]
    fwd = lmu(torch.as_tensor(x, device=device).transpose(1, 2)).transpose(1, 2)
    fwd = fwd.detach().cpu().numpy()  # layout 'BCL': (batch, C, L) in, (batch, hidden, L) out
    assert np.linalg.norm(fwd - zero) <= 1e-12 * np.linalg.norm(zero)
    lmu.layout = "BLC"  # the time-first layout of torch.nn.RNN(batch_first=True)
    fwd = lmu(torch.as_tensor(x, device=device)).detach().cpu().numpy()
    assert np.linalg.norm(fwd - zero) <= 1e-12 * np.linalg.norm(zero)


def test_lmu_memory_is_a_delay_line():
    """The LMU memory read out with C = 1 reproduces the input delayed by theta (the Pade delay).

    With ZOH, u_k is held on (k-1, k], so a delay of theta = 30.5 steps reads the middle of the
    hold interval of u_{k-30}. Slow sine (period 200), order 12: error < 1e-3 (measured 4.3e-4;
    a delay off by half a step would give 1.6e-2)."""
    lmu = LMU(1, 1, order=12, theta=30.5, parallel=True, dtype=F64)
    K = lmu.memory_kernel(400).sum(0)  # C = (1, ..., 1)
    t = torch.arange(400, dtype=F64)
    u = torch.sin(2 * np.pi * t / 200)
    y = causal_conv(u, K)
    err = (y[100:] - u[70:370]).abs().max().item()
    assert err < 1e-3


def test_longconv_squash_is_exact_soft_threshold():
    """squash(k, lam) is exactly 0 where |k| <= lam and k -+ lam elsewhere (bitwise equal to
    the numpy formula); it is the prox of lam |.|: no random perturbation lowers the objective."""
    rng = np.random.default_rng(5)
    k = rng.standard_normal((3, 200))
    lam = 0.4
    out = squash(torch.as_tensor(k), lam).numpy()
    ref = np.where(k > lam, k - lam, np.where(k < -lam, k + lam, 0.0))
    np.testing.assert_array_equal(out, ref)
    obj = 0.5 * (out - k) ** 2 + lam * np.abs(out)
    for _ in range(20):
        x = out + 1e-3 * rng.standard_normal(out.shape)
        assert np.all(0.5 * (x - k) ** 2 + lam * np.abs(x) >= obj - 1e-15)
    layer = LongConv(3, 200, squash_lambda=lam, dtype=F64)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(k))
    np.testing.assert_array_equal(layer.kernel().detach().numpy(), ref)


def test_longconv_smooth_then_squash_and_forward():
    """smooth = zero-padded centred moving average (numpy loop, 1e-15); the layer's kernel is
    squash(smooth(W)) and its output the causal convolution with it plus D u (1e-12)."""
    rng = np.random.default_rng(6)
    w = rng.standard_normal((2, 30))
    ref = np.zeros_like(w)
    padded = np.pad(w, ((0, 0), (2, 2)))
    for t in range(30):
        ref[:, t] = padded[:, t : t + 5].mean(-1)
    np.testing.assert_allclose(smooth(torch.as_tensor(w), 5).numpy(), ref, atol=1e-15)
    layer = LongConv(2, 30, squash_lambda=0.1, smooth_width=5, dtype=F64)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(w))
    k = squash(torch.as_tensor(ref), 0.1)
    torch.testing.assert_close(layer.kernel(), k, rtol=0, atol=1e-15)
    u = torch.randn(4, 2, 50, dtype=F64)
    torch.testing.assert_close(layer(u), causal_conv(u, k, layer.D), rtol=1e-12, atol=1e-12)


def test_state_is_explicit():
    """Two interleaved sequences stepped with their own states give their own outputs."""
    torch.manual_seed(7)
    layer = S4D(2, 4, dtype=F64)
    u1, u2 = torch.randn(1, 2, 10, dtype=F64), torch.randn(1, 2, 10, dtype=F64)
    s1, s2 = layer.initial_state(1), layer.initial_state(1)
    y1, y2 = [], []
    for t in range(10):
        a, s1 = layer.step(u1[..., t], s1)
        b, s2 = layer.step(u2[..., t], s2)
        y1.append(a)
        y2.append(b)
    assert rel(torch.stack(y1, -1), layer(u1)) <= TOL
    assert rel(torch.stack(y2, -1), layer(u2)) <= TOL
    assert isinstance(s1, SSMState) and s1.t == 10


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="u must have shape"):
        S4D(3, 4)(torch.zeros(1, 2, 5))
    with pytest.raises(ValueError, match="init"):
        S4D(3, 4, init="foo")
    with pytest.raises(ValueError, match="mode"):
        S4D(3, 4)(torch.zeros(1, 3, 5), mode="fft")
    with pytest.raises(ValueError, match="dt_min"):
        S4D(3, 4, dt_min=0.0)
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        ConvSSM(1, 1, 2, kernel_size=2)
    with pytest.raises(ValueError, match=r"U must have shape \(batch, 1, L, H, W\).*'BLC'"):
        ConvSSM(1, 1, 2)(torch.zeros(1, 4, 2, 3, 3))
    with pytest.raises(ValueError, match=r"U must have shape \(batch, L, 1, H, W\).*'BCL'"):
        ConvSSM(1, 1, 2, layout="BLC")(torch.zeros(1, 1, 2, 3, 3))
    with pytest.raises(ValueError, match="layout must be one of"):
        ConvSSM(1, 1, 2, layout="NCL")
    with pytest.raises(ValueError, match="lam must be"):
        squash(torch.zeros(3), -1.0)
    with pytest.raises(ValueError, match="width must be an odd"):
        smooth(torch.zeros(3), 2)
    with pytest.raises(ValueError, match="needs parallel=True"):
        LMU(2, 3)(torch.zeros(1, 2, 4), mode="conv")
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 2, L\).*'BLC'"):
        LMU(2, 3)(torch.zeros(1, 3, 4))
    with pytest.raises(ValueError, match=r"x must have shape \(batch, L, 2\).*'BCL'"):
        LMU(2, 3, layout="BLC")(torch.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="layout must be one of"):
        LMU(2, 3, layout="NLC")
    with pytest.raises(ValueError, match="channels must be an integer >= 1"):
        LongConv(0, 5)
