"""Linear interpreters (`sciconv.interpret`), each identity against a reference outside it.

* f(x) = A(x) x + c(x) against the model's own forward (float64) to 1e-12, on a zoo that covers
  every supported layer and on random architectures drawn by hypothesis;
* A v and A^T u against torch.func.jvp / vjp for piecewise-linear models (1e-12), dot test;
* a bias-free purely linear network against the product of ConvOperator.to_dense() matrices
  (assembled from index maps, not by torch's convolution);
* svds' top singular values against the SVD of torch.autograd.functional.jacobian;
* gates against their closed forms; refusals name the layer, the mode or the shape.

Run time: about 10 s on one core.
"""

from __future__ import annotations

import copy
import itertools
import warnings
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from sciconv import ConvOperator, dottest
from sciconv.interpret import Concat, Residual, UnsupportedLayerError, linear_interpreter

TOL = 1e-12

# torch.func.jvp's own decompositions call torch.jit.script, deprecated in torch 2.10+; torch's
# Conv2d warns that padding='same' with an even kernel copies the input (the model's forward)
pytestmark = [
    pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated"),
    pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths"),
]


def _bn(layer: nn.Module, seed: int) -> nn.Module:
    """A BatchNorm with non-trivial running statistics and affine parameters."""
    g = torch.Generator().manual_seed(seed)
    n = layer.num_features
    with torch.no_grad():
        layer.running_mean.copy_(torch.randn(n, generator=g))
        layer.running_var.copy_(torch.rand(n, generator=g) + 0.5)
        layer.weight.copy_(torch.randn(n, generator=g))
        layer.bias.copy_(torch.randn(n, generator=g))
    return layer


