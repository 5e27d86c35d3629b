"""The learned preconditioner of DCDM: model, Ritz training data, training and pretrained weights.

Two kinds of network: :class:`MultigridNet`, applied to the residual inside every DCDM
iteration (:class:`NetworkMap`, nonlinear), and :class:`StencilNet`, applied once per matrix
to predict the prolongator of a linear two-level map (:func:`learned_map`).
``solvers.network`` never imports :mod:`pde` nor PETSc: the network sees a residual and label
arrays, and training takes a CSR matrix with its grid labels (see :func:`training_set`).
"""

from .lanczos import lanczos, ritz_pairs, ritz_weights, weighted_rhs
from .learned import StencilGeometry, StencilNet, learned_map, learned_prolongation
from .model import MultigridNet, count_parameters
from .precond import AIR, FLUID, SOLID, NetworkMap, network_input, pad_labels
from .registry import WeightsError, available, load_pretrained, save_pretrained
from .stencil_train import TwoLevelProblem, train_stencil
from .train import TrainingSet, iteration_residuals, scale_invariant_loss, train, training_set

__all__ = [
    "AIR",
    "FLUID",
    "SOLID",
    "StencilGeometry",
    "StencilNet",
    "TwoLevelProblem",
    "MultigridNet",
    "NetworkMap",
    "TrainingSet",
    "WeightsError",
    "available",
    "count_parameters",
    "iteration_residuals",
    "lanczos",
    "learned_map",
    "learned_prolongation",
    "load_pretrained",
    "network_input",
    "pad_labels",
    "ritz_pairs",
    "ritz_weights",
    "save_pretrained",
    "scale_invariant_loss",
    "train",
    "train_stencil",
    "training_set",
    "weighted_rhs",
]
