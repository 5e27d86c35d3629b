"""Kernel-generalized convolutions against a float64 brute-force unfold reference.

The reference pads with numpy (``np.pad``), cuts every patch out with Python loops and evaluates
each kernel from its definition on the patch vectors (differences, not the expansion the layer
uses). Agreement is asserted to ``1e-10 * max(1, max|reference|)`` in float64; the linear kernel
is compared with ``torch.nn.Conv1d/Conv2d`` to ``1e-12`` relative.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sciconv.generalized import (
    KERNELS,
    LINKS,
    KernelConv1d,
    KernelConv2d,
    l1_chunks,
    l1_distance,
)

NP_PAD = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}
TORCH_LINK = {
    "identity": lambda t: t,
    "negate": lambda t: -t,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softsign": torch.nn.functional.softsign,
    "atan": torch.atan,
    "sine": torch.sin,
}


def reference(layer: KernelConv2d | KernelConv1d, x: np.ndarray) -> np.ndarray:
    """Brute-force float64 kernel convolution (no link), written from the definitions."""
    one_d = x.ndim == 3
    if one_d:
        x = x[:, :, None, :]
    w = layer.weight.detach().cpu().double().numpy()
    if one_d:
        w = w[:, :, None, :]
    a = np.ones_like(w) if layer.scale is None else layer.scale.detach().cpu().double().numpy()
    if one_d:
        a = a.reshape(w.shape)
    kh, kw = w.shape[2:]
    sh, sw = (1, layer.stride[0]) if one_d else layer.stride
    dh, dw = (1, layer.dilation[0]) if one_d else layer.dilation
    if layer.padding == "valid":
        pads = [(0, 0), (0, 0)]
    elif layer.padding == "same":
        tot = [dh * (kh - 1), dw * (kw - 1)]
        pads = [(t // 2, t - t // 2) for t in tot]
    else:
        p = (0, layer.padding[0]) if one_d else layer.padding
        pads = [(p[0], p[0]), (p[1], p[1])]
    xp = np.pad(x, [(0, 0), (0, 0), *pads], mode=NP_PAD[layer.padding_mode])
    n, c, h, wd = xp.shape
    oh = (h - dh * (kh - 1) - 1) // sh + 1
    ow = (wd - dw * (kw - 1) - 1) // sw + 1
    g = layer.groups
    cg, og = c // g, w.shape[0] // g
    c_ = layer.c.item()
    gamma, sigma = layer.log_gamma.exp().item(), layer.log_sigma.exp().item()
    out = np.zeros((n, w.shape[0], oh, ow))
    for b in range(n):
        for o in range(w.shape[0]):
            grp = o // og
            for i in range(oh):
                for j in range(ow):
                    patch = xp[
                        b,
                        grp * cg : (grp + 1) * cg,
                        i * sh : i * sh + dh * (kh - 1) + 1 : dh,
                        j * sw : j * sw + dw * (kw - 1) + 1 : dw,
                    ]
                    diff = patch - w[o]
                    k = layer.kernel
                    if k == "linear":
                        v = np.sum(patch * w[o])
                    elif k == "polynomial":
                        v = (np.sum(patch * w[o]) + c_) ** layer.degree
                    elif k == "l1" and layer.smooth > 0:  # pseudo-Huber, direct formula
                        eps = layer.smooth
                        v = np.sum(a[o] * (np.sqrt(diff**2 + eps**2) - eps))
                    elif k == "l1":
                        v = np.sum(a[o] * np.abs(diff))
                    else:
                        d2 = np.sum(a[o] * diff**2)
                        v = {
                            "gaussian": np.exp(-gamma * d2),
                            "l2": d2,
                            "cauchy": 1.0 / (1.0 + d2 / sigma**2),
                        }[k]
                    out[b, o, i, j] = v
    if layer.bias is not None:
        out += layer.bias.detach().cpu().double().numpy()[None, :, None, None]
    return out[:, :, 0, :] if one_d else out


def assert_close_to_reference(got: torch.Tensor, ref: np.ndarray, tol: float = 1e-10) -> None:
    got_np = got.detach().cpu().double().numpy()
    assert got_np.shape == ref.shape
    err = np.max(np.abs(got_np - ref))
    assert err <= tol * max(1.0, np.max(np.abs(ref))), err


CONFIGS = [
    {"stride": 1, "padding": 0, "dilation": 1, "groups": 1},
    {"stride": 2, "padding": 1, "dilation": 1, "groups": 2},
    {
        "stride": (1, 2),
        "padding": (2, 1),
        "dilation": (2, 1),
        "groups": 1,
        "padding_mode": "reflect",
    },
    {"stride": 1, "padding": "same", "dilation": 2, "groups": 2, "padding_mode": "circular"},
    {"stride": 1, "padding": 1, "dilation": 1, "groups": 1, "padding_mode": "replicate"},
]


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("cfg", CONFIGS, ids=[f"cfg{i}" for i in range(len(CONFIGS))])
def test_kernelconv2d_matches_unfold_reference(kernel, cfg, device):
    """Every kernel, padding/stride/dilation/groups/padding_mode: 1e-10 of the reference."""
    torch.manual_seed(0)
    layer = KernelConv2d(
        4,
        6,
        (3, 2),
        kernel=kernel,
        gamma=0.2,
        sigma=1.5,
        degree=3,
        c=0.5,
        weighted=kernel != "linear",
        max_chunk_bytes=512,
        dtype=torch.float64,
        device=device,
        **cfg,
    )
    if layer.log_scale is not None:
        with torch.no_grad():
            layer.log_scale.normal_(0.0, 0.3)
    x = 0.5 * torch.randn(2, 4, 7, 6, dtype=torch.float64, device=device)
    assert_close_to_reference(layer(x), reference(layer, x.cpu().numpy()))


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernelconv1d_matches_unfold_reference(kernel, device):
    """1-D layer, stride 2, dilation 2, padding 3 (zeros) and 'same' (reflect): to 1e-10."""
    torch.manual_seed(1)
    x = 0.5 * torch.randn(3, 4, 11, dtype=torch.float64, device=device)
    for kw in (
        {"stride": 2, "dilation": 2, "padding": 3},
        {"padding": "same", "padding_mode": "reflect", "groups": 2},
    ):
        layer = KernelConv1d(
            4, 2, 3, kernel=kernel, gamma=0.3, degree=2, dtype=torch.float64, device=device, **kw
        )
        assert_close_to_reference(layer(x), reference(layer, x.cpu().numpy()))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**31 - 1),
    kernel=st.sampled_from(KERNELS),
    n=st.integers(1, 2),
    groups=st.sampled_from([1, 2]),
    cin=st.integers(1, 2),
    cout=st.integers(1, 2),
    kh=st.integers(1, 3),
    kw=st.integers(1, 3),
    h=st.integers(3, 6),
    w=st.integers(3, 6),
    stride=st.integers(1, 2),
    dil=st.integers(1, 2),
    pad=st.integers(0, 2),
    cap=st.sampled_from([64, 2**20]),
    smooth=st.sampled_from([0.0, 0.25]),
)
def test_kernelconv2d_random_shapes(
    seed, kernel, n, groups, cin, cout, kh, kw, h, w, stride, dil, pad, cap, smooth
):
    """Random shapes (hypothesis): KernelConv2d equals the brute-force reference to 1e-10.

    ``smooth`` only acts on 'l1' (the smoothed L1); the other kernels must ignore it. The
    weights and the input come from torch RNG seeded by the drawn ``seed`` (reproducible).
    """
    torch.manual_seed(seed)  # the layer's initial weights
    h, w = h + dil * (kh - 1), w + dil * (kw - 1)
    layer = KernelConv2d(
        cin * groups,
        cout * groups,
        (kh, kw),
        stride,
        pad,
        dil,
        groups,
        kernel=kernel,
        gamma=0.1,
        max_chunk_bytes=cap,
        smooth=smooth,
        dtype=torch.float64,
    )
    gen = torch.Generator().manual_seed(seed)
    x = 0.5 * torch.randn(n, cin * groups, h, w, dtype=torch.float64, generator=gen)
    assert_close_to_reference(layer(x), reference(layer, x.numpy()))


@pytest.mark.parametrize("cfg", CONFIGS, ids=[f"cfg{i}" for i in range(len(CONFIGS))])
def test_linear_kernel_is_conv2d(cfg, device):
    """kernel='linear' equals torch.nn.Conv2d with the same weights (1e-12 relative)."""
    torch.manual_seed(2)
    ref = torch.nn.Conv2d(4, 6, (3, 2), dtype=torch.float64, device=device, **cfg)
    layer = KernelConv2d(4, 6, (3, 2), dtype=torch.float64, device=device, **cfg)
    layer.load_state_dict({**layer.state_dict(), "weight": ref.weight, "bias": ref.bias})
    x = torch.randn(2, 4, 9, 8, dtype=torch.float64, device=device)
    torch.testing.assert_close(layer(x), ref(x), rtol=1e-12, atol=1e-12)


def test_linear_kernel_is_conv1d(device):
    """KernelConv1d(kernel='linear') equals torch.nn.Conv1d (1e-12 relative)."""
    ref = torch.nn.Conv1d(
        4, 6, 3, 2, 2, 2, 2, bias=False, padding_mode="circular", dtype=torch.float64, device=device
    )
    layer = KernelConv1d(
        4, 6, 3, 2, 2, 2, 2, bias=False, padding_mode="circular", dtype=torch.float64, device=device
    )
    with torch.no_grad():
        layer.weight.copy_(ref.weight)
    x = torch.randn(3, 4, 13, dtype=torch.float64, device=device)
    torch.testing.assert_close(layer(x), ref(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("weighted", [True, False], ids=["weighted", "plain"])
@pytest.mark.parametrize("kernel", [*KERNELS, "l1-smooth"])
def test_gradcheck(kernel, weighted):
    """Float64 gradcheck w.r.t. input, weight, bias, distance weights and hyper-parameters."""
    torch.manual_seed(3)
    smooth = 0.2 if kernel == "l1-smooth" else 0.0
    kernel = kernel.removesuffix("-smooth")
    layer = KernelConv2d(
        2,
        2,
        2,
        stride=1,
        padding=1,
        kernel=kernel,
        link="tanh",
        weighted=weighted,
        learnable_hyper=True,
        gamma=0.5,
        max_chunk_bytes=128,
        smooth=smooth,
        dtype=torch.float64,
    )
    x = torch.randn(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    params = [p for p in layer.parameters() if p.requires_grad]
    names = [n for n, _ in layer.named_parameters()]

    def f(x, *ps):
        sd = dict(zip(names, ps))
        return torch.func.functional_call(layer, sd, (x,))

    assert torch.autograd.gradcheck(f, (x, *params))


def test_gradcheck_1d():
    """Float64 gradcheck of KernelConv1d (gaussian, stride 2)."""
    torch.manual_seed(10)
    layer = KernelConv1d(2, 3, 3, stride=2, padding=1, kernel="gaussian", dtype=torch.float64)
    x = torch.randn(2, 2, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))


@pytest.mark.parametrize("link", LINKS)
def test_links(link):
    """The link is applied after kernel + bias: link output = link(identity output)."""
    torch.manual_seed(4)
    a = KernelConv2d(2, 3, 3, kernel="cauchy", dtype=torch.float64)
    b = KernelConv2d(2, 3, 3, kernel="cauchy", link=link, dtype=torch.float64)
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 2, 6, 6, dtype=torch.float64)
    torch.testing.assert_close(b(x), TORCH_LINK[link](a(x)), rtol=0, atol=0)


def test_l1_chunks_respect_cap_and_do_not_change_result():
    """Chunk sizes keep the difference tensor under the cap; any cap gives the same output."""
    for cap in (8, 1000, 10**4, 10**7):
        ob, rb = l1_chunks(2, 18, 5, 7, 6, 8, cap)
        assert 1 <= ob <= 6 and 1 <= rb <= 7
        if 2 * 18 * 5 * 8 <= cap:  # one row of one channel fits: the chunk must fit too
            assert 2 * ob * 18 * rb * 5 * 8 <= cap
    torch.manual_seed(5)
    x = torch.randn(2, 2, 9, 7, dtype=torch.float64)
    outs = []
    for cap in (8, 2000, 2**30):
        layer = KernelConv2d(2, 6, 3, kernel="l1", max_chunk_bytes=cap, dtype=torch.float64)
        torch.manual_seed(6)
        layer.reset_parameters()
        outs.append(layer(x))
    torch.testing.assert_close(outs[0], outs[2], rtol=0, atol=1e-13)
    torch.testing.assert_close(outs[1], outs[2], rtol=0, atol=1e-13)


@pytest.mark.parametrize("weighted", [True, False], ids=["weighted", "plain"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=[f"cfg{i}" for i in range(len(CONFIGS))])
def test_smooth_l1_matches_reference(cfg, weighted, device):
    """kernel='l1', smooth=0.3: sum a (sqrt(d^2 + eps^2) - eps) to 1e-10 of the float64 loop."""
    torch.manual_seed(7)
    layer = KernelConv2d(
        4,
        6,
        (3, 2),
        kernel="l1",
        smooth=0.3,
        weighted=weighted,
        max_chunk_bytes=512,
        dtype=torch.float64,
        device=device,
        **cfg,
    )
    if layer.log_scale is not None:
        with torch.no_grad():
            layer.log_scale.normal_(0.0, 0.3)
    x = 0.5 * torch.randn(2, 4, 7, 6, dtype=torch.float64, device=device)
    assert_close_to_reference(layer(x), reference(layer, x.cpu().numpy()))


@pytest.mark.parametrize("eps", [1e-6, 0.1, 2.0])
def test_smooth_l1_bounds(eps):
    """0 <= L1 - smoothed L1 <= K eps (K taps, Huber bound); eps -> 0 recovers L1 (1e-12 + K eps).

    Also: the smoothed value of a patch equal to its filter is exactly 0, any memory cap gives
    the same output (1e-13), and smooth=0 keeps the exact L1 layer.
    """
    torch.manual_seed(8)
    x = torch.rand(2, 2, 7, 6, dtype=torch.float64)
    exact = KernelConv2d(2, 5, 3, kernel="l1", bias=False, dtype=torch.float64)
    outs = []
    for cap in (64, 2**30):
        sm = KernelConv2d(
            2, 5, 3, kernel="l1", bias=False, smooth=eps, max_chunk_bytes=cap, dtype=torch.float64
        )
        sm.load_state_dict(exact.state_dict())
        outs.append(sm(x))
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=1e-13)
    gap = exact(x) - outs[1]
    k_taps = 2 * 9
    assert gap.min() >= -1e-12 and gap.max() <= k_taps * eps + 1e-12
    assert gap.max() > 0.0
    with torch.no_grad():
        sm.weight.copy_(x[:1, :, :3, :3].expand(5, -1, -1, -1))
    assert sm(x)[0, :, 0, 0].abs().max() == 0.0


def test_smooth_l1_distance_on_plain_tensors():
    """The functional smoothed L1 with no scale and no input requiring grad runs (it raised an
    AttributeError on ``scale.requires_grad``) and stays within K eps below the exact L1."""
    torch.manual_seed(9)
    xp = torch.rand(1, 2, 5, 5, dtype=torch.float64)
    w = torch.rand(3, 2, 3, 3, dtype=torch.float64)
    gap = l1_distance(xp, w, (1, 1), (1, 1), 1) - l1_distance(xp, w, (1, 1), (1, 1), 1, smooth=0.1)
    assert gap.min() >= -1e-12 and gap.max() <= 18 * 0.1 + 1e-12


def test_parameters_registered_and_device_dtype(device):
    """Weight, bias, distance weights (and learnable hyper-parameters) are parameters."""
    layer = KernelConv2d(
        2,
        4,
        3,
        kernel="gaussian",
        weighted=True,
        learnable_hyper=True,
        device=device,
        dtype=torch.float32,
    )
    names = {n for n, _ in layer.named_parameters()}
    assert names == {"weight", "bias", "log_scale", "c", "log_gamma", "log_sigma"}
    assert all(p.device.type == torch.device(device).type for p in layer.parameters())
    fixed = KernelConv2d(2, 4, 3, kernel="gaussian")
    assert {n for n, _ in fixed.named_buffers()} == {"c", "log_gamma", "log_sigma"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kernel": "rbf"}, "kernel"),
        ({"link": "relu6"}, "link"),
        ({"groups": 3}, "groups"),
        ({"padding": "full"}, "padding"),
        ({"padding": "same", "stride": 2}, "padding"),
        ({"padding_mode": "mirror"}, "padding_mode"),
        ({"gamma": 0.0}, "gamma"),
        ({"sigma": -1.0}, "sigma"),
        ({"degree": 0}, "degree"),
        ({"kernel_size": (3, 3, 3)}, "kernel_size"),
        ({"max_chunk_bytes": 0}, "max_chunk_bytes"),
        ({"kernel": "l1", "smooth": -0.1}, "smooth"),
        ({"kernel": "l1", "smooth": float("inf")}, "smooth"),
        ({"kernel": "l1", "smooth": "0.1"}, "smooth"),
    ],
)
def test_bad_arguments(kwargs, match):
    """Unknown names and out-of-range values raise ValueError naming the argument."""
    base = {"in_channels": 4, "out_channels": 4, "kernel_size": 3}
    with pytest.raises(ValueError, match=match):
        KernelConv2d(**{**base, **kwargs})


def test_bad_input_shape():
    """Wrong channel count or rank of the input raises ValueError naming the input."""
    layer = KernelConv2d(3, 2, 3)
    with pytest.raises(ValueError, match="input"):
        layer(torch.randn(1, 2, 8, 8))
    with pytest.raises(ValueError, match="input"):
        KernelConv1d(3, 2, 3)(torch.randn(1, 3, 8, 8))
    with pytest.raises(TypeError, match="input"):
        layer(np.zeros((1, 3, 8, 8)))
