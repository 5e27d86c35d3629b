"""Kernel-generalized convolutions: the inner product of a patch and a filter replaced by a kernel.

Polynomial, Gaussian and Cauchy kernels (Kervolution, Wang et al. 2019) and weighted L2 / L1
distances (Ghiasi-Shirazi 2017), followed by a monotone link. The L2-type kernels are computed
by three ordinary convolutions (no unfold); L1 by a chunked unfold under a memory cap.
"""

from .conv import PADDING_MODES, KernelConv1d, KernelConv2d
from .functions import KERNELS, LINKS, apply_link, kernel_response, squared_distance
from .l1 import l1_chunks, l1_distance

__all__ = [
    "KERNELS",
    "LINKS",
    "PADDING_MODES",
    "KernelConv1d",
    "KernelConv2d",
    "apply_link",
    "kernel_response",
    "l1_chunks",
    "l1_distance",
    "squared_distance",
]
