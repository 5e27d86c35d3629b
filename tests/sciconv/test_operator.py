"""Tests of :class:`sciconv.ConvOperator` against references that do not use its code.

Reference A is the documented formula written out in float64 numpy:
``(Ax)_{m,i} = sum_{c in g(m)} sum_t w[m, c, t] * xpad[c, s*i + d*t]`` with the padding done by
``numpy.pad`` ('constant', 'wrap', 'reflect'), both as a dense matrix (assembled output
position by output position from a padded *index image*) and as a loop over taps applied to a
vector. Reference B is ``torch.nn.functional.pad`` followed by ``conv{1,2,3}d`` without
padding, where torch allows the widths. Neither calls ``sciconv.padding`` or the operator's
own gather/scatter code.

Tolerances: float64 results agree to 1e-12 relative in the 2-norm (the sums have at most a
few hundred terms, so the true error is ~1e-15); the dot test gap is at most 1e-12.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
import torch.nn.functional as F
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from sciconv import DENSE_LIMIT, ConvOperator, dottest

RTOL = 1e-12
DOT_RTOL = 1e-12

NUMPY_MODE = {"zeros": "constant", "circular": "wrap", "reflect": "reflect"}
TORCH_MODE = {"zeros": "constant", "circular": "circular", "reflect": "reflect"}
TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


# ---------------------------------------------------------------------------- references
def assert_close(actual: Any, expected: Any, rtol: float = RTOL, what: str = "") -> None:
    """Norm-wise relative agreement: ``||actual - expected|| <= rtol * ||expected||``."""
    if isinstance(actual, torch.Tensor):
        actual = actual.detach().cpu().numpy()
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().cpu().numpy()
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    err = np.linalg.norm((actual - expected).ravel())
    ref = np.linalg.norm(expected.ravel())
    assert err <= rtol * ref or err <= 1e-300, f"{what}: relative error {err / ref:.3e} > {rtol}"


def expected_geometry(
    padding: Any,
    pad_width: Any,
    spatial: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
) -> tuple[str, list[tuple[int, int]], list[int]]:
    """The documented padding rules, restated: (mode, [(left, right)] per axis, out sizes)."""
    d = len(spatial)
    if isinstance(padding, str):
        mode = {"same": "zeros", "valid": "zeros"}.get(padding, padding)
        if padding == "valid":
            widths = [(0, 0)] * d
        elif pad_width is None:  # torch's 'same' split: the smaller half on the left
            widths = [
                (dl * (k - 1) // 2, dl * (k - 1) - dl * (k - 1) // 2)
                for k, dl in zip(kernel, dilation)
            ]
        else:
            widths = _widths(pad_width, d)
    else:
        mode, widths = "zeros", _widths(padding, d)
    out = [
        (n + lft + rgt - dl * (k - 1) - 1) // s + 1
        for n, (lft, rgt), k, s, dl in zip(spatial, widths, kernel, stride, dilation)
    ]
    return mode, widths, out


def _widths(value: Any, d: int) -> list[tuple[int, int]]:
    if isinstance(value, int):
        return [(value, value)] * d
    return [tuple(v) if isinstance(v, Sequence) else (v, v) for v in value]


def padded_index_image(spatial: Sequence[int], mode: str, widths: Sequence[tuple[int, int]]):
    """``numpy.pad`` of the flat sample index: which input sample sits at each padded position
    (-1 for a zero)."""
    idx = np.arange(math.prod(spatial)).reshape(spatial)
    if mode == "zeros":
        return np.pad(idx, widths, mode="constant", constant_values=-1)
    return np.pad(idx, widths, mode=NUMPY_MODE[mode])


def reference_dense(w, in_shape, stride, dilation, groups, mode, widths) -> np.ndarray:
    """Reference A as a matrix: one row block per output position, one entry per tap."""
    w = np.asarray(w)
    out_ch, cpg = w.shape[:2]
    opg = out_ch // groups
    kernel = w.shape[2:]
    in_ch, *spatial = in_shape
    n_in = math.prod(spatial)
    pidx = padded_index_image(spatial, mode, widths)
    out = [
        (p - dl * (k - 1) - 1) // s + 1 for p, k, s, dl in zip(pidx.shape, kernel, stride, dilation)
    ]
    n_out = math.prod(out)
    a = np.zeros((out_ch * n_out, in_ch * n_in), dtype=np.result_type(w.dtype, np.float64))
    rows = np.arange(out_ch)[:, None] * n_out  # (M, 1)
    chans = (np.arange(out_ch)[:, None] // opg) * cpg + np.arange(cpg)[None, :]  # (M, Cg)
    for o_flat, o in enumerate(np.ndindex(*out)):
        for t in np.ndindex(*kernel):
            src = pidx[tuple(s * oi + dl * ti for oi, ti, s, dl in zip(o, t, stride, dilation))]
            if src < 0:
                continue
            # for fixed (o, t) every (m, c) pair is distinct, so += accumulates correctly
            a[rows + o_flat, chans * n_in + src] += w[(slice(None), slice(None), *t)]
    return a


def reference_apply(w, x, stride, dilation, groups, mode, widths) -> np.ndarray:
    """Reference A applied to ``x`` of shape (C, *spatial) or (B, C, *spatial): a loop over
    groups and taps on the ``numpy.pad``-ded input."""
    w, x = np.asarray(w), np.asarray(x)
    if x.ndim == w.ndim:
        return np.stack(
            [reference_apply(w, xb, stride, dilation, groups, mode, widths) for xb in x]
        )
    out_ch, cpg = w.shape[:2]
    opg = out_ch // groups
    kernel = w.shape[2:]
    pad = [(0, 0), *widths]
    if mode == "zeros":
        xp = np.pad(x, pad, mode="constant")
    else:
        xp = np.pad(x, pad, mode=NUMPY_MODE[mode])
    out = [
        (p - dl * (k - 1) - 1) // s + 1
        for p, k, s, dl in zip(xp.shape[1:], kernel, stride, dilation)
    ]
    y = np.zeros((out_ch, *out), dtype=np.result_type(w.dtype, x.dtype, np.float64))
    for g in range(groups):
        xg = xp[g * cpg : (g + 1) * cpg]
        wg = w[g * opg : (g + 1) * opg]
        for t in np.ndindex(*kernel):
            window = tuple(
                slice(dl * ti, dl * ti + s * (o - 1) + 1, s)
                for ti, o, s, dl in zip(t, out, stride, dilation)
            )
            y[g * opg : (g + 1) * opg] += np.tensordot(
                wg[(slice(None), slice(None), *t)], xg[(slice(None), *window)], axes=(1, 0)
            )
    return y


def torch_reference(w, x, stride, dilation, groups, mode, widths):
    """Reference B: ``F.pad`` then ``F.conv{d}d`` with no padding; ``None`` where torch does
    not allow the widths (circular wider than the axis, reflect as wide as the axis)."""
    spatial = x.shape[1:]
    for n, (lft, rgt) in zip(spatial, widths):
        if mode == "circular" and max(lft, rgt) > n:
            return None
        if mode == "reflect" and max(lft, rgt) >= n:
            return None
    xt = torch.as_tensor(x)[None]
    flat = [v for lr in reversed(widths) for v in lr]
    if any(flat):
        xt = F.pad(xt, flat, mode=TORCH_MODE[mode])
    conv = TORCH_CONV[len(spatial)]
    return conv(xt, torch.as_tensor(w), None, tuple(stride), 0, tuple(dilation), groups)[0]


def random(rng: np.random.Generator, shape: Sequence[int], dtype: Any = np.float64):
    v = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        v = v + 1j * rng.standard_normal(shape)
    return v.astype(dtype)


def check_against_references(
    op, w, in_shape, stride, dilation, groups, padding, pad_width, rng, batch: int = 2
) -> np.ndarray:
    """Every identity of the operator against references A (and B where torch allows)."""
    kernel = np.shape(w)[2:]
    mode, widths, out = expected_geometry(
        padding, pad_width, in_shape[1:], kernel, stride, dilation
    )
    assert op.mode == mode
    assert [tuple(p) for p in op.pad_width] == widths
    assert op.out_shape == (np.shape(w)[0], *out)
    assert op.shape == (math.prod(op.out_shape), math.prod(in_shape))

    dense = reference_dense(w, in_shape, stride, dilation, groups, mode, widths)
    dtype = dense.dtype
    assert_close(op.to_dense(), dense, what="to_dense")
    sparse = op.to_sparse()
    assert sp.issparse(sparse)
    assert_close(sparse.toarray(), dense, what="to_sparse")

    x = random(rng, in_shape, dtype)
    y_ref = reference_apply(w, x, stride, dilation, groups, mode, widths)
    assert_close(dense @ x.ravel(), y_ref.ravel(), what="reference A: matrix vs loop")
    assert_close(op.matvec(x.ravel()), y_ref.ravel(), what="matvec")
    y_np = op.apply(x)
    assert isinstance(y_np, np.ndarray)
    assert_close(y_np, y_ref, what="apply (numpy)")

    xb = random(rng, (batch, *in_shape), dtype)
    yb = op.apply(torch.from_numpy(xb))
    assert isinstance(yb, torch.Tensor)
    assert_close(
        yb,
        reference_apply(w, xb, stride, dilation, groups, mode, widths),
        what="apply (torch batch)",
    )

    if dtype.kind == "f":
        y_torch = torch_reference(w, x, stride, dilation, groups, mode, widths)
        if y_torch is not None:
            assert_close(y_np, y_torch, what="reference B (F.pad + conv)")

    v = random(rng, op.out_shape, dtype)
    assert_close(op.rmatvec(v.ravel()), dense.conj().T @ v.ravel(), what="rmatvec")
    assert_close(
        op.apply_adjoint(v), (dense.conj().T @ v.ravel()).reshape(in_shape), what="apply_adjoint"
    )
    return dense


# ---------------------------------------------------------------------------- parametrised
GEOMETRY = {  # spatial sizes and kernel sizes: 'valid' still fits with dilation 2
    1: ((9,), (3,)),
    2: ((7, 6), (3, 2)),
    3: ((5, 4, 5), (3, 2, 2)),
}
PADDINGS = {
    "zeros": ("zeros", None),
    "same": ("same", None),
    "valid": ("valid", None),
    "circular": ("circular", None),
    "reflect": ("reflect", None),
    "int": (2, None),
    "per_axis": ((1, 2, 0), None),
    "asym": (((0, 2), (1, 0), (2, 1)), None),
}
GROUPS = {"g1": (1, 4, 4), "g2": (2, 4, 4), "depthwise": (4, 4, 8)}  # groups, C_in, C_out


def _trim(padding: Any, d: int) -> Any:
    return padding[:d] if isinstance(padding, tuple) else padding


@pytest.mark.parametrize("pad_name", list(PADDINGS))
@pytest.mark.parametrize("group_name", list(GROUPS))
@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_matches_references(d, stride, dilation, group_name, pad_name):
    spatial, kernel = GEOMETRY[d]
    groups, c_in, c_out = GROUPS[group_name]
    padding, pad_width = PADDINGS[pad_name]
    padding = _trim(padding, d)
    rng = np.random.default_rng([d, stride, dilation, groups, len(pad_name)])
    w = rng.standard_normal((c_out, c_in // groups, *kernel))
    in_shape = (c_in, *spatial)
    op = ConvOperator(
        w,
        in_shape,
        stride=stride,
        dilation=dilation,
        groups=groups,
        padding=padding,
        pad_width=pad_width,
    )
    check_against_references(
        op, w, in_shape, (stride,) * d, (dilation,) * d, groups, padding, pad_width, rng
    )
    assert dottest(op, rng=rng) <= DOT_RTOL
    assert dottest(op, dtype="complex128", rng=rng) <= DOT_RTOL


@pytest.mark.parametrize("mode", ["circular", "reflect", "zeros"])
def test_explicit_pad_width_wider_than_grid(mode):
    """pad_width wider than the axis: numpy.pad wraps / reflects repeatedly, and so must we."""
    rng = np.random.default_rng(7)
    in_shape, w = (2, 3, 4), rng.standard_normal((3, 2, 2, 3))
    pad_width = ((5, 1), (0, 9))
    op = ConvOperator(w, in_shape, padding=mode, pad_width=pad_width, stride=(2, 1))
    check_against_references(op, w, in_shape, (2, 1), (1, 1), 1, mode, pad_width, rng)
    assert dottest(op, rng=rng, rtol=DOT_RTOL) <= DOT_RTOL


def test_numpy_pad_wraps_and_reflects_repeatedly():
    """The reference relies on numpy.pad treating pads wider than n as a periodic extension
    (period n for 'wrap', 2(n-1) for 'reflect'): check that premise itself."""
    n, width = 3, 8
    q = np.arange(-width, n + width)
    a = np.arange(n)
    np.testing.assert_array_equal(np.pad(a, width, mode="wrap"), a[q % n])
    r = q % (2 * (n - 1))
    np.testing.assert_array_equal(
        np.pad(a, width, mode="reflect"), a[np.where(r < n, r, 2 * (n - 1) - r)]
    )


@pytest.mark.parametrize(
    ("in_shape", "kernel", "dilation"),
    [
        ((1, 4), (7,), 1),
        ((2, 3, 4), (5, 6), 1),
        ((1, 3, 2), (3, 2), 2),
        ((1, 2, 3, 2), (3, 4, 5), 1),
    ],
)
def test_circular_kernel_larger_than_grid_wraps(in_shape, kernel, dilation):
    """Taps beyond the period sum modulo n; compare with the numpy.pad('wrap') loop."""
    rng = np.random.default_rng(3)
    d = len(kernel)
    w = rng.standard_normal((2, in_shape[0], *kernel))
    op = ConvOperator(w, in_shape, padding="circular", dilation=dilation)
    assert op.out_shape[1:] == in_shape[1:]  # circular 'same' keeps the grid
    check_against_references(op, w, in_shape, (1,) * d, (dilation,) * d, 1, "circular", None, rng)
    assert dottest(op, rng=rng) <= DOT_RTOL


def test_circular_wrap_sums_taps_modulo_n():
    """A 1D kernel of length 2n on a grid of n: the circulant's first column is w folded."""
    n = 4
    w = np.arange(1.0, 2 * n + 1)  # 8 taps
    op = ConvOperator(w[None, None], (1, n), padding="circular")
    left = (2 * n - 1) // 2
    # (Ax)_i = sum_t w_t x_{(i + t - left) mod n}  =>  A[i, j] = sum_{t: (i+t-left) % n == j} w_t
    expected = np.zeros((n, n))
    for i in range(n):
        for t in range(2 * n):
            expected[i, (i + t - left) % n] += w[t]
    assert_close(op.to_dense(), expected)