class Functional(nn.Module):
    """Residuals, constants, concatenation and reshapes written in forward (traced by fx)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.register_buffer("shift", torch.linspace(-1, 1, 8).reshape(1, 1, 1, 8))
        self.fc = nn.Linear(192, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.conv(x)) + 0.5
        y = torch.cat([y, x * 2.0, -x, self.shift.expand(1, 1, 8, 8)], dim=1)
        y = y[:, :6] + self.shift
        y = y.permute(0, 1, 3, 2).contiguous() / 4.0
        y = F.leaky_relu(y, 0.2) - y.transpose(2, 3) * 0.5
        y = torch.flatten(y[:, :, ::2, :], 1).view(1, 192)
        return torch.sigmoid(self.fc(y))


def zoo() -> dict[str, tuple[nn.Module, tuple[int, ...], bool]]:
    """name -> (model, input shape, piecewise linear)."""
    torch.manual_seed(0)
    d1 = nn.Sequential(
        nn.Conv1d(2, 4, 3, stride=2, dilation=2, padding=2, padding_mode="reflect"),
        _bn(nn.BatchNorm1d(4), 1),
        nn.LeakyReLU(0.1),
        nn.Conv1d(4, 4, 3, groups=2, padding="same", padding_mode="circular"),
        nn.MaxPool1d(3, stride=2, padding=1, ceil_mode=True),
        nn.AvgPool1d(3, stride=2, padding=1, count_include_pad=False, ceil_mode=True),
        nn.Upsample(scale_factor=3, mode="linear"),
        nn.AdaptiveAvgPool1d(5),
        nn.ConvTranspose1d(4, 3, 4, stride=2, padding=1, output_padding=1),
        nn.Flatten(),
        nn.Linear(33, 5),
        nn.PReLU(),
    )
    d2 = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, padding_mode="circular"),
        _bn(nn.BatchNorm2d(8), 2),
        nn.PReLU(8),
        Residual(nn.Sequential(nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4), nn.ReLU())),
        Concat(nn.Identity(), nn.Conv2d(8, 4, 1)),
        nn.MaxPool2d(3, stride=2, padding=1, dilation=1),
        nn.PixelShuffle(2),
        nn.Upsample(size=(11, 9), mode="bilinear", align_corners=True),
        nn.AvgPool2d(3, stride=2, padding=1, divisor_override=5),
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(3, 8, 2, stride=2, bias=False),
        nn.ChannelShuffle(2),
        nn.PixelUnshuffle(1),
        nn.AdaptiveMaxPool2d((2, 3)),
        nn.Dropout(0.5),
        nn.Flatten(),
        nn.Linear(48, 10),
    )
    d3 = nn.Sequential(
        nn.Conv3d(1, 4, 3, padding=1),
        _bn(nn.BatchNorm3d(4), 3),
        nn.ReLU(inplace=True),
        nn.MaxPool3d(2),
        nn.Upsample(scale_factor=2, mode="trilinear"),
        nn.AvgPool3d(2, stride=1),
        nn.AdaptiveAvgPool3d((2, 1, 3)),
        nn.ConvTranspose3d(4, 2, 3, stride=2, padding=1),
        nn.Flatten(),
        nn.Linear(2 * 3 * 1 * 5, 3),
    )
    gates = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.SiLU(),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.GELU(),
        nn.Conv2d(4, 4, 1),
        nn.GELU(approximate="tanh"),
        nn.Upsample(scale_factor=2, mode="bicubic"),
        nn.Conv2d(4, 4, 3, stride=2),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(4 * 7 * 7, 3),
        nn.Sigmoid(),
    )
    return {
        "1d": (d1.eval(), (1, 2, 23), True),
        "2d": (d2.eval(), (1, 1, 12, 12), True),
        "3d": (d3.eval(), (1, 1, 6, 4, 6), True),
        "functional": (Functional().eval(), (1, 2, 8, 8), False),
        "gates": (gates.eval(), (1, 2, 8, 8), False),
    }


ZOO = zoo()


def _x(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _reference(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model).to(torch.float64)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_reconstruction_and_dot_test(name):
    model, shape, _ = ZOO[name]
    x = _x(shape)
    li = linear_interpreter(model, x)
    with torch.no_grad():
        f = _reference(model)(x).reshape(-1).numpy()
    rebuilt = li.A @ x.reshape(-1).numpy() + li.c
    assert np.max(np.abs(rebuilt - f)) <= TOL * max(1.0, np.max(np.abs(f)))
    assert li.reconstruction_error <= TOL
    assert dottest(li.A, rng=0) <= TOL
    assert dottest(li.A, dtype="complex128", rng=1) <= TOL
    assert li.is_jacobian == ZOO[name][2]


@pytest.mark.parametrize("name", [n for n in sorted(ZOO) if ZOO[n][2]])
def test_piecewise_linear_operator_is_jvp_and_adjoint_is_vjp(name):
    model, shape, _ = ZOO[name]
    x = _x(shape)
    li = linear_interpreter(model, x)
    ref = _reference(model)
    v = _x(shape, seed=1)
    out, jv = torch.func.jvp(ref, (x,), (v,))
    u = _x(tuple(out.shape), seed=2)
    _, pullback = torch.func.vjp(ref, x)
    (ju,) = pullback(u)
    av = li.A @ v.reshape(-1).numpy()
    atu = li.A.rmatvec(u.reshape(-1).numpy())
    assert np.max(np.abs(av - jv.detach().reshape(-1).numpy())) <= TOL * max(1.0, np.abs(av).max())
    assert np.max(np.abs(atu - ju.detach().reshape(-1).numpy())) <= TOL * max(
        1.0, np.abs(atu).max()
    )


def test_gates_are_frozen_at_the_sample_not_differentiated():
    """SiLU freezes to diag(sigmoid(z)); sigmoid to 1/2 + diag(tanh(z/2)/(2z)) z; tanh to
    diag(tanh(z)/z) (closed forms in numpy); none of them is the Jacobian."""
    x = _x((1, 3, 5))
    z = x.reshape(-1).numpy()
    sig = 1 / (1 + np.exp(-z))
    for layer, gain, offset in (
        (nn.SiLU(), sig, 0.0),
        (nn.Sigmoid(), np.tanh(z / 2) / (2 * z), 0.5),
        (nn.Tanh(), np.tanh(z) / z, 0.0),
    ):
        li = linear_interpreter(layer, x)
        assert np.allclose(li.A @ np.eye(15), np.diag(gain), rtol=TOL, atol=TOL)
        assert np.allclose(li.c, offset, rtol=0, atol=TOL)
        _, jv = torch.func.jvp(layer, (x,), (torch.ones_like(x),))
        assert np.max(np.abs(li.A @ np.ones(15) - jv.detach().reshape(-1).numpy())) > 1e-3


@pytest.mark.parametrize(
    ("conv", "shape"),
    [
        (nn.Conv1d, (1, 2, 17)),
        (nn.Conv2d, (1, 2, 9, 8)),
        (nn.Conv3d, (1, 2, 5, 6, 6)),
    ],
)
def test_linear_network_is_the_product_of_conv_operators(conv, shape):
    torch.manual_seed(3)
    c1 = conv(2, 4, 3, stride=2, padding=1, padding_mode="circular", bias=False)
    c2 = conv(4, 4, 3, dilation=2, padding=2, groups=2, bias=False, padding_mode="reflect")
    c3 = conv(4, 3, 2, bias=False)
    model = nn.Sequential(c1, c2, c3)
    li = linear_interpreter(model, _x(shape))
    in1 = shape[1:]
    op1 = ConvOperator(c1.weight.detach().double(), in1, stride=2, padding="circular", pad_width=1)
    op2 = ConvOperator(
        c2.weight.detach().double(),
        op1.out_shape,
        dilation=2,
        groups=2,
        padding="reflect",
        pad_width=2,
    )
    op3 = ConvOperator(c3.weight.detach().double(), op2.out_shape, padding="valid")
    dense = op3.to_dense() @ op2.to_dense() @ op1.to_dense()
    got = li.A @ np.eye(li.A.shape[1])
    assert got.shape == dense.shape
    assert np.max(np.abs(got - dense)) <= TOL * np.abs(dense).max()
    assert not np.any(li.c)  # no bias anywhere: the offset is exactly zero
    assert li.out_shape == op3.out_shape


def _small_classifier() -> nn.Module:
    torch.manual_seed(4)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3),
        nn.LeakyReLU(0.05),
        nn.Flatten(),
        nn.Linear(6 * 2 * 2, 5),
    ).eval()


def test_svds_rows_columns_and_votes_match_the_dense_jacobian():
    model = _small_classifier()
    x = _x((1, 1, 8, 8), seed=5)
    li = linear_interpreter(model, x)
    jac = torch.autograd.functional.jacobian(_reference(model), x).reshape(5, 64).numpy()
    s_ref = np.linalg.svd(jac, compute_uv=False)
    s, U, V = li.singular_vectors(k=3)
    assert np.allclose(s, s_ref[:3], rtol=1e-10, atol=0)
    for k in range(3):  # A v_k = s_k u_k, from the dense Jacobian
        assert np.allclose(jac @ V[k].ravel(), s[k] * U[k].ravel(), atol=1e-10 * s[0])
    assert np.allclose(li.row_image(3), jac[3].reshape(1, 8, 8), rtol=0, atol=TOL)
    assert np.allclose(li.row_image((3,)), li.row_image(3))
    assert np.allclose(li.column_image((0, 2, 5)), jac[:, 21], rtol=0, atol=TOL)
    votes = li.vote_maps()
    assert np.allclose(votes, jac.reshape(5, 1, 8, 8) * x.numpy(), rtol=0, atol=TOL)
    assert np.allclose(votes.sum(axis=(1, 2, 3)), li.f - li.c, rtol=0, atol=1e-12)
    share = np.linalg.norm(li.c) / np.linalg.norm(li.f)
    assert li.bias_share == pytest.approx(share, rel=1e-15)


def test_the_model_is_left_as_it_was():
    model = _small_classifier()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    li = linear_interpreter(model, np.ones((1, 1, 8, 8), dtype=np.float32))
    assert li.A.dtype == np.float64
    after = model.state_dict()
    assert all(after[k].dtype == torch.float32 and torch.equal(after[k], before[k]) for k in after)


_UNITS = ("relu", "leaky", "prelu", "silu", "gelu", "tanh", "sigmoid")


@st.composite
def architectures(draw):
    """A random small 1D, 2D or 3D network: (model, input shape, whether piecewise linear)."""
    seed = draw(st.integers(0, 2**16))
    torch.manual_seed(seed)
    d = draw(st.integers(1, 3))
    big = {1: 24, 2: 10, 3: 5}[d]  # largest size along an axis before upsampling
    c0, n0 = draw(st.integers(1, 3)), draw(st.integers(4, big))
    c, n = c0, n0
    layers: list[nn.Module] = []
    linear = True
    kinds = ["conv", "bn", "unit", "pool", "adaptive", "up", "shuffle", "res", "cat", "convt"]
    conv, convt = getattr(nn, f"Conv{d}d"), getattr(nn, f"ConvTranspose{d}d")
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(kinds))
        if kind == "conv":
            k, s, dil = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
            p = draw(st.integers(0, min(2, n - 1)))
            if n + 2 * p < dil * (k - 1) + 1:
                continue
            c2 = c * draw(st.integers(1, 2))
            g = draw(st.sampled_from([1, c]))
            mode = draw(st.sampled_from(["zeros", "circular", "reflect"]))
            layers.append(conv(c, c2, k, s, p, dil, g, padding_mode=mode))
            c, n = c2, (n + 2 * p - dil * (k - 1) - 1) // s + 1
        elif kind == "convt" and n <= big:
            layers.append(
                convt(c, c, 3, stride=2, padding=1, output_padding=draw(st.integers(0, 1)))
            )
            n = 2 * n - 1 + layers[-1].output_padding[0]
        elif kind == "bn":
            layers.append(_bn(getattr(nn, f"BatchNorm{d}d")(c), seed))
        elif kind == "unit":
            unit = draw(st.sampled_from(_UNITS))
            linear &= unit in ("relu", "leaky", "prelu")
            layers.append(
                {
                    "relu": nn.ReLU(),
                    "leaky": nn.LeakyReLU(0.3),
                    "prelu": nn.PReLU(c),
                    "silu": nn.SiLU(),
                    "gelu": nn.GELU(),
                    "tanh": nn.Tanh(),
                    "sigmoid": nn.Sigmoid(),
                }[unit]
            )
        elif kind == "pool" and n >= 4:
            if draw(st.booleans()):
                layers.append(getattr(nn, f"MaxPool{d}d")(2, ceil_mode=draw(st.booleans())))
                n = (n + 1) // 2 if layers[-1].ceil_mode else n // 2
            else:
                pad = draw(st.booleans())
                layers.append(getattr(nn, f"AvgPool{d}d")(3, 2, 1, count_include_pad=pad))
                n = (n - 1) // 2 + 1
        elif kind == "adaptive" and n >= 3:
            kind = draw(st.sampled_from(["Avg", "Max"]))
            layers.append(getattr(nn, f"Adaptive{kind}Pool{d}d")(n - 1))
            n -= 1
        elif kind == "up" and n <= big:
            smooth = {1: "linear", 2: "bilinear", 3: "trilinear"}[d]
            mode = draw(st.sampled_from(["nearest", smooth]))
            layers.append(nn.Upsample(scale_factor=2, mode=mode))
            n *= 2
        elif kind == "shuffle" and d == 2 and n <= big:
            layers += [nn.Conv2d(c, 4 * c, 1), nn.PixelShuffle(2)]
            n *= 2
        elif kind == "res":
            layers.append(Residual(nn.Sequential(conv(c, c, 3, padding=1), nn.ReLU())))
        elif kind == "cat":
            layers.append(Concat(nn.Identity(), conv(c, 1, 1)))
            c += 1
    layers += [nn.Flatten(), nn.Linear(c * n**d, 3)]
    return nn.Sequential(*layers).eval(), (1, c0, *([n0] * d)), linear


@settings(max_examples=40, deadline=None, derandomize=True)
@given(arch=architectures())
def test_random_architectures(arch):
    """A x + c = f and the dot test on random architectures; A = jvp when piecewise linear."""
    model, shape, linear = arch
    x = _x(shape, seed=7)
    li = linear_interpreter(model, x)
    assert li.reconstruction_error <= TOL
    assert dottest(li.A, rng=0) <= TOL
    assert li.is_jacobian == linear
    if linear:
        v = _x(shape, seed=8)
        _, jv = torch.func.jvp(_reference(model), (x,), (v,))
        av = li.A @ v.reshape(-1).numpy()
        assert np.max(np.abs(av - jv.detach().reshape(-1).numpy())) <= TOL * max(
            1.0, np.abs(av).max()
        )


# -- refusals: each names what is wrong -------------------------------------------------------


class _Sin(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x)


class _Product(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.relu(x)


class _KeywordAdd(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.add(x, other=x)


class _Branchy(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if x.sum() > 0 else -x


class _BatchMix(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(-1)


@pytest.mark.parametrize(
    ("model", "words"),
    [
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sequential(nn.ReLU(), nn.ELU())), ["'1.1'", "ELU"]),
        (
            nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, padding_mode="replicate")),
            ["'0'", "replicate"],
        ),
        (nn.Sequential(nn.Identity(), _Sin()), ["torch.sin", "'1' (", "_Sin", "not supported"]),
        (_Product(), ["multiplies two signals"]),
        (_BatchMix(), ["batch axis"]),
        (_KeywordAdd(), ["torch.add", "['other']"]),
    ],
)
def test_unsupported_layers_are_named(model, words):
    with pytest.raises(UnsupportedLayerError) as info:
        linear_interpreter(model.eval(), torch.ones(1, 1, 5, 5))
    assert all(w in str(info.value) for w in words), str(info.value)


def test_refusals_name_the_argument_or_the_layer():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    with pytest.raises(ValueError, match=r"layer '1' \(torch.nn.modules.batchnorm.BatchNorm2d\)"):
        linear_interpreter(net.train(), torch.ones(1, 1, 5, 5))
    no_stats = nn.Sequential(nn.BatchNorm2d(1, track_running_stats=False)).eval()
    with pytest.raises(ValueError, match="track_running_stats=False"):
        linear_interpreter(no_stats, torch.ones(1, 1, 5, 5))
    net.eval()
    with pytest.raises(ValueError, match=r"leading batch axis of 1.*\(2, 1, 5, 5\)"):
        linear_interpreter(net, torch.ones(2, 1, 5, 5))
    with pytest.raises(ValueError, match=r"cannot be evaluated at x of .*\(1, 3, 5, 5\)"):
        linear_interpreter(net, torch.ones(1, 3, 5, 5))
    with pytest.raises(ValueError, match="x must be finite"):
        linear_interpreter(net, torch.full((1, 1, 5, 5), float("nan")))
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        linear_interpreter(lambda t: t, torch.ones(1, 1, 5, 5))
    with pytest.raises(TypeError, match="cannot be traced by torch.fx"):
        linear_interpreter(_Branchy(), torch.ones(1, 1, 5, 5))
    li = linear_interpreter(net, torch.ones(1, 1, 5, 5))
    with pytest.raises(ValueError, match=r"i must be in \[0, 18\), got 18"):
        li.row_image(18)
    with pytest.raises(ValueError, match=r"k must be < min\(A.shape\) = 18"):
        li.singular_vectors(k=18)
    big = linear_interpreter(nn.Identity(), torch.ones(1, 8193))
    with pytest.raises(ValueError, match=r"8193 x 8193 = 67125249 entries"):
        big.vote_maps()


def test_tour_section_runs_and_its_checks_hold(capsys, tmp_path, monkeypatch):
    """`sciconv tour --only LinearScope`: one section, five checks, all ok; its printed figures
    are at rounding level (tests/sciconv/test_cli.py lists the other sections)."""
    import re

    from sciconv.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["tour", "--only", "LinearScope"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n[1/1] ") == 1 and "FAILED" not in out, out
    assert out.count("\n  ok: ") == 5, out
    gaps = [float(g) for g in re.findall(r"(?:[|] = |gap |SVD )([0-9.]+e-\d+)", out)]
    assert len(gaps) == 5 and max(gaps) < 1e-12, out


# -- single layers as models, the geometries torch allows -------------------------------------

LAYERS = {
    "conv same, even kernel": (nn.Conv2d(2, 3, 4, padding="same", dilation=(1, 2)), (1, 2, 9, 10)),
    "conv same reflect": (nn.Conv1d(2, 3, 4, padding="same", padding_mode="reflect"), (1, 2, 11)),
    "conv same circular 3d": (
        nn.Conv3d(1, 2, (2, 3, 4), padding="same", padding_mode="circular"),
        (1, 1, 5, 6, 7),
    ),
    "conv valid reflect": (
        nn.Conv2d(2, 3, 3, padding="valid", padding_mode="reflect"),
        (1, 2, 7, 7),
    ),
    "conv per-axis padding": (nn.Conv2d(2, 3, 3, padding=(0, 2), stride=(2, 1)), (1, 2, 7, 7)),
    "upsample x1.5 bilinear": (nn.Upsample(scale_factor=1.5, mode="bilinear"), (1, 2, 5, 7)),
    "upsample recomputed scale": (
        nn.Upsample(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True),
        (1, 2, 5, 7),
    ),
    "upsample nearest-exact": (nn.Upsample(scale_factor=1.6, mode="nearest-exact"), (1, 2, 5, 7)),
    "upsample bicubic corners": (
        nn.Upsample(scale_factor=2, mode="bicubic", align_corners=True),
        (1, 2, 5, 7),
    ),
    "avg pool ceil, pad counted": (
        nn.AvgPool2d(2, stride=3, padding=1, ceil_mode=True, count_include_pad=True),
        (1, 2, 7, 8),
    ),
    "max pool dilated ceil": (
        nn.MaxPool2d(3, stride=2, padding=1, dilation=2, ceil_mode=True),
        (1, 2, 9, 8),
    ),
    "adaptive max pool 3d": (nn.AdaptiveMaxPool3d((2, 3, 1)), (1, 2, 5, 7, 3)),
    "linear on the last axis": (nn.Linear(7, 4), (1, 2, 5, 7)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_single_layers(name):
    layer, shape = LAYERS[name]
    x = _x(shape, seed=9)
    li = linear_interpreter(layer.eval(), x)
    assert li.reconstruction_error <= TOL
    assert dottest(li.A, rng=0) <= TOL
    v = _x(shape, seed=10)
    _, jv = torch.func.jvp(_reference(layer), (x,), (v,))
    av = li.A @ v.reshape(-1).numpy()
    assert np.max(np.abs(av - jv.detach().reshape(-1).numpy())) <= TOL * max(1, np.abs(av).max())


def test_transposed_convolutions_with_every_output_padding():
    """Every (stride, dilation, padding, output_padding) torch accepts, output padding beyond
    the kernel's reach (appended zeros) included: A x + c = f and the dot test."""
    torch.manual_seed(6)
    seen = 0
    for s, d, p, op in itertools.product((1, 2, 3), (1, 3), (0, 1, 2), (0, 1, 2)):
        if op >= max(s, d):
            continue
        layer = nn.ConvTranspose2d(2, 3, (3, 2), (s, 1), (p, 0), (op, 0), dilation=(d, 1))
        li = linear_interpreter(layer, _x((1, 2, 5, 3), seed=seen))
        assert li.reconstruction_error <= TOL and dottest(li.A, rng=0) <= TOL, (s, d, p, op)
        seen += 1
    assert seen == 45


