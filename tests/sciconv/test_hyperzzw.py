"""HyperZ·Z·W: references from the formulas (numpy loops, float64) and batch independence.

Tolerances: 1e-12 absolute for O(1) values; batch-independence checks to 1e-12 as well (the
same sample evaluated in different batches goes through differently shaped grouped convs).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from sciconv.hyperzzw import (
    CoordinateMLP,
    HyperZZW,
    LocalHyperConv2d,
    TerminatorBlock,
    context_weights,
    hyperzzw,
    local_hyper_conv,
    slow_neural_loss,
)

D = torch.float64


def test_coordinate_mlp_formula_and_any_size(device):
    """K(c) = W_o [(W_1 sin(O_1 c + p_1) + b_1) * sin(O_2 c + p_2)] + b_o, numpy reference."""
    torch.manual_seed(0)
    net = CoordinateMLP(3, coord_dim=2, hidden=5, layers=2, dtype=D, device=device)
    p = {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}
    for size in [(4, 6), (1, 3), (9, 9)]:
        ys = np.linspace(-1, 1, size[0]) if size[0] > 1 else np.zeros(1)
        xs = np.linspace(-1, 1, size[1]) if size[1] > 1 else np.zeros(1)
        c = np.stack(np.meshgrid(ys, xs, indexing="ij"), -1)
        h = np.sin(c @ p["filters.0.weight"].T + p["filters.0.bias"])
        h = (h @ p["linears.0.weight"].T + p["linears.0.bias"]) * np.sin(
            c @ p["filters.1.weight"].T + p["filters.1.bias"]
        )
        ref = np.moveaxis(h @ p["out.weight"].T + p["out.bias"], -1, 0)
        got = net(size)
        assert got.shape == (3, *size)
        np.testing.assert_allclose(got.detach().cpu().numpy(), ref, rtol=0, atol=1e-12)


def test_fft_form_equals_full_convolution_loop(device):
    """form='fft': Y = (Z * (Z o K)) 'same' / |Omega|, reference scipy convolve2d full + centre."""
    torch.manual_seed(1)
    z = torch.randn(2, 3, 5, 6, dtype=D, device=device)
    k = torch.randn(3, 5, 6, dtype=D, device=device)
    got = hyperzzw(z, k, "fft").cpu().numpy()
    zn, kn = z.cpu().numpy(), k.cpu().numpy()
    for n in range(2):
        for c in range(3):
            w_hat = zn[n, c] * kn[c]
            full = scipy.signal.convolve2d(zn[n, c], w_hat, mode="full")
            ref = full[2 : 2 + 5, 2 : 2 + 6] / 30.0  # start (m-1)//2 = 2 on both axes
            np.testing.assert_allclose(got[n, c], ref, rtol=0, atol=1e-12)


def test_fft_form_1d(device):
    """1-D fft form against numpy.convolve (full, centred slice)."""
    torch.manual_seed(2)
    z = torch.randn(2, 2, 9, dtype=D, device=device)
    k = torch.randn(2, 9, dtype=D, device=device)
    got = hyperzzw(z, k).cpu().numpy()
    zn, kn = z.cpu().numpy(), k.cpu().numpy()
    for n in range(2):
        for c in range(2):
            full = np.convolve(zn[n, c], zn[n, c] * kn[c])
            np.testing.assert_allclose(got[n, c], full[4:13] / 9.0, rtol=0, atol=1e-12)


def test_published_form_is_channelwise_matrix_product(device):
    """form='published': Y_nc = (Z_nc o K_c) @ Z_nc / H, numpy matmul reference."""
    torch.manual_seed(3)
    z = torch.randn(2, 3, 6, 6, dtype=D, device=device)
    k = torch.randn(3, 6, 6, dtype=D, device=device)
    zn, kn = z.cpu().numpy(), k.cpu().numpy()
    ref = np.stack(
        [np.stack([(zn[n, c] * kn[c]) @ zn[n, c] / 6 for c in range(3)]) for n in range(2)]
    )
    np.testing.assert_allclose(hyperzzw(z, k, "published").cpu().numpy(), ref, atol=1e-12)


def test_local_branch_per_sample_loop(device):
    """Local: each sample convolved (correlation, same padding) with K o avgpool_k(Z_n)."""
    torch.manual_seed(4)
    z = torch.randn(3, 2, 7, 6, dtype=D, device=device)
    k = torch.randn(2, 3, 3, dtype=D, device=device)
    got = local_hyper_conv(z, k).cpu().numpy()
    zn, kn = z.cpu().numpy(), k.cpu().numpy()
    for n in range(3):
        for c in range(2):
            # adaptive average pooling 7x6 -> 3x3: bins [floor(i*L/3), ceil((i+1)*L/3))
            def bins(L):
                return [(i * L // 3, -(-(i + 1) * L // 3)) for i in range(3)]

            pooled = np.array(
                [[zn[n, c, a:b, e:f].mean() for (e, f) in bins(6)] for (a, b) in bins(7)]
            )
            ref = scipy.signal.correlate2d(zn[n, c], kn[c] * pooled, mode="same")
            np.testing.assert_allclose(got[n, c], ref, rtol=0, atol=1e-12)


def test_hyper_kernel_independent_of_batch(device):
    """The slow network's kernel is the same for any batch (it never sees the activations)."""
    torch.manual_seed(5)
    layer = HyperZZW(4, dtype=D, device=device)
    za = torch.randn(2, 4, 6, 6, dtype=D, device=device)
    zb = 10 * torch.randn(5, 4, 6, 6, dtype=D, device=device)
    _, aux_a = layer(za, return_aux=True)
    _, aux_b = layer(zb, return_aux=True)
    assert torch.equal(aux_a["kernel"], aux_b["kernel"])
    assert torch.equal(aux_a["kernel"], layer.kernel((6, 6)))
    torch.testing.assert_close(aux_a["context_weights"], za * aux_a["kernel"], rtol=0, atol=0)


