"""Exactly orthogonal layers (OrthogonalConvNd, transposed variants), L_orth helper, σ report.

References: the dense matrix of the layer itself (the layer applied to the identity basis) and
its numpy SVD in float64; the dense matrix of `sciconv.ConvOperator` built from the layer's
kernel; the exact circular spectrum `sciconv.conv_singular_values`. Tolerances (the issue's):
every singular value within 1e-12 of 1 in float64 and 2e-6 in float32, on 8x8 and 16x16 grids,
for k in {1, 3, 5}, S in {1, 2}, C, M in {8, 16}; layer output = ConvOperator output to 1e-12
(float64) / 1e-5 (float32, relative).
"""

import itertools

import numpy as np
import pytest
import torch

from sciconv import ConvOperator, conv_singular_values, dottest
from sciconv.orthogonal import (
    LOrthConv2d,
    OrthogonalConv1d,
    OrthogonalConv2d,
    OrthogonalConv3d,
    OrthogonalConvTranspose1d,
    OrthogonalConvTranspose2d,
    exists,
    l_orth,
    l_orth_penalty,
    sigma_report,
)

TOL = {torch.float64: 1e-12, torch.float32: 2e-6}
#: layer output vs the float64 ConvOperator of its kernel: max|y - ref| <= OUT_TOL * max|ref|
OUT_TOL = {torch.float64: 1e-12, torch.float32: 1e-5}
GRID = [
    (c, m, k, s)
    for k, s, c, m in itertools.product((1, 3, 5), (1, 2), (8, 16), (8, 16))
    if exists(c, m, k, s).exists
]


def _dense(layer, channels, n, dtype, device):
    """Matrix of the layer's linear part: columns = layer(basis vector)."""
    d = len(n)
    size = channels * int(np.prod(n))
    basis = torch.eye(size, dtype=dtype, device=device).reshape(size, channels, *n)
    with torch.no_grad():
        out = layer(basis).reshape(size, -1)
    return out.T.to(torch.float64).cpu().numpy(), d


def test_grid_covers_ro_co_and_refusals():
    """The sweep holds RO and CO cases; the one impossible combination is refused."""
    kinds = {exists(c, m, k, s).kind for c, m, k, s in GRID}
    assert kinds == {"RO", "CO"}
    assert len(GRID) == 23  # 24 combinations; k = 1, S = 2, 8 -> 16 is impossible
    with pytest.raises(ValueError, match=r"no orthogonal convolution: M = 16 > C·k² = 8"):
        OrthogonalConv2d(8, 16, 1, 2)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("cfg", GRID, ids=str)
