r"""Orthogonal convolutions: existence oracle, certificates, measures and exact layers.

* :func:`exists` — does an orthogonal convolution with these channels, kernel, stride and
  boundary exist [1]_? A :class:`Verdict` says which kind (row- or column-orthogonal) and why.
* :func:`certify` — minimise the Gram defect numerically and compare with the oracle.
* :func:`err_F`, :func:`err_s`, :func:`l_orth`, :func:`orthogonality` — how far a kernel is
  from orthogonal (exact through the spectrum for circular padding).
* :class:`OrthogonalConv2d` and friends — exactly orthogonal layers, orthogonal on every
  periodic grid; :class:`LOrthConv2d` — an ordinary convolution with the L_orth regulariser;
  :func:`sigma_report` — σ_min / σ_max of any convolution layer.

References
----------
.. [1] E. M. Achour, F. Malgouyres and F. Mamalet, "Existence, Stability and Scalability of
   Orthogonal Convolutional Neural Networks", Journal of Machine Learning Research 23(347),
   2022. arXiv:2108.05623.
"""

from .certify import Certificate, certify, default_grid
from .existence import BOUNDARIES, Verdict, effective_size, exists
from .layers import (
    OrthogonalConv1d,
    OrthogonalConv2d,
    OrthogonalConv3d,
    OrthogonalConvTranspose1d,
    OrthogonalConvTranspose2d,
    OrthogonalConvTranspose3d,
    compose_kernels,
)
from .measures import (
    OrthoMeasures,
    err_F,
    err_s,
    gram_errors,
    l_orth,
    l_orth_alpha,
    orthogonality,
)
from .regularized import (
    LOrthConv1d,
    LOrthConv2d,
    LOrthConv3d,
    SigmaReport,
    l_orth_penalty,
    sigma_report,
)

__all__ = [
    "BOUNDARIES",
    "Certificate",
    "LOrthConv1d",
    "LOrthConv2d",
    "LOrthConv3d",
    "OrthoMeasures",
    "OrthogonalConv1d",
    "OrthogonalConv2d",
    "OrthogonalConv3d",
    "OrthogonalConvTranspose1d",
    "OrthogonalConvTranspose2d",
    "OrthogonalConvTranspose3d",
    "SigmaReport",
    "Verdict",
    "certify",
    "compose_kernels",
    "default_grid",
    "effective_size",
    "err_F",
    "err_s",
    "exists",
    "gram_errors",
    "l_orth",
    "l_orth_alpha",
    "l_orth_penalty",
    "orthogonality",
    "sigma_report",
]
