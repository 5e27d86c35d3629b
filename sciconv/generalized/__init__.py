"""Kernel-generalized convolutions: the inner product of a patch and a filter replaced by a kernel.

Polynomial, Gaussian and Cauchy kernels (kervolution) and weighted L2 / L1 distances, followed
by a monotone link (the generalized convolution of Ghiasi-Shirazi). The L2-type kernels are
computed by three ordinary convolutions (no unfold); L1 by a chunked unfold under a memory cap.

References
----------
Wang, Yang, Xie and Yuan, "Kervolutional Neural Networks", CVPR 2019. arXiv:1904.03955.

Ghiasi-Shirazi, "Generalizing the Convolution Operator in Convolutional Neural Networks", Neural
Processing Letters, 2019. arXiv:1707.09864.

Chen, Wang, Xu, Shi, Xu, Tian and Xu, "AdderNet: Do We Really Need Multiplications in Deep
Learning?", CVPR 2020. arXiv:1912.13200 (the unweighted 'l1' kernel with the 'negate' link).
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
