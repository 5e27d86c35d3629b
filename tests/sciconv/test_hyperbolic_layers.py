"""Poincaré layers: convolution vs an unfold + HNN++ reference, identity initialisation, midpoint
batch norm (running statistics), float32 stability at the boundary, the ResNet builder, errors.

References and tolerances:
* ``PoincareConv2d`` (fused ``conv2d`` evaluation, hand-derived backward) equals a reference
  written here from ``torch.nn.functional.unfold``, geoopt-checked ball maps and the HNN++
  formula, in float64, to 1e-12 (values) and 1e-10 (gradients, vs plain autograd);
* identity initialisation: ``PoincareLinear`` with equal sizes is the identity to 1e-12;
  ``PoincareConv2d`` maps inputs with ``sqrt(c)||log0 x|| <= 1e-3`` per pixel to themselves with
  relative error <= 1e-5 (the error is O(||x||^2): the 1e-2 case is checked at <= 1e-3);
* batch norm in eval mode: outputs of a sample do not depend on the rest of the batch (1e-12).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as tf

from sciconv.hyperbolic import (
    PoincareConv2d,
    PoincareLinear,
    PoincareMidpointBatchNorm,
    PoincareMLR,
    PoincareResNet,
    beta_scale,
)
from sciconv.hyperbolic import ball as hb

D = torch.float64


def _hnnpp_reference(x: torch.Tensor, z: torch.Tensor, r: torch.Tensor, c: float) -> torch.Tensor:
    """HNN++ Poincaré FC written from the paper's formulas (x (..., n), z (n, m), r (m,))."""
    s = math.sqrt(c)
    lam = 2 / (1 - c * (x * x).sum(-1, keepdim=True))
    zn = z.norm(dim=0)
    q = s * lam * (x @ z) / zn * torch.cosh(2 * s * r) - (lam - 1) * torch.sinh(2 * s * r)
    v = 2 * zn / s * torch.asinh(q)
    w = torch.sinh(s * v) / s
    return w / (1 + torch.sqrt(1 + c * (w * w).sum(-1, keepdim=True)))


def _conv_reference(conv: PoincareConv2d, x: torch.Tensor, c: float) -> torch.Tensor:
    """log0 -> beta scaling -> unfold -> exp0 (projected) -> HNN++ FC -> project."""
    n, cin, h, w = x.shape
    kh, kw = conv.kernel_size
    beta = math.exp(
        math.lgamma(cin * kh * kw / 2)
        - math.lgamma(cin * kh * kw / 2 + 0.5)
        - math.lgamma(cin / 2)
        + math.lgamma(cin / 2 + 0.5)
    )
    tang = hb.logmap0(x, c, dim=1) * beta
    cols = tf.unfold(tang, conv.kernel_size, conv.dilation, conv.padding, conv.stride)
    u = hb.expmap0(cols.transpose(1, 2), c, dim=-1)
    z = conv.weight.flatten(1).t()
    y = hb.project(_hnnpp_reference(u, z, conv.bias, c), c)
    ho = (h + 2 * conv.padding[0] - conv.dilation[0] * (kh - 1) - 1) // conv.stride[0] + 1
    wo = (w + 2 * conv.padding[1] - conv.dilation[1] * (kw - 1) - 1) // conv.stride[1] + 1
    return y.transpose(1, 2).reshape(n, -1, ho, wo)


def _ball_image(gen, shape, c, scale=1.0, device="cpu"):
    v = scale * torch.randn(*shape, dtype=D, generator=gen)
    return hb.expmap0(v, c, dim=1).to(device)