@pytest.mark.parametrize("form", ["fft", "published"])
def test_eval_output_of_a_sample_ignores_the_others(form, device):
    """Eval: sample 0's output is unchanged (1e-12) when the other samples change or vanish."""
    torch.manual_seed(6)
    block = TerminatorBlock(2, 4, local_sizes=(3, 5), form=form, dtype=D, device=device).eval()
    x = torch.randn(4, 2, 8, 8, dtype=D, device=device)
    x2 = x.clone()
    x2[1:] = 5 * torch.randn(3, 2, 8, 8, dtype=D, device=device)
    with torch.no_grad():
        y, y2, y1 = block(x), block(x2), block(x[:1])
    torch.testing.assert_close(y[0], y2[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(y[0], y1[0], rtol=0, atol=1e-12)
    assert not torch.allclose(y[1], y2[1])


def test_parameters_registered_and_movable(device):
    """All slow-network weights are registered parameters; state_dict round-trips; .to works."""
    block = TerminatorBlock(2, 4, local_sizes=(3,), device=device)
    names = [n for n, _ in block.named_parameters()]
    assert any(n.startswith("global_branch.slow.filters") for n in names)
    assert any(n.startswith("local_branches.0.slow.out") for n in names)
    n_params = sum(p.numel() for p in block.parameters())
    assert n_params == sum(v.numel() for v in block.state_dict().values())
    other = TerminatorBlock(2, 4, local_sizes=(3,), device=device)
    other.load_state_dict(block.state_dict())
    x = torch.randn(2, 2, 6, 6, device=device)
    assert torch.equal(other(x), block(x))
    y = block.to(D)(x.to(D))
    assert y.dtype == D and y.device.type == torch.device(device).type


def test_slow_loss_reaches_slow_network_only():
    """The slow loss's gradient is zero on the fast weights and non-zero on the slow network."""
    torch.manual_seed(7)
    block = TerminatorBlock(2, 4, local_sizes=(), dtype=D)
    _, loss = block(torch.randn(3, 2, 6, 6, dtype=D), return_slow_loss=True)
    loss.backward()
    assert block.bottleneck.weight.grad is None
    assert block.proj.weight.grad is None
    assert block.global_branch.slow.out.weight.grad.abs().sum() > 0
    k = torch.randn(2, 3, 3, dtype=D)
    w = torch.randn(4, 2, 3, 3, dtype=D)
    np.testing.assert_allclose(
        slow_neural_loss(k, w).item(), ((k.numpy()[None] - w.numpy()) ** 2).mean(), rtol=1e-14
    )


def test_gradcheck_block():
    """Float64 gradcheck of the block w.r.t. its input (fft form) and of the published form."""
    torch.manual_seed(8)
    block = TerminatorBlock(1, 2, local_sizes=(3,), hidden=4, dtype=D)
    x = torch.randn(2, 1, 4, 4, dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(block, (x,))
    k = torch.randn(2, 3, 3, dtype=D, requires_grad=True)
    z = torch.randn(2, 2, 3, 3, dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z, k: hyperzzw(z, k, "published"), (z, k))


def test_bad_inputs():
    """Non-square maps (published), mismatched kernels, unknown names: ValueError naming them."""
    z = torch.randn(2, 3, 5, 6)
    with pytest.raises(ValueError, match="square"):
        hyperzzw(z, torch.randn(3, 5, 6), "published")
    with pytest.raises(ValueError, match="square"):
        HyperZZW(3, form="published")(z)
    with pytest.raises(ValueError, match="kernel"):
        hyperzzw(z, torch.randn(3, 5, 5))
    with pytest.raises(ValueError, match="kernel"):
        context_weights(z, torch.randn(2, 5, 6))
    with pytest.raises(ValueError, match="form"):
        hyperzzw(z, torch.randn(3, 5, 6), "attention")
    with pytest.raises(ValueError, match="kernel"):
        local_hyper_conv(z, torch.randn(3, 4, 4))
    with pytest.raises(ValueError, match="z must"):
        HyperZZW(4)(z)
    with pytest.raises(ValueError, match="kernel_size"):
        LocalHyperConv2d(3, 4)
    with pytest.raises(ValueError, match="size"):
        CoordinateMLP(2, 2)((3,))
    with pytest.raises(ValueError, match="x must"):
        TerminatorBlock(2, 4)(torch.randn(2, 3, 6, 6))
    with pytest.raises(ValueError, match="w_hat"):
        slow_neural_loss(torch.randn(2, 3, 3), torch.randn(4, 3, 3, 3))


def test_one_dimensional_layer(device):
    """HyperZZW(dim=1): kernel (C, L) from a 1-D slow net; output = fft form with that kernel."""
    torch.manual_seed(9)
    layer = HyperZZW(3, dim=1, dtype=D, device=device)
    z = torch.randn(2, 3, 13, dtype=D, device=device)
    y, aux = layer(z, return_aux=True)
    assert aux["kernel"].shape == (3, 13)
    torch.testing.assert_close(y, hyperzzw(z, aux["kernel"]), rtol=0, atol=0)


def _coordinate_mlp_np(p, prefix, size):
    """The slow network of the paper, K(c) = W_o[(W_1 sin(O_1 c + p_1) + b_1) * sin(O_2 c + p_2)
    ...] + b_o on the grid linspace(-1, 1) per axis, from the state dict alone."""
    axes = [np.linspace(-1, 1, n) if n > 1 else np.zeros(1) for n in size]
    c = np.stack(np.meshgrid(*axes, indexing="ij"), -1)
    layers = sum(1 for key in p if key.startswith(prefix + "filters.") and key.endswith(".weight"))
    h = np.sin(c @ p[f"{prefix}filters.0.weight"].T + p[f"{prefix}filters.0.bias"])
    for i in range(layers - 1):
        lin = h @ p[f"{prefix}linears.{i}.weight"].T + p[f"{prefix}linears.{i}.bias"]
        h = lin * np.sin(
            c @ p[f"{prefix}filters.{i + 1}.weight"].T + p[f"{prefix}filters.{i + 1}.bias"]
        )
    return np.moveaxis(h @ p[f"{prefix}out.weight"].T + p[f"{prefix}out.bias"], -1, 0)


def _adaptive_avg_pool_np(a, k):
    """Adaptive average pooling of the last two axes to k x k: bin i covers
    [floor(i H / k), ceil((i + 1) H / k)) (PyTorch's definition)."""
    H, W = a.shape[-2:]
    out = np.empty((*a.shape[:-2], k, k))
    for i in range(k):
        for j in range(k):
            r0, r1 = (i * H) // k, -((-(i + 1) * H) // k)
            c0, c1 = (j * W) // k, -((-(j + 1) * W) // k)
            out[..., i, j] = a[..., r0:r1, c0:c1].mean(axis=(-2, -1))
    return out


def _terminator_np(block, x, form):
    """TerminatorBlock from its published equations, in numpy float64 loops:
    Z = conv1x1(x); global Y = HyperZZW(Z) with W_hat = Z o K ('fft': full convolution of Z
    with W_hat, centred, / |Omega|; 'published': W_hat Z / H); local Y_k = (K_k o P_k(Z)) star Z
    (zero 'same' padding); y = GELU(standardise(B [Z, Y, Y_k...])) with per-sample mean and
    biased variance, eps 1e-5, and the erf GELU."""
    import scipy.special

    p = {k: v.detach().cpu().numpy() for k, v in block.state_dict().items()}
    N, _, H, W = x.shape
    z = np.einsum("mc,nchw->nmhw", p["proj.weight"][:, :, 0, 0], x) + p["proj.bias"][:, None, None]
    C = z.shape[1]
    K = _coordinate_mlp_np(p, "global_branch.slow.", (H, W))
    g = np.empty_like(z)
    for n in range(N):
        for c in range(C):
            w_hat = z[n, c] * K[c]
            if form == "published":
                g[n, c] = w_hat @ z[n, c] / H
            else:
                full = scipy.signal.convolve2d(z[n, c], w_hat, mode="full")
                s0, s1 = (H - 1) // 2, (W - 1) // 2
                g[n, c] = full[s0 : s0 + H, s1 : s1 + W] / (H * W)
    branches = [z, g]
    for i, branch in enumerate(block.local_branches):
        k = branch.kernel_size
        Kl = _coordinate_mlp_np(p, f"local_branches.{i}.slow.", (k, k))
        w_hat = Kl[None] * _adaptive_avg_pool_np(z, k)  # (N, C, k, k)
        zp = np.pad(z, ((0, 0), (0, 0), (k // 2, k // 2), (k // 2, k // 2)))
        loc = np.zeros_like(z)
        for a in range(k):
            for b in range(k):
                loc += w_hat[:, :, a, b, None, None] * zp[:, :, a : a + H, b : b + W]
        branches.append(loc)
    cat = np.concatenate(branches, axis=1)
    v = np.einsum("oc,nchw->nohw", p["bottleneck.weight"][:, :, 0, 0], cat)
    v = v + p["bottleneck.bias"][:, None, None]
    mu = v.mean(axis=(1, 2, 3), keepdims=True)
    var = ((v - mu) ** 2).mean(axis=(1, 2, 3), keepdims=True)
    s = (v - mu) / np.sqrt(var + 1e-5)
    return 0.5 * s * (1 + scipy.special.erf(s / np.sqrt(2)))


@pytest.mark.parametrize(("form", "shape"), [("fft", (6, 7)), ("published", (7, 7))])
def test_terminator_block_against_its_published_equations(form, shape, device):
    """TerminatorBlock (two local branches, k = 3 and 5, maps not divisible by k) equals a
    numpy float64 re-implementation of the paper's equations to 1e-10 absolute (outputs are
    O(1) after standardisation; measured ~1e-15)."""
    torch.manual_seed(8)
    block = TerminatorBlock(2, 4, channels=3, local_sizes=(3, 5), form=form, hidden=8, dtype=D,
                            device=device)  # fmt: skip
    x = torch.randn(2, 2, *shape, dtype=D, device=device)
    with torch.no_grad():
        got = block(x).cpu().numpy()
    ref = _terminator_np(block, x.cpu().numpy(), form)
    assert got.shape == ref.shape == (2, 4, *shape)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10)