# ---------------------------------------------------------------------------- hypothesis
@st.composite
def conv_problems(draw):
    d = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    cpg, opg = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    max_n = {1: 8, 2: 5, 3: 3}[d]
    spatial = tuple(draw(st.integers(1, max_n)) for _ in range(d))
    kernel = tuple(draw(st.integers(1, {1: 5, 2: 3, 3: 2}[d])) for _ in range(d))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    kind = draw(
        st.sampled_from(
            [
                "zeros",
                "same",
                "valid",
                "circular",
                "reflect",
                "int",
                "per_axis",
                "pairs",
                "zeros+width",
                "circular+width",
                "reflect+width",
            ]
        )
    )
    width = st.integers(0, 4)
    pairs = tuple((draw(width), draw(width)) for _ in range(d))
    pad_width = None
    if kind == "int":
        padding = draw(width)
    elif kind == "per_axis":
        padding = tuple(draw(width) for _ in range(d))
    elif kind == "pairs":
        padding = pairs
    elif kind.endswith("+width"):
        padding, pad_width = kind.split("+")[0], pairs
    else:
        padding = kind
    complex_weight = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    return dict(
        d=d,
        groups=groups,
        in_ch=groups * cpg,
        out_ch=groups * opg,
        spatial=spatial,
        kernel=kernel,
        stride=stride,
        dilation=dilation,
        padding=padding,
        pad_width=pad_width,
        complex_weight=complex_weight,
        seed=seed,
    )


