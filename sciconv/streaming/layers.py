"""One streamed layer: a windowed operation (convolution, pooling) with a cached input tail, or
a pointwise one applied to the new samples only.

A windowed layer with span ``r = d(k - 1) + 1``, stride ``s`` and paddings ``(pl, pr)`` maps its
input stream ``u[0], u[1], ...`` to outputs ``v[j] = op(u[j s - pl], ..., u[j s - pl + r - 1])``.
When ``T`` inputs have arrived it can emit every ``j <= floor((T + pl + pr - r) / s)``; a read of
a position ``>= T`` (right padding) or ``< 0`` (the stream's start) takes the padding's fill
value. Each output is computed once, when it is first emitted, from the cached tail of the input
and the new samples: that is the whole saving of streaming inference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["POINTWISE", "LayerSpec", "WindowedState", "parse_layer"]

#: layers acting on each time step alone (in eval mode), streamed by applying them to new samples
POINTWISE: tuple[type[nn.Module], ...] = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softplus,
    nn.Hardtanh,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Identity,
    nn.Dropout,
    nn.BatchNorm1d,
)


#: oneDNN's convolution is callable (CPU builds with mkldnn)
_ONEDNN = torch.backends.mkldnn.is_available() and hasattr(torch, "mkldnn_convolution")


def _one(value: Any) -> int:
    """A torch 1D layer attribute (an int or a 1-tuple) as an int."""
    return int(value[0]) if isinstance(value, (tuple, list)) else int(value)


@dataclass
class LayerSpec:
    """What streaming needs to know about one layer of the sequential model.

    ``kind`` is 'pointwise', 'conv' or 'pool'. For windowed kinds: ``span`` (``d(k-1)+1``),
    ``stride``, the model's own paddings ``(pad_left, pad_right)``, the padding's ``fill`` value
    (0 for zeros and average pooling, -inf for max pooling) and ``op``, the layer without its
    padding applied to a tensor ``(B, C, L)``.
    """

    index: int | str
    module: nn.Module
    kind: str
    span: int = 1
    stride: int = 1
    pad_left: int = 0
    pad_right: int = 0
    fill: float = 0.0
    padding_mode: str = "zeros"
    op: Any = None

    @property
    def name(self) -> str:
        """``[index] repr`` of the layer, as errors and warnings name it."""
        return f"[{self.index}] {self.module!r}"

    @property
    def padded(self) -> bool:
        return self.pad_left + self.pad_right > 0


def _refuse(index: int | str, module: nn.Module, why: str) -> ValueError:
    return ValueError(f"model layer [{index}] {module!r} cannot be streamed: {why}")


def parse_layer(index: int | str, module: nn.Module) -> LayerSpec:
    """Describe ``module`` (layer ``index`` of the model) for streaming, or refuse it by name.

    Examples
    --------
    >>> from torch import nn
    >>> spec = parse_layer(0, nn.Conv1d(2, 3, 3, dilation=2, stride=2))
    >>> spec.kind, spec.span, spec.stride, spec.pad_left
    ('conv', 5, 2, 0)
    >>> parse_layer(1, nn.Linear(4, 2))
    Traceback (most recent call last):
        ...
    ValueError: model layer [1] Linear(in_features=4, out_features=2, bias=True) cannot be \
