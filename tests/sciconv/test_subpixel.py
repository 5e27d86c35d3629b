"""sciconv.subpixel: the sub-pixel layer against torch's own Conv2d + PixelShuffle and
ConvTranspose2d (exact conversions both ways), its singular values against a dense SVD of the
matrix built column by column from the layer, ICNR against nearest-neighbour upsampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from sciconv.subpixel import (
    SubPixelConv2d,
    icnr_,
    subpixel_to_transpose,
    transpose_to_subpixel,
)

F64 = torch.float64
SETTINGS = settings(deadline=None, max_examples=40, derandomize=True)


def _random_layer(cin, cout, k, r, p, seed, tied_bias=True, **kw):
    """A float64 layer with random (not ICNR) weights; phase biases tied unless asked."""
    g = torch.Generator().manual_seed(seed)
    layer = SubPixelConv2d(cin, cout, k, r, padding=p, dtype=F64, **kw)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(layer.weight.shape, generator=g, dtype=F64))
        b = torch.randn(cout, generator=g, dtype=F64)
        b = b.repeat_interleave(r * r) if tied_bias else torch.randn(cout * r * r, generator=g)
        layer.bias.copy_(b)
    return layer, g


def _max_diff(a, b):
    assert a.shape == b.shape, (a.shape, b.shape)
    return float((a - b).detach().abs().max())


# -- forward: the definition, through torch's Conv2d and PixelShuffle -------------------------
@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("stride", [1, 2])
def test_forward_is_torch_conv2d_then_pixel_shuffle(mode, stride):
    layer, g = _random_layer(3, 2, (3, 2), 3, (1, 1), 0, tied_bias=False, padding_mode=mode,
                             stride=stride)  # fmt: skip
    ref = nn.Sequential(
        nn.Conv2d(3, 18, (3, 2), stride=stride, padding=1, padding_mode=mode, dtype=F64),
        nn.PixelShuffle(3),
    )
    ref[0].load_state_dict({"weight": layer.weight, "bias": layer.bias})
    x = torch.randn(2, 3, 7, 6, generator=g, dtype=F64)
    with torch.no_grad():
        assert _max_diff(layer(x), ref(x)) == 0.0


# -- to and from ConvTranspose2d --------------------------------------------------------------
@SETTINGS
@given(
    r=st.integers(1, 4), kh=st.integers(1, 5), kw=st.integers(1, 5),
    ph=st.integers(0, 4), pw=st.integers(0, 4), cin=st.integers(1, 3), cout=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)  # fmt: skip
def test_subpixel_equals_its_conv_transpose_and_back(r, kh, kw, ph, pw, cin, cout, seed):
    layer, g = _random_layer(cin, cout, (kh, kw), r, (ph, pw), seed)
    x = torch.randn(2, cin, 5 + kh, 4 + kw, generator=g, dtype=F64)
    y = layer(x).detach()
    convt = layer.to_conv_transpose()
    assert isinstance(convt, nn.ConvTranspose2d) and convt.stride == (r, r)
    assert convt.output_padding == (0, 0) and convt.weight.dtype == F64
    assert _max_diff(convt(x), y) <= 1e-12 * max(1.0, float(y.abs().max()))
    back = SubPixelConv2d.from_conv_transpose(convt)
    assert _max_diff(back(x), y) <= 1e-12 * max(1.0, float(y.abs().max()))
    if ph <= kh - 1 and pw <= kw - 1:  # the same kernel, not only the same map
        assert back.kernel_size == (kh, kw) and back.padding == (ph, pw)
        assert torch.equal(back.weight, layer.weight) and torch.equal(back.bias, layer.bias)


@SETTINGS
@given(
    r=st.integers(1, 4), k=st.integers(1, 7), pad=st.integers(0, 5), opad=st.integers(0, 3),
    dil=st.integers(1, 2), groups=st.sampled_from([1, 2]), seed=st.integers(0, 2**16),
)  # fmt: skip
def test_from_conv_transpose_equals_it_or_refuses_when_no_shuffle_can(
    r, k, pad, opad, dil, groups, seed
):
    if opad >= max(r, dil):  # torch's own rule for output_padding
        opad = 0
    torch.manual_seed(seed)
    convt = nn.ConvTranspose2d(2, 4, (k, k + 1), stride=r, padding=(pad, pad), dilation=dil,
                               output_padding=opad, groups=groups, dtype=F64)  # fmt: skip
    x = torch.randn(1, 2, 6, 5, dtype=F64)
    try:
        y = convt(x).detach()
    except RuntimeError:  # negative output size: torch refuses too
        return
    if y.shape[-2] % r or y.shape[-1] % r:
        with pytest.raises(ValueError, match="multiple of"):
            SubPixelConv2d.from_conv_transpose(convt)
        return
    layer = SubPixelConv2d.from_conv_transpose(convt)
    assert layer.upscale_factor == r and layer.weight.dtype == F64
    assert _max_diff(layer(x), y) <= 1e-12 * max(1.0, float(y.abs().max()))


def test_weight_rearrangement_is_the_polyphase_interleave():
    """1D by hand (r = 2, k = 2, p = 1): v_{r(p + pi - u) + a} = w^(a)_u with pi = 0."""
    w = torch.arange(8, dtype=F64).reshape(4, 1, 1, 2)  # phases (a, b) x taps (1, 2)
    v, pad = subpixel_to_transpose(w, 2, (0, 1))
    assert pad == (0, 0) and v.shape == (1, 1, 2, 4)
    # v[0, 0, a, 2 q + b] = w[2a + b, 0, 0, 1 - q]
    expected = torch.tensor([[1.0, 3.0, 0.0, 2.0], [5.0, 7.0, 4.0, 6.0]], dtype=F64)
    assert torch.equal(v[0, 0], expected)
    w2, pad2 = transpose_to_subpixel(v, 2, 0)
    assert pad2 == (0, 1) and torch.equal(w2, w)


# -- exact singular values --------------------------------------------------------------------
def _dense_matrix(layer, shape):
    """The layer's linear part as a matrix, one column per unit input."""
    n = int(np.prod(shape))
    eye = torch.eye(n, dtype=F64).reshape(n, *shape)
    with torch.no_grad():
        cols = layer(eye)
    return cols.reshape(n, -1).T.numpy()


