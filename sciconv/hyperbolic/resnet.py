r"""Möbius residual blocks and the Poincaré ResNet builder (depths ``6n + 2``: 8, 20, ...).

Notes
-----
A block maps :math:`x \mapsto \operatorname{ReLU}_0\big(s(x) \oplus F(x)\big)` with
:math:`F = \mathrm{BN}\circ\mathrm{Conv}\circ\operatorname{ReLU}_0\circ\mathrm{BN}\circ
\mathrm{Conv}`, :math:`s` the identity or a strided 1x1 Poincaré convolution + BN, :math:`\oplus`
Möbius addition and :math:`\operatorname{ReLU}_0 = \exp_0\circ\operatorname{relu}\circ\log_0`.
The network maps a Euclidean image into the ball with :math:`\exp_0` over the channels, applies a
stem convolution and three stages of :math:`n = (\text{depth} - 2)/6` blocks (the given widths,
first strides 1, 2, 2), pools each channel vector with the gyromidpoint over
the pixels, and classifies with hyperbolic MLR (signed hyperplane distances as logits), as in
Poincaré ResNet.

References
----------
van Spengler, Berkhout and Mettes, "Poincaré ResNet", ICCV 2023. arXiv:2303.14027.

Shimizu, Mukuta and Harada, "Hyperbolic Neural Networks++", ICLR 2021. arXiv:2006.08210 (the
Poincaré FC map and MLR).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from ..validation import check_float_dtype, check_positive_int
from . import ball as hb
from . import functions as hf
from .batchnorm import PoincareMidpointBatchNorm
from .layers import PoincareConv2d, PoincareMLR, PoincareReLU
from .manifold import PoincareBall

__all__ = ["MobiusResidual", "PoincareBasicBlock", "PoincareResNet", "mobius_residual"]


def mobius_residual(
    x: Tensor, fx: Tensor, c: Any, dim: int = 1, *, manual_backward: bool = True
) -> Tensor:
    """Möbius residual connection ``x ⊕ f(x)`` along ``dim`` (projected).

    Examples
    --------
    >>> import torch
    >>> from sciconv.hyperbolic import mobius_residual
    >>> x = torch.tensor([[0.3, -0.2]], dtype=torch.float64)
    >>> torch.allclose(mobius_residual(x, torch.zeros_like(x), 1.0, dim=-1), x)
    True
    >>> mobius_residual(x, -x, 1.0, dim=-1).norm().item() < 1e-12  # x ⊕ (-x) = 0
    True
    """
    return hf.mobius_add(x, fx, c, dim, check=False, manual_backward=manual_backward)


class MobiusResidual(nn.Module):
    r"""Wrap ``f`` as ``x ↦ x ⊕ f(x)`` (points along ``dim``).

    Parameters
    ----------
    f : torch.nn.Module
        Maps ball points to ball points of the same shape.
    c : float or PoincareBall
        Curvature magnitude, or a shared ball module.
    dim : int
        The ball axis.

    Examples
    --------
    With ``f`` the identity the block doubles in the gyrovector sense, :math:`x \oplus x =
    2 \otimes x`:

    >>> import torch
    >>> from sciconv.hyperbolic import MobiusResidual
    >>> from sciconv.hyperbolic.ball import mobius_scalar_mul
    >>> block = MobiusResidual(torch.nn.Identity(), c=1.0, dim=-1)
    >>> x = torch.tensor([[0.3, -0.2]])
    >>> torch.allclose(block(x), mobius_scalar_mul(2.0, x, 1.0))
    True
    """

    def __init__(self, f: nn.Module, c: float | PoincareBall = 1.0, dim: int = 1) -> None:
        super().__init__()
        self.f, self.dim = f, dim
        self.ball = c if isinstance(c, PoincareBall) else PoincareBall(c)

    def forward(self, x: Tensor) -> Tensor:
        return mobius_residual(x, self.f(x), self.ball.c.to(x.dtype), self.dim)


class PoincareBasicBlock(nn.Module):
    """Two 3x3 Poincaré convolutions with midpoint batch norm and a Möbius skip connection.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels (ball dimensions) of the input and output pixels.
    stride : int
        Stride of the first convolution; with ``stride > 1`` or a change of width the skip
        connection is a strided 1x1 Poincaré convolution with batch norm.
    ball : PoincareBall
        The ball shared by every layer of the block.
    id_init : bool
        Identity-based initialisation of the convolutions that keep the shape.
    **conv
        Passed on to :class:`PoincareConv2d` (``manual_backward``, ``check_input``,
        ``device``, ``dtype``).

    Examples
    --------
    >>> import torch
    >>> from sciconv.hyperbolic import PoincareBall, PoincareBasicBlock
    >>> _ = torch.manual_seed(0)
    >>> ball = PoincareBall(1.0, dtype=torch.float64)
    >>> block = PoincareBasicBlock(4, 8, stride=2, ball=ball, dtype=torch.float64)
    >>> x = 0.1 * torch.randn(2, 4, 8, 8, dtype=torch.float64)
    >>> y = block(x)
    >>> y.shape, bool((y.norm(dim=1) < 1).all())
    (torch.Size([2, 8, 4, 4]), True)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int,
        ball: PoincareBall,
        id_init: bool = True,
        **conv: Any,
    ) -> None:
        super().__init__()
        self.ball = ball
        dev, dt = conv.get("device"), conv.get("dtype")
        same = stride == 1 and in_channels == out_channels
        self.conv1 = PoincareConv2d(
            in_channels, out_channels, 3, stride, 1, c=ball, id_init=id_init and same, **conv
        )
        self.bn1 = PoincareMidpointBatchNorm(out_channels, c=ball, device=dev, dtype=dt)
        self.relu = PoincareReLU(ball, dim=1, manual_backward=conv.get("manual_backward", True))
        self.conv2 = PoincareConv2d(
            out_channels, out_channels, 3, 1, 1, c=ball, id_init=id_init, **conv
        )
        self.bn2 = PoincareMidpointBatchNorm(out_channels, c=ball, device=dev, dtype=dt)
        self.shortcut: nn.Module = nn.Identity()
        if not same:
            self.shortcut = nn.Sequential(
                PoincareConv2d(
                    in_channels, out_channels, 1, stride, 0, c=ball, id_init=False, **conv
                ),
                PoincareMidpointBatchNorm(out_channels, c=ball, device=dev, dtype=dt),
            )
        self.manual_backward = conv.get("manual_backward", True)

    def forward(self, x: Tensor) -> Tensor:
        fx = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        c = self.ball.c.to(x.dtype)
        return self.relu(
            mobius_residual(self.shortcut(x), fx, c, manual_backward=self.manual_backward)
        )


