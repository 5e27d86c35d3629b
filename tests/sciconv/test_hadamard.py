"""Hadamard-product layers against references written from their formulas (float64).

Tolerances: 1e-12 (absolute, O(1) values) for compositions of convolutions; exact equality for
the FiLM identity; numpy loops are the reference of the FFT global filter.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F

from sciconv.hadamard import (
    FiLM,
    GatedConv,
    GlobalFilter,
    LowRankBilinear,
    RecursiveGatedConv,
    SqueezeExcite,
    film,
)

D = torch.float64


def _assert(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-12) -> None:
    torch.testing.assert_close(a, b, rtol=tol, atol=tol)


def test_gated_conv_is_value_times_sigmoid_gate(device):
    """GatedConv = conv_a(x) * sigmoid(conv_b(x)) with the two halves of the weight."""
    torch.manual_seed(0)
    layer = GatedConv(3, 4, 3, stride=2, padding=1, dtype=D, device=device)
    x = torch.randn(2, 3, 9, 8, dtype=D, device=device)
    w, b = layer.conv.weight, layer.conv.bias
    value = F.conv2d(x, w[:4], b[:4], 2, 1)
    gate = F.conv2d(x, w[4:], b[4:], 2, 1)
    _assert(layer(x), value * torch.sigmoid(gate))
    lay1 = GatedConv(3, 2, 5, padding=2, gate="tanh", dim=1, dtype=D, device=device)
    x1 = torch.randn(2, 3, 11, dtype=D, device=device)
    w1, b1 = lay1.conv.weight, lay1.conv.bias
    ref = F.conv1d(x1, w1[:2], b1[:2], padding=2) * torch.tanh(
        F.conv1d(x1, w1[2:], b1[2:], padding=2)
    )
    _assert(lay1(x1), ref)


def test_gnconv_order1_is_pointwise_times_depthwise(device):
    """Order 1: y = proj_out(pw(x) * s * dwconv(pw'(x))), written with F.conv2d."""
    torch.manual_seed(1)
    c = 6
    layer = RecursiveGatedConv(c, order=1, kernel_size=7, scale=0.5, dtype=D, device=device)
    x = torch.randn(2, c, 10, 9, dtype=D, device=device)
    wi, bi = layer.proj_in.weight, layer.proj_in.bias
    pw = F.conv2d(x, wi[:c], bi[:c])
    q = F.conv2d(x, wi[c:], bi[c:])
    dw = F.conv2d(q, layer.dw.weight, layer.dw.bias, padding=3, groups=c)
    ref = F.conv2d(pw * (0.5 * dw), layer.proj_out.weight, layer.proj_out.bias)
    _assert(layer(x), ref)


@pytest.mark.parametrize("order", [2, 3])
def test_gnconv_recursion(order, device):
    """Order n: p_{k+1} = g_k(p_k) * q_k with 1x1 maps as einsums (independent of nn.Conv2d)."""
    torch.manual_seed(2)
    c = 8
    layer = RecursiveGatedConv(c, order=order, kernel_size=3, dtype=D, device=device)
    x = torch.randn(2, c, 6, 7, dtype=D, device=device)

    def pointwise(conv, t):
        return torch.einsum("oi,nihw->nohw", conv.weight[:, :, 0, 0], t) + conv.bias.view(
            1, -1, 1, 1
        )

    dims = [c // 2 ** (order - 1 - k) for k in range(order)]
    fused = pointwise(layer.proj_in, x)
    p, q = fused[:, : dims[0]], fused[:, dims[0] :]
    dwq = F.conv2d(q, layer.dw.weight, layer.dw.bias, padding=1, groups=sum(dims))
    start = 0
    qs = []
    for d in dims:
        qs.append(dwq[:, start : start + d])
        start += d
    y = p * qs[0]
    for k in range(order - 1):
        y = pointwise(layer.pws[k], y) * qs[k + 1]
    _assert(layer(x), pointwise(layer.proj_out, y))


@pytest.mark.parametrize("size", [(3, 2), (7, 9)])
def test_global_filter_circular_equals_loop(size, device):
    """Circular FFT global filter = sum_ab k[a,b] x[(i-a)%H, (j-b)%W] (filter may wrap)."""
    torch.manual_seed(3)
    gf = GlobalFilter(2, size, "circular", dtype=D, device=device)
    with torch.no_grad():
        gf.bias.normal_()
    x = torch.randn(1, 2, 5, 6, dtype=D, device=device)
    xn, k = x.cpu().numpy()[0], gf.weight.detach().cpu().numpy()
    ref = np.zeros_like(xn)
    for c in range(2):
        for a in range(k.shape[1]):
            for b in range(k.shape[2]):
                ref[c] += k[c, a, b] * np.roll(xn[c], (a, b), axis=(0, 1))
        ref[c] += gf.bias[c].item()
    np.testing.assert_allclose(gf(x)[0].detach().cpu().numpy(), ref, rtol=0, atol=1e-12)


def test_global_filter_same_equals_scipy(device):
    """'same' global filter = scipy.signal.convolve2d(mode='same') per channel (odd filter)."""
    torch.manual_seed(4)
    gf = GlobalFilter(3, (5, 3), "same", dtype=D, device=device)
    x = torch.randn(2, 3, 8, 7, dtype=D, device=device)
    got = gf(x).detach().cpu().numpy()
    k = gf.weight.detach().cpu().numpy()
    for n in range(2):
        for c in range(3):
            ref = scipy.signal.convolve2d(x[n, c].cpu().numpy(), k[c], mode="same")
            np.testing.assert_allclose(got[n, c], ref, rtol=0, atol=1e-12)


def test_gnconv_global_gradcheck():
    """gnConv with the FFT global filter: float64 gradcheck w.r.t. the input."""
    torch.manual_seed(5)
    layer = RecursiveGatedConv(4, order=2, spatial="global", filter_size=(3, 4), dtype=D)
    x = torch.randn(1, 4, 4, 5, dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))


def test_film_identity_and_affine(device):
    """gamma=1, beta=0 is the identity (exactly), as is a fresh FiLM; else gamma*x + beta."""
    torch.manual_seed(6)
    x = torch.randn(3, 4, 5, 6, dtype=D, device=device)
    assert torch.equal(
        film(
            x, torch.ones(3, 4, dtype=D, device=device), torch.zeros(3, 4, dtype=D, device=device)
        ),
        x,
    )
    layer = FiLM(4, 2, dtype=D, device=device)
    cond = torch.randn(3, 2, dtype=D, device=device)
    assert torch.equal(layer(x, cond), x)
    with torch.no_grad():
        layer.to_params.weight.normal_()
    gb = cond @ layer.to_params.weight.T + layer.to_params.bias
    ref = gb[:, :4, None, None] * x + gb[:, 4:, None, None]
    _assert(layer(x, cond), ref)


def test_squeeze_excite_formula(device):
    """SE = x * sigmoid(W2 relu(W1 mean(x) + b1) + b2), numpy reference."""
    torch.manual_seed(7)
    layer = SqueezeExcite(8, reduction=4, dtype=D, device=device)
    x = torch.randn(2, 8, 5, 4, dtype=D, device=device)
    xn = x.cpu().numpy()
    p = {k: v.detach().cpu().numpy() for k, v in layer.state_dict().items()}
    h = np.maximum(xn.mean(axis=(2, 3)) @ p["fc1.weight"].T + p["fc1.bias"], 0)
    s = 1 / (1 + np.exp(-(h @ p["fc2.weight"].T + p["fc2.bias"])))
    np.testing.assert_allclose(
        layer(x).detach().cpu().numpy(), xn * s[:, :, None, None], rtol=0, atol=1e-12
    )


def test_low_rank_bilinear_is_rank_r_bilinear(device):
    """Identity activation: z = x^T W_k y + b with W = sum_r P[:,r] U[r] (x) V[r] (loops)."""
    torch.manual_seed(8)
    layer = LowRankBilinear(5, 4, 3, rank=2, activation="identity", dtype=D, device=device)
    x = torch.randn(6, 5, dtype=D, device=device)
    y = torch.randn(6, 4, dtype=D, device=device)
    p, u, v = (m.weight.detach().cpu().numpy() for m in (layer.p, layer.u, layer.v))
    w = np.zeros((3, 5, 4))
    for r in range(2):
        w += p[:, r, None, None] * np.outer(u[r], v[r])[None]
    ref = F.bilinear(x, y, torch.from_numpy(w).to(device), layer.p.bias)
    _assert(layer(x, y), ref)
    _assert(layer.bilinear_weight(), torch.from_numpy(w).to(device))
    tanh_layer = LowRankBilinear(5, 4, 3, rank=2, dtype=D, device=device)
    ref_t = tanh_layer.p(torch.tanh(tanh_layer.u(x)) * torch.tanh(tanh_layer.v(y)))
    _assert(tanh_layer(x, y), ref_t)


def test_eval_is_per_sample(device):
    """No layer mixes samples: changing the other samples leaves sample 0's output unchanged."""
    torch.manual_seed(9)
    x = torch.randn(4, 8, 6, 6, dtype=D, device=device)
    x2 = x.clone()
    x2[1:] = torch.randn(3, 8, 6, 6, dtype=D, device=device)
    layers = [
        GatedConv(8, 8, 3, padding=1, dtype=D, device=device),
        RecursiveGatedConv(8, 3, dtype=D, device=device),
        RecursiveGatedConv(8, 2, spatial="global", filter_size=6, dtype=D, device=device),
        SqueezeExcite(8, dtype=D, device=device),
    ]
    for layer in layers:
        layer.eval()
        with torch.no_grad():
            assert torch.equal(layer(x)[0], layer(x2)[0]), type(layer).__name__


def test_bad_inputs():
    """Shape and name errors raise ValueError naming the argument."""
    x = torch.randn(2, 4, 5, 5)
    with pytest.raises(ValueError, match="gamma"):
        film(x, torch.ones(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="beta"):
        film(x, torch.ones(2, 4), torch.zeros(4))
    with pytest.raises(ValueError, match="cond"):
        FiLM(4, 3)(x, torch.randn(2, 2))
    with pytest.raises(ValueError, match="channels"):
        RecursiveGatedConv(6, order=3)
    with pytest.raises(ValueError, match="spatial"):
        RecursiveGatedConv(4, order=2, spatial="fourier")
    with pytest.raises(ValueError, match="kernel_size"):
        RecursiveGatedConv(4, order=2, kernel_size=4)
    with pytest.raises(ValueError, match="x must"):
        RecursiveGatedConv(4, order=2)(torch.randn(2, 3, 5, 5))
    with pytest.raises(ValueError, match="x must"):
        SqueezeExcite(8)(x)
    with pytest.raises(ValueError, match="gate"):
        GatedConv(4, 4, 3, gate="relu")
    with pytest.raises(ValueError, match="y must"):
        LowRankBilinear(5, 4, 3, 2)(torch.randn(2, 5), torch.randn(2, 5))
    with pytest.raises(ValueError, match="leading shape"):
        LowRankBilinear(5, 4, 3, 2)(torch.randn(2, 5), torch.randn(3, 4))
    with pytest.raises(ValueError, match="global_mode"):
        RecursiveGatedConv(4, order=2, spatial="global", global_mode="full")