@pytest.mark.parametrize(
    ("cin", "cout", "k", "r", "n"),
    [(1, 1, 3, 2, (4, 6)), (2, 1, 1, 3, (3, 4)), (3, 2, 3, 2, (4, 4)), (2, 3, 5, 3, (5, 3)),
     (4, 1, 3, 3, (3, 3))],
)  # fmt: skip
def test_singular_values_equal_dense_svd(cin, cout, k, r, n):
    layer, _ = _random_layer(cin, cout, k, r, (k - 1) // 2, cin + k, padding_mode="circular")
    layer.bias = None  # the linear part
    dense = np.linalg.svd(_dense_matrix(layer, (cin, *n)), compute_uv=False)
    s = layer.singular_values((cin, *n))
    assert s.shape == (min(cin, cout * r * r) * n[0] * n[1],)
    np.testing.assert_allclose(s, dense[: s.size], rtol=0, atol=1e-12 * dense[0])
    per_freq = layer.singular_values((cin, *n), flat=False)
    assert per_freq.shape == (*n, min(cin, cout * r * r))
    np.testing.assert_allclose(np.sort(per_freq, axis=None)[::-1], s, rtol=0, atol=1e-13)


# -- ICNR -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("r", "k", "mode"), [(2, 3, "zeros"), (3, 1, "zeros"), (3, 3, "circular")])
def test_icnr_layer_is_nearest_upsampling_of_a_conv_at_init(r, k, mode):
    torch.manual_seed(r + k)
    layer = SubPixelConv2d(3, 2, k, r, padding=k // 2, padding_mode=mode, dtype=F64)
    x = torch.randn(2, 3, 6, 5, dtype=F64)
    with torch.no_grad():
        y = layer(x)
        blocks = y.reshape(2, 2, 6, r, 5, r)
        # every r x r block holds one value (to rounding: the phases are separate channels)
        assert _max_diff(blocks, blocks[:, :, :, :1, :, :1].expand_as(blocks)) <= 1e-14
        conv = nn.Conv2d(3, 2, k, padding=k // 2, padding_mode=mode, dtype=F64)
        conv.load_state_dict({"weight": layer.weight[:: r * r], "bias": layer.bias[:: r * r]})
        assert _max_diff(y, F.interpolate(conv(x), scale_factor=r, mode="nearest")) <= 1e-14
        assert float(y.std()) > 0.1  # not trivially constant
    if mode == "zeros":
        layer.to_conv_transpose()  # a new layer's phase biases are tied: it converts


def test_icnr_uses_the_given_initialiser_once_per_channel():
    w = icnr_(torch.empty(2 * 9, 4, 3, 3, dtype=F64), 3, init=nn.init.ones_)
    assert torch.equal(w, torch.ones_like(w))
    torch.manual_seed(0)
    w = icnr_(torch.empty(3 * 4, 2, 2, 2), 2)
    sub = w.reshape(3, 4, 2, 2, 2)
    assert torch.equal(sub, sub[:, :1].expand_as(sub))
    assert len(torch.unique(sub[:, 0])) == sub[:, 0].numel()  # random within a phase


# -- bad arguments, dtype and device ----------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"in_channels": 0}, ValueError, "in_channels"),
        ({"upscale_factor": 0}, ValueError, "upscale_factor"),
        ({"upscale_factor": 2.0}, TypeError, "upscale_factor"),
        ({"kernel_size": (3, 3, 3)}, ValueError, "kernel_size"),
        ({"padding": "same"}, ValueError, "padding"),
        ({"padding": -1}, ValueError, "padding"),
        ({"padding_mode": "mirror"}, ValueError, "padding_mode"),
        ({"bias": "yes"}, TypeError, "bias"),
        ({"dtype": torch.int64}, ValueError, "dtype"),
    ],
)
def test_bad_constructor_arguments_are_named(kwargs, error, match):
    args = {"in_channels": 2, "out_channels": 1, "kernel_size": 3, "upscale_factor": 2}
    with pytest.raises(error, match=match):
        SubPixelConv2d(**{**args, **kwargs})


def test_refusals_name_what_breaks_the_identity():
    layer, _ = _random_layer(2, 1, 3, 2, 1, 0, tied_bias=False)
    with pytest.raises(ValueError, match="bias differs between the 4 phases"):
        layer.to_conv_transpose()
    with pytest.raises(ValueError, match="stride=1"):
        SubPixelConv2d(2, 1, 3, 2, stride=2).to_conv_transpose()
    with pytest.raises(ValueError, match="padding_mode='zeros'"):
        SubPixelConv2d(2, 1, 3, 2, padding_mode="circular").to_conv_transpose()
    with pytest.raises(TypeError, match="convt must be a torch.nn.ConvTranspose2d"):
        SubPixelConv2d.from_conv_transpose(nn.Conv2d(2, 2, 3))
    with pytest.raises(ValueError, match=r"equal strides .* stride=\(2, 3\)"):
        SubPixelConv2d.from_conv_transpose(nn.ConvTranspose2d(2, 2, 3, stride=(2, 3)))
    with pytest.raises(ValueError, match="never a multiple of r = 2"):
        SubPixelConv2d.from_conv_transpose(nn.ConvTranspose2d(2, 2, 3, stride=2))
    circ = SubPixelConv2d(2, 1, 3, 2, padding=1, padding_mode="circular")
    with pytest.raises(ValueError, match="padding_mode='circular' and stride=1"):
        SubPixelConv2d(2, 1, 3, 2, padding=1).singular_values((2, 4, 4))
    with pytest.raises(ValueError, match="padding = \\(kernel_size - 1\\) / 2"):
        SubPixelConv2d(2, 1, 2, 2, padding=1, padding_mode="circular").singular_values((2, 4, 4))
    with pytest.raises(ValueError, match="C_in=2"):
        circ.singular_values((3, 4, 4))
    with pytest.raises(TypeError, match="input_shape"):
        circ.singular_values(16)
    with pytest.raises(ValueError, match="upscale_factor\\*\\*2 = 4"):
        icnr_(torch.empty(6, 2, 3, 3), 2)
    with pytest.raises(TypeError, match="weight must be a torch.Tensor"):
        icnr_(np.zeros((4, 1, 1, 1)), 2)
    for flat in ("no", 1, None):  # truthy or falsy, a non-bool is refused by name
        with pytest.raises(
            TypeError, match=rf"flat must be a bool \(True or False\), got {flat!r}"
        ):
            circ.singular_values((2, 4, 4), flat=flat)
    for dtype in (torch.int64, torch.bool):  # torch's own error would be NotImplementedError
        with pytest.raises(TypeError, match=f"weight must be a floating tensor.*{dtype}"):
            icnr_(torch.zeros(4, 1, 1, 1, dtype=dtype), 2)
    with pytest.raises(ValueError, match="multiple of upscale_factor\\*\\*2 = 9"):
        subpixel_to_transpose(torch.zeros(4, 1, 1, 1), 3)


def test_dtype_and_device_follow_torch_conventions():
    layer = SubPixelConv2d(2, 1, 3, 2)
    assert layer.weight.dtype == torch.get_default_dtype() and layer.bias.shape == (4,)
    assert layer.weight.shape == (4, 2, 3, 3)
    meta = SubPixelConv2d(2, 1, 3, 2, padding=1, bias=False, device="meta", dtype=torch.float16)
    assert meta.weight.device.type == "meta" and meta.weight.dtype == torch.float16
    convt = meta.to_conv_transpose()
    assert convt.weight.device.type == "meta" and convt.weight.dtype == torch.float16
    assert convt.weight.shape == (2, 1, 6, 6) and convt.padding == (2, 2)
    layer = layer.double()
    convt = layer.to_conv_transpose()
    assert convt.weight.dtype == F64
    back = SubPixelConv2d.from_conv_transpose(convt)
    assert back.weight.dtype == F64 and back.weight.requires_grad
    assert "upscale_factor=2" in repr(back) and "bias=False" in repr(meta)
    y = layer(torch.randn(2, 5, 5, dtype=F64))  # unbatched input, as nn.Conv2d
    assert y.shape == (1, 6, 6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_layer_converts_on_the_device():
    layer, _ = _random_layer(2, 2, 3, 3, 1, 0)
    layer = layer.to("cuda")
    x = torch.randn(1, 2, 6, 6, dtype=F64, device="cuda")
    convt = layer.to_conv_transpose()
    assert convt.weight.device.type == "cuda"
    assert _max_diff(layer(x), convt(x)) <= 1e-12
