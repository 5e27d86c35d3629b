"""Hyperbolic (Poincaré-ball) convolutions: ball operations, hand-derived backward passes, layers.

* :mod:`~sciconv.hyperbolic.ball` -- gyrovector operations of the ball of curvature ``-c``;
* :mod:`~sciconv.hyperbolic.functions` -- custom autograd Functions (Möbius addition, exp0/log0,
  projection) with hand-derived backward passes;
* :mod:`~sciconv.hyperbolic.fc` -- the HNN++ Poincaré fully connected map (``poincare_fc``,
  its core from precomputed inner products, the hyperplane distances) and its backward;
* :mod:`~sciconv.hyperbolic.layers`, :mod:`~sciconv.hyperbolic.batchnorm`,
  :mod:`~sciconv.hyperbolic.resnet` -- PoincareLinear (HNN++), PoincareConv2d (β-concatenation),
  midpoint batch norm with running statistics, Möbius residuals and the Poincaré ResNet.
"""

from .ball import BALL_EPS, as_curvature, check_in_ball
from .batchnorm import PoincareMidpointBatchNorm
from .fc import hyperplane_dists, poincare_fc, poincare_fc_core
from .layers import PoincareConv2d, PoincareLinear, PoincareMLR, PoincareReLU, beta_scale
from .manifold import PoincareBall
from .resnet import MobiusResidual, PoincareBasicBlock, PoincareResNet, mobius_residual

__all__ = [
    "BALL_EPS",
    "MobiusResidual",
    "PoincareBall",
    "PoincareBasicBlock",
    "PoincareConv2d",
    "PoincareLinear",
    "PoincareMLR",
    "PoincareMidpointBatchNorm",
    "PoincareReLU",
    "PoincareResNet",
    "as_curvature",
    "beta_scale",
    "check_in_ball",
    "hyperplane_dists",
    "mobius_residual",
    "poincare_fc",
    "poincare_fc_core",
]