streamed: Linear mixes every time step of the window (a Flatten/Linear head is not shift \
invariant); stream the convolutional part and apply the head to its outputs
    """
    if isinstance(module, POINTWISE):
        if module.training and isinstance(module, (nn.BatchNorm1d, nn.Dropout)):
            raise _refuse(
                index,
                module,
                "it is in training mode (batch statistics / random masks depend on the whole "
                "window); call model.eval() first",
            )
        return LayerSpec(index, module, "pointwise")
    if isinstance(module, nn.Conv1d):
        k, s, d = _one(module.kernel_size), _one(module.stride), _one(module.dilation)
        span = d * (k - 1) + 1
        if isinstance(module.padding, str):
            total = 0 if module.padding == "valid" else span - 1
            pl, pr = total // 2, total - total // 2
        else:
            pl = pr = _one(module.padding)

        def conv(u: torch.Tensor, m: nn.Conv1d = module) -> torch.Tensor:
            if d > 1 and _ONEDNN and u.dtype == torch.float32 and u.device.type == "cpu":
                # torch sends short dilated inputs to its slow im2col path (aten::
                # slow_conv_dilated2d), long ones to oneDNN; a streamed step is short
                return torch.mkldnn_convolution(u, m.weight, m.bias, [0], [s], [d], m.groups)
            return F.conv1d(u, m.weight, m.bias, s, 0, d, m.groups)

        return LayerSpec(
            index,
            module,
            "conv",
            span,
            s,
            pl,
            pr,
            0.0,
            module.padding_mode,
            conv,
        )
    if isinstance(module, (nn.MaxPool1d, nn.AvgPool1d)):
        if getattr(module, "ceil_mode", False):
            raise _refuse(
                index,
                module,
                "ceil_mode=True pools a partial window at the window's end; use ceil_mode=False",
            )
        k = _one(module.kernel_size)
        s = _one(module.stride) if module.stride is not None else k
        p = _one(module.padding)
        if isinstance(module, nn.MaxPool1d):
            if module.return_indices:
                raise _refuse(index, module, "return_indices=True; use return_indices=False")
            d = _one(module.dilation)

            def mpool(u: torch.Tensor) -> torch.Tensor:
                return F.max_pool1d(u, k, s, 0, d)

            return LayerSpec(index, module, "pool", d * (k - 1) + 1, s, p, p, -math.inf, op=mpool)
        if p and not module.count_include_pad:
            raise _refuse(
                index,
                module,
                "count_include_pad=False with padding>0 divides by a window-dependent count; "
                "use padding=0",
            )

        def apool(u: torch.Tensor) -> torch.Tensor:
            return F.avg_pool1d(u, k, s, 0)

        return LayerSpec(index, module, "pool", k, s, p, p, 0.0, op=apool)
    if isinstance(module, (nn.Linear, nn.Flatten)):
        raise _refuse(
            index,
            module,
            f"{type(module).__name__} mixes every time step of the window (a Flatten/Linear "
            "head is not shift invariant); stream the convolutional part and apply the head to "
            "its outputs",
        )
    raise _refuse(
        index,
        module,
        "unsupported layer type; supported: Conv1d, MaxPool1d, AvgPool1d and pointwise layers ("
        + ", ".join(t.__name__ for t in POINTWISE)
        + ")",
    )


@dataclass
class WindowedState:
    """The cached input tail of one windowed layer and the index of its next output.

    ``pad_left``/``pad_right`` are the paddings streamed (the model's own in ``'keep'`` mode,
    zero under signal padding); positions outside ``[0, T)`` read ``spec.fill``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> state = WindowedState(parse_layer(0, nn.MaxPool1d(3, stride=1)), 0, 0)
    >>> state.reset()
    >>> state.step(torch.tensor([[[1.0, 5.0, 2.0, 0.0]]])).tolist()  # windows ending at 2, 3
    [[[5.0, 5.0]]]
    >>> state.step(torch.tensor([[[3.0]]])).tolist(), state.buf.tolist()  # cached tail: 2 inputs
    ([[[3.0]]], [[[0.0, 3.0]]])
    """

    spec: LayerSpec
    pad_left: int
    pad_right: int
    buf: torch.Tensor | None = None
    start: int = 0  # stream position of buf[..., 0]
    received: int = 0  # T: inputs received so far
    next_out: int = 0  # index of the next output to emit

    def reset(self) -> None:
        self.buf, self.start, self.received, self.next_out = None, -self.pad_left, 0, 0

    def step(self, new: torch.Tensor) -> torch.Tensor:
        """Append ``new`` (B, C, n) to the stream; return every output that became available."""
        spec, pl, pr = self.spec, self.pad_left, self.pad_right
        if self.buf is None:
            self.start = -pl
            self.buf = new.new_full((*new.shape[:2], pl), spec.fill)
        self.buf = torch.cat([self.buf, new], dim=-1)
        self.received += new.shape[-1]
        last = (self.received + pl + pr - spec.span) // spec.stride
        if last < self.next_out:
            channels = spec.module.out_channels if spec.kind == "conv" else new.shape[1]
            return new.new_zeros((new.shape[0], channels, 0))
        lo = self.next_out * spec.stride - pl  # first stream position read
        hi = last * spec.stride - pl + spec.span  # one past the last position read
        u = self.buf[..., lo - self.start :]
        missing = hi - self.received  # right padding still beyond the stream's end
        if missing > 0:
            u = torch.cat([u, u.new_full((*u.shape[:2], missing), spec.fill)], dim=-1)
        out = spec.op(u[..., : hi - lo].contiguous())  # a strided view takes slow conv paths
        self.next_out = last + 1
        keep_from = min(self.next_out * spec.stride - pl, self.received)
        self.buf = self.buf[..., keep_from - self.start :]
        self.start = keep_from
        return out
