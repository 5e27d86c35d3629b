"""The HyperZ·Z·W operator: slow coordinate networks make hyper-kernels that multiply the
activations (fast weights) before a full-context product with them.

Parameters are registered submodule parameters, every code path is device-agnostic, and no
statistic or kernel is shared between the samples of a batch.

References
----------
Zhang, "HyperZ·Z·W Operator Connects Slow-Fast Networks for Full Context Interaction",
arXiv:2401.17948, 2024.
"""

from .implicit import CoordinateMLP, coordinate_grid
from .layers import HyperZZW, LocalHyperConv2d, TerminatorBlock, slow_neural_loss, standardize
from .operator import FORMS, context_weights, hyperzzw, local_hyper_conv

__all__ = [
    "FORMS",
    "CoordinateMLP",
    "HyperZZW",
    "LocalHyperConv2d",
    "TerminatorBlock",
    "context_weights",
    "coordinate_grid",
    "hyperzzw",
    "local_hyper_conv",
    "slow_neural_loss",
    "standardize",
]