# --- review fixes: tuple outputs, in-place ops, unbatched x, f = 0, containers, more units ---


def _dense_and_jacobian(model: nn.Module, x: torch.Tensor) -> tuple[Any, np.ndarray, np.ndarray]:
    """The interpretation, A as a dense matrix (n products), and the float64 Jacobian by
    torch.autograd.functional.jacobian (independent of the freeze)."""
    li = linear_interpreter(model, x)
    dense = np.stack([li.A.matvec(e) for e in np.eye(li.A.shape[1])], axis=1)
    ref = _reference(model)
    x64 = x.to(torch.float64)
    jac = torch.autograd.functional.jacobian(
        lambda v: ref(v.reshape(x64.shape).clone()).reshape(-1), x64.reshape(-1)
    )
    return li, dense, jac.numpy()


class _ChunkResidual(nn.Module):
    """The reviewer's model: conv(x) + x.chunk(2, 1)[0] (A was wrong: the piece went to c)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(2, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, _ = x.chunk(2, 1)
        return self.conv(x) + a


class _Splits(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv(x))
        a, b = torch.split(h, [1, 3], dim=1)
        c, d = h.tensor_split(2, dim=2)
        u = h.unbind(1)[2].unsqueeze(1)
        return torch.cat([a * 2.0 - b[:, 1:2], u, torch.cat([d, c], 2)[:, :1]], 1)


@pytest.mark.parametrize("model", [_ChunkResidual(), _Splits()], ids=["chunk", "split"])
def test_chunk_split_unbind_match_the_autograd_jacobian(model):
    channels = 2 if isinstance(model, _ChunkResidual) else 4
    x = _x((1, channels, 6), seed=3)
    li, dense, jac = _dense_and_jacobian(model.eval(), x)
    assert np.max(np.abs(dense - jac)) <= TOL
    assert np.max(np.abs(_transpose_of(li) - jac)) <= TOL
    assert li.reconstruction_error <= TOL and li.is_jacobian
    with torch.no_grad():  # an affine net's offset is the output at 0 (independent of A)
        if isinstance(model, _ChunkResidual):
            zero = _reference(model)(torch.zeros_like(x)).reshape(-1).numpy()
            assert np.max(np.abs(li.c - zero)) <= TOL


def _transpose_of(li: Any) -> np.ndarray:
    return np.stack([li.A.rmatvec(e) for e in np.eye(li.A.shape[0])], axis=1).T


class _CatOfChunks(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(x.chunk(2, 1), 1)


class _MaxValues(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.max(x, 1)[0]


@pytest.mark.parametrize(
    ("model", "words"),
    [(_CatOfChunks(), ["torch.cat", "whole tuple"]), (_MaxValues(), ["torch.max", "tuples only"])],
)
def test_other_tuple_uses_are_refused_by_name(model, words):
    with pytest.raises(UnsupportedLayerError) as info:
        linear_interpreter(model, _x((1, 2, 5)))
    assert all(w in str(info.value) for w in words), str(info.value)


class _FunctionalInPlace(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(2, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)
        return F.relu(h, inplace=True) + h


class _AddUnderscore(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(2, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)
        h.add_(1.0)
        return h


class _AugmentedAdd(nn.Module):
    """``h += x`` also changes ``g`` (the same tensor) in eager mode; fx records h + x."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(2, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)
        g = h
        h += x
        return h + g


