r"""Poincaré-ball layers: HNN++ linear map, hyperbolic MLR, β-concatenation convolution, ReLU.

Notes
-----
``PoincareConv2d`` follows Poincaré ResNet (van Spengler et al.): map the
input to the tangent space at the origin, scale by :math:`\beta=B(nK/2,\tfrac12)/B(n/2,\tfrac12)`
(:math:`n` input channels, :math:`K` kernel taps), gather each patch (β-concatenation),
map it back with :math:`\exp_0` and apply the Poincaré fully connected map. The ``"fused"``
implementation never unfolds: with :math:`L=\log_0(x)` per pixel and :math:`t` a patch of
:math:`\beta L`, the FC map needs only :math:`\langle\exp_0 t, z_k\rangle =
\alpha\,\beta\,(L\star z_k)` and :math:`\|\exp_0 t\|^2=\tanh^2(s\|t\|)/c` with
:math:`\alpha=\tanh(s\|t\|)/(s\|t\|)` and :math:`\|t\|^2=\beta^2\,(\|L\|^2\star\mathbf 1)`, i.e.
two ``conv2d`` calls; the ``"unfold"`` implementation materialises the patches (the recipe as
written, for comparison).

Identity initialisation: the HNN++ map with :math:`z_k=\tfrac12 e_k`, :math:`r=0` is exactly the
identity (:math:`w=\lambda_x x`, :math:`1+\sqrt{1+c\lambda_x^2\|x\|^2}=\lambda_x`); the
convolution puts :math:`1/(2\beta)` on the centre tap of channel :math:`k`, so that
:math:`y = x + O(\|x\|^3)` for small inputs.

References
----------
Shimizu, Mukuta and Harada, "Hyperbolic Neural Networks++", ICLR 2021. arXiv:2006.08210 (the
Poincaré FC layer, hyperbolic MLR, β-split and β-concatenation).

van Spengler, Berkhout and Mettes, "Poincaré ResNet", ICCV 2023. arXiv:2303.14027 (the Poincaré
convolution as used here, identity-based initialisation).

Ganea, Bécigneul and Hofmann, "Hyperbolic Neural Networks", NeurIPS 2018. arXiv:1805.09112 (the
tangent-space ReLU :math:`\exp_0\circ\operatorname{relu}\circ\log_0`).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch
import torch.nn.functional as tf
from torch import Tensor, nn

from ..validation import as_int_tuple, check_choice, check_float_dtype, check_positive_int, describe
from . import functions as hf
from .ball import BALL_EPS, check_in_ball
from .fc import hyperplane_dists, poincare_fc, poincare_fc_core
from .manifold import PoincareBall

__all__ = [
    "PoincareConv2d",
    "PoincareLinear",
    "PoincareMLR",
    "PoincareReLU",
    "beta_scale",
    "make_ball",
]


def make_ball(c: float | PoincareBall, device: Any = None, dtype: Any = None) -> PoincareBall:
    """Return ``c`` if it is a :class:`PoincareBall` (shared curvature), else a new fixed ball."""
    if isinstance(c, PoincareBall):
        return c
    return PoincareBall(c, device=device, dtype=dtype)


def beta_scale(n: int, k: int) -> float:
    """β-concatenation scale ``B(n k / 2, 1/2) / B(n / 2, 1/2)`` (``B`` the beta function).

    ``n`` is the size of each concatenated block (input channels), ``k`` the number of blocks
    (kernel taps).

    Examples
    --------
    >>> from sciconv.hyperbolic import beta_scale
    >>> beta_scale(4, 1)  # one block: no rescaling
    1.0
    >>> round(beta_scale(16, 9), 3)  # close to 1/sqrt(k) = 0.333 for many channels
    0.329
    """

    def logbeta(a: float, b: float) -> float:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)

    return math.exp(logbeta(n * k / 2, 0.5) - logbeta(n / 2, 0.5))


class PoincareLinear(nn.Module):
    """HNN++ Poincaré fully connected layer on the last dimension.

    Parameters
    ----------
    in_features, out_features : int
        Dimensions of the input and output balls.
    bias : bool
        Learn the hyperplane offsets ``r_k``.
    c : float or PoincareBall
        Curvature magnitude (> 0), or a ball module to share a (learnable) curvature.
    id_init : bool
        ``z_k = e_k / 2`` (the exact identity when ``in_features == out_features``); otherwise
        ``z ~ N(0, (2 n m)^{-1})`` as in HNN++.
    manual_backward : bool
        Use the hand-derived backward (:class:`~sciconv.hyperbolic.fc.PoincareFCFunction`).
    check_input : bool
        Raise ``ValueError`` when an input point lies outside the ball. Traced by
        ``torch.compile`` or ``torch.export``, the check is an assertion in the graph
        (``RuntimeError`` when the program runs); on ``meta`` it is skipped; ``False`` (or
        ``with sciconv.validation.value_checks(False)``) removes it and its host sync on a GPU.

    Notes
    -----
    See :mod:`sciconv.hyperbolic.fc` for the map; the output is projected with the dtype margin.

    Examples
    --------
    >>> import torch
    >>> from sciconv.hyperbolic import PoincareLinear
    >>> _ = torch.manual_seed(0)
    >>> x = 0.2 * torch.randn(5, 3, dtype=torch.float64)  # points of the unit ball
    >>> same = PoincareLinear(3, 3, dtype=torch.float64)  # identity initialisation
    >>> torch.allclose(same(x), x)
    True
    >>> down = PoincareLinear(3, 2, id_init=False, dtype=torch.float64)
    >>> y = down(x)
    >>> y.shape, bool((y.norm(dim=-1) < 1).all())
    (torch.Size([5, 2]), True)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        c: float | PoincareBall = 1.0,
        id_init: bool = True,
        manual_backward: bool = True,
        check_input: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        check_float_dtype("dtype", dtype)
        super().__init__()
        self.in_features = check_positive_int("in_features", in_features)
        self.out_features = check_positive_int("out_features", out_features)
        self.ball = make_ball(c, device, dtype)
        self.weight = nn.Parameter(
            torch.empty(out_features, in_features, device=device, dtype=dtype)
        )
        self.bias = (
            nn.Parameter(torch.zeros(out_features, device=device, dtype=dtype)) if bias else None
        )
        self.id_init, self.manual_backward, self.check_input = id_init, manual_backward, check_input
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            if self.id_init:
                self.weight.zero_()
                k = min(self.in_features, self.out_features)
                self.weight[:k, :k] = 0.5 * torch.eye(
                    k, device=self.weight.device, dtype=self.weight.dtype
                )
            else:
                std = (2 * self.in_features * self.out_features) ** -0.5
                self.weight.normal_(0.0, std)
            if self.bias is not None:
                self.bias.zero_()

    def forward(self, x: Tensor) -> Tensor:
        c = self.ball.c.to(x.dtype)
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(f"x must have last dimension {self.in_features}, got {describe(x)}")
        if self.check_input:
            check_in_ball("x", x, c, -1)
        mb = self.manual_backward
        y = poincare_fc(x, self.weight, self.bias, c, manual_backward=mb)
        return hf.project(y, c, -1, manual_backward=mb)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"


