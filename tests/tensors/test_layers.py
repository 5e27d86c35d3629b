"""Tests of the factorized convolution layers in :mod:`tensors.layers`.

References: ``F.conv{1,2,3}d`` with the kernel the factors reconstruct (float64, 1e-10 absolute
on O(1) data), after ``F.pad`` for non-zero padding modes; the dense ``nn.Conv`` for
``from_conv`` at full rank (1e-6 absolute, float64 and float32); torch's ``FlopCounterMode`` for
the FLOP counters; ``torch.autograd.gradcheck`` (finite differences) for the backward pass.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from tensors import (
    CPConv1d,
    CPConv2d,
    CPConv3d,
    FactorizedConv,
    TTConv1d,
    TTConv2d,
    TTConv3d,
    TuckerConv1d,
    TuckerConv2d,
    TuckerConv3d,
    conv_flops,
    count_parameters,
    max_rank,
)
from tests.conftest import DEVICES

LAYERS = {
    1: (CPConv1d, TuckerConv1d, TTConv1d),
    2: (CPConv2d, TuckerConv2d, TTConv2d),
    3: (CPConv3d, TuckerConv3d, TTConv3d),
}
CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
NN_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


@st.composite
def conv_cases(draw):
    nd = draw(st.sampled_from([2, 2, 1, 3]))
    axes = st.lists(st.integers(1, 3), min_size=nd, max_size=nd)
    k, s, d = draw(axes), draw(axes), draw(st.lists(st.integers(1, 2), min_size=nd, max_size=nd))
    p = draw(st.lists(st.integers(0, 2), min_size=nd, max_size=nd))
    size = [draw(st.integers(d_ * (k_ - 1) + 1, 9)) for k_, d_ in zip(k, d)]
    cls = draw(st.sampled_from(LAYERS[nd]))
    i, o = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    rank = draw(st.integers(1, min(max_rank(cls._KIND, (o, i, *k)))))
    impl = draw(st.sampled_from(["factorized", "factorized", "reconstructed"]))
    return cls, nd, i, o, k, s, p, d, size, rank, draw(st.booleans()), impl


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=60, deadline=None)
@given(case=conv_cases(), seed=st.integers(0, 2**16))
def test_equals_conv_with_reconstructed_kernel(device, case, seed):
    """Random layer, shapes, stride, padding, dilation: the factorized forward equals
    F.convNd(x, layer.weight) to 1e-10 in float64."""
    cls, nd, i, o, k, s, p, d, size, rank, bias, impl = case
    torch.manual_seed(seed)
    layer = cls(
        i,
        o,
        k,
        s,
        p,
        d,
        bias=bias,
        rank=rank,
        implementation=impl,
        device=device,
        dtype=torch.float64,
    )
    x = torch.randn(2, i, *size, dtype=torch.float64, device=device)
    ref = CONV[nd](x, layer.weight, layer.bias, s, p, d)
    got = layer(x)
    assert got.shape == ref.shape
    assert (got - ref).abs().max().item() < 1e-10


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("impl", ["factorized", "reconstructed"])
@pytest.mark.parametrize("mode", ["circular", "reflect", "replicate"])
@pytest.mark.parametrize("kind", ["cp", "tucker", "tt"])
def test_padding_modes_and_same(device, mode, kind, impl):
    """Non-zero padding modes equal F.pad + valid conv; 'same' equals torch's 'same'."""
    torch.manual_seed(0)
    layer = FactorizedConv(
        3,
        4,
        (3, 2),
        2,
        (2, 1),
        (1, 2),
        padding_mode=mode,
        rank=2,
        kind=kind,
        implementation=impl,
        device=device,
        dtype=torch.float64,
    )
    x = torch.randn(2, 3, 8, 9, dtype=torch.float64, device=device)
    ref = F.conv2d(F.pad(x, (1, 1, 2, 2), mode=mode), layer.weight, layer.bias, 2, 0, (1, 2))
    assert (layer(x) - ref).abs().max().item() < 1e-10
    same = FactorizedConv(
        3,
        4,
        (4, 3),
        padding="same",
        dilation=(1, 2),
        rank=2,
        kind=kind,
        implementation=impl,
        device=device,
        dtype=torch.float64,
    )
    ref = F.conv2d(x, same.weight, same.bias, padding="same", dilation=(1, 2))
    assert (same(x) - ref).abs().max().item() < 1e-10


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("kind", ["cp", "tucker", "tt"])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_from_conv_full_rank(device, nd, kind, dtype):
    """from_conv at full rank reproduces the dense conv to 1e-6 relative (max-abs error over the
    max-abs output) in float64, where it in fact reaches 1e-12; in float32 the four-stage
    product rounds differently from one conv (sums of ~40 terms, eps 1.2e-7): 1e-5 relative."""
    torch.manual_seed(1)
    conv = NN_CONV[nd](4, 5, 3, stride=2, padding=1, dilation=1, device=device, dtype=dtype)
    cls = LAYERS[nd][["cp", "tucker", "tt"].index(kind)]
    layer = cls.from_conv(conv, "full")
    x = torch.randn(2, 4, *([7] * nd), device=device, dtype=dtype)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    ref = conv(x)
    scale = ref.abs().max().item()
    assert (layer(x) - ref).abs().max().item() < tol * scale
    assert layer.decomposition_error < 10 * tol
    generic = FactorizedConv.from_conv(conv, "full", kind=kind)
    assert (generic(x) - ref).abs().max().item() < tol * scale


