r"""Midpoint batch normalisation on the Poincaré ball, with running statistics for evaluation.

Notes
-----
For points :math:`x_i` (the batch, and for images every pixel, with the channels as the ball
coordinates) the layer computes the gyromidpoint :math:`\mu` (:func:`~.ball.weighted_midpoint`)
and the Fréchet variance :math:`\sigma^2 = \frac1N\sum_i d(x_i,\mu)^2`, then

.. math::

    y_i = \exp_{\beta}\Big(\frac{\gamma}{\sqrt{\sigma^2+\epsilon}}\,
    P_{\mu\to\beta}\big(\log_\mu x_i\big)\Big),\qquad \beta = \exp_0(b),

with learned :math:`\gamma > 0` (a scalar, since :math:`\sigma^2` is) and tangent vector
:math:`b`. In training the running mean moves along the geodesic towards the batch midpoint,
:math:`\hat\mu \leftarrow \exp_{\hat\mu}(m\,\log_{\hat\mu}\mu)`, and the running variance is the
exponential average :math:`\hat\sigma^2 \leftarrow (1-m)\hat\sigma^2 + m\,\sigma^2`; evaluation
uses :math:`(\hat\mu, \hat\sigma^2)`, so an output does not depend on the rest of the batch.

References
----------
van Spengler, Berkhout and Mettes, "Poincaré ResNet", ICCV 2023. arXiv:2303.14027 (Poincaré
midpoint batch normalisation).

Lou, Katsman, Jiang, Belongie, Lim and De Sa, "Differentiating through the Fréchet Mean", ICML
2020. arXiv:2003.00335 (Riemannian batch normalisation with the Fréchet mean and variance).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..validation import check_float_dtype, check_input_dtype, check_positive_int, describe
from . import ball as hb
from .layers import make_ball
from .manifold import PoincareBall

__all__ = ["PoincareMidpointBatchNorm"]


class PoincareMidpointBatchNorm(nn.Module):
    """Riemannian batch norm with the gyromidpoint as mean (inputs ``(N, C)`` or ``(N, C, ...)``).

    Parameters
    ----------
    num_features : int
        Dimension ``C`` of the ball (the channel axis, dim 1).
    c : float or PoincareBall
        Curvature magnitude, or a shared ball module.
    momentum : float
        Weight of the batch statistics in the running statistics, in ``(0, 1]``.
    eps : float
        Added to the variance.
    device, dtype
        Factory arguments.

    Examples
    --------
    >>> import torch
    >>> from sciconv.hyperbolic import PoincareMidpointBatchNorm
    >>> _ = torch.manual_seed(0)
    >>> bn = PoincareMidpointBatchNorm(3, dtype=torch.float64)
    >>> x = 0.2 * torch.randn(4, 3, 5, 5, dtype=torch.float64)  # channels are ball points
    >>> y = bn(x)  # training: batch statistics, running statistics updated
    >>> y.shape, int(bn.num_batches_tracked)
    (torch.Size([4, 3, 5, 5]), 1)
    >>> _ = bn.eval()
    >>> torch.allclose(bn(x)[:1], bn(x[:1]))  # evaluation: no dependence on the batch
    True
    """

    def __init__(
        self,
        num_features: int,
        c: float | PoincareBall = 1.0,
        momentum: float = 0.1,
        eps: float = 1e-5,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        check_float_dtype("dtype", dtype)
        super().__init__()
        self.num_features = check_positive_int("num_features", num_features)
        if not 0 < momentum <= 1:
            raise ValueError(f"momentum must be in (0, 1], got {momentum!r}")
        if not eps >= 0:
            raise ValueError(f"eps must be >= 0, got {eps!r}")
        self.momentum, self.eps = float(momentum), float(eps)
        self.ball = make_ball(c, device, dtype)
        kw = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.ones((), **kw))
        self.bias = nn.Parameter(torch.zeros(num_features, **kw))
        self.register_buffer("running_mean", torch.zeros(num_features, **kw))
        self.register_buffer("running_var", torch.ones((), **kw))
        self.register_buffer("num_batches_tracked", torch.zeros((), dtype=torch.long))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 2 or x.shape[1] != self.num_features:
            raise ValueError(f"x must have shape (N, {self.num_features}, ...), got {describe(x)}")
        check_input_dtype("x", x, self.weight.dtype, "PoincareMidpointBatchNorm")
        c = self.ball.c.to(x.dtype)
        pts = x.movedim(1, -1).reshape(-1, self.num_features)
        if self.training:
            if pts.shape[0] < 2:
                raise ValueError(f"x must hold more than one point in training, got {describe(x)}")
            mean = hb.weighted_midpoint(pts, c, reduce_dim=0, dim=-1, check=False)
            var = hb.dist(pts, mean, c, check=False).pow(2).mean()
            with torch.no_grad():
                m = self.momentum
                rm = self.running_mean.to(x.dtype)
                step = hb.logmap(rm, mean.detach(), c.detach(), check=False) * m
                self.running_mean.copy_(hb.expmap(rm, step, c.detach(), check=False))
                self.running_var.mul_(1 - m).add_(m * var.detach())
                self.num_batches_tracked += 1
        else:
            mean, var = self.running_mean.to(x.dtype), self.running_var.to(x.dtype)
        target = hb.expmap0(self.bias, c)
        v = hb.logmap(mean, pts, c, check=False)
        v = hb.transp(mean, target, v, c, check=False)
        v = v * (self.weight / (var + self.eps).sqrt())
        out = hb.expmap(target, v, c, check=False)
        shape = (x.shape[0], *x.shape[2:], self.num_features)
        return out.reshape(shape).movedim(-1, 1)

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}"