class PoincareMLR(nn.Module):
    """Hyperbolic multinomial logistic regression: logits are the HNN++ signed distances.

    Parameters
    ----------
    in_features : int
        Dimension of the input ball.
    num_classes : int
        Number of hyperplanes (logits).
    c : float or PoincareBall
        Curvature magnitude, or a shared ball module.
    device, dtype
        Factory arguments.

    Examples
    --------
    >>> import torch
    >>> from sciconv.hyperbolic import PoincareMLR
    >>> _ = torch.manual_seed(0)
    >>> mlr = PoincareMLR(4, num_classes=3, dtype=torch.float64)
    >>> x = 0.3 * torch.randn(6, 4, dtype=torch.float64)
    >>> mlr(x).shape
    torch.Size([6, 3])
    >>> mlr(torch.zeros(1, 4, dtype=torch.float64)).abs().max().item()  # r = 0: origin on all
    0.0
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        c: float | PoincareBall = 1.0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        check_float_dtype("dtype", dtype)
        super().__init__()
        in_features = check_positive_int("in_features", in_features)
        num_classes = check_positive_int("num_classes", num_classes)
        self.ball = make_ball(c, device, dtype)
        std = (2 * in_features * num_classes) ** -0.5
        self.weight = nn.Parameter(
            torch.randn(num_classes, in_features, device=device, dtype=dtype) * std
        )
        self.bias = nn.Parameter(torch.zeros(num_classes, device=device, dtype=dtype))

    def forward(self, x: Tensor) -> Tensor:
        return hyperplane_dists(x, self.weight, self.bias, self.ball.c)


class PoincareReLU(nn.Module):
    """``exp0(relu(log0(x)))`` along ``dim`` (ReLU in the tangent space at the origin).

    Parameters
    ----------
    c : float or PoincareBall
        Curvature magnitude, or a shared ball module.
    dim : int
        The ball axis (1: channels of ``(N, C, H, W)`` images).
    manual_backward : bool
        Use the hand-derived backward Functions.

    Examples
    --------
    Points with non-negative coordinates are unchanged; negative coordinates become 0:

    >>> import torch
    >>> from sciconv.hyperbolic import PoincareReLU
    >>> relu = PoincareReLU(c=1.0, dim=-1)
    >>> x = torch.tensor([[0.3, 0.2], [0.3, -0.2]], dtype=torch.float64)
    >>> y = relu(x)
    >>> torch.allclose(y[0], x[0]), y[1, 1].item()
    (True, 0.0)
    """

    def __init__(self, c: float | PoincareBall = 1.0, dim: int = 1, manual_backward: bool = True):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise TypeError(f"dim must be an integer (the ball axis), got {describe(dim)}")
        self.ball, self.dim, self.manual_backward = make_ball(c), int(dim), manual_backward

    def forward(self, x: Tensor) -> Tensor:
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"dim={self.dim} is not an axis of x, got {describe(x)}")
        c, mb = self.ball.c.to(x.dtype), self.manual_backward
        v = hf.logmap0(x, c, self.dim, check=False, manual_backward=mb)
        return hf.expmap0(torch.relu(v), c, self.dim, manual_backward=mb)


class PoincareConv2d(nn.Module):
    """Poincaré convolution (β-concatenation + HNN++ FC) on ``(N, C, H, W)`` ball points.

    Parameters
    ----------
    in_channels, out_channels, kernel_size, stride, padding, dilation, bias :
        As for :class:`torch.nn.Conv2d` (zero padding, i.e. padded pixels are the origin).
    c : float or PoincareBall
        Curvature magnitude, or a ball module shared between layers.
    id_init : bool
        Identity-based initialisation (module Notes); else HNN++ normal initialisation.
    impl : {'fused', 'unfold'}
        ``conv2d``-based evaluation or the literal unfold recipe (module Notes).
    manual_backward : bool
        Use the hand-derived backward Functions.
    check_input : bool
        Raise ``ValueError`` when an input pixel lies outside the ball. Traced by
        ``torch.compile`` or ``torch.export``, the check is an assertion in the graph
        (``RuntimeError`` when the program runs); on ``meta`` it is skipped; ``False`` (or
        ``with sciconv.validation.value_checks(False)``) removes it and its host sync on a GPU.

    Notes
    -----
    The weight has the layout of ``nn.Conv2d`` ``(out, in, kh, kw)``; its row ``k`` flattened is
    the hyperplane orientation :math:`z_k` acting on the unfolded patch (channel-major, as
    :func:`torch.nn.functional.unfold` orders it).

    Examples
    --------
    >>> import torch
    >>> from sciconv.hyperbolic import PoincareConv2d
    >>> _ = torch.manual_seed(0)
    >>> x = 0.1 * torch.randn(2, 3, 8, 8, dtype=torch.float64)  # pixels in the unit ball
    >>> conv = PoincareConv2d(3, 4, 3, stride=2, padding=1, id_init=False, dtype=torch.float64)
    >>> y = conv(x)
    >>> y.shape, bool((y.norm(dim=1) < 1).all())
    (torch.Size([2, 4, 4, 4]), True)
    >>> conv.impl = "unfold"  # the literal recipe gives the same map
    >>> torch.allclose(conv(x), y)
    True

    A 1x1 convolution with the identity initialisation is exactly the identity:

    >>> torch.allclose(PoincareConv2d(3, 3, 1, dtype=torch.float64)(x), x)
    True
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        bias: bool = True,
        c: float | PoincareBall = 1.0,
        id_init: bool = True,
        impl: str = "fused",
        manual_backward: bool = True,
        check_input: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        check_float_dtype("dtype", dtype)
        super().__init__()
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.out_channels = check_positive_int("out_channels", out_channels)
        self.kernel_size = as_int_tuple("kernel_size", kernel_size, 2)
        self.stride = as_int_tuple("stride", stride, 2)
        self.padding = as_int_tuple("padding", padding, 2, minimum=0)
        self.dilation = as_int_tuple("dilation", dilation, 2)
        self.impl = check_choice("impl", impl, ("fused", "unfold"))
        self.ball = make_ball(c, device, dtype)
        kh, kw = self.kernel_size
        self.beta = beta_scale(in_channels, kh * kw)
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels, kh, kw, device=device, dtype=dtype)
        )
        self.bias = (
            nn.Parameter(torch.zeros(out_channels, device=device, dtype=dtype)) if bias else None
        )
        self.id_init, self.manual_backward, self.check_input = id_init, manual_backward, check_input
        self.register_buffer("_ones", torch.ones(1, 1, kh, kw, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        kh, kw = self.kernel_size
        with torch.no_grad():
            if self.id_init:
                self.weight.zero_()
                for k in range(min(self.in_channels, self.out_channels)):
                    self.weight[k, k, (kh - 1) // 2, (kw - 1) // 2] = 0.5 / self.beta
            else:
                n = self.in_channels * kh * kw
                self.weight.normal_(0.0, (2 * n * self.out_channels) ** -0.5)
            if self.bias is not None:
                self.bias.zero_()

    def _conv(self, inp: Tensor, weight: Tensor) -> Tensor:
        # contiguous(): torch 2.13's oneDNN backward of a strided conv on a permuted
        # (channels-last-like) input corrupted the heap on some x86 CPUs (1x1, stride 2).
        return tf.conv2d(inp.contiguous(), weight, None, self.stride, self.padding, self.dilation)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must have shape (N, {self.in_channels}, H, W), got {describe(x)}")
        c, mb = self.ball.c.to(x.dtype), self.manual_backward
        if self.check_input:
            check_in_ball("x", x, c, 1)
        log = hf.logmap0(x, c, 1, check=False, manual_backward=mb)
        m = self.out_channels
        bias = None if self.bias is None else self.bias.view(m, 1, 1)
        if self.impl == "unfold":
            return self._forward_unfold(log, c, bias)
        margin = BALL_EPS.get(x.dtype, 4e-3)
        s = c.sqrt()
        a = self._conv(log, self.weight) * self.beta
        tsq = self._conv(log.pow(2).sum(1, keepdim=True), self._ones.to(x.dtype)) * self.beta**2
        # floors that do not underflow to 0 in float16 (0/0 at a zero patch)
        st = s * tsq.clamp_min(max(1e-30, torch.finfo(x.dtype).tiny)).sqrt()
        th = torch.tanh(st).clamp(max=1 - margin)
        nz = self.weight.flatten(1).norm(dim=1)
        nz = nz.clamp_min(max(1e-15, torch.finfo(nz.dtype).tiny)).view(m, 1, 1)
        y = poincare_fc_core(a * (th / st), th.pow(2) / c, nz, bias, c, 1, manual_backward=mb)
        return hf.project(y, c, 1, manual_backward=mb)

    def _forward_unfold(self, log: Tensor, c: Tensor, bias: Tensor | None) -> Tensor:
        mb = self.manual_backward
        n, _, h, w = log.shape
        cols = tf.unfold(
            log * self.beta, self.kernel_size, self.dilation, self.padding, self.stride
        )
        u = hf.expmap0(cols.transpose(1, 2), c, -1, manual_backward=mb)
        b = None if bias is None else bias.view(-1)
        y = poincare_fc(u, self.weight.flatten(1), b, c, manual_backward=mb)
        y = hf.project(y, c, -1, manual_backward=mb)
        ho, wo = (
            (size + 2 * p - d * (k - 1) - 1) // st + 1
            for size, p, d, k, st in zip(
                (h, w), self.padding, self.dilation, self.kernel_size, self.stride
            )
        )
        return y.transpose(1, 2).reshape(n, self.out_channels, ho, wo)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
            f"bias={self.bias is not None}, impl={self.impl!r}"
        )