@pytest.mark.parametrize(
    "geom",
    [
        dict(kernel_size=3, padding=1),
        dict(kernel_size=(2, 3), stride=2, dilation=(1, 2), padding=(1, 0)),
        dict(kernel_size=1),
    ],
)
def test_conv_equals_unfold_reference(geom, device) -> None:
    """Fused PoincareConv2d == unfold + HNN++ reference (values 1e-12; grads 1e-10 vs autograd)."""
    gen = torch.Generator().manual_seed(0)
    c = 0.6
    conv = PoincareConv2d(3, 5, c=c, id_init=False, dtype=D, **geom).to(device)
    with torch.no_grad():
        conv.bias.copy_(0.3 * torch.randn(5, dtype=D, generator=gen))
    x = _ball_image(gen, (2, 3, 6, 7), c, device=device)
    ref = _conv_reference(conv, x, c)
    torch.testing.assert_close(conv(x), ref, rtol=1e-12, atol=1e-12)
    # gradients: hand-derived backward vs plain autograd through the reference
    g = torch.randn(ref.shape, dtype=D, generator=gen).to(device)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    (conv(xa) * g).sum().backward()
    grads = [xa.grad, conv.weight.grad.clone(), conv.bias.grad.clone()]
    conv.zero_grad()
    (_conv_reference(conv, xb, c) * g).sum().backward()
    for p, q in zip(grads, [xb.grad, conv.weight.grad, conv.bias.grad]):
        torch.testing.assert_close(p, q, rtol=1e-10, atol=1e-10)


def test_conv_unfold_impl_and_autograd_agree() -> None:
    """The 'unfold' implementation and manual_backward=False give the same values (1e-12)."""
    gen = torch.Generator().manual_seed(1)
    x = _ball_image(gen, (2, 4, 5, 5), 1.0)
    conv = PoincareConv2d(4, 3, 3, padding=1, id_init=False, dtype=D)
    y = conv(x)
    for impl, mb in [("unfold", True), ("unfold", False), ("fused", False)]:
        conv.impl, conv.manual_backward = impl, mb
        torch.testing.assert_close(conv(x), y, rtol=1e-12, atol=1e-12)


def test_beta_scale() -> None:
    """beta_scale(n, K) = B(nK/2, 1/2) / B(n/2, 1/2); equals 1 for K = 1."""
    assert beta_scale(7, 1) == pytest.approx(1.0, rel=1e-15)
    b = math.gamma(6) * math.gamma(0.5) / math.gamma(6.5)  # B(6, 1/2), n=4, K=3
    a = math.gamma(2) * math.gamma(0.5) / math.gamma(2.5)  # B(2, 1/2)
    assert beta_scale(4, 3) == pytest.approx(b / a, rel=1e-13)


def test_linear_identity_init_is_exact(device) -> None:
    """PoincareLinear(n, n) at identity initialisation is the identity map (1e-12)."""
    gen = torch.Generator().manual_seed(2)
    x = hb.expmap0(2 * torch.randn(10, 6, dtype=D, generator=gen), 1.5).to(device)
    lin = PoincareLinear(6, 6, c=1.5, dtype=D).to(device)
    torch.testing.assert_close(lin(x), hb.project(x, 1.5), rtol=1e-12, atol=1e-12)


def test_conv_identity_init_small_inputs(device) -> None:
    """Identity-initialised PoincareConv2d: y = x + O(||x||^3) (tolerances in the docstring)."""
    gen = torch.Generator().manual_seed(3)
    conv = PoincareConv2d(4, 4, 3, padding=1, c=0.8, dtype=D).to(device)
    errs = []
    for scale, tol in [(1e-3 / 6, 1e-5), (1e-2 / 6, 1e-3)]:
        x = _ball_image(gen, (2, 4, 6, 6), 0.8, scale, device)
        assert float((hb.logmap0(x, 0.8, dim=1).norm(dim=1) * math.sqrt(0.8)).max()) <= scale * 6
        with torch.no_grad():
            err = float(((conv(x) - x).norm(dim=1) / x.norm(dim=1)).max())
        assert err <= tol
        errs.append(err)
    assert errs[1] / errs[0] > 20  # the error shrinks quadratically, not a constant offset


def test_conv_more_outputs_identity_init() -> None:
    """With out > in channels the first `in` outputs copy the input; the rest are the origin."""
    gen = torch.Generator().manual_seed(4)
    x = _ball_image(gen, (1, 2, 4, 4), 1.0, 1e-4)
    with torch.no_grad():
        y = PoincareConv2d(2, 3, 3, padding=1, dtype=D)(x)
    torch.testing.assert_close(y[:, :2], x, rtol=1e-6, atol=1e-12)
    assert float(y[:, 2].abs().max()) == 0.0


