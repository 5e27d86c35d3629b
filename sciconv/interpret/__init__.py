"""Networks as linear operators: linear interpreters (LinearScope).

A network of convolutions, affine layers and non-linear units, frozen at one input ``x``, is an
affine map :math:`f(x) = A(x)\\,x + c(x)`. :func:`linear_interpreter` builds :math:`A(x)` as a
matrix-free :class:`scipy.sparse.linalg.LinearOperator` (forward and adjoint products by
replaying the frozen layers) and the offset :math:`c(x)` by replaying the biases.

Modules: :mod:`~sciconv.interpret.steps` (the frozen affine steps and their adjoints),
:mod:`~sciconv.interpret.layers` (torch layers to steps), :mod:`~sciconv.interpret.units`
(masks and gates of the non-linear units), :mod:`~sciconv.interpret.graph` (``torch.fx``
tracing and replay), :mod:`~sciconv.interpret.interpreter` (the public entry point and its
result), :mod:`~sciconv.interpret.containers` (``Residual``, ``Concat``).
"""

from .containers import Concat, Residual
from .interpreter import FrozenOperator, LinearInterpretation, linear_interpreter
from .layers import UnsupportedLayerError

__all__ = [
    "Concat",
    "FrozenOperator",
    "LinearInterpretation",
    "Residual",
    "UnsupportedLayerError",
    "linear_interpreter",
]
