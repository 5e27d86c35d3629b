r"""ICNR: initialise a sub-pixel kernel to nearest-neighbour resize convolution.

References
----------
.. [1] A. Aitken, C. Ledig, L. Theis, J. Caballero, Z. Wang and W. Shi, "Checkerboard artifact
   free sub-pixel convolution: A note on sub-pixel convolution, resize convolution and
   convolution resize", 2017. arXiv:1707.02937.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn

from ..validation import check_positive_int, check_tensor, describe

__all__ = ["icnr_"]


def icnr_(
    weight: torch.Tensor,
    upscale_factor: int,
    init: Callable[[torch.Tensor], Any] = nn.init.kaiming_normal_,
) -> torch.Tensor:
    r"""Fill a sub-pixel kernel in place so that the layer starts as resize convolution.

    Parameters
    ----------
    weight : torch.Tensor
        Kernel of shape ``(C_out * r**2, C_in, *kernel)`` (channel ``o * r**2 + j`` is phase
        ``j`` of output channel ``o``, as ``pixel_shuffle`` reads it).
    upscale_factor : int
        ``r``.
    init : callable
        In-place initialiser applied to a ``(C_out, C_in, *kernel)`` sub-kernel (default
        ``torch.nn.init.kaiming_normal_``; its fan-in ``C_in * prod(kernel)`` is the full
        kernel's).

    Returns
    -------
    torch.Tensor
        ``weight``, filled (no gradient is recorded).

    Notes
    -----
    ICNR [1]_ draws one sub-kernel :math:`w_0` of ``C_out`` channels and copies it to the
    ``r**2`` phases of each channel, :math:`w_{o r^2 + j} = (w_0)_o`. All phases of a low-
    resolution pixel then compute the same value :math:`z_o = (w_0 \star x)_o`, and the
    periodic shuffle writes it to the whole ``r x r`` block: the layer equals a convolution
    followed by nearest-neighbour upsampling, which has no checkerboard pattern. (With a bias,
    the ``r**2`` phase biases of a channel must be equal too, as
    :meth:`SubPixelConv2d.reset_parameters` draws them.)

    References
    ----------
    .. [1] A. Aitken, C. Ledig, L. Theis, J. Caballero, Z. Wang and W. Shi, "Checkerboard
       artifact free sub-pixel convolution", 2017. arXiv:1707.02937.

    Examples
    --------
    >>> import torch
    >>> import torch.nn.functional as F
    >>> from sciconv.subpixel import icnr_
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> w = icnr_(torch.empty(2 * 4, 3, 3, 3, dtype=torch.float64), 2)
    >>> x = torch.randn(1, 3, 5, 5, dtype=torch.float64)
    >>> y = F.pixel_shuffle(F.conv2d(x, w), 2)  # (1, 2, 6, 6)
    >>> z = F.conv2d(x, w[::4])  # the sub-kernel, one phase per channel
    >>> bool(torch.equal(y, F.interpolate(z, scale_factor=2, mode="nearest")))
    True
    """
    check_tensor("weight", weight)
    if not weight.is_floating_point():
        raise TypeError(
            f"weight must be a floating tensor (e.g. torch.float32), got dtype {weight.dtype}"
        )
    r = check_positive_int("upscale_factor", upscale_factor)
    if weight.ndim < 3 or weight.shape[0] == 0 or weight.shape[0] % (r * r):
        raise ValueError(
            f"weight must have shape (C_out * upscale_factor**2, C_in, *kernel) with "
            f"upscale_factor**2 = {r * r}, got {describe(weight)}"
        )
    if not callable(init):
        raise TypeError(f"init must be a callable initialiser, got {describe(init)}")
    sub = weight.new_empty(weight.shape[0] // (r * r), *weight.shape[1:])
    with torch.no_grad():
        init(sub)
        weight.copy_(sub.repeat_interleave(r * r, dim=0))
    return weight