def test_batchnorm_running_statistics(device) -> None:
    """Eval mode uses running statistics: a sample's output does not depend on its batch (1e-12);
    in training the running mean moves to the batch midpoint (momentum 1: equal to it)."""
    gen = torch.Generator().manual_seed(5)
    c = 0.9
    bn = PoincareMidpointBatchNorm(4, c=c, momentum=1.0, dtype=D).to(device)
    x = _ball_image(gen, (6, 4, 3, 3), c, 0.7, device)
    bn.train()
    bn(x)
    pts = x.movedim(1, -1).reshape(-1, 4)
    torch.testing.assert_close(
        bn.running_mean, hb.weighted_midpoint(pts, c), rtol=1e-12, atol=1e-12
    )
    var = hb.dist(pts, bn.running_mean, c).pow(2).mean()
    torch.testing.assert_close(bn.running_var, var, rtol=1e-12, atol=1e-12)
    bn.momentum = 0.3
    bn(_ball_image(gen, (6, 4, 3, 3), c, 0.5, device))
    with torch.no_grad():
        bn.bias.copy_(0.2 * torch.randn(4, dtype=D, generator=gen))
        bn.weight.fill_(0.7)
    bn.eval()
    other = _ball_image(gen, (5, 4, 3, 3), c, 1.5, device)
    alone = bn(x[:2])
    mixed = bn(torch.cat([x[:2], other]))[:2]
    torch.testing.assert_close(alone, mixed, rtol=1e-12, atol=1e-12)
    bn.train()  # in training the batch statistics do change the output
    gap = (bn(x[:3]) - bn(torch.cat([x[:3], other]))[:3]).abs().max()
    assert float(gap.detach()) > 1e-3


def test_batchnorm_train_normalises() -> None:
    """After training-mode batch norm with bias 0, weight 1 the output's midpoint is near the
    origin (<= 0.1 of the input's) and its Fréchet variance about the midpoint is about 1
    (within 30 %: the gyromidpoint is not the Fréchet mean)."""
    gen = torch.Generator().manual_seed(6)
    bn = PoincareMidpointBatchNorm(3, c=1.0, dtype=D)
    x = hb.mobius_add(
        hb.expmap0(torch.tensor([0.8, -0.4, 0.2], dtype=D), 1.0).expand(200, 3),
        hb.expmap0(0.3 * torch.randn(200, 3, dtype=D, generator=gen), 1.0),
        1.0,
    )
    y = bn(x).detach()
    m_in, m_out = hb.weighted_midpoint(x, 1.0), hb.weighted_midpoint(y, 1.0)
    assert float(m_out.norm()) <= 0.1 * float(m_in.norm())
    assert abs(float(hb.dist(y, m_out, 1.0).pow(2).mean()) - 1.0) < 0.3


@pytest.mark.parametrize("eps", [4e-3, 1e-5, 1e-7])
def test_layers_float32_at_boundary(eps: float) -> None:
    """float32 forward + backward of conv, linear, batch norm at norm (1 - eps)/sqrt(c): finite."""
    gen = torch.Generator().manual_seed(7)
    c = 1.3
    v = torch.randn(2, 4, 5, 5, generator=gen)
    x = (v / v.norm(dim=1, keepdim=True) * (1 - eps) / math.sqrt(c)).requires_grad_()
    conv = PoincareConv2d(4, 6, 3, padding=1, c=c, id_init=False)
    bn = PoincareMidpointBatchNorm(6, c=c)
    lin = PoincareLinear(4, 3, c=c, id_init=False)
    out = bn(conv(x)).sum() + lin(x.movedim(1, -1)).sum()
    out.backward()
    assert bool(torch.isfinite(out))
    assert bool(torch.isfinite(x.grad).all())
    for p in [*conv.parameters(), *bn.parameters(), *lin.parameters()]:
        assert p.grad is None or bool(torch.isfinite(p.grad).all())