class PoincareResNet(nn.Module):
    """Poincaré ResNet for images: depth ``6n + 2`` (8, 20, ...), three stages.

    Parameters
    ----------
    depth : int
        ``6n + 2`` with ``n >= 1`` blocks per stage (8: one block per stage, 20: three).
    in_channels, num_classes : int
        Image channels and classes.
    widths : sequence of 3 ints
        Channels of the three stages.
    c : float
        Curvature magnitude; ``learnable_c`` makes it a trainable parameter shared by all layers.
    id_init : bool
        Identity-based initialisation of the stride-1, same-width convolutions of the blocks
        (the stem, strided and shortcut convolutions always get the HNN++ random
        initialisation: an identity there would only copy or subsample pixels, and on digits
        such a network does not start learning within a few epochs).
    manual_backward : bool
        Use the hand-derived backward Functions in the convolutions and maps.
    device, dtype
        Factory arguments.

    Examples
    --------
    >>> import torch
    >>> from sciconv.hyperbolic import PoincareResNet
    >>> _ = torch.manual_seed(0)
    >>> net = PoincareResNet(depth=8, in_channels=1, num_classes=3, widths=(2, 4, 4))
    >>> images = torch.randn(2, 1, 8, 8)
    >>> logits = net(images)  # signed hyperplane distances of the pooled ball points
    >>> logits.shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        depth: int = 8,
        in_channels: int = 3,
        num_classes: int = 10,
        widths: Sequence[int] = (8, 16, 32),
        c: float = 1.0,
        learnable_c: bool = False,
        id_init: bool = True,
        manual_backward: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        check_float_dtype("dtype", dtype)
        super().__init__()
        depth = check_positive_int("depth", depth, minimum=8)
        if (depth - 2) % 6:
            raise ValueError(f"depth must be 6n + 2 (8, 14, 20, ...), got {depth}")
        if len(widths) != 3:
            raise ValueError(f"widths must hold 3 channel counts, got {tuple(widths)!r}")
        widths = [check_positive_int("widths", w) for w in widths]
        n = (depth - 2) // 6
        self.ball = PoincareBall(c, learnable_c, device=device, dtype=dtype)
        conv = {"manual_backward": manual_backward, "check_input": False}
        conv.update(device=device, dtype=dtype)
        self.stem = PoincareConv2d(
            in_channels, widths[0], 3, 1, 1, c=self.ball, id_init=False, **conv
        )
        self.bn = PoincareMidpointBatchNorm(widths[0], c=self.ball, device=device, dtype=dtype)
        self.relu = PoincareReLU(self.ball, dim=1, manual_backward=manual_backward)
        blocks: list[nn.Module] = []
        prev = widths[0]
        for stage, w in enumerate(widths):
            for i in range(n):
                stride = 2 if (stage > 0 and i == 0) else 1
                blocks.append(PoincareBasicBlock(prev, w, stride, self.ball, id_init, **conv))
                prev = w
        self.blocks = nn.Sequential(*blocks)
        self.head = PoincareMLR(prev, num_classes, c=self.ball, device=device, dtype=dtype)
        self.manual_backward = manual_backward

    def forward(self, images: Tensor) -> Tensor:
        c = self.ball.c.to(images.dtype)
        x = hf.expmap0(images, c, 1, manual_backward=self.manual_backward)
        x = self.blocks(self.relu(self.bn(self.stem(x))))
        pooled = hb.weighted_midpoint(x, c, reduce_dim=(2, 3), dim=1, check=False)
        return self.head(pooled)
