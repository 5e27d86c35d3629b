"""The factorized convolution: a CP, Tucker or tensor-train kernel run as small convolutions.

:class:`FactorizedConv` keeps the factors of :mod:`tensors.decompose` as parameters (never the
dense kernel) and applies them as a sequence of convolutions, so it trains from scratch in
compressed form (a priori) or starts from a trained dense convolution (:meth:`from_conv`, a
posteriori). The named layers (``CPConv2d``, ...) are in :mod:`tensors.layers`.

References
----------
Lebedev, Ganin, Rakhuba, Oseledets and Lempitsky, "Speeding-up Convolutional Neural Networks Using
Fine-tuned CP-Decomposition", ICLR 2015. arXiv:1412.6553 (CP: 1x1, kx1, 1xk, 1x1 convolutions).

Kim, Park, Yoo, Choi, Yang and Shin, "Compression of Deep Convolutional Neural Networks for Fast
and Low Power Mobile Applications", ICLR 2016. arXiv:1511.06530 (Tucker-2: 1x1, core, 1x1
convolutions).

Garipov, Podoprikhin, Novikov and Vetrov, "Ultimate Tensorization: Compressing Convolutional and FC
Layers Alike", arXiv:1611.03214, 2016 (tensor-train convolutions; here the train runs over the
kernel's own modes ``(in, *k, out)``, the direct variant discussed there, without reshaping the
channels).

Boukraichi, Akkari, Casenave and Ryckelynck, "A Priori Compression of Convolutional Neural Networks
for Wave Simulators", arXiv:2304.04964, 2023 (a priori compressed layers trained from scratch, with
one-way filters).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sciconv.padding import resolve_padding
from sciconv.validation import (
    as_int_tuple,
    check_choice,
    check_float_dtype,
    check_positive_int,
    describe,
)

from .decompose import Decomposition, decompose, resolve_rank

__all__ = ["FactorizedConv", "out_size"]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
NN_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_PAD_MODES = ("zeros", "reflect", "replicate", "circular")


def out_size(n: int, k: int, s: int, p: tuple[int, int], d: int) -> int:
    """Output length of a convolution: ``(n + p_left + p_right - d(k-1) - 1) // s + 1``."""
    return (n + p[0] + p[1] - d * (k - 1) - 1) // s + 1