def test_in_place_operations_are_refused_or_caught():
    conv = nn.Conv1d(2, 2, 3, padding=1)
    shared = nn.Sequential(conv, Residual(nn.Sequential(nn.ReLU(inplace=True), conv)))
    x = _x((1, 2, 6), seed=4)
    cases = [
        (shared, ["'1.body.0'", "ReLU", "inplace=True"]),
        (_FunctionalInPlace(), ["torch.nn.functional.relu", "inplace=True"]),
        (_AddUnderscore(), [".add_()", "in-place"]),
        (nn.Sequential(nn.ReLU(inplace=True), conv), ["'0'", "model input"]),
    ]
    for model, words in cases:
        with pytest.raises(UnsupportedLayerError) as info:
            linear_interpreter(model.eval(), x)
        assert all(w in str(info.value) for w in words), str(info.value)
    # the safety net: a mutation fx cannot see makes A x + c differ from the eager output
    with pytest.raises(ValueError, match="does not reproduce the model at x"):
        linear_interpreter(_AugmentedAdd().eval(), x)
    # an in-place unit whose input nobody else reads is exact (checked against autograd)
    alone = nn.Sequential(conv, nn.ReLU(inplace=True), nn.Conv1d(2, 3, 3)).eval()
    li, dense, jac = _dense_and_jacobian(alone, x)
    assert np.max(np.abs(dense - jac)) <= TOL and li.reconstruction_error <= TOL