def test_from_conv_low_rank_error_is_reported():
    """A truncated from_conv keeps the bias and reports the kernel error, which lies between
    the Eckart-Young and HOSVD bounds from the singular values of the (out, in) unfoldings."""
    torch.manual_seed(2)
    conv = nn.Conv2d(8, 8, 3, padding=1, dtype=torch.float64)
    layer = TuckerConv2d.from_conv(conv, (4, 4))
    assert torch.equal(layer.bias, conv.bias)
    w_err = (layer.weight - conv.weight).norm() / conv.weight.norm()
    assert layer.decomposition_error == pytest.approx(w_err.item(), rel=1e-10)
    # rank-(4, 4) Tucker on the (out, in) modes: Eckart-Young on each capped unfolding below,
    # the HOSVD bound above (tails of the singular values of the two mode unfoldings)
    W = conv.weight.detach().numpy()
    sv = [np.linalg.svd(np.moveaxis(W, k, 0).reshape(8, -1), compute_uv=False) for k in (0, 1)]
    tails = [np.sqrt(np.sum(s[4:] ** 2)) for s in sv]
    norm = np.linalg.norm(W)
    lower, upper = max(tails) / norm, np.sqrt(np.sum(np.square(tails))) / norm
    assert lower * (1 - 1e-12) <= layer.decomposition_error <= upper * (1 + 1e-12)


def test_backward_matches_finite_differences():
    """gradcheck on every factor, the bias and the input (float64)."""
    torch.manual_seed(3)
    for cls in LAYERS[2]:
        layer = cls(2, 3, 3, stride=2, padding=1, rank=2, dtype=torch.float64)
        x = torch.randn(1, 2, 5, 5, dtype=torch.float64, requires_grad=True)
        params = tuple(layer.parameters())

        def f(x, *ps, layer=layer, params=params):
            return torch.func.functional_call(
                layer, dict(zip([n for n, _ in layer.named_parameters()], ps)), (x,)
            )

        assert torch.autograd.gradcheck(f, (x, *params))


@pytest.mark.parametrize("cls", LAYERS[2])
def test_init_variance_matches_dense(cls):
    """From scratch E[W^2] = 1/(3 fan_in), that of nn.Conv2d: the mean square over 300 layers
    is within 10 % (entries of one layer share factors, so one layer alone is a noisy estimate;
    the standard error of this mean is about 3 %)."""
    torch.manual_seed(4)
    msq = [cls(16, 16, 3, rank=8, dtype=torch.float64).weight.square().mean() for _ in range(300)]
    assert torch.stack(msq).mean().item() == pytest.approx(1.0 / (3 * 16 * 9), rel=0.10)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_counters(nd):
    """n_parameters by hand; flops equal torch's FlopCounterMode (2 per multiply-add), for
    both implementations (the reconstructed one: its convolution only)."""
    i, o, k, r = 6, 8, 3, 2
    shapes = {
        "cp": o * r + i * r + nd * k * r,
        "tucker": o * r + i * r + r * r * k**nd,
        "tt": i * r + nd * r * k * r + r * o,
    }
    size = (9, 8, 7)[:nd]
    for cls in LAYERS[nd]:
        layer = cls(i, o, k, stride=2, padding=(1, 2, 0)[:nd], padding_mode="circular", rank=r)
        assert layer.n_parameters() == shapes[cls._KIND] + o == count_parameters(layer)
        assert layer.dense_parameters() == o * i * k**nd + o
        with FlopCounterMode(display=False) as counter:
            layer(torch.randn(1, i, *size))
        assert layer.flops(size) == counter.get_total_flops() == conv_flops(layer, size)
        layer.implementation = "reconstructed"  # count the convolution, not the einsum
        with FlopCounterMode(display=False) as counter:
            layer(torch.randn(1, i, *size))
        counts = counter.get_flop_counts()["Global"]
        assert layer.flops(size) == sum(v for op, v in counts.items() if "conv" in str(op))
    dense = NN_CONV[nd](i, o, k, stride=2, padding=1)
    with FlopCounterMode(display=False) as counter:
        dense(torch.randn(1, i, *size))
    assert conv_flops(dense, size) == counter.get_total_flops()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: CPConv2d(4, 4, 3, rank=0), "rank"),
        (lambda: CPConv2d(4, 4, 3, rank=-1), "rank"),
        (lambda: CPConv2d(4, 4, 3, rank=49), "too large"),
        (lambda: TuckerConv2d(4, 4, 3, rank=(5, 4)), "too large"),
        (lambda: TTConv2d(4, 4, 3, rank=(5, 4, 4)), "too large"),
        (lambda: CPConv2d(4, 4, 3, groups=2, rank=2), "groups"),
        (lambda: CPConv2d(4, 4, 3, stride=2, padding="same", rank=2), "same"),
        (lambda: CPConv2d(4, 4, 3, padding_mode="wrap", rank=2), "padding_mode"),
        (lambda: CPConv2d.from_conv(nn.Conv1d(4, 4, 3), 2), "conv"),
        (lambda: CPConv2d.from_conv(nn.Conv2d(4, 4, 3), 50), "rank"),
        (lambda: CPConv2d.from_conv(nn.Conv2d(4, 4, 3), 2, kind="tt"), "kind"),
        (lambda: FactorizedConv.from_conv(nn.Conv2d(4, 4, 3), 2), "kind"),
        (lambda: CPConv2d(4, 4, 3, rank=2, implementation="fast"), "implementation"),
        (lambda: CPConv2d(4, 4, 3, rank=2)(torch.randn(1, 3, 5, 5)), "input"),
    ],
)
def test_bad_arguments(make, match):
    """ValueError naming the argument for each bad input."""
    with pytest.raises(ValueError, match=match):
        make()
