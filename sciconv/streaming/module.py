"""``StreamingCNN``: the stateful module :func:`~sciconv.streaming.stream` builds, which runs a
frozen copy of a sequential 1D CNN on each hop's new samples only."""

from __future__ import annotations

import torch
from torch import nn

from ..validation import check_bool, check_tensor
from .layers import LayerSpec, WindowedState

__all__ = ["StreamingCNN"]


class StreamingCNN(nn.Module):
    """A sequential 1D CNN run online: each call takes ``hop`` new samples and returns the new
    outputs, computed from cached per-layer input tails. Build it with :func:`stream`.

    Parameters
    ----------
    specs : list of LayerSpec
        The parsed layers of the (frozen copy of the) model, in order; their modules become
        ``self.layers``.
    hop : int
        Samples per call (``>= 1``).
    padding : {'keep', 'signal'}
        The padding mode, as in :func:`stream`.
    issues : list of str
        Why streaming is not exact (empty when it is); see :func:`stream`.

    Attributes
    ----------
    hop : int
        Samples per call.
    stride : int
        Cumulative stride ``S`` of the network (product of the conv and pooling strides).
    receptive_field : int
        Input samples seen by one output of the valid (padding-free) network.
    signal_padding : int
        ``L_a``: past samples that replace the model's padding under ``padding='signal'`` (0 in
        ``'keep'`` mode or without padding).
    exact : bool
        Whether streaming equals windowed inference (see :func:`stream`); ``issues`` says why
        not.

    Notes
    -----
    Each conv or pooling layer keeps the tail of its input stream that its next output still
    needs and the index of that output; a call appends the new samples, computes every output
    ``j`` whose window ``[j s - p_l, j s - p_l + r)`` has arrived (padding reads outside the
    stream), and drops what no later output reads. Pointwise layers see only the new outputs.
    The module holds a frozen copy of the model's layers, taken by :func:`stream` (parameters
    and buffers without gradients, in eval mode): training the model afterwards, switching it
    to ``train()`` or moving it does not reach the stream (build a new one with :func:`stream`
    to pick such changes up). ``train(True)`` is a no-op here: streaming is inference only,
    and batch norm statistics or dropout masks of one hop would make the outputs depend on how
    the signal is chunked; a layer of ``layers`` switched to training mode by hand is refused
    at the next call. Calls run under ``torch.no_grad()`` (the caches hold no autograd graph).

    Deployment: torch.export captures a single call, with the cached input tails as constants,
    so an exported StreamingCNN does not stream; torch.compile does (Dynamo keeps the cache
    updates).

    References
    ----------
    C. Kechris, J. Dan, J. Miranda, D. Atienza, "Don't Think It Twice: Exploit Shift
    Invariance for Efficient Online Streaming Inference of CNNs", arXiv:2408.03223, 2024.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sciconv.streaming import stream
    >>> online = stream(nn.Sequential(nn.Conv1d(1, 2, 3), nn.AvgPool1d(2)), hop=4)
    >>> online.stride, online.receptive_field, online.outputs_per_hop
    (2, 4, 2)
    >>> [online(torch.zeros(1, 1, 4)).shape[-1] for _ in range(3)]  # the first call fills up
    [1, 2, 2]
    >>> online.reset()
    """

    def __init__(self, specs: list[LayerSpec], hop: int, padding: str, issues: list[str]):
        super().__init__()
        self.layers = nn.ModuleList(spec.module for spec in specs)
        self.specs = specs
        self.hop = hop
        self.padding = padding
        self.issues = issues
        self.exact = not issues
        #: the layer that fixes the input channel count (the first Conv1d or BatchNorm1d)
        self._channel_layer = next(
            (s for s in specs if isinstance(s.module, (nn.Conv1d, nn.BatchNorm1d))), None
        )
        self.in_channels: int | None = None
        if self._channel_layer is not None:
            m = self._channel_layer.module
            self.in_channels = m.in_channels if isinstance(m, nn.Conv1d) else m.num_features
        self.stride, self.receptive_field, self.signal_padding = 1, 1, 0
        self._states: list[WindowedState | None] = []
        for spec in specs:
            if spec.kind == "pointwise":
                self._states.append(None)
                continue
            self.receptive_field += (spec.span - 1) * self.stride
            if padding == "signal":
                self.signal_padding += (spec.pad_left + spec.pad_right) * self.stride
                self._states.append(WindowedState(spec, 0, 0))
            else:
                self._states.append(WindowedState(spec, spec.pad_left, spec.pad_right))
            self.stride *= spec.stride
        self._batch: int | None = None
        super().train(False)  # the frozen copy runs in eval mode whatever the model's mode
        self.reset()

    def train(self, mode: bool = True) -> StreamingCNN:
        """No-op that keeps the module in eval mode (streaming is inference only).

        Parameters
        ----------
        mode : bool
            Ignored once checked to be a bool; the module and its layers stay in eval mode.

        Returns
        -------
        StreamingCNN
            ``self``, as :meth:`torch.nn.Module.train` returns it.

        Examples
        --------
        >>> from torch import nn
        >>> from sciconv.streaming import stream
        >>> online = stream(nn.Sequential(nn.Conv1d(1, 1, 3), nn.Dropout(0.5)).eval(), hop=4)
        >>> online.train().training, online.layers[1].training
        (False, False)
        """
        check_bool("mode", mode)
        return super().train(False)

    def reset(self) -> None:
        """Forget the stream: the next call starts a new one at sample 0."""
        for state in self._states:
            if state is not None:
                state.reset()
        self._batch = None

    @property
    def outputs_per_hop(self) -> int:
        """New outputs per call once the receptive field is filled (``hop / stride`` when
        exact)."""
        return self.hop // self.stride

    def forward(self, chunk: torch.Tensor) -> torch.Tensor:
        """Take the next ``hop`` samples ``(B, C, hop)``; return the outputs that became
        available ``(B, C_out, n)`` (``n = hop / stride`` in steady state, fewer while the
        receptive field fills)."""
        check_tensor("chunk", chunk, None, "(B, C, hop)")
        if chunk.ndim != 3 or chunk.shape[-1] != self.hop:
            raise ValueError(
                f"chunk must have shape (B, C, hop={self.hop}), got shape {tuple(chunk.shape)}"
            )
        if self._channel_layer is not None and chunk.shape[1] != self.in_channels:
            raise ValueError(
                f"chunk must have {self.in_channels} channels (as layer "
                f"{self._channel_layer.name} expects), got {chunk.shape[1]}"
            )
        if not chunk.is_floating_point():
            raise TypeError(f"chunk must be a floating tensor, got dtype {chunk.dtype}")
        param = next(self.layers.parameters(), None)
        if param is not None and (chunk.dtype, chunk.device) != (param.dtype, param.device):
            raise TypeError(
                f"chunk must have the model's dtype {param.dtype} on {param.device}, got "
                f"{chunk.dtype} on {chunk.device}"
            )
        if self._batch is not None and chunk.shape[0] != self._batch:
            raise ValueError(
                f"chunk batch size must stay {self._batch} during a stream (call reset() to start "
                f"a new one), got {chunk.shape[0]}"
            )
        for spec in self.specs:
            if spec.module.training:
                raise RuntimeError(
                    f"layer {spec.name} of the streaming module is in training mode (batch "
                    "statistics and dropout masks would depend on the hop); call "
                    "online.eval(), or stream() the trained model again"
                )
        self._batch = chunk.shape[0]
        u = chunk
        with torch.no_grad():
            for spec, state in zip(self.specs, self._states):
                if state is None:
                    u = spec.module(u) if u.shape[-1] else u
                else:
                    u = state.step(u)
        return u