def test_x_without_batch_axis_or_on_meta_is_refused_naming_x():
    for layer, shape, expected in (
        (nn.Conv2d(1, 2, 3), (1, 4, 4), r"\(1, C, H, W\)"),
        (nn.Conv1d(1, 2, 3), (1, 7), r"\(1, C, L\)"),
        (nn.Sequential(nn.MaxPool3d(2)), (1, 4, 4, 4), r"\(1, C, D, H, W\)"),
    ):
        with pytest.raises(ValueError, match=rf"^x must .*batch axis, shape {expected}"):
            linear_interpreter(layer, torch.ones(shape))
    with pytest.raises(ValueError, match="'meta' device"):
        linear_interpreter(nn.Conv1d(1, 1, 3), torch.ones(1, 1, 5, device="meta"))


def test_zero_output_conventions_without_warnings():
    line = nn.Linear(1, 1)
    with torch.no_grad():
        line.weight.fill_(1.0)
        line.bias.fill_(-1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        both = linear_interpreter(nn.Conv1d(1, 1, 3, bias=False), torch.zeros(1, 1, 5))
        assert (both.reconstruction_error, both.bias_share) == (0.0, 0.0)
        only_f = linear_interpreter(line, torch.ones(1, 1))  # f = 1 - 1 = 0, c = -1, Ax = 1
        assert only_f.f.tolist() == [0.0] and only_f.c.tolist() == [-1.0]
        assert only_f.bias_share == float("inf") and only_f.reconstruction_error == 0.0
        shifted = linear_interpreter(line, torch.full((1, 1), 3.0))  # f = 2, A x + c = 3 - 1
        assert shifted.bias_share == 0.5 and shifted.reconstruction_error == 0.0


def test_containers_refuse_non_modules():
    with pytest.raises(TypeError, match="body must be a torch.nn.Module, got 3"):
        Residual(3)
    with pytest.raises(TypeError, match="shortcut must be a torch.nn.Module"):
        Residual(nn.Identity(), shortcut="skip")
    with pytest.raises(TypeError, match=r"branches\[1\] must be a torch.nn.Module"):
        Concat(nn.Identity(), lambda t: t)


class _ClipsAndIdentities(nn.Module):
    def __init__(self, detach: bool = True) -> None:
        super().__init__()
        self.detach = detach
        self.conv = nn.Conv1d(2, 3, 3, padding=1)
        self.clip = nn.Hardtanh(-0.3, 0.4)
        self.six = nn.ReLU6()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x * 4.0)
        a = F.relu6(h) + F.hardtanh(h, -0.5, 0.2) + self.clip(h) + self.six(h)
        a = a.detach() if self.detach else a
        return a.to(h.dtype) * 2.0 + h.to(torch.float64)