class FactorizedConv(nn.Module):
    r"""N-d convolution whose kernel is kept in CP, Tucker or tensor-train form.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, dilation : int or sequence of int
        As in ``torch.nn.Conv2d``.
    padding : int, sequence of int, 'same' or 'valid'
        As in ``torch.nn.Conv2d`` ('same' needs stride 1).
    groups : int
        Must be 1 (a factorized kernel mixes all channels).
    bias : bool
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
    rank : int, sequence of int or 'full'
        Ranks per bond (:func:`tensors.decompose.resolve_rank`); required.
    kind : {'cp', 'tucker', 'tt'}
    ndim : {1, 2, 3}
        Number of spatial axes.
    implementation : {'factorized', 'reconstructed'}
        Run the sequence of small convolutions (default), or rebuild the dense kernel from the
        factors at each call and run one convolution (same result, same gradients; faster when
        the small convolutions are overhead-bound).
    device, dtype : optional

    Notes
    -----
    The forward map equals ``F.conv{ndim}d(x, self.weight, bias, stride, padding, dilation)``
    with the reconstructed kernel, computed as

    * CP: 1x1 (in -> R), one depthwise 1-D convolution per spatial axis (the one-way filters,
      kx1 then 1xk in 2D), 1x1 (R -> out);
    * Tucker: 1x1 (in -> R_i), the core convolution (R_i -> R_o, full kernel), 1x1 (R_o -> out);
    * TT: 1x1 (in -> r_0), per axis a full 1-D convolution r_{a-1} -> r_a, 1x1 (r_d -> out).

    Zero padding and stride/dilation split over the axes because a separable kernel sums the
    axes independently and pointwise (1x1) maps commute with any padding (a gather). From
    scratch, every factor is drawn from :math:`N(0,\sigma^2)` with :math:`\sigma^{2n} \prod r =
    1/(3\,\mathrm{fan\_in})` (n factors, bond ranks r), so the kernel has the variance of
    ``nn.Conv2d``'s default initialisation.

    Examples
    --------
    A priori (trained in compressed form), a Tucker layer holds its factors only and runs the
    convolution with the kernel they represent:

    >>> import torch
    >>> from torch import nn
    >>> from tensors import FactorizedConv
    >>> _ = torch.manual_seed(0)
    >>> layer = FactorizedConv(4, 8, 3, padding=1, rank=(3, 2), kind="tucker")
    >>> [tuple(f.shape) for f in layer.factors]
    [(8, 3), (4, 2), (3, 2, 3, 3)]
    >>> layer.n_parameters(), layer.dense_parameters()
    (94, 296)
    >>> x = torch.randn(2, 4, 6, 6)
    >>> dense = nn.functional.conv2d(x, layer.weight, layer.bias, padding=1)
    >>> torch.allclose(layer(x), dense, atol=1e-5)
    True

    A posteriori, from a trained convolution (exact at full rank):

    >>> conv = nn.Conv2d(4, 8, 3, padding=1, dtype=torch.float64)
    >>> tt = FactorizedConv.from_conv(conv, "full", kind="tt")
    >>> tt.rank, tt.decomposition_error < 1e-10
    ((4, 12, 8), True)
    >>> torch.allclose(tt(x.double()), conv(x.double()))
    True
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] | str = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        *,
        rank: int | Sequence[int] | str,
        kind: str = "cp",
        ndim: int = 2,
        implementation: str = "factorized",
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        check_float_dtype("dtype", dtype)
        super().__init__()
        self.implementation = check_choice(
            "implementation", implementation, ("factorized", "reconstructed")
        )
        if ndim not in (1, 2, 3):
            raise ValueError(f"ndim must be 1, 2 or 3, got {ndim!r}")
        self.kind = check_choice("kind", kind, ("cp", "tucker", "tt"))
        self.ndim = ndim
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.out_channels = check_positive_int("out_channels", out_channels)
        self.kernel_size = as_int_tuple("kernel_size", kernel_size, ndim)
        self.stride = as_int_tuple("stride", stride, ndim)
        self.dilation = as_int_tuple("dilation", dilation, ndim)
        if groups != 1:
            raise ValueError(f"groups must be 1 for a factorized convolution, got {groups!r}")
        self.groups = 1
        self.padding_mode = check_choice("padding_mode", padding_mode, _PAD_MODES)
        if isinstance(padding, str):
            check_choice("padding", padding, ("same", "valid"))
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"padding='same' needs stride 1, got stride={self.stride}")
        self.padding = padding
        _, self._widths = resolve_padding(
            padding, None, (1,) * ndim, self.kernel_size, self.dilation
        )
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.rank = resolve_rank(self.kind, shape, rank)
        kw = {"device": device, "dtype": dtype}
        self.factors = nn.ParameterList(
            [nn.Parameter(torch.empty(s, **kw)) for s in self._factor_shapes()]
        )
        self.bias = nn.Parameter(torch.empty(self.out_channels, **kw)) if bias else None
        self.reset_parameters()

    # ----------------------------------------------------------------- structure
    def _factor_shapes(self) -> list[tuple[int, ...]]:
        o, i, k, r = self.out_channels, self.in_channels, self.kernel_size, self.rank
        if self.kind == "cp":
            return [(o, r[0]), (i, r[0]), *[(ka, r[0]) for ka in k]]
        if self.kind == "tucker":
            return [(o, r[0]), (i, r[1]), (r[0], r[1], *k)]
        return [(i, r[0]), *[(r[a], ka, r[a + 1]) for a, ka in enumerate(k)], (r[-1], o)]

    def reset_parameters(self) -> None:
        """Draw the factors so that the kernel has ``nn.Conv``'s default variance."""
        fan_in = self.in_channels * math.prod(self.kernel_size)
        target = 1.0 / (3.0 * fan_in)
        sigma = (target / math.prod(self.rank)) ** (1.0 / (2 * len(self.factors)))
        with torch.no_grad():
            for f in self.factors:
                f.normal_(0.0, sigma)
            if self.bias is not None:
                self.bias.uniform_(-1.0 / math.sqrt(fan_in), 1.0 / math.sqrt(fan_in))

    @property
    def weight(self) -> torch.Tensor:
        """The dense kernel ``(out, in, *kernel_size)`` the factors represent."""
        return self.decomposition().reconstruct()

    def decomposition(self) -> Decomposition:
        """The current factors as a :class:`Decomposition` (error 0 by definition)."""
        return Decomposition(self.kind, self.rank, tuple(self.factors), 0.0)

    def _one(self, axis: int, value: int) -> tuple[int, ...]:
        return tuple(value if a == axis else 1 for a in range(self.ndim))

    def _stages(self) -> list[tuple[torch.Tensor, tuple, tuple, tuple, int]]:
        """(weight, stride, widths, dilation, groups) of each convolution, in order."""
        f, nd = list(self.factors), self.ndim
        ones, zeros = (1,) * nd, ((0, 0),) * nd
        pw = lambda m: m.reshape(*m.shape, *ones)  # noqa: E731 - (out, in) -> 1x..x1 kernel

        def along(a: int, w: torch.Tensor, groups: int):
            shape = (w.shape[0], w.shape[1], *[w.shape[2] if b == a else 1 for b in range(nd)])
            return (
                w.reshape(shape),
                self._one(a, self.stride[a]),
                tuple(self._widths[a] if b == a else (0, 0) for b in range(nd)),
                self._one(a, self.dilation[a]),
                groups,
            )

        if self.kind == "cp":
            r = self.rank[0]
            first, last = pw(f[1].T), pw(f[0])
            middle = [along(a, s.T.reshape(r, 1, -1), r) for a, s in enumerate(f[2:])]
        elif self.kind == "tucker":
            first, last = pw(f[1].T), pw(f[0])
            middle = [(f[2], self.stride, self._widths, self.dilation, 1)]
        else:
            first, last = pw(f[0].T), pw(f[-1].T)
            middle = [along(a, c.permute(2, 0, 1), 1) for a, c in enumerate(f[1:-1])]
        return [(first, ones, zeros, ones, 1), *middle, (last, ones, zeros, ones, 1)]

    def _prepad(self) -> bool:
        """Whether padding is applied once by ``F.pad`` (not symmetric zeros inside convs)."""
        symmetric = all(left == right for left, right in self._widths)
        return self.padding_mode != "zeros" or not symmetric

    # ----------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != self.ndim + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"input must have shape (batch, {self.in_channels}, {self.ndim} spatial axes), "
                f"got {describe(x)}"
            )
        conv = _CONV[self.ndim]
        prepad = self._prepad()
        if self.implementation == "reconstructed":
            if prepad:
                x = self._pad(x)
                return conv(x, self.weight, self.bias, self.stride, 0, self.dilation)
            pad = tuple(left for left, _ in self._widths)
            return conv(x, self.weight, self.bias, self.stride, pad, self.dilation)
        stages = self._stages()
        for j, (w, s, widths, d, g) in enumerate(stages):
            bias = self.bias if j == len(stages) - 1 else None
            if prepad:
                pad = (0,) * self.ndim
            else:
                pad = tuple(left for left, _ in widths)
            x = conv(x, w, bias, s, pad, d, g)
            if j == 0 and prepad:
                x = self._pad(x)
        return x

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        flat = [p for left, right in reversed(self._widths) for p in (left, right)]
        mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
        return F.pad(x, flat, mode=mode)

    # ----------------------------------------------------------------- counters
    def n_parameters(self) -> int:
        """Trainable parameters (factors and bias)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def dense_parameters(self) -> int:
        """Parameters of the dense convolution with the same shape (kernel and bias)."""
        n = self.out_channels * self.in_channels * math.prod(self.kernel_size)
        return n + (self.out_channels if self.bias is not None else 0)

    def flops(self, input_size: Sequence[int]) -> int:
        """Floating-point operations (2 per multiply-add) of one sample of ``input_size``.

        Counts the convolutions that :meth:`forward` runs: the small ones for
        ``implementation='factorized'``, the dense one for ``'reconstructed'`` (the kernel
        reconstruction itself, independent of the input size, is not counted).
        """
        size = list(as_int_tuple("input_size", input_size, self.ndim))
        if self.implementation == "reconstructed":  # pad-then-valid gives the same sizes
            args = zip(size, self.kernel_size, self.stride, self._widths, self.dilation)
            out = [out_size(n, k, s, w, d) for n, k, s, w, d in args]
            macs = self.out_channels * self.in_channels * math.prod(self.kernel_size)
            return 2 * macs * math.prod(out)
        prepad = self._prepad()
        total = 0
        for j, (w, s, widths, d, _) in enumerate(self._stages()):
            k = w.shape[2:]  # w.shape[1] is already in_channels // groups
            if prepad:
                widths = ((0, 0),) * self.ndim
            size = [out_size(n, k[a], s[a], widths[a], d[a]) for a, n in enumerate(size)]
            total += 2 * w.shape[0] * w.shape[1] * math.prod(k) * math.prod(size)
            if j == 0 and prepad:
                size = [n + left + right for n, (left, right) in zip(size, self._widths)]
        return total

    # ----------------------------------------------------------------- a posteriori
    @classmethod
    def from_conv(
        cls,
        conv: nn.Module,
        rank: int | Sequence[int] | str,
        *,
        kind: str | None = None,
        implementation: str = "factorized",
        **decompose_kwargs: Any,
    ) -> FactorizedConv:
        """Factorized layer that approximates a trained dense ``nn.Conv{1,2,3}d``.

        The kernel is decomposed by :func:`tensors.decompose.decompose` (keyword arguments are
        passed on); the bias is copied. ``kind`` is needed only on :class:`FactorizedConv`
        itself. ``layer.decomposition_error`` holds the relative reconstruction error.
        """
        fixed_ndim, fixed_kind = getattr(cls, "_NDIM", None), getattr(cls, "_KIND", None)
        if fixed_kind is not None and kind not in (None, fixed_kind):
            raise ValueError(f"kind must be {fixed_kind!r} for {cls.__name__}, got {kind!r}")
        kind = kind or fixed_kind
        if kind is None:
            raise ValueError("kind must be given when calling FactorizedConv.from_conv")
        types = tuple(NN_CONV.values()) if fixed_ndim is None else (NN_CONV[fixed_ndim],)
        if not isinstance(conv, types):
            want = " or ".join(t.__name__ for t in types)
            ways = "a 3-, 4- or 5-way" if fixed_ndim is None else f"a {fixed_ndim + 2}-way"
            got = describe(getattr(conv, "weight", conv))
            raise ValueError(
                f"conv must be a {want} ({ways} kernel), got {type(conv).__name__} with {got}"
            )
        w = conv.weight
        extra = {} if fixed_kind else {"kind": kind, "ndim": w.ndim - 2}
        layer = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            conv.stride,
            conv.padding,
            conv.dilation,
            conv.groups,
            conv.bias is not None,
            conv.padding_mode,
            rank=rank,
            implementation=implementation,
            device=w.device,
            dtype=w.dtype,
            **extra,
        )
        dec = decompose(w, layer.kind, layer.rank, **decompose_kwargs)
        with torch.no_grad():
            for p, f in zip(layer.factors, dec.factors):
                p.copy_(f)
            if conv.bias is not None:
                layer.bias.copy_(conv.bias)
        layer.decomposition_error = dec.error
        return layer

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kind={self.kind!r}, rank={self.rank}, "
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding!r}, "
            f"dilation={self.dilation}, bias={self.bias is not None}"
        )