def _problem(p):
    """Weight, input shape, constructor kwargs and whether the documented rules refuse it."""
    rng = np.random.default_rng(p["seed"])
    dtype = np.complex128 if p["complex_weight"] else np.float64
    w = random(rng, (p["out_ch"], p["in_ch"] // p["groups"], *p["kernel"]), dtype)
    in_shape = (p["in_ch"], *p["spatial"])
    kwargs = dict(
        stride=p["stride"],
        dilation=p["dilation"],
        groups=p["groups"],
        padding=p["padding"],
        pad_width=p["pad_width"],
    )
    mode, widths, out = expected_geometry(
        p["padding"], p["pad_width"], p["spatial"], p["kernel"], p["stride"], p["dilation"]
    )
    too_short = any(o < 1 for o in out)  # kernel span longer than the padded axis
    bad_reflect = mode == "reflect" and any(  # nothing to mirror on a 1-sample axis
        n == 1 and (lft or rgt) for n, (lft, rgt) in zip(p["spatial"], widths)
    )
    return rng, w, in_shape, kwargs, too_short or bad_reflect


@settings(max_examples=200, deadline=None)
@given(conv_problems())
def test_random_shapes_match_references(p):
    rng, w, in_shape, kwargs, refused = _problem(p)
    assume(not refused)  # test_random_shapes_refused_iff_documented covers these
    event(f"{p['d']}D, padding given as {type(p['padding']).__name__}")
    op = ConvOperator(w, in_shape, **kwargs)
    if p["padding"] in ("zeros", "same", "circular", "reflect") and p["pad_width"] is None:
        assert op.out_shape[1:] == tuple(-(-n // s) for n, s in zip(p["spatial"], p["stride"]))
    dense = check_against_references(
        op,
        w,
        in_shape,
        p["stride"],
        p["dilation"],
        p["groups"],
        p["padding"],
        p["pad_width"],
        rng,
        batch=1,
    )
    assert_close(op.H.to_dense(), dense.conj().T, what="H.to_dense")
    assert dottest(op, rng=rng) <= DOT_RTOL
    assert dottest(op, dtype="complex128", rng=rng) <= DOT_RTOL
    assert dottest(op.H, dtype="complex128", rng=rng) <= DOT_RTOL


@settings(max_examples=100, deadline=None)
@given(conv_problems())
def test_random_shapes_refused_iff_documented(p):
    """The constructor refuses exactly the configurations the documented rules exclude."""
    _, w, in_shape, kwargs, refused = _problem(p)
    event("refused" if refused else "built")
    if refused:
        with pytest.raises(ValueError, match="kernel_size|reflect"):
            ConvOperator(w, in_shape, **kwargs)
    else:
        ConvOperator(w, in_shape, **kwargs)


# ---------------------------------------------------------------------------- adjoint
def _complex_op(rng, padding="circular", **kw):
    w = random(rng, (4, 2, 3, 2), np.complex128)
    in_shape = (4, 5, 4)
    return ConvOperator(w, in_shape, groups=2, padding=padding, **kw), w, in_shape


def _columns(apply, n_in: int, shape: Sequence[int]) -> np.ndarray:
    """Dense matrix of a map by applying it to the batch of all unit vectors."""
    eye = torch.eye(n_in, dtype=torch.complex128).reshape(n_in, *shape)
    return apply(eye).reshape(n_in, -1).T.numpy()


@pytest.mark.parametrize("padding", ["zeros", "circular", "reflect", "valid", ((2, 0), (1, 3))])
def test_adjoint_and_transpose_complex(padding):
    rng = np.random.default_rng(11)
    op, w, in_shape = _complex_op(rng, padding=padding, stride=(2, 1))
    mode, widths, _ = expected_geometry(padding, None, in_shape[1:], w.shape[2:], (2, 1), (1, 1))
    dense = reference_dense(w, in_shape, (2, 1), (1, 1), 2, mode, widths)
    m, n = dense.shape

    assert_close(op.H.to_dense(), op.to_dense().conj().T)
    assert_close(op.H.to_dense(), dense.conj().T)
    assert_close(op.T.to_dense(), dense.T)  # plain transpose: no conjugation
    assert_close(op.T.to_sparse().toarray(), dense.T)
    assert_close(op.H.to_sparse().toarray(), dense.conj().T)

    # the torch paths, column by column, on a batch of unit vectors
    assert_close(_columns(op.apply, n, op.in_shape), dense, what="apply")
    assert_close(
        _columns(op.apply_adjoint, m, op.out_shape),
        dense.conj().T,
        what="apply_adjoint (batched torch)",
    )
    assert_close(_columns(op.H.apply, m, op.out_shape), dense.conj().T, what="H.apply")
    assert_close(_columns(op.T.apply, m, op.out_shape), dense.T, what="T.apply")
    assert_close(_columns(op.T.apply_adjoint, n, op.in_shape), dense.conj(), what="T.apply_adjoint")

    y, x = random(rng, m, np.complex128), random(rng, n, np.complex128)
    assert_close(op.H.matvec(y), dense.conj().T @ y)
    assert_close(op.H.rmatvec(x), dense @ x)
    assert_close(op.T.matvec(y), dense.T @ y)
    assert_close(op.T.rmatvec(x), dense.conj() @ x)
    assert op.H.H is op and op.T.T is op
    assert_close(op.T.H.to_dense(), dense.conj())
    assert_close(op.H.T.to_dense(), dense.conj())
    assert_close(op.T.H.matvec(x), dense.conj() @ x)
    assert op.H.shape == (n, m) and op.H.in_shape == op.out_shape
    for a in (op, op.H, op.T, op.T.H):
        assert dottest(a, dtype="complex128", rng=rng) <= DOT_RTOL


def test_transpose_of_real_operator_is_adjoint():
    rng = np.random.default_rng(12)
    w = rng.standard_normal((3, 2, 3))
    op = ConvOperator(w, (2, 7), padding="reflect", stride=2)
    assert_close(op.T.to_dense(), op.H.to_dense())
    y = rng.standard_normal(op.out_shape)
    assert_close(op.T.apply(y), op.H.apply(y))


@pytest.mark.parametrize("padding", ["zeros", "circular", "reflect", ((0, 2), (1, 1))])
def test_apply_adjoint_batched_torch(padding):
    rng = np.random.default_rng(13)
    w = rng.standard_normal((4, 4, 3, 3))
    op = ConvOperator(w, (4, 6, 5), padding=padding, stride=(1, 2), dilation=(2, 1))
    dense = op.to_dense()
    yb = torch.from_numpy(rng.standard_normal((3, *op.out_shape)))
    xb = op.apply_adjoint(yb)
    assert isinstance(xb, torch.Tensor) and xb.shape == (3, *op.in_shape)
    for b in range(3):
        assert_close(xb[b].reshape(-1), dense.T @ yb[b].numpy().ravel())
    # a single (unbatched) torch input keeps its shape
    assert op.apply_adjoint(yb[0]).shape == op.in_shape


# ---------------------------------------------------------------------------- autograd
GRAD_PADDINGS = ["zeros", "circular", "reflect", ((1, 0), (0, 2))]


@pytest.mark.parametrize("padding", GRAD_PADDINGS)
def test_gradcheck_input_and_weight(padding):
    gen = torch.Generator().manual_seed(5)
    w = torch.randn(2, 2, 2, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    x = torch.randn(2, 2, 4, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    kw = dict(padding=padding, stride=(2, 1))
    op = ConvOperator(w, (2, 4, 5), **kw)
    assert torch.autograd.gradcheck(op.apply, (x,))
    assert torch.autograd.gradcheck(
        op.apply_adjoint,
        (torch.randn(2, *op.out_shape, dtype=torch.float64, generator=gen, requires_grad=True),),
    )
    # gradients reach a weight that requires grad (the operator keeps the tensor, no copy)
    assert op.weight is w
    assert torch.autograd.gradcheck(lambda w_: ConvOperator(w_, (2, 4, 5), **kw).apply(x), (w,))
    y = op.apply(x.detach())
    y.sum().backward()
    assert w.grad is not None and w.grad.shape == w.shape


def test_gradcheck_complex():
    gen = torch.Generator().manual_seed(6)
    w = torch.randn(2, 1, 3, dtype=torch.complex128, generator=gen, requires_grad=True)
    x = torch.randn(1, 5, dtype=torch.complex128, generator=gen, requires_grad=True)
    op = ConvOperator(w, (1, 5), padding="circular")
    assert torch.autograd.gradcheck(op.apply, (x,))
    assert torch.autograd.gradcheck(
        lambda w_: ConvOperator(w_, (1, 5), padding="circular").apply(x), (w,)
    )


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
@pytest.mark.parametrize("padding", GRAD_PADDINGS)
def test_vjp_of_apply_is_apply_adjoint(padding, dtype):
    """torch.autograd.grad(A x, x, grad_outputs=y) = A^H y (torch's conjugate convention)."""
    gen = torch.Generator().manual_seed(8)
    w = torch.randn(3, 2, 3, 2, dtype=dtype, generator=gen)
    op = ConvOperator(w, (2, 6, 5), padding=padding, dilation=(2, 1), stride=(1, 2))
    x = torch.randn(2, 2, 6, 5, dtype=dtype, generator=gen, requires_grad=True)
    y = torch.randn(2, *op.out_shape, dtype=dtype, generator=gen)
    (vjp,) = torch.autograd.grad(op.apply(x), x, grad_outputs=y)
    assert_close(vjp, op.apply_adjoint(y))
    dense = op.to_dense()
    assert_close(vjp.reshape(2, -1), (dense.conj().T @ y.reshape(2, -1).numpy().T).T)


# ---------------------------------------------------------------------------- scipy
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_to_scipy_and_cg_on_shifted_normal_operator(dtype):
    rng = np.random.default_rng(21)
    w = random(rng, (3, 2, 3, 3), dtype)
    op = ConvOperator(w, (2, 6, 5), padding="reflect", stride=(2, 1))
    dense = op.to_dense()
    lin = op.to_scipy()
    assert isinstance(lin, spla.LinearOperator)
    assert lin.shape == dense.shape and lin.dtype == np.dtype(dtype)
    m, n = dense.shape
    x, y = random(rng, n, dtype), random(rng, m, dtype)
    assert_close(lin.matvec(x), dense @ x)
    assert_close(lin.rmatvec(y), dense.conj().T @ y)
    assert_close(lin @ x, dense @ x)
    xs = random(rng, (n, 3), dtype)
    assert_close(lin.matmat(xs), dense @ xs)
    ys = random(rng, (m, 2), dtype)
    assert_close(lin.H.matmat(ys), dense.conj().T @ ys)

    normal = spla.aslinearoperator(sp.identity(n, dtype=dtype)) + lin.H @ lin
    b = random(rng, n, dtype)
    sol, info = spla.cg(normal, b, rtol=1e-13, maxiter=500)
    assert info == 0
    exact = np.linalg.solve(np.eye(n) + dense.conj().T @ dense, b)
    assert_close(sol, exact, rtol=1e-9)


def test_to_dense_refuses_above_max_entries():
    op = ConvOperator(np.ones((2, 2, 3, 3)), (2, 4, 5))
    entries = op.shape[0] * op.shape[1]
    assert op.to_dense(max_entries=entries).shape == op.shape
    with pytest.raises(ValueError, match="max_entries"):
        op.to_dense(max_entries=entries - 1)
    with pytest.raises(ValueError, match="max_entries"):
        op.H.to_dense(max_entries=entries - 1)
    big = ConvOperator(np.ones((4, 4, 3, 3)), (4, 64, 64))  # 2.7e8 entries > DENSE_LIMIT
    assert big.shape[0] * big.shape[1] > DENSE_LIMIT
    with pytest.raises(ValueError, match="max_entries"):
        big.to_dense()
    assert big.to_sparse().nnz > 0  # the sparse form is still available


# ---------------------------------------------------------------------------- devices
@pytest.mark.parametrize("padding", ["zeros", "circular", "reflect", ((0, 2), (1, 0))])
def test_apply_on_device(device, padding):
    rng = np.random.default_rng(31)
    w = rng.standard_normal((4, 2, 3, 3))
    kw = dict(padding=padding, stride=(1, 2), groups=2)
    op = ConvOperator(w, (4, 7, 6), device=device, **kw)
    assert op.weight.device.type == torch.device(device).type
    mode, widths, _ = expected_geometry(padding, None, (7, 6), (3, 3), (1, 2), (1, 1))
    x = rng.standard_normal((3, 4, 7, 6))
    y = op.apply(torch.from_numpy(x).to(device))
    assert y.device.type == torch.device(device).type
    assert_close(y, reference_apply(w, x, (1, 2), (1, 1), 2, mode, widths))
    v = rng.standard_normal((3, *op.out_shape))
    xa = op.apply_adjoint(torch.from_numpy(v).to(device))
    assert xa.device.type == torch.device(device).type
    dense = reference_dense(w, (4, 7, 6), (1, 2), (1, 1), 2, mode, widths)
    assert_close(xa.reshape(3, -1), (dense.T @ v.reshape(3, -1).T).T)


def test_numpy_inputs_of_any_layout():
    """Flipped (negative-stride), Fortran-ordered and strided views, lists; torch outputs of
    .T/.H convert to numpy (no lazy conjugate bit)."""
    rng = np.random.default_rng(42)
    w = random(rng, (2, 2, 3), np.complex128)
    op = ConvOperator(w, (2, 6), padding="circular")
    dense = op.to_dense()
    big = random(rng, (2, 12), np.complex128)
    for x in (
        big[:, ::-2],
        big[:, 6:][:, ::-1],
        np.asfortranarray(big[:, :6]),
        big[:, :6].tolist(),
    ):
        assert_close(op.apply(x), (dense @ np.asarray(x).ravel()).reshape(op.out_shape))
    v = random(rng, 2 * op.shape[1], np.complex128)[::-2]
    assert_close(op.matvec(v), dense @ v)
    y = random(rng, 2 * op.shape[0], np.complex128)[::-2]
    assert_close(op.rmatvec(y), dense.conj().T @ y)
    assert_close(
        op.apply_adjoint(y.reshape(op.out_shape)[:, ::-1]),
        (dense.conj().T @ y.reshape(op.out_shape)[:, ::-1].ravel()).reshape(op.in_shape),
    )
    yt = torch.from_numpy(y.reshape(op.out_shape).copy())
    for adj, mat in ((op.T, dense.T), (op.H, dense.conj().T)):
        out = adj.apply(yt)
        assert not out.is_conj()
        assert_close(out.numpy().ravel(), mat @ y)


def test_float32_operator_agrees_to_single_precision():
    rng = np.random.default_rng(41)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    op = ConvOperator(w, (2, 6, 6), padding="circular")
    assert op.dtype == np.float32
    x = rng.standard_normal((2, 6, 6)).astype(np.float32)
    mode, widths, _ = expected_geometry("circular", None, (6, 6), (3, 3), (1, 1), (1, 1))
    assert_close(
        op.apply(x),
        reference_apply(
            w.astype(np.float64), x.astype(np.float64), (1, 1), (1, 1), 1, mode, widths
        ),
        rtol=1e-5,
    )


# ---------------------------------------------------------------------------- bad input
def test_bad_input_walkthrough():
    """Each bad argument raises the documented exception with a message naming it."""
    good_w = np.ones((4, 2, 3, 3))
    base = dict(weight=good_w, input_shape=(2, 8, 8))
    nan_w = good_w.copy()
    nan_w[0, 0, 1, 1] = np.nan
    inf_t = torch.ones(4, 2, 3, 3)
    inf_t[1, 1, 0, 0] = float("inf")
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        (dict(weight=np.ones((4, 2, 3))), ValueError, "weight"),  # rank
        (dict(weight=np.ones((4, 2, 3, 3, 3))), ValueError, "weight"),
        (dict(weight=np.ones((4, 3, 3, 3))), ValueError, "in_channels"),  # channel mismatch
        (
            dict(weight=np.ones((4, 1, 3, 3)), groups=3, input_shape=(3, 8, 8)),
            ValueError,
            "groups",
        ),  # 3 does not divide out_channels=4
        (dict(weight=np.ones((3, 1, 3, 3)), groups=2, input_shape=(2, 8, 8)), ValueError, "groups"),
        (dict(weight=np.ones((4, 1, 3, 3)), groups=4, input_shape=(2, 8, 8)), ValueError, "groups"),
        (dict(groups=0), ValueError, "groups"),
        (dict(groups=1.5), TypeError, "groups"),
        (dict(stride=0), ValueError, "stride"),
        (dict(stride=(1, -1)), ValueError, "stride"),
        (dict(stride=(1, 1, 1)), ValueError, "stride"),
        (dict(stride=1.0), TypeError, "stride"),
        (dict(dilation=0), ValueError, "dilation"),
        (dict(weight=np.ones((1, 2, 9, 3)), padding="valid"), ValueError, "kernel_size"),
        (
            dict(weight=np.ones((1, 2, 3, 3)), padding="valid", dilation=4),
            ValueError,
            "kernel_size",
        ),
        (dict(padding="symmetric"), ValueError, "padding"),
        (dict(padding="ZEROS"), ValueError, "padding"),
        (dict(padding=-1), ValueError, "padding"),
        (dict(padding=((1, 2, 3), (0, 0))), ValueError, "padding"),
        (dict(padding=(1, 1, 1)), ValueError, "padding"),
        (dict(padding=1, pad_width=2), ValueError, "pad_width"),
        (dict(padding="valid", pad_width=1), ValueError, "pad_width"),
        (dict(padding="same", pad_width=1), ValueError, "pad_width"),
        (dict(padding="circular", pad_width=-2), ValueError, "pad_width"),
        (
            dict(weight=np.ones((1, 2, 3, 3)), input_shape=(2, 1, 8), padding="reflect"),
            ValueError,
            "reflect",
        ),
        (dict(weight=nan_w), ValueError, "weight"),
        (dict(weight=inf_t), ValueError, "weight"),
        (dict(weight=np.array([["a", "b"]])), TypeError, "weight"),
        (dict(weight="abc"), TypeError, "weight"),
        (dict(weight=None), TypeError, "weight"),
        (dict(weight={"w": 1}), TypeError, "weight"),
        (dict(input_shape=8), TypeError, "input_shape"),
        (dict(input_shape="2,8,8"), TypeError, "input_shape"),
        (dict(input_shape=(2,)), ValueError, "input_shape"),
        (dict(input_shape=(2, 4, 4, 4, 4)), ValueError, "input_shape"),
        (dict(input_shape=(2, 0, 8)), ValueError, "input_shape"),
        (dict(input_shape=(2, 8.0, 8)), TypeError, "input_shape"),
        (dict(input_shape=(2, 8, 8, 8)), ValueError, "weight"),  # rank vs input_shape
        (dict(_call=("apply", np.ones((2, 8, 7)))), ValueError, "x must"),
        (dict(_call=("apply", torch.ones(3, 1, 2, 8, 8))), ValueError, "x must"),
        (dict(_call=("apply", torch.ones(3, 3, 8, 8))), ValueError, "x must"),
        (dict(_call=("matvec", np.ones(2 * 8 * 8 - 1))), ValueError, "x must"),
        (dict(_call=("apply_adjoint", np.ones((4, 8, 7)))), ValueError, "y must"),
        (dict(_call=("rmatvec", np.ones(4 * 8 * 8 + 1))), ValueError, "y must"),
        (dict(_call=("H.apply", np.ones((2, 8, 8)))), ValueError, "y must"),
    ]
    failures = []
    for overrides, exc, needle in cases:
        kwargs = {**base, **overrides}
        call = kwargs.pop("_call", None)
        label = repr(overrides)[:120]
        try:
            op = ConvOperator(kwargs.pop("weight"), kwargs.pop("input_shape"), **kwargs)
            if call is not None:
                name, arg = call
                target = op.H if name.startswith("H.") else op
                getattr(target, name.removeprefix("H."))(arg)
        except Exception as err:  # the walk records every mismatch, then fails once
            if not isinstance(err, exc):
                failures.append(
                    f"{label}: raised {type(err).__name__}, expected {exc.__name__} ({err})"
                )
            elif needle not in str(err):
                failures.append(f"{label}: message {str(err)!r} does not name {needle!r}")
        else:
            failures.append(f"{label}: raised nothing, expected {exc.__name__}")
    assert not failures, "\n".join(failures)
