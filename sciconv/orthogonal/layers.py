r"""Exactly orthogonal circular convolution layers (torch), and their transposes.

The kernel is a product of orthogonal pieces in kernel space: the two-tap projector blocks
:math:`[P, I - P]` of the block convolution orthogonal parametrisation (BCOP) [1]_, followed
by the non-overlapping strided block convolution of the existence proof in [2]_. The layer
is therefore an orthogonal operator on *every* periodic grid whose size the stride divides,
not only on one grid size as a layer parametrised in the frequency domain would be.

References
----------
.. [1] Q. Li, S. Haque, C. Anil, J. Lucas, R. Grosse and J.-H. Jacobsen, "Preventing Gradient
   Attenuation in Lipschitz Constrained Convolutional Networks", Advances in Neural
   Information Processing Systems (NeurIPS), 2019. arXiv:1911.00937.
.. [2] E. M. Achour, F. Malgouyres and F. Mamalet, "Existence, Stability and Scalability of
   Orthogonal Convolutional Neural Networks", Journal of Machine Learning Research 23(347),
   2022. arXiv:2108.05623.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..operator import ConvOperator
from ..spectrum import conv_singular_values
from ..validation import (
    as_int_tuple,
    check_float_dtype,
    check_input_dtype,
    check_positive_int,
    describe,
)
from .existence import exists

__all__ = [
    "OrthogonalConv1d",
    "OrthogonalConv2d",
    "OrthogonalConv3d",
    "OrthogonalConvTranspose1d",
    "OrthogonalConvTranspose2d",
    "OrthogonalConvTranspose3d",
    "compose_kernels",
]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def compose_kernels(outer: torch.Tensor, inner: torch.Tensor) -> torch.Tensor:
    r"""Kernel of ``outer ⋆ (inner ⋆ x)`` for stride-1 ``inner`` (any stride of ``outer``).

    Notes
    -----
    With :math:`(Ax)_j = \sum_v a_v x_{j+v}` and :math:`(By)_i = \sum_u b_u y_{Si+u}`,
    :math:`(BAx)_i = \sum_t c_t x_{Si+t}` with :math:`c_t = \sum_{u+v=t} b_u a_v` (matrix
    products): a full convolution of the tap sequences, of size :math:`k_a + k_b - 1`.

    Examples
    --------
    A 3-tap stride-1 convolution followed by a 2-tap stride-2 one is one 4-tap stride-2
    convolution:

    >>> import torch
    >>> import torch.nn.functional as F
    >>> from sciconv.orthogonal import compose_kernels
    >>> gen = torch.Generator().manual_seed(0)
    >>> inner = torch.randn(3, 2, 3, generator=gen, dtype=torch.float64)  # 2 -> 3 channels
    >>> outer = torch.randn(4, 3, 2, generator=gen, dtype=torch.float64)  # 3 -> 4, stride 2
    >>> c = compose_kernels(outer, inner)
    >>> tuple(c.shape)
    (4, 2, 4)
    >>> x = torch.randn(1, 2, 16, generator=gen, dtype=torch.float64)
    >>> two = F.conv1d(F.conv1d(x, inner), outer, stride=2)
    >>> bool(torch.allclose(two, F.conv1d(x, c, stride=2)))
    True
    """
    d = inner.ndim - 2
    kb = outer.shape[2:]
    flipped = outer.flip(tuple(range(2, 2 + d)))
    out = _CONV[d](inner.transpose(0, 1), flipped, None, 1, tuple(k - 1 for k in kb))
    return out.transpose(0, 1)


def _orthonormal_columns(raw: torch.Tensor) -> torch.Tensor:
    """Q of the QR factorisation with a positive diagonal of R (smooth, exact to rounding)."""
    q, r = torch.linalg.qr(raw)
    sign = torch.sign(torch.diagonal(r))
    return q * torch.where(sign == 0, torch.ones_like(sign), sign)


class _OrthogonalConvNd(nn.Module):
    """Shared machinery; see :class:`OrthogonalConv2d`."""

    _dim = 2
    _transposed = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: str = "circular",
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
        device: Any = None,
        dtype: torch.dtype | None = None,
        *,
        construction_dtype: torch.dtype | None = torch.float64,
    ) -> None:
        check_float_dtype("dtype", dtype)
        super().__init__()
        d = self._dim
        name = type(self).__name__
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.out_channels = check_positive_int("out_channels", out_channels)
        self.kernel_size = as_int_tuple("kernel_size", kernel_size, d)
        self.stride = as_int_tuple("stride", stride, d)
        if padding != "circular":
            raise ValueError(
                f"{name} supports padding='circular' only, got {padding!r}: zero padding "
                f"breaks orthogonality at the border (see sciconv.orthogonal.exists(..., "
                f"padding='same')); use LOrthConv{d}d to regularise an ordinary convolution"
            )
        if as_int_tuple("dilation", dilation, d) != (1,) * d:
            raise ValueError(f"{name} supports dilation=1 only, got {dilation!r}")
        if check_positive_int("groups", groups) != 1:
            raise ValueError(f"{name} supports groups=1 only, got {groups!r}")
        self.padding = padding
        # the forward convolution K: C -> M (swapped for the transposed layer)
        c, m = (out_channels, in_channels) if self._transposed else (in_channels, out_channels)
        self.verdict = exists(c, m, self.kernel_size, self.stride, d, "circular")
        if not self.verdict.exists:
            raise ValueError(self.verdict.reason)
        self._c, self._m = c, m
        self.construction_dtype = check_float_dtype("construction_dtype", construction_dtype)
        fk = {"device": device, "dtype": dtype}
        e = self.verdict.effective
        self._inner = tuple(k - ea + 1 for k, ea in zip(self.kernel_size, e))
        ce = c * math.prod(e)
        self._block_shape = (m, c, *e)
        self.h_raw = nn.Parameter(torch.empty(c, c, **fk))
        rank = max(1, c // 2)
        nproj = sum(a - 1 for a in self._inner)
        self.proj_raw = nn.Parameter(torch.empty(nproj, c, rank, **fk))
        self.w_raw = nn.Parameter(torch.empty(max(m, ce), min(m, ce), **fk))
        self._row_orth = m <= ce
        out_bias = c if self._transposed else m
        self.bias = nn.Parameter(torch.empty(out_bias, **fk)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Gaussian raw factors (QR of a Gaussian matrix is Haar distributed); zero bias."""
        with torch.no_grad():
            for p in (self.h_raw, self.proj_raw, self.w_raw):
                p.normal_()
            if self.bias is not None:
                self.bias.zero_()

    # ------------------------------------------------------------------ the kernel
    def kernel(self) -> torch.Tensor:
        r"""The ``(M, C, *kernel_size)`` kernel of the forward convolution :math:`K`.

        Notes
        -----
        :math:`K = B \circ A`, built in ``construction_dtype`` (float64 by default) and cast
        to the parameters' dtype:

        * :math:`A` (stride 1, :math:`C \to C`, kernel :math:`k_a - e_a + 1`) is
          :math:`H` (orthogonal, 1×1) followed, per axis, by :math:`k_a - e_a` two-tap
          blocks :math:`[P, I - P]` with :math:`P = UU^T` an orthogonal projector. Each
          block's symbol :math:`P + (I-P)z`, :math:`|z| = 1`, is unitary, so :math:`A` is
          orthogonal on every periodic grid.
        * :math:`B` (stride :math:`S`, kernel :math:`e_a = \min(k_a, S_a)`) acts on
          non-overlapping blocks through one :math:`M \times C\prod e_a` matrix :math:`W`
          with orthonormal rows (RO) or columns (CO; then :math:`e = S` and the blocks
          tile the input).

        Then :math:`KK^T = BAA^TB^T = BB^T = I` (RO) or :math:`K^TK = A^TB^TBA = I` (CO),
        and :math:`K` has exactly :math:`e_a + (k_a - e_a + 1) - 1 = k_a` taps. The
        orthonormal factors are the Q of QR factorisations (positive diagonal of R) of
        the raw parameters, exact to rounding.
        """
        cd = self.construction_dtype or self.h_raw.dtype
        d, c = self._dim, self._c
        a = _orthonormal_columns(self.h_raw.to(cd)).reshape(c, c, *([1] * d))
        eye = torch.eye(c, dtype=cd, device=self.h_raw.device)
        j = 0
        for axis, size in enumerate(self._inner):
            for _ in range(size - 1):
                u = _orthonormal_columns(self.proj_raw[j].to(cd))
                p = u @ u.T
                blk = torch.stack([p, eye - p], dim=-1).reshape(c, c, 2)
                blk = blk.reshape(c, c, *([1] * axis), 2, *([1] * (d - axis - 1)))
                a = compose_kernels(blk, a)
                j += 1
        q = _orthonormal_columns(self.w_raw.to(cd))
        w = (q.T if self._row_orth else q).reshape(self._block_shape)
        return compose_kernels(w, a).to(self.h_raw.dtype).contiguous()

    @property
    def weight(self) -> torch.Tensor:
        """The kernel (differentiable), usable with :class:`sciconv.ConvOperator`."""
        return self.kernel()

    # ------------------------------------------------------------------ application
    def _check_input(self, x: torch.Tensor, channels: int) -> None:
        d = self._dim
        if not isinstance(x, torch.Tensor) or x.ndim != d + 2 or x.shape[1] != channels:
            raise ValueError(
                f"x must be a tensor of shape (batch, {channels}, *{d} spatial sizes), "
                f"got {describe(x)}"
            )

    def _operator(self, w: torch.Tensor, n: Sequence[int]) -> ConvOperator:
        """The periodic convolution with kernel ``w`` on the grid ``n`` (the shared primitive)."""
        return ConvOperator(w, (self._c, *n), stride=self.stride, padding="circular")

    def _forward_conv(
        self, x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        self._check_input(x, self._c)
        n = tuple(x.shape[2:])
        for size, s in zip(n, self.stride):
            if size % s:
                raise ValueError(
                    f"the spatial sizes {n} must be divisible by the stride "
                    f"{self.stride} (a periodic strided convolution is orthogonal only then)"
                )
        y = self._operator(w, n).apply(x)
        return y if bias is None else y + bias.reshape(1, -1, *([1] * self._dim))

    def _adjoint_conv(self, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        self._check_input(y, self._m)
        n = tuple(size * s for size, s in zip(y.shape[2:], self.stride))
        return self._operator(w, n).apply_adjoint(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(x, torch.Tensor):
            check_input_dtype("x", x, self.h_raw.dtype, type(self).__name__)
        w = self.kernel().to(x.dtype)
        bias = None if self.bias is None else self.bias.to(x.dtype)
        if not self._transposed:
            return self._forward_conv(x, w, bias)
        out = self._adjoint_conv(x, w)
        return out if bias is None else out + bias.reshape(1, -1, *([1] * self._dim))

    def singular_values(self, input_size: int | Sequence[int]) -> np.ndarray:
        """All singular values of the linear part on the input grid (descending, exact).

        For the transposed layer ``input_size`` is its (coarse) input size; the values are
        those of :math:`K` on the grid ``input_size * stride``.
        """
        n = as_int_tuple("input_size", input_size, self._dim)
        if self._transposed:
            n = tuple(a * s for a, s in zip(n, self.stride))
        w = self.kernel().detach().to(torch.float64)
        return conv_singular_values(w, (self._c, *n), stride=self.stride, flat=True)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding='circular', kind={self.verdict.kind}, "
            f"bias={self.bias is not None}"
        )


_DOC = r"""Exactly orthogonal {d}D {what} with circular padding{t}.

Parameters
----------
in_channels, out_channels : int
    :math:`C` and :math:`M`{tm}.
kernel_size, stride : int or sequence of int
    As in ``torch.nn.Conv{d}d``; the input size must be divisible by the stride.
padding : {{'circular'}}
    Only periodic boundaries admit exactly orthogonal layers.
dilation, groups : int
    Must be 1.
bias : bool
    Add a learned bias (orthogonality concerns the linear part).
device, dtype : optional
    Of the parameters.
construction_dtype : torch.dtype or None
    Precision in which the kernel is built (float64 by default, then cast), so that a
    float32 layer is orthogonal to float32 rounding of an exactly orthogonal kernel.

Raises
------
ValueError
    If no orthogonal convolution of this configuration exists; the message is the reason
    given by :func:`sciconv.orthogonal.exists` (e.g. "no orthogonal convolution: M = 289 >
    C·k² = 288 (row-orthogonal case)").

Notes
-----
Row-orthogonal (:math:`KK^T = I`) when :math:`M \le C\prod S_a`, column-orthogonal
(:math:`K^TK = I`, :math:`\|Kx\| = \|x\|`) otherwise; see :meth:`kernel` for the
construction. The kernel is a genuine ``kernel_size`` kernel, so the layer is orthogonal on
every grid :math:`n = SN`, and ``sciconv.ConvOperator(layer.weight, (C, *n), stride=S,
padding='circular')`` is the same operator{tn}.
"""


class OrthogonalConv1d(_OrthogonalConvNd):
    _dim = 1


class OrthogonalConv2d(_OrthogonalConvNd):
    _dim = 2


class OrthogonalConv3d(_OrthogonalConvNd):
    _dim = 3


class OrthogonalConvTranspose1d(_OrthogonalConvNd):
    _dim = 1
    _transposed = True


class OrthogonalConvTranspose2d(_OrthogonalConvNd):
    _dim = 2
    _transposed = True


class OrthogonalConvTranspose3d(_OrthogonalConvNd):
    _dim = 3
    _transposed = True


_EXAMPLES = {
    OrthogonalConv1d: """
Examples
--------
Row-orthogonal (:math:`M = 6 \\le C S = 8`): every singular value is 1:

>>> import torch
>>> from sciconv.orthogonal import OrthogonalConv1d
>>> _ = torch.manual_seed(0)
>>> layer = OrthogonalConv1d(4, 6, 3, stride=2, dtype=torch.float64)
>>> layer.verdict.kind, tuple(layer(torch.randn(2, 4, 16, dtype=torch.float64)).shape)
('RO', (2, 6, 8))
>>> sv = layer.singular_values(16)
>>> len(sv), bool(abs(sv - 1).max() < 1e-12)
(48, True)
""",
    OrthogonalConv2d: """
Examples
--------
Column-orthogonal (:math:`M = 8 > C = 4`): the layer preserves norms, and its weight is an
ordinary kernel for :class:`sciconv.ConvOperator`:

>>> import torch
>>> from sciconv import ConvOperator
>>> from sciconv.orthogonal import OrthogonalConv2d
>>> _ = torch.manual_seed(0)
>>> layer = OrthogonalConv2d(4, 8, 3, bias=False, dtype=torch.float64)
>>> x = torch.randn(2, 4, 10, 10, dtype=torch.float64)
>>> y = layer(x)
>>> layer.verdict.kind, tuple(y.shape), bool(torch.allclose(y.norm(), x.norm()))
('CO', (2, 8, 10, 10), True)
>>> A = ConvOperator(layer.weight.detach(), (4, 10, 10), padding="circular")
>>> bool(torch.allclose(A.apply(x), y))
True
""",
    OrthogonalConv3d: """
Examples
--------
>>> import torch
>>> from sciconv.orthogonal import OrthogonalConv3d
>>> _ = torch.manual_seed(0)
>>> layer = OrthogonalConv3d(2, 2, 3, bias=False, dtype=torch.float64)
>>> x = torch.randn(1, 2, 4, 4, 4, dtype=torch.float64)
>>> y = layer(x)
>>> tuple(y.shape), bool(torch.allclose(y.norm(), x.norm()))
((1, 2, 4, 4, 4), True)
""",
    OrthogonalConvTranspose1d: """
Examples
--------
The adjoint of a row-orthogonal stride-2 convolution :math:`K` (4 -> 6 channels): it
upsamples and, as :math:`KK^T = I`, preserves norms:

>>> import torch
>>> from sciconv import ConvOperator
>>> from sciconv.orthogonal import OrthogonalConvTranspose1d
>>> _ = torch.manual_seed(0)
>>> layer = OrthogonalConvTranspose1d(6, 4, 3, stride=2, bias=False, dtype=torch.float64)
>>> y = torch.randn(2, 6, 8, dtype=torch.float64)
>>> x = layer(y)
>>> tuple(x.shape), bool(torch.allclose(x.norm(), y.norm()))
((2, 4, 16), True)
>>> K = ConvOperator(layer.weight.detach(), (4, 16), stride=2, padding="circular")
>>> bool(torch.allclose(K.apply_adjoint(y), x))
True
""",
    OrthogonalConvTranspose2d: """
Examples
--------
>>> import torch
>>> from sciconv.orthogonal import OrthogonalConvTranspose2d
>>> _ = torch.manual_seed(0)
>>> layer = OrthogonalConvTranspose2d(8, 4, 3, stride=2, bias=False, dtype=torch.float64)
>>> y = torch.randn(1, 8, 4, 4, dtype=torch.float64)
>>> x = layer(y)
>>> tuple(x.shape), bool(torch.allclose(x.norm(), y.norm()))
((1, 4, 8, 8), True)
>>> bool(abs(layer.singular_values(4) - 1).max() < 1e-12)
True
""",
    OrthogonalConvTranspose3d: """
Examples
--------
>>> import torch
>>> from sciconv.orthogonal import OrthogonalConvTranspose3d
>>> _ = torch.manual_seed(0)
>>> layer = OrthogonalConvTranspose3d(4, 2, 2, stride=2, bias=False, dtype=torch.float64)
>>> y = torch.randn(1, 4, 2, 2, 2, dtype=torch.float64)
>>> x = layer(y)
>>> tuple(x.shape), bool(torch.allclose(x.norm(), y.norm()))
((1, 2, 4, 4, 4), True)
""",
}

for _cls in (OrthogonalConv1d, OrthogonalConv2d, OrthogonalConv3d):
    _cls.__doc__ = _DOC.format(d=_cls._dim, what="convolution", t="", tm="", tn="")
for _cls in (OrthogonalConvTranspose1d, OrthogonalConvTranspose2d, OrthogonalConvTranspose3d):
    _cls.__doc__ = _DOC.format(
        d=_cls._dim,
        what="transposed convolution",
        t=" (the adjoint of an orthogonal strided convolution: it upsamples by the stride)",
        tm=" of the layer; it applies :math:`K^T` for the orthogonal convolution :math:`K` "
        "from ``out_channels`` to ``in_channels`` (the existence conditions are :math:`K`'s)",
        tn=" up to the adjoint: the layer applies its ``apply_adjoint``",
    )
for _cls, _ex in _EXAMPLES.items():
    _cls.__doc__ += _ex
