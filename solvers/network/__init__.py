"""The learned preconditioner of DCDM: model, Ritz training data, training and pretrained weights.

``solvers.network`` never imports :mod:`pde`: the network sees a residual and label arrays, and
training takes a CSR matrix with its grid labels (see :func:`training_set`).
"""

from .distributed import HaloNetwork
from .lanczos import lanczos, ritz_pairs, ritz_weights, weighted_rhs
from .model import MultigridNet, count_parameters
from .precond import AIR, FLUID, SOLID, NetworkMap, network_input, pad_labels
from .registry import WeightsError, available, load_pretrained, save_pretrained
from .train import TrainingSet, iteration_residuals, scale_invariant_loss, train, training_set

__all__ = [
    "AIR",
    "FLUID",
    "HaloNetwork",
    "SOLID",
    "MultigridNet",
    "NetworkMap",
    "TrainingSet",
    "WeightsError",
    "available",
    "count_parameters",
    "iteration_residuals",
    "lanczos",
    "load_pretrained",
    "network_input",
    "pad_labels",
    "ritz_pairs",
    "ritz_weights",
    "save_pretrained",
    "scale_invariant_loss",
    "train",
    "training_set",
    "weighted_rhs",
]
