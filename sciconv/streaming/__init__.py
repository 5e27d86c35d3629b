"""Exact streaming inference of sequential 1D CNNs (StreamiNNC).

On overlapping windows with hop ``h``, a 1D CNN recomputes every activation of each window,
although only the last ``h / S`` of each layer are new (``S`` the cumulative stride).
:func:`stream` turns a sequential model into a stateful :class:`StreamingCNN` that caches each
layer's input tail and computes only the new outputs, exactly equal to windowed inference with
valid convolutions or signal padding and pooling aligned to the hop; zero padding or a stride
that straddles the hop raise :class:`StreamingInexactWarning` naming the layer, and
:func:`streaming_deviation` measures the resulting deviation.
"""

from .deviation import Deviation, pooling_shift_bound, streaming_deviation, windowed_inference
from .module import StreamingCNN
from .stream import StreamingInexactWarning, stream, without_padding

__all__ = [
    "Deviation",
    "StreamingCNN",
    "StreamingInexactWarning",
    "pooling_shift_bound",
    "stream",
    "streaming_deviation",
    "windowed_inference",
    "without_padding",
]
