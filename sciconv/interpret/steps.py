"""Frozen steps: the affine maps a network reduces to once its non-linear units are frozen.

Each step maps the tangents of its variable inputs to the tangent of its output, linearly
(``bias=False``), or affinely with its own offsets (``bias=True``), and has an explicit adjoint
(a transposed convolution, a transposed matrix, a mask, a scatter-add, a split). Every tensor
carries a leading batch axis: a step frozen at a batch of one sample applies to a batch of
``B`` vectors at once (its masks, gains and indices broadcast over the batch).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..operator import ConvOperator

__all__ = [
    "Cat",
    "Conv",
    "ConvTranspose",
    "Dense",
    "Elementwise",
    "Gather",
    "LinComb",
    "Reshape",
    "Separable",
    "Step",
]

Shape = tuple[int, ...]


def _batched(shape: Shape, batch: int) -> Shape:
    return (batch, *shape[1:])


class Step:
    """One frozen affine map :math:`v \\mapsto L v + b` of a network's graph.

    ``in_shapes`` are the shapes of the variable inputs and ``out_shape`` that of the output,
    all with a leading batch axis of 1 (the sample the step was frozen at).
    """

    in_shapes: list[Shape]
    out_shape: Shape
    #: True for a smooth unit frozen as a gate (its derivative is not the frozen map)
    gate: bool = False

    def forward(self, vs: Sequence[torch.Tensor], bias: bool) -> torch.Tensor:
        """:math:`L v` (``bias=False``) or :math:`L v + b` (``bias=True``)."""
        raise NotImplementedError

    def adjoint(self, u: torch.Tensor) -> list[torch.Tensor]:
        """:math:`L^T u`, one cotangent per variable input."""
        raise NotImplementedError


class Conv(Step):
    """A convolution layer through :class:`sciconv.ConvOperator` (its adjoint is the
    transposed convolution), plus its bias."""

    def __init__(self, op: ConvOperator, bias: torch.Tensor | None) -> None:
        self.op, self.bias = op, bias
        self.in_shapes, self.out_shape = [(1, *op.in_shape)], (1, *op.out_shape)

    def _add_bias(self, y: torch.Tensor) -> torch.Tensor:
        if self.bias is None:
            return y
        return y + self.bias.reshape(1, -1, *([1] * (y.ndim - 2)))

    def forward(self, vs: Sequence[torch.Tensor], bias: bool) -> torch.Tensor:
        y = self.op.apply(vs[0])
        return self._add_bias(y) if bias else y

    def adjoint(self, u: torch.Tensor) -> list[torch.Tensor]:
        return [self.op.apply_adjoint(u)]


class ConvTranspose(Conv):
    """A transposed convolution: the adjoint of a :class:`sciconv.ConvOperator`, followed by
    ``extra`` appended zeros per axis (an output padding beyond the kernel's reach)."""

    def __init__(
        self, op: ConvOperator, bias: torch.Tensor | None, extra: Sequence[int] = ()
    ) -> None:
        super().__init__(op, bias)
        self.extra = tuple(extra) or (0,) * op.ndim
        out = tuple(n + e for n, e in zip(op.in_shape[1:], self.extra))
        self.in_shapes, self.out_shape = [(1, *op.out_shape)], (1, op.in_shape[0], *out)

    def forward(self, vs: Sequence[torch.Tensor], bias: bool) -> torch.Tensor:
        y = self.op.apply_adjoint(vs[0])
        if any(self.extra):
            y = F.pad(y, [w for e in reversed(self.extra) for w in (0, e)])
        return self._add_bias(y) if bias else y

    def adjoint(self, u: torch.Tensor) -> list[torch.Tensor]:
        if any(self.extra):
            u = u[(slice(None), slice(None), *(slice(0, n) for n in self.op.in_shape[1:]))]
        return [self.op.apply(u)]


class Dense(Step):
    """A fully connected layer :math:`v W^T + b` on the last axis."""

    def __init__(
        self, weight: torch.Tensor, bias: torch.Tensor | None, in_shape: Shape, out_shape: Shape
    ) -> None:
        self.weight, self.bias = weight, bias
        self.in_shapes, self.out_shape = [in_shape], out_shape

    def forward(self, vs: Sequence[torch.Tensor], bias: bool) -> torch.Tensor:
        return F.linear(vs[0], self.weight, self.bias if bias else None)

    def adjoint(self, u: torch.Tensor) -> list[torch.Tensor]:
        return [u @ self.weight]


class Elementwise(Step):
    """:math:`g \\odot v + b`: a frozen mask or gate, a batch norm in eval mode, a scaling.

    ``gain`` and ``offset`` broadcast against the input (a per-channel BatchNorm scale, or a
    full per-entry ReLU mask frozen at the sample).
    """

    def __init__(
        self,
        gain: torch.Tensor | float,
        offset: torch.Tensor | float | None,
        in_shape: Shape,
        out_shape: Shape,
    ) -> None:
        self.gain, self.offset = gain, offset
        self.in_shapes, self.out_shape = [in_shape], out_shape

    def forward(self, vs: Sequence[torch.Tensor], bias: bool) -> torch.Tensor:
        y = vs[0] * self.gain
        if y.shape[1:] != self.out_shape[1:]:  # a constant factor that broadcasts up
            y = y.expand(y.shape[0], *self.out_shape[1:])
        return y + self.offset if bias and self.offset is not None else y

    def adjoint(self, u: torch.Tensor) -> list[torch.Tensor]:
        return [(u * self.gain).sum_to_size(_batched(self.in_shapes[0], u.shape[0]))]


class LinComb(Step):
    """:math:`\\sum_i a_i v_i + b`: residual additions, subtractions, scalar multiples.

    Inputs broadcast as in torch; the adjoint sums a cotangent back to each input's shape.
    """

    def __init__(
        self,
        coefs: Sequence[float],
        const: torch.Tensor | float | None,
        in_shapes: Sequence[Shape],
        out_shape: Shape,
    ) -> None:
        self.coefs, self.const = list(coefs), const
        self.in_shapes, self.out_shape = list(in_shapes), out_shape

    def forward(self, vs: Sequence[torch.Tensor], bias: bool) -> torch.Tensor:
        shape = _batched(self.out_shape, vs[0].shape[0])
        y = sum(a * v for a, v in zip(self.coefs, vs))
        y = torch.broadcast_to(y, shape)
        return y + self.const if bias and self.const is not None else y.clone()

    def adjoint(self, u: torch.Tensor) -> list[torch.Tensor]:
        b = u.shape[0]
        return [(a * u).sum_to_size(_batched(s, b)) for a, s in zip(self.coefs, self.in_shapes)]


class Reshape(Step):
    """A reshape that keeps the batch axis (Flatten, view, squeeze, ...)."""

    def __init__(self, in_shape: Shape, out_shape: Shape) -> None:
        self.in_shapes, self.out_shape = [in_shape], out_shape

    def forward(self, vs: Sequence[torch.Tensor], bias: bool) -> torch.Tensor:
        return vs[0].reshape(_batched(self.out_shape, vs[0].shape[0]))

    def adjoint(self, u: torch.Tensor) -> list[torch.Tensor]:
        return [u.reshape(_batched(self.in_shapes[0], u.shape[0]))]


class Gather(Step):
    """Output entry ``k`` copies input entry ``index[k]`` (flat per sample).

    Permutations (PixelShuffle, transposes), nearest upsampling and max pooling frozen at its
    argmax; the adjoint scatter-adds (entries copied several times get the sum).
    """

    def __init__(self, index: torch.Tensor, in_shape: Shape, out_shape: Shape) -> None:
        self.index = index.reshape(-1)
        self.in_shapes, self.out_shape = [in_shape], out_shape

    def forward(self, vs: Sequence[torch.Tensor], bias: bool) -> torch.Tensor:
        v = vs[0].reshape(vs[0].shape[0], -1)
        return v[:, self.index].reshape(_batched(self.out_shape, v.shape[0]))

    def adjoint(self, u: torch.Tensor) -> list[torch.Tensor]:
        b = u.shape[0]
        n = 1
        for s in self.in_shapes[0][1:]:
            n *= s
        idx = self.index.expand(b, -1)
        x = u.new_zeros(b, n).scatter_add_(1, idx, u.reshape(b, -1))
        return [x.reshape(_batched(self.in_shapes[0], b))]


class Separable(Step):
    """One matrix per spatial axis, :math:`y = (M_1 \\otimes \\cdots \\otimes M_d)\\,v` per
    channel: average pooling (plain and adaptive) and linear/bilinear/bicubic/trilinear
    interpolation."""

    def __init__(self, mats: Sequence[torch.Tensor], in_shape: Shape, out_shape: Shape) -> None:
        self.mats = list(mats)
        self.in_shapes, self.out_shape = [in_shape], out_shape

    @staticmethod
    def _apply(v: torch.Tensor, mats: Sequence[torch.Tensor]) -> torch.Tensor:
        for m in mats:  # contract axis 2 each time: the new axis goes last
            v = torch.tensordot(v, m, dims=([2], [1]))
        return v

    def forward(self, vs: Sequence[torch.Tensor], bias: bool) -> torch.Tensor:
        return self._apply(vs[0], self.mats)

    def adjoint(self, u: torch.Tensor) -> list[torch.Tensor]:
        return [self._apply(u, [m.T for m in self.mats])]


class Cat(Step):
    """Concatenation along ``dim``; ``pieces`` are input positions (int) or constant tensors.
    The adjoint splits the cotangent."""

    def __init__(
        self, pieces: Sequence[int | torch.Tensor], dim: int, in_shapes: Sequence[Shape]
    ) -> None:
        self.pieces, self.dim = list(pieces), dim
        self.in_shapes = list(in_shapes)
        sizes = [
            self.in_shapes[p][dim] if isinstance(p, int) else int(p.shape[dim]) for p in self.pieces
        ]
        self.sizes = sizes
        first = self.in_shapes[0]
        self.out_shape = (*first[:dim], sum(sizes), *first[dim + 1 :])

    def forward(self, vs: Sequence[torch.Tensor], bias: bool) -> torch.Tensor:
        b = vs[0].shape[0]
        parts = []
        for p in self.pieces:
            if isinstance(p, int):
                parts.append(vs[p])
            else:
                parts.append(p.expand(b, *p.shape[1:]) if bias else p.new_zeros(b, *p.shape[1:]))
        return torch.cat(parts, self.dim)

    def adjoint(self, u: torch.Tensor) -> list[torch.Tensor]:
        chunks = torch.split(u, self.sizes, self.dim)
        out: list[torch.Tensor | None] = [None] * len(self.in_shapes)
        for p, ch in zip(self.pieces, chunks):
            if isinstance(p, int):
                out[p] = ch if out[p] is None else out[p] + ch
        return [o for o in out if o is not None]