@pytest.mark.parametrize("depth", [8, 20])
def test_resnet_builds_and_trains_a_step(depth: int) -> None:
    """Depths 8 and 20 build with (6n+2) blocks, give finite logits and gradients."""
    torch.manual_seed(8)
    net = PoincareResNet(depth, in_channels=1, num_classes=4, widths=(2, 4, 4))
    assert len(net.blocks) == 3 * (depth - 2) // 6
    logits = net(torch.randn(4, 1, 8, 8))
    assert logits.shape == (4, 4) and bool(torch.isfinite(logits).all())
    tf.cross_entropy(logits, torch.tensor([0, 1, 2, 3])).backward()
    assert all(bool(torch.isfinite(p.grad).all()) for p in net.parameters() if p.grad is not None)


def test_mlr_logits_are_hnnpp_distances() -> None:
    """PoincareMLR logits equal the HNN++ signed distances v_k(x) written from the paper (1e-12),
    and for r = 0 their sign is the side of the hyperplane through 0 with normal z_k."""
    gen = torch.Generator().manual_seed(9)
    c = 0.7
    mlr = PoincareMLR(5, 3, c=c, dtype=D)
    with torch.no_grad():
        mlr.bias.copy_(0.2 * torch.randn(3, dtype=D, generator=gen))
    x = hb.expmap0(torch.randn(8, 5, dtype=D, generator=gen), c)
    s, z, r = math.sqrt(c), mlr.weight.t(), mlr.bias
    lam = 2 / (1 - c * (x * x).sum(-1, keepdim=True))
    zn = z.norm(dim=0)
    q = s * lam * (x @ z) / zn * torch.cosh(2 * s * r) - (lam - 1) * torch.sinh(2 * s * r)
    torch.testing.assert_close(mlr(x), 2 * zn / s * torch.asinh(q), rtol=1e-12, atol=1e-12)
    with torch.no_grad():
        mlr.bias.zero_()
    assert torch.equal(torch.sign(mlr(x)), torch.sign(x @ z))


def test_resnet_learnable_curvature() -> None:
    """With learnable_c all layers share one curvature, which receives a finite gradient."""
    torch.manual_seed(10)
    net = PoincareResNet(8, in_channels=1, num_classes=3, widths=(2, 2, 4), learnable_c=True)
    raw = [n for n, _ in net.named_parameters() if n.endswith("raw_c")]
    assert raw == ["ball.raw_c"]
    tf.cross_entropy(net(torch.randn(3, 1, 6, 6)), torch.tensor([0, 1, 2])).backward()
    assert bool(torch.isfinite(net.ball.raw_c.grad)) and float(net.ball.raw_c.grad) != 0.0


def test_bad_inputs() -> None:
    """Errors name the argument: c <= 0, points outside the ball, shapes, options."""
    with pytest.raises(ValueError, match=r"\bc must"):
        PoincareConv2d(2, 2, 3, c=0.0)
    with pytest.raises(ValueError, match=r"\bc must"):
        PoincareLinear(2, 2, c=-1.0)
    with pytest.raises(ValueError, match=r"x must lie inside the Poincaré ball"):
        PoincareConv2d(2, 2, 3)(torch.ones(1, 2, 4, 4))
    with pytest.raises(ValueError, match=r"x must lie inside the Poincaré ball"):
        PoincareLinear(2, 2)(torch.ones(3, 2))
    with pytest.raises(ValueError, match=r"x must have shape \(N, 2, H, W\)"):
        PoincareConv2d(2, 2, 3)(torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="impl must be one of"):
        PoincareConv2d(2, 2, 3, impl="fft")
    with pytest.raises(ValueError, match="kernel_size"):
        PoincareConv2d(2, 2, 0)
    with pytest.raises(ValueError, match="depth must be 6n"):
        PoincareResNet(10)
    with pytest.raises(ValueError, match="momentum"):
        PoincareMidpointBatchNorm(3, momentum=0.0)