def test_every_singular_value_is_one(cfg, dtype, device):
    """Exact spectrum of the layer's kernel on 8x8 and 16x16: |sigma - 1| <= tol; the layer
    applies exactly that operator (vs ConvOperator); CO layers preserve norms."""
    c, m, k, s = cfg
    torch.manual_seed(0)
    layer = OrthogonalConv2d(c, m, k, s, bias=False, dtype=dtype, device=device)
    w = layer.weight.detach()
    assert w.shape == (m, c, k, k) and w.dtype == dtype
    for n in (8, 16):
        sv = conv_singular_values(w.cpu(), (c, n, n), stride=s, flat=True)
        assert sv.size == min(m * (n // s) ** 2, c * n * n)
        assert np.max(np.abs(sv - 1)) <= TOL[dtype]
    x = torch.randn(2, c, 8, 8, dtype=dtype, device=device)
    y = layer(x)
    # float64 reference from the same (rounded) weights and inputs; measured worst case over
    # the grid: 0 (float64, same summation) and 7.6e-7 (float32)
    ref = ConvOperator(w.double(), (c, 8, 8), stride=s, padding="circular").apply(x.double())
    err = float((y.detach().double() - ref).abs().max())
    assert err <= OUT_TOL[dtype] * float(ref.abs().max())
    if layer.verdict.kind == "CO":
        ratio = y.flatten(1).norm(dim=1) / x.flatten(1).norm(dim=1)
        assert torch.all((ratio - 1).abs() <= TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize(
    "cfg, n",
    [((8, 8, 1, 1), 8), ((8, 8, 5, 1), 8), ((16, 8, 3, 2), 8), ((8, 8, 3, 2), 16)],
    ids=str,
)
def test_dense_svd_of_the_layer(cfg, n, dtype):
    """Dense SVD of the layer applied to the identity basis (8x8: 512 x 512; 16x16 with
    stride 2: 512 x 2048)."""
    c, m, k, s = cfg
    layer = OrthogonalConv2d(c, m, k, s, bias=False, dtype=dtype)
    a, _ = _dense(layer, c, (n, n), dtype, "cpu")
    sv = np.linalg.svd(a, compute_uv=False)
    assert sv.size == min(a.shape)
    assert np.max(np.abs(sv - 1)) <= TOL[dtype]


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("cfg", GRID, ids=str)
def test_dense_svd_full_sweep(cfg, dtype):
    """Dense SVD of every configuration on 8x8 and 16x16 (up to 4096 x 4096: minutes)."""
    c, m, k, s = cfg
    layer = OrthogonalConv2d(c, m, k, s, bias=False, dtype=dtype)
    for n in (8, 16):
        a, _ = _dense(layer, c, (n, n), dtype, "cpu")
        sv = np.linalg.svd(a, compute_uv=False)
        assert np.max(np.abs(sv - 1)) <= TOL[dtype]


def test_gradients_flow(device):
    """Every raw parameter gets a finite, non-zero gradient; an SGD step stays orthogonal."""
    layer = OrthogonalConv2d(8, 16, 3, 1, dtype=torch.float64, device=device)
    x = torch.randn(4, 8, 8, 8, dtype=torch.float64, device=device)
    layer(x).square().mean().backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    with torch.no_grad():
        for p in layer.parameters():
            p -= 0.5 * p.grad
    sv = conv_singular_values(layer.weight.detach().cpu(), (8, 8, 8), flat=True)
    assert np.max(np.abs(sv - 1)) <= 1e-12


def test_grid_independence_and_rectangular_kernels():
    """One layer is orthogonal on several grid sizes; rectangular kernels/strides; 1D and 3D."""
    layer = OrthogonalConv2d(4, 6, (3, 5), (2, 1), bias=False, dtype=torch.float64)
    w = layer.weight.detach()
    assert w.shape == (6, 4, 3, 5)
    for n in [(4, 6), (10, 7), (32, 32)]:
        sv = conv_singular_values(w, (4, *n), stride=(2, 1), flat=True)
        assert np.max(np.abs(sv - 1)) <= 1e-12
    l1 = OrthogonalConv1d(3, 5, 4, 2, bias=False, dtype=torch.float64)
    a, _ = _dense(l1, 3, (12,), torch.float64, "cpu")
    assert np.allclose(a @ a.T, np.eye(a.shape[0]), atol=1e-13)  # RO: 5 <= 3 * 2
    l3 = OrthogonalConv3d(2, 16, 2, 2, bias=False, dtype=torch.float64)
    sv = conv_singular_values(l3.weight.detach(), (2, 4, 4, 4), stride=2, flat=True)
    assert np.max(np.abs(sv - 1)) <= 1e-12


def test_transposed_is_the_adjoint(device):
    """OrthogonalConvTranspose2d(M -> C) applies K^T of the orthogonal K: C -> M; it passes
    the dot test against K, upsamples by the stride and preserves norms (K is RO)."""
    t = OrthogonalConvTranspose2d(16, 8, 3, 2, bias=False, dtype=torch.float64, device=device)
    assert t.verdict.kind == "RO"
    w = t.weight.detach().cpu()
    op = ConvOperator(w, (8, 8, 8), stride=2, padding="circular")
    y = torch.randn(3, 16, 4, 4, dtype=torch.float64, device=device)
    x = t(y)
    assert x.shape == (3, 8, 8, 8)
    ref = op.apply_adjoint(y.cpu())
    assert torch.allclose(x.cpu(), ref, atol=1e-12)
    assert dottest(op, rng=0) < 1e-13
    ratio = x.flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1)
    assert torch.all((ratio - 1).abs() < 1e-12)
    t1 = OrthogonalConvTranspose1d(2, 3, 5, 1, bias=False, dtype=torch.float64)
    a, _ = _dense(t1, 2, (9,), torch.float64, "cpu")
    assert a.shape == (27, 18)  # the layer is K^T for K: 3 -> 2 (RO), so a^T a = K K^T = I
    assert np.allclose(a.T @ a, np.eye(18), atol=1e-13)
    with pytest.raises(ValueError, match="no orthogonal convolution"):
        OrthogonalConvTranspose2d(16, 8, 1, 2)  # K: 8 -> 16 with k = 1 < S


def test_refusals_and_validation():
    """Impossible or unsupported configurations raise ValueError naming the problem."""
    with pytest.raises(ValueError, match=r"M = 289 > C·k² = 288 \(row-orthogonal case\)"):
        OrthogonalConv2d(32, 289, 3, 4)
    with pytest.raises(ValueError, match="padding='circular' only"):
        OrthogonalConv2d(4, 4, 3, padding="same")
    with pytest.raises(ValueError, match="groups=1"):
        OrthogonalConv2d(4, 4, 3, groups=2)
    layer = OrthogonalConv2d(4, 4, 3, 2)
    with pytest.raises(ValueError, match="divisible by the stride"):
        layer(torch.randn(1, 4, 7, 8))
    with pytest.raises(ValueError, match="shape"):
        layer(torch.randn(1, 3, 8, 8))


def test_bias_and_singular_values_method():
    layer = OrthogonalConv2d(4, 4, 3, bias=True)
    with torch.no_grad():
        layer.bias.fill_(2.0)
    assert torch.allclose(layer(torch.zeros(1, 4, 6, 6)), torch.full((1, 4, 6, 6), 2.0))
    sv = layer.singular_values(6)
    assert sv.size == 144 and np.max(np.abs(sv - 1)) < 2e-6


def test_l_orth_regularised_conv_and_sigma_report():
    """LOrthConv2d is nn.Conv2d plus l_orth(); minimising it drives a zero-padded conv towards
    orthogonality (L_orth / 10); sigma_report matches a dense SVD of ConvOperator (1e-8 rel.)."""
    torch.manual_seed(0)
    conv = LOrthConv2d(4, 4, 3, padding=1, bias=False, dtype=torch.float64)
    model = torch.nn.Sequential(conv, torch.nn.ReLU())
    assert torch.allclose(l_orth_penalty(model), l_orth(conv.weight, 1))
    before = sigma_report(conv, 8, padding="circular")
    l0 = float(l_orth(conv.weight.detach(), 1))
    opt = torch.optim.Adam(conv.parameters(), lr=0.02)
    for _ in range(300):
        opt.zero_grad()
        loss = l_orth_penalty(model)
        loss.backward()
        opt.step()
    after = sigma_report(conv, 8)  # the layer's own zero padding: ARPACK/dense, not exact
    circ = sigma_report(conv, 8, padding="circular")
    assert circ.exact and circ.condition < before.condition  # L_orth is a circular measure
    assert float(l_orth_penalty(model).detach()) < 0.1 * l0
    op = ConvOperator(conv.weight.detach(), (4, 8, 8), padding="zeros", pad_width=(1, 1))
    sv = np.linalg.svd(op.to_dense(), compute_uv=False)
    assert not after.exact and after.padding == "zeros"
    assert after.sigma_max == pytest.approx(sv[0], rel=1e-8)
    assert after.sigma_min == pytest.approx(sv[-1], rel=1e-8)
    circ = sigma_report(OrthogonalConv2d(4, 8, 3, dtype=torch.float64), 8)
    assert circ.exact and abs(circ.sigma_min - 1) < 1e-13 and abs(circ.sigma_max - 1) < 1e-13
