"""The convolution operator: a multi-channel N-d convolution as a linear map."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
import torch.nn.functional as F

from .padding import index_map, resolve_padding
from .validation import as_int_tuple, check_finite, check_positive_int, describe

__all__ = ["ConvOperator", "DENSE_LIMIT", "SPARSE_LIMIT"]

#: Largest number of entries :meth:`ConvOperator.to_dense` materialises by default.
DENSE_LIMIT = 2**24

#: Largest number of kernel taps (stored entries before duplicates are summed)
#: :meth:`ConvOperator.to_sparse` assembles by default: about 50 bytes each while assembling,
#: so the default caps the assembly near 3 GiB.
SPARSE_LIMIT = 2**26

#: Largest flat size of the domain or range of a :class:`ConvOperator`: flat indices, the
#: ``shape`` of :meth:`ConvOperator.to_scipy` and torch's element counts are int64.
_INDEX_LIMIT = 2**63 - 1

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _as_weight(weight: Any, dtype: torch.dtype | None, device: Any) -> torch.Tensor:
    if dtype is not None and not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be None or a torch.dtype, got {describe(dtype)}")
    if isinstance(weight, torch.Tensor):
        w = weight
    elif isinstance(weight, np.ndarray | Sequence):
        arr = np.asarray(weight)
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"weight must hold numbers, got {describe(arr)}")
        if arr.dtype.kind in "biu":
            arr = arr.astype(np.float64)
        w = torch.from_numpy(np.ascontiguousarray(arr))
    else:
        raise TypeError(f"weight must be a numpy array or a torch tensor, got {describe(weight)}")
    if not (w.dtype.is_floating_point or w.dtype.is_complex):
        w = w.to(torch.float64)
    if dtype is not None or device is not None:
        src = w
        w = w.to(dtype=dtype or w.dtype, device=device)
        if not (w.dtype.is_floating_point or w.dtype.is_complex):
            # an integer cast truncates fractions and wraps large values: refuse a lossy one
            changed = (w.to(device=src.device, dtype=src.dtype) != src.detach()).reshape(-1)
            if bool(changed.any()):
                i = int(changed.nonzero()[0, 0])
                was, now = src.detach().reshape(-1)[i].item(), w.detach().reshape(-1)[i].item()
                raise ValueError(
                    f"dtype={dtype} would change the weight's values (e.g. {was!r} -> {now!r}): "
                    f"an integer dtype needs an integer-valued weight within its range; pass "
                    f"a floating dtype, or round the weight yourself first"
                )
    return w


class ConvOperator:
    r"""Multi-channel 1D/2D/3D convolution as a linear map :math:`A: \mathbb{R}^{C\times n}
    \to \mathbb{R}^{M\times n'}`.

    Parameters
    ----------
    weight : array_like or torch.Tensor
        Kernel of shape ``(out_channels, in_channels // groups, *kernel_size)``. A torch
        tensor is kept as is (no copy), so gradients reach it through :meth:`apply`.
    input_shape : sequence of int
        ``(in_channels, *spatial)`` with 1, 2 or 3 spatial axes.
    stride, dilation : int or sequence of int
        As in ``torch.nn.Conv2d``.
    groups : int
        Blocked channel connections as in ``torch.nn.Conv2d``.
    padding : {'zeros', 'same', 'valid', 'circular', 'reflect'} or int or sequence
        Boundary mode, or explicit zero-padding widths (int, one per axis, or a
        ``(left, right)`` pair per axis). 'zeros' and 'same' pad with zeros to the "same"
        widths unless ``pad_width`` says otherwise.
    pad_width : int or sequence, optional
        Widths for 'zeros', 'circular' and 'reflect'; default ``d(k-1)`` split as torch does
        for 'same' (left ``d(k-1)//2``), which yields ``ceil(n/stride)`` outputs per axis.
    dtype, device : optional
        Cast the weight (default: keep it; numpy integer weights become float64). An
        integer ``dtype`` is accepted only for an integer-valued weight within its range
        (``ValueError`` rather than silently truncating a float weight).

    Raises
    ------
    ValueError
        Besides inconsistent shapes: when the flat domain or range size does not fit an
        int64 index (sizes are computed with Python integers, so they never overflow).

    Notes
    -----
    With the padded input :math:`\tilde x = P x` (a gather: zero, periodic or mirrored
    extension), the forward map is the cross-correlation of deep learning,

    .. math:: (Ax)_{m,i} = \sum_{c \in g(m)} \sum_{t} w_{m,c,t}\,
              \tilde x_{c,\; s\,i + d\,t},

    identical to ``torch.nn.functional.conv{1,2,3}d`` applied to :math:`\tilde x`. The adjoint
    is :math:`A^H = P^T\,T^H`, where :math:`T^H` is the transposed convolution with the
    conjugated kernel and :math:`P^T` scatter-adds padded positions back to the samples they
    came from (for zero padding: a crop). Pads wider than the grid wrap again, so a circular
    kernel larger than the grid has its taps summed modulo :math:`n`.

    Examples
    --------
    A strided 2D convolution with periodic boundary, applied to numpy and torch inputs; its
    adjoint passes the dot test and its sparse matrix is the same map:

    >>> import numpy as np
    >>> import torch
    >>> from sciconv import ConvOperator, dottest
    >>> w = np.random.default_rng(0).standard_normal((8, 4, 3, 3))
    >>> A = ConvOperator(w, input_shape=(4, 16, 16), stride=2, padding="circular")
    >>> A.out_shape, A.shape
    ((8, 8, 8), (512, 1024))
    >>> x = np.random.default_rng(1).standard_normal(A.in_shape)
    >>> y = A.apply(x)
    >>> bool(np.allclose(y.ravel(), A.to_sparse() @ x.ravel()))
    True
    >>> bool(dottest(A, rng=0) < 1e-13)
    True
    >>> bool(np.allclose(A.H.apply(y), A.apply_adjoint(y)))
    True
    >>> tuple(A(torch.zeros(5, 4, 16, 16, dtype=torch.float64)).shape)  # batched torch apply
    (5, 8, 8, 8)
    """

    def __init__(
        self,
        weight: Any,
        input_shape: Sequence[int],
        *,
        stride: int | Sequence[int] = 1,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        padding: str | int | Sequence[Any] = "zeros",
        pad_width: int | Sequence[Any] | None = None,
        dtype: torch.dtype | None = None,
        device: Any = None,
    ) -> None:
        w = _as_weight(weight, dtype, device)
        if not isinstance(input_shape, Sequence) or isinstance(input_shape, str):
            raise TypeError(
                f"input_shape must be a sequence (in_channels, *spatial), got "
                f"{describe(input_shape)}"
            )
        in_shape = as_int_tuple("input_shape", tuple(input_shape), len(input_shape))
        d = len(in_shape) - 1
        if d not in (1, 2, 3):
            raise ValueError(
                f"input_shape must be (in_channels, *spatial) with 1, 2 or 3 spatial axes, "
                f"got {in_shape}"
            )
        if w.ndim != d + 2:
            raise ValueError(
                f"weight must have {d + 2} dimensions (out_channels, in_channels/groups, "
                f"*kernel) for input_shape {in_shape}, got {describe(w)}"
            )
        check_finite("weight", w)
        groups = check_positive_int("groups", groups)
        out_ch, in_per_group = int(w.shape[0]), int(w.shape[1])
        in_ch = in_shape[0]
        if in_ch % groups or out_ch % groups:
            raise ValueError(
                f"groups={groups} must divide in_channels={in_ch} and out_channels={out_ch}"
            )
        if in_per_group * groups != in_ch:
            raise ValueError(
                f"weight has {in_per_group} input channels per group; with groups={groups} "
                f"it expects in_channels={in_per_group * groups}, but input_shape has {in_ch}"
            )
        if min(w.shape) == 0:
            raise ValueError(f"weight must not be empty, got {describe(w)}")
        self.stride = as_int_tuple("stride", stride, d)
        self.dilation = as_int_tuple("dilation", dilation, d)
        self.kernel_size = tuple(int(k) for k in w.shape[2:])
        self.groups = groups
        spatial = in_shape[1:]
        self.mode, self.pad_width = resolve_padding(
            padding, pad_width, spatial, self.kernel_size, self.dilation
        )
        self.padding = padding
        out_spatial = []
        for n, (lft, rgt), k, s, dl in zip(
            spatial, self.pad_width, self.kernel_size, self.stride, self.dilation
        ):
            span = dl * (k - 1) + 1
            if n + lft + rgt < span:
                raise ValueError(
                    f"kernel_size {self.kernel_size} with dilation {self.dilation} spans {span} "
                    f"samples, more than the padded input ({n} + {lft} + {rgt}) along an axis "
                    f"of input_shape {in_shape} (padding={padding!r})"
                )
            out_spatial.append((n + lft + rgt - span) // s + 1)
        self.weight = w
        self.ndim = d
        self.in_shape = in_shape
        self.out_shape = (out_ch, *out_spatial)
        # Python ints: np.prod would wrap around int64 (a 2**66-entry grid gave shape (0, 0))
        self.shape = (math.prod(self.out_shape), math.prod(self.in_shape))
        for name, shp, size in (
            ("input_shape", in_shape, self.shape[1]),
            ("the output shape", self.out_shape, self.shape[0]),
        ):
            if size > _INDEX_LIMIT:
                raise ValueError(
                    f"{name} {shp} has {size} entries, more than an int64 index can address "
                    f"(2**63 - 1): no array of that size can exist"
                )
        if self.mode == "reflect":  # the one map that can fail: check it now, build it lazily
            for n, (lft, rgt) in zip(spatial, self.pad_width):
                if n == 1:
                    index_map(n, lft, rgt, self.mode)
        self._maps_cache: list[np.ndarray] | None = None
        self._torch_maps: dict[Any, list[torch.Tensor]] = {}
        # torch's own circular/reflect padding handles widths <= n (circular), < n (reflect)
        limit = 0 if self.mode == "circular" else 1
        self._native_pad = self.mode != "zeros" and all(
            max(lr) <= n - limit for lr, n in zip(self.pad_width, spatial)
        )
        sym = all(lft == rgt for lft, rgt in self.pad_width)
        self._conv_padding = (
            tuple(lft for lft, _ in self.pad_width) if self.mode == "zeros" and sym else None
        )

    # ------------------------------------------------------------------ properties
    @property
    def dtype(self) -> np.dtype:
        """numpy dtype of the operator (that of its weight)."""
        if self.weight.dtype == torch.bfloat16:  # numpy has no bfloat16
            return np.dtype(np.float32)
        return np.dtype(str(self.weight.dtype).replace("torch.", ""))

    @property
    def is_circular(self) -> bool:
        """True for a full block-circulant operator (the Sedghi et al. setting).

        Periodic boundary, every grid size divisible by the stride, and the output grid
        exactly ``n / stride`` (any left/right split of the pads is a cyclic shift, which is
        unitary; other totals would drop or repeat rows).
        """
        return self.mode == "circular" and all(
            n % s == 0 and o == n // s
            for n, s, o in zip(self.in_shape[1:], self.stride, self.out_shape[1:])
        )

    @property
    def T(self) -> _AdjointConv:
        """The transpose :math:`A^T` (equal to :attr:`H` for real kernels)."""
        return _AdjointConv(self, hermitian=False)

    @property
    def H(self) -> _AdjointConv:
        """The adjoint (conjugate transpose) :math:`A^H`."""
        return _AdjointConv(self, hermitian=True)

    def __repr__(self) -> str:
        return (
            f"ConvOperator(in_shape={self.in_shape}, out_shape={self.out_shape}, "
            f"kernel_size={self.kernel_size}, stride={self.stride}, dilation={self.dilation}, "
            f"groups={self.groups}, padding={self.padding!r}, dtype={self.dtype})"
        )

    @property
    def _maps(self) -> list[np.ndarray]:
        """Per-axis index maps of the padding, built on first use (they are as long as the
        padded axes, which a huge operator that is never applied need not allocate)."""
        if self._maps_cache is None:
            self._maps_cache = [
                index_map(n, lft, rgt, self.mode)
                for n, (lft, rgt) in zip(self.in_shape[1:], self.pad_width)
            ]
        return self._maps_cache

    @property
    def n_taps(self) -> int:
        """Number of kernel taps over all outputs (a Python int): the entries
        :meth:`to_sparse` assembles before dropping padded zeros and summing duplicates."""
        w = self.weight.shape
        return int(w[0]) * int(w[1]) * math.prod(self.out_shape[1:]) * math.prod(w[2:])

    # ------------------------------------------------------------------ torch apply
    def _maps_on(self, device: torch.device) -> list[torch.Tensor]:
        key = str(device)
        if key not in self._torch_maps:
            self._torch_maps[key] = [torch.as_tensor(m, device=device) for m in self._maps]
        return self._torch_maps[key]

    def _batch(
        self, x: torch.Tensor, shape: tuple[int, ...], name: str
    ) -> tuple[torch.Tensor, bool]:
        if tuple(x.shape) == shape:
            return x.unsqueeze(0), True
        if x.ndim == len(shape) + 1 and tuple(x.shape[1:]) == shape:
            return x, False
        raise ValueError(f"{name} must have shape {shape} or (batch, *{shape}), got {describe(x)}")

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "zeros":
            if self._conv_padding is not None:
                return x
            flat = [w for lr in reversed(self.pad_width) for w in lr]
            return F.pad(x, flat)
        if self._native_pad:  # one torch kernel: faster than a gather per axis
            return F.pad(x, [w for lr in reversed(self.pad_width) for w in lr], mode=self.mode)
        for axis, idx in enumerate(self._maps_on(x.device)):
            x = x.index_select(axis + 2, idx)
        return x

    def _unpad(self, xp: torch.Tensor) -> torch.Tensor:
        if self.mode == "zeros":
            if self._conv_padding is not None:
                return xp
            sl = [slice(None), slice(None)]
            sl += [slice(lft, lft + n) for (lft, _), n in zip(self.pad_width, self.in_shape[1:])]
            return xp[tuple(sl)]
        for axis, idx in enumerate(self._maps_on(xp.device)):
            shape = list(xp.shape)
            shape[axis + 2] = self.in_shape[axis + 1]
            xp = xp.new_zeros(shape).index_add(axis + 2, idx, xp)
        return xp

    def _weight_for(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dtype = torch.promote_types(self.weight.dtype, x.dtype)
        return self.weight.to(device=x.device, dtype=dtype), x.to(dtype)

    def apply(self, x: Any) -> Any:
        """Apply :math:`A` to ``x`` of shape ``in_shape`` or ``(batch, *in_shape)``.

        numpy in, numpy out; torch in, torch out (differentiable in ``x`` and in a weight
        that requires grad).
        """
        if not isinstance(x, torch.Tensor):
            # torch refuses negative strides; numpy input runs where the weight lives
            x = torch.from_numpy(np.ascontiguousarray(x)).to(self.weight.device)
            return self.apply(x).detach().cpu().numpy()
        xb, single = self._batch(x, self.in_shape, "x")
        w, xb = self._weight_for(xb)
        pad = self._conv_padding if self._conv_padding is not None else 0
        y = _CONV[self.ndim](self._pad(xb), w, None, self.stride, pad, self.dilation, self.groups)
        return y[0] if single else y

    __call__ = apply

    def apply_adjoint(self, y: Any) -> Any:
        """Apply :math:`A^H` to ``y`` of shape ``out_shape`` or ``(batch, *out_shape)``."""
        if not isinstance(y, torch.Tensor):
            y = torch.from_numpy(np.ascontiguousarray(y)).to(self.weight.device)
            return self.apply_adjoint(y).detach().cpu().numpy()
        yb, single = self._batch(y, self.out_shape, "y")
        w, yb = self._weight_for(yb)
        if w.is_complex():
            w = w.conj()
        pad = self._conv_padding if self._conv_padding is not None else (0,) * self.ndim
        out_pad = []  # transposed conv must rebuild the full padded length exactly
        for i in range(self.ndim):
            padded = self.in_shape[i + 1] + sum(self.pad_width[i])
            reach = (self.out_shape[i + 1] - 1) * self.stride[i]
            reach += self.dilation[i] * (self.kernel_size[i] - 1) + 1
            out_pad.append(padded - reach)
        xp = _CONV_T[self.ndim](
            yb, w, None, self.stride, pad, tuple(out_pad), self.groups, self.dilation
        )
        x = self._unpad(xp)
        return x[0] if single else x

    # ------------------------------------------------------------------ flat interface
    def matvec(self, x: np.ndarray) -> np.ndarray:
        """:math:`Ax` for a flat vector of length ``shape[1]`` (C order of ``in_shape``)."""
        x = np.asarray(x)
        if x.size != self.shape[1]:
            raise ValueError(f"x must have {self.shape[1]} entries, got {describe(x)}")
        return np.asarray(self.apply(x.reshape(self.in_shape))).reshape(-1)

    def rmatvec(self, y: np.ndarray) -> np.ndarray:
        """:math:`A^H y` for a flat vector of length ``shape[0]``."""
        y = np.asarray(y)
        if y.size != self.shape[0]:
            raise ValueError(f"y must have {self.shape[0]} entries, got {describe(y)}")
        return np.asarray(self.apply_adjoint(y.reshape(self.out_shape))).reshape(-1)

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        return self.matvec(x)

    def to_scipy(self) -> spla.LinearOperator:
        """The operator as a :class:`scipy.sparse.linalg.LinearOperator` (matvec, rmatvec)."""
        return spla.LinearOperator(
            self.shape, matvec=self.matvec, rmatvec=self.rmatvec, dtype=self.dtype
        )

    def to_sparse(self, max_entries: int = SPARSE_LIMIT) -> sp.csr_matrix:
        """Exact CSR matrix, built from the index maps (independently of the torch path).

        Refuses (``ValueError``) an operator with more than ``max_entries`` kernel taps
        (:attr:`n_taps`, the entries assembled before padded zeros are dropped). scipy.sparse
        has no half-precision types: a float16 or bfloat16 weight gives a float32 matrix
        (complex32: complex64), with the same values, since every half value is a float32.
        """
        check_positive_int("max_entries", max_entries, minimum=0)
        if self.n_taps > max_entries:
            raise ValueError(
                f"to_sparse would assemble {self.n_taps} kernel taps for the "
                f"{self.shape[0]} x {self.shape[1]} operator (input_shape {self.in_shape}, "
                f"kernel_size {self.kernel_size}), more than max_entries={max_entries}; use "
                f"the matrix-free interface (apply, to_scipy), or raise max_entries"
            )
        return _sparse_matrix(self)

    def to_dense(self, max_entries: int = DENSE_LIMIT) -> np.ndarray:
        """Dense matrix; refuses operators with more than ``max_entries`` entries.

        Half-precision weights give a float32 (complex64) matrix, as :meth:`to_sparse`.
        """
        check_positive_int("max_entries", max_entries, minimum=0)
        n = self.shape[0] * self.shape[1]
        if n > max_entries:
            raise ValueError(
                f"to_dense would materialise {self.shape[0]} x {self.shape[1]} = {n} entries, "
                f"more than max_entries={max_entries}; use to_sparse() or the matrix-free "
                f"interface, or raise max_entries"
            )
        return self.to_sparse(max_entries=max(SPARSE_LIMIT, max_entries)).toarray()


class _AdjointConv:
    """:math:`A^H` (``hermitian=True``) or :math:`A^T` (``hermitian=False``) of a
    :class:`ConvOperator`, with the same interface.

    Every product goes through the adjoint of ``op``; the plain transpose is read off it as
    :math:`A^T y = \\overline{A^H \\bar y}` (:meth:`_conj_if_transpose` on the way in and out).
    """

    def __init__(self, op: ConvOperator, hermitian: bool) -> None:
        self.op = op
        self.hermitian = hermitian
        self.in_shape, self.out_shape = op.out_shape, op.in_shape
        self.shape = (op.shape[1], op.shape[0])
        self.dtype = op.dtype

    def _conj_if_transpose(self, x: Any) -> Any:
        """Complex conjugate of ``x`` for :math:`A^T`; ``x`` itself for :math:`A^H` or real data."""
        if self.hermitian:
            return x
        if isinstance(x, torch.Tensor):
            return x.conj().resolve_conj() if x.is_complex() else x  # no lazy conj bit
        return np.conj(x) if np.iscomplexobj(x) else x

    def apply(self, y: Any) -> Any:
        c = self._conj_if_transpose
        return c(self.op.apply_adjoint(c(y)))

    __call__ = apply

    def apply_adjoint(self, x: Any) -> Any:
        c = self._conj_if_transpose
        return c(self.op.apply(c(x)))

    def matvec(self, y: np.ndarray) -> np.ndarray:
        c = self._conj_if_transpose
        return c(self.op.rmatvec(c(np.asarray(y))))

    def rmatvec(self, x: np.ndarray) -> np.ndarray:
        c = self._conj_if_transpose
        return c(self.op.matvec(c(np.asarray(x))))

    @property
    def H(self) -> Any:
        return self.op if self.hermitian else _AdjointConv(_AdjointConv(self.op, False), True)

    @property
    def T(self) -> Any:
        return self.op if not self.hermitian else _AdjointConv(_AdjointConv(self.op, True), False)

    def to_scipy(self) -> spla.LinearOperator:
        return spla.LinearOperator(
            self.shape, matvec=self.matvec, rmatvec=self.rmatvec, dtype=self.dtype
        )

    def to_sparse(self, max_entries: int = SPARSE_LIMIT) -> sp.csr_matrix:
        m = self.op.to_sparse(max_entries).T
        return (m.conj() if self.hermitian else m).tocsr()

    def to_dense(self, max_entries: int = DENSE_LIMIT) -> np.ndarray:
        m = self.op.to_dense(max_entries).T
        return m.conj() if self.hermitian else m


_HALF = {
    torch.float16: torch.float32,
    torch.bfloat16: torch.float32,
    torch.complex32: torch.complex64,
}


def _sparse_matrix(op: ConvOperator) -> sp.csr_matrix:
    """Assemble the CSR matrix entry by entry from the per-axis index maps."""
    d = op.ndim
    t = op.weight.detach().cpu().resolve_conj()
    if t.dtype in _HALF:  # scipy.sparse has no half types; the upcast is exact
        t = t.to(_HALF[t.dtype])
    w = t.numpy()
    out_ch, cpg = w.shape[0], w.shape[1]
    opg = out_ch // op.groups
    # per axis: J[o, t] = input index at padded position o*s + t*d (or -1)
    cols_axes, valid_axes = [], []
    for a in range(d):
        o = np.arange(op.out_shape[a + 1])[:, None]
        t = np.arange(op.kernel_size[a])[None, :]
        j = op._maps[a][o * op.stride[a] + t * op.dilation[a]]
        cols_axes.append(j)
        valid_axes.append(j >= 0)
    # broadcast to (M, Cg, o_1..o_d, t_1..t_d)
    nb = 2 + 2 * d

    def axis_view(arr: np.ndarray, a: int) -> np.ndarray:
        shape = [1] * nb
        shape[2 + a] = arr.shape[0]
        shape[2 + d + a] = arr.shape[1]
        return arr.reshape(shape)

    m_idx = np.arange(out_ch).reshape([-1] + [1] * (nb - 1))
    c_loc = np.arange(cpg).reshape([1, -1] + [1] * (nb - 2))
    c_idx = (m_idx // opg) * cpg + c_loc
    row = m_idx
    for a in range(d):
        o = np.arange(op.out_shape[a + 1]).reshape([1] * (2 + a) + [-1] + [1] * (nb - 3 - a))
        row = row * op.out_shape[a + 1] + o
    col = c_idx
    valid = np.ones((1,) * nb, dtype=bool)
    for a in range(d):
        col = col * op.in_shape[a + 1] + axis_view(cols_axes[a], a)
        valid = valid & axis_view(valid_axes[a], a)
    vals = w.reshape(out_ch, cpg, *([1] * d), *op.kernel_size)
    row, col, vals, valid = np.broadcast_arrays(row, col, vals, valid)
    mat = sp.coo_matrix(
        (vals[valid], (row[valid], col[valid])), shape=op.shape, dtype=w.dtype
    ).tocsr()
    mat.sum_duplicates()
    return mat
