"""Sub-pixel convolution (ESPCN): the periodic-shuffle layer, its exact conversions to and from
stride-``r`` transposed convolutions, ICNR initialisation and its exact singular values.

:func:`subpixel_to_transpose` / :func:`transpose_to_subpixel` rearrange weights by the
polyphase identity; :func:`icnr_` initialises a sub-pixel kernel free of checkerboard
artifacts; :class:`SubPixelConv2d` is the ``torch.nn`` layer, with ``to_conv_transpose``,
``from_conv_transpose`` and ``singular_values``.
"""

from .icnr import icnr_
from .layer import SubPixelConv2d
from .polyphase import subpixel_to_transpose, transpose_to_subpixel

__all__ = ["SubPixelConv2d", "icnr_", "subpixel_to_transpose", "transpose_to_subpixel"]
