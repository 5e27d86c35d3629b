"""State-space convolutions: HiPPO matrices, discretisations, kernels, scans and layers.

A linear state-space model :math:`x' = Ax + Bu`, :math:`y = Cx + Du`, discretised with step
:math:`\\Delta`, is the causal convolution with :math:`K_l = C\\bar A^l \\bar B`. This
subpackage builds :math:`(A, B)` (:func:`hippo`, :func:`nplr`, :func:`s4d_init`), discretises
them (:func:`discretize`), computes ``K`` by Krylov, Vandermonde or Cauchy methods behind one
entry point (:func:`ssm_kernel`), applies it causally by FFT, step by step with an explicit
state, or by a parallel scan (:func:`linear_scan`), and packages this into layers (:class:`S4D`,
:class:`LSSL`, :class:`LongConv`, :class:`LMU`, :class:`ConvSSM`).

Layout: every layer takes sequences channels first, ``(batch, channels, L)`` like
``torch.nn.Conv1d`` (:class:`ConvSSM`: ``(batch, channels, L, H, W)`` like ``torch.nn.Conv3d``).
:class:`LMU` and :class:`ConvSSM` took time first, ``(batch, L, channels[, H, W])``, before
issue 19; that layout stays available as ``layout='BLC'`` (:data:`LAYOUTS`), so older code
migrates by passing it (a mismatched input is refused by name, naming the other layout).

Deployment: the layers run on the ``meta`` device and pass ``torch.export``; value checks
inside ``forward`` (a finite kernel, a positive step) are in-graph assertions while traced
(:func:`sciconv.validation.require`). An input whose dtype differs from the parameters' is
refused with ``TypeError``, as ``torch.nn.Conv1d`` refuses it.
"""

from .apply import LAYOUTS, SSMState, causal_conv, ssm_recurrence, ssm_step
from .convssm import ConvSSM
from .discretize import DISCRETIZATIONS, discretize
from .hippo import MEASURES, S4D_INITS, hippo, hippo_rank_correction, nplr, s4d_init
from .kernels import (
    KERNEL_METHODS,
    cauchy_kernel,
    dplr_to_dense,
    krylov,
    krylov_doubling,
    ssm_kernel,
)
from .lmu import LMU, LMUState
from .longconv import LongConv, smooth, squash
from .lssl import LSSL
from .s4d import S4D
from .scan import SCAN_METHODS, linear_scan, sequential_scan

__all__ = [
    "DISCRETIZATIONS",
    "KERNEL_METHODS",
    "LAYOUTS",
    "LMU",
    "LSSL",
    "MEASURES",
    "S4D",
    "S4D_INITS",
    "SCAN_METHODS",
    "ConvSSM",
    "LMUState",
    "LongConv",
    "SSMState",
    "causal_conv",
    "cauchy_kernel",
    "discretize",
    "dplr_to_dense",
    "hippo",
    "hippo_rank_correction",
    "krylov",
    "krylov_doubling",
    "linear_scan",
    "nplr",
    "s4d_init",
    "sequential_scan",
    "smooth",
    "squash",
    "ssm_kernel",
    "ssm_recurrence",
    "ssm_step",
]