def test_relu6_hardtanh_detach_to_match_the_autograd_jacobian():
    """ReLU6/Hardtanh are masks (exact Jacobian); .detach() and .to() of the same dtype are
    identities of the forward map, so the reference is the same network without detach (with
    it, autograd would drop that branch from its Jacobian)."""
    x = _x((1, 2, 7), seed=5)
    model = _ClipsAndIdentities().eval()
    plain = _ClipsAndIdentities(detach=False).eval()
    plain.load_state_dict(model.state_dict())
    li = linear_interpreter(model, x)
    _, dense, jac = _dense_and_jacobian(plain, x)
    assert np.max(np.abs(np.stack([li.A.matvec(e) for e in np.eye(14)], 1) - jac)) <= TOL
    assert np.max(np.abs(_transpose_of(li) - jac)) <= TOL
    assert np.max(np.abs(dense - jac)) <= TOL
    assert li.is_jacobian and li.reconstruction_error <= TOL
    h = _reference(model).conv(x * 4.0).detach()  # some entries in each band of the clips
    assert bool((h < -0.5).any() and ((h > 0.4) & (h < 6)).any() and (h.abs() < 0.2).any())


class _Functional(nn.Module):
    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (lambda t: F.max_pool1d(t, 2), ["max_pool1d"]),
        (lambda t: F.avg_pool1d(t, 2), ["avg_pool1d"]),
        (lambda t: F.pad(t, (1, 1)), ["pad"]),
        (lambda t: F.interpolate(t, scale_factor=2.0), ["interpolate"]),
        (lambda t: torch.stack([t, t], 1)[:, 0], ["stack"]),
        (lambda t: t.flip(-1), [".flip()"]),
        (lambda t: t.expand(1, 2, 6), [".expand()"]),
        (lambda t: t.to(torch.float32), [".to()", "dtype"]),
        (lambda t: F.elu(t), ["elu"]),
    ],
)
def test_unsupported_functions_raise(fn, words):
    with pytest.raises(UnsupportedLayerError) as info:
        linear_interpreter(_Functional(fn), _x((1, 2, 6)))
    assert all(w in str(info.value) for w in words), str(info.value)
