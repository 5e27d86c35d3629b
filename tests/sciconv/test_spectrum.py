"""Tests of sciconv.spectrum against dense SVDs of the materialised ConvOperator."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sciconv.operator import ConvOperator
from sciconv.spectrum import (
    condition_number,
    conv_singular_values,
    conv_symbol,
    operator_norm,
    spectral_norm_power,
)


def _weight(rng, m, cg, k, complex_=False):
    w = rng.standard_normal((m, cg, *k))
    if complex_:
        w = w + 1j * rng.standard_normal(w.shape)
    return w


def _dense_sv(op):
    return np.linalg.svd(op.to_dense(), compute_uv=False)


def _assert_circular_matches(w, in_shape, stride=1, dilation=1, groups=1, rtol=1e-10):
    op = ConvOperator(
        w, in_shape, stride=stride, dilation=dilation, groups=groups, padding="circular"
    )
    ref = _dense_sv(op)
    sv = conv_singular_values(w, in_shape, stride, dilation, groups, flat=True)
    assert sv.shape == ref.shape == (min(op.shape),)
    assert sv.dtype == np.float64
    np.testing.assert_allclose(sv, ref, rtol=0, atol=rtol * ref[0])
    grid = conv_singular_values(w, in_shape, stride, dilation, groups)
    s = np.broadcast_to(np.asarray(stride), (len(in_shape) - 1,))
    coarse = tuple(n // si for n, si in zip(in_shape[1:], s))
    assert grid.shape == (*coarse, min(w.shape[0], in_shape[0] * int(np.prod(s))))
    assert np.all(np.diff(grid, axis=-1) <= 0)


CASES = [
    # (M, C/groups, kernel, input_shape, stride, dilation, groups)
    (3, 3, (3,), (3, 12), 1, 1, 1),
    (2, 5, (3,), (5, 12), 2, 1, 1),  # C > M, stride 2
    (5, 2, (4,), (2, 12), 3, 1, 1),  # C < M, stride 3
    (3, 2, (3,), (2, 10), 1, 2, 1),  # dilation 2
    (4, 2, (3,), (4, 8), 2, 1, 2),  # groups 2
    (2, 3, (7,), (3, 4), 1, 1, 1),  # kernel larger than the grid (wraps)
    (3, 2, (3, 3), (2, 6, 6), 1, 1, 1),
    (2, 4, (3, 3), (4, 6, 6), 2, 1, 1),  # 2D, C > M, stride 2
    (6, 2, (3, 2), (2, 6, 6), 3, 1, 1),  # 2D, C < M, stride 3
    (3, 3, (3, 3), (3, 8, 8), 1, 2, 1),  # 2D dilation 2
    (4, 2, (3, 3), (4, 4, 6), (2, 3), (2, 1), 2),  # mixed per-axis stride/dilation, groups
    (2, 1, (5, 5), (1, 3, 3), 1, 1, 1),  # 5x5 kernel on a 3x3 grid
    (2, 2, (2, 3, 2), (2, 4, 4, 4), 2, 1, 1),  # small 3D, strided
]


@pytest.mark.parametrize("m,cg,k,in_shape,stride,dilation,groups", CASES)
def test_matches_dense_svd(m, cg, k, in_shape, stride, dilation, groups):
    w = _weight(np.random.default_rng(len(in_shape) + m + cg), m, cg, k)
    _assert_circular_matches(w, in_shape, stride, dilation, groups)


def test_complex_weight_and_torch_input():
    rng = np.random.default_rng(5)
    w = _weight(rng, 3, 2, (3, 3), complex_=True)
    _assert_circular_matches(w, (2, 4, 6), stride=2)
    wt = torch.tensor(_weight(rng, 3, 2, (3,)), dtype=torch.float32, requires_grad=True)
    sv = conv_singular_values(wt, (2, 8), flat=True)
    ref = conv_singular_values(wt.detach().double().numpy(), (2, 8), flat=True)
    assert sv.dtype == np.float64
    np.testing.assert_allclose(sv, ref, rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    d=st.integers(1, 2),
    m=st.integers(1, 3),
    cg=st.integers(1, 3),
    groups=st.integers(1, 2),
    k=st.integers(1, 5),
    s=st.integers(1, 3),
    q=st.integers(1, 3),
    dil=st.integers(1, 2),
    seed=st.integers(0, 2**16),
)
def test_random_shapes_match_dense(d, m, cg, groups, k, s, q, dil, seed):
    rng = np.random.default_rng(seed)
    w = _weight(rng, m * groups, cg, (k,) * d)
    _assert_circular_matches(w, (cg * groups, *(s * q,) * d), s, dil, groups)


def test_symbol_diagonalises_the_operator():
    # left pad 0: y[m, i] = sum w[m, c, t] x[c, (S i + D t) mod n]; Y(f) = K(f) [X_r(f)]
    rng = np.random.default_rng(7)
    w, s = _weight(rng, 4, 1, (3, 3)), (2, 3)
    in_shape = (2, 4, 6)
    op = ConvOperator(
        w, in_shape, stride=s, dilation=2, groups=2, padding="circular", pad_width=((0, 4), (0, 4))
    )
    x = rng.standard_normal(in_shape)
    y = op.apply(x)
    sym = conv_symbol(w, in_shape, s, 2, 2)
    assert sym.shape == (2, 2, 4, 2 * 6)
    xr = x.reshape(2, 2, 2, 2, 3).transpose(0, 2, 4, 1, 3).reshape(12, 2, 2)  # (c, r) x q
    xhat = np.fft.fft2(xr)
    yhat = np.einsum("abmj,jab->mab", sym, xhat)
    np.testing.assert_allclose(yhat, np.fft.fft2(y), atol=1e-10)
    assert np.allclose(sym[..., :2, 6:], 0) and np.allclose(sym[..., 2:, :6], 0)


def _ops():
    rng = np.random.default_rng(11)
    w2 = _weight(rng, 3, 2, (3, 3))
    w1 = _weight(rng, 2, 3, (4,))
    return [
        ConvOperator(w2, (2, 6, 5), padding="circular", stride=1),
        ConvOperator(w2, (2, 6, 6), padding="circular", stride=2, pad_width=((2, 0), (0, 2))),
        ConvOperator(w2, (2, 6, 5), padding="zeros"),
        ConvOperator(w2, (2, 7, 6), padding="valid", stride=2),
        ConvOperator(w2, (2, 6, 5), padding="reflect", dilation=(1, 2)),
        ConvOperator(w1, (3, 11), padding="zeros", stride=3),
        ConvOperator(w1, (3, 10), padding="circular", pad_width=((1, 1),)),  # not a full circulant
    ]


@pytest.mark.parametrize("op", _ops(), ids=lambda op: f"{op.padding}-{op.in_shape}")
def test_norm_and_condition_match_dense(op):
    s = _dense_sv(op)
    assert operator_norm(op) == pytest.approx(s[0], rel=1e-8)
    assert condition_number(op) == pytest.approx(s[0] / s[-1], rel=1e-8)
    assert isinstance(operator_norm(op), float)
    # iterative path (ARPACK), forced by dense_limit=0
    assert operator_norm(op, dense_limit=0, tol=1e-10) == pytest.approx(s[0], rel=1e-6)
    kappa = condition_number(op, dense_limit=0, tol=1e-10)
    assert kappa == pytest.approx(s[0] / s[-1], rel=1e-6)


def test_power_iteration_estimates_the_norm():
    op = _ops()[3]
    s0 = _dense_sv(op)[0]
    est = spectral_norm_power(op, iters=60, rng=0)
    assert est <= s0 * (1 + 1e-12)
    assert est == pytest.approx(s0, rel=1e-3)


def test_thin_operator_iterative_path():
    w = np.random.default_rng(2).standard_normal((1, 1, 3))
    op = ConvOperator(w, (1, 6), stride=3)  # 2 x 6: too thin for ARPACK's k=1
    s = _dense_sv(op)
    assert operator_norm(op, dense_limit=0) == pytest.approx(s[0], rel=1e-10)
    assert condition_number(op, dense_limit=0) == pytest.approx(s[0] / s[-1], rel=1e-8)
    wt = torch.tensor(w, dtype=torch.bfloat16)
    assert conv_singular_values(wt, (1, 6), flat=True).dtype == np.float64


def test_singular_operator_has_infinite_condition():
    circ = ConvOperator(np.array([[[1.0, -1.0]]]), (1, 8), padding="circular")
    assert condition_number(circ) == np.inf
    assert operator_norm(circ) == pytest.approx(2.0)
    rng = np.random.default_rng(3)
    w = rng.standard_normal((2, 1, 3, 3))
    w = np.concatenate([w, w], axis=1)  # both input channels see the same kernel: rank <= n
    op = ConvOperator(w, (2, 5, 5), padding="zeros")
    assert condition_number(op) == np.inf
    assert condition_number(op, dense_limit=0) == np.inf
    zero = ConvOperator(np.zeros((1, 1, 3)), (1, 6), padding="zeros")
    assert condition_number(zero) == np.inf
    assert operator_norm(zero) == 0.0


def test_bad_inputs_name_the_argument():
    w = np.ones((2, 2, 3))
    with pytest.raises(ValueError, match="stride"):
        conv_singular_values(w, (2, 10), stride=3)
    with pytest.raises(ValueError, match="weight"):
        conv_singular_values(np.ones((2, 2, 3, 3)), (2, 10))
    with pytest.raises(ValueError, match="in_channels"):
        conv_singular_values(w, (3, 10))
    with pytest.raises(ValueError, match="groups"):
        conv_singular_values(np.ones((3, 1, 3)), (2, 10), groups=2)
    with pytest.raises(ValueError, match="weight must be finite"):
        conv_singular_values(np.full((2, 2, 3), np.nan), (2, 10))
    with pytest.raises(TypeError, match="weight"):
        conv_symbol("abc", (2, 10))
    with pytest.raises(ValueError, match="input_shape"):
        conv_singular_values(np.ones((1, 1, 1, 1, 1, 1)), (1, 2, 2, 2, 2))
    with pytest.raises(TypeError, match="op must be a sciconv.ConvOperator"):
        operator_norm(np.eye(3))
    with pytest.raises(TypeError, match="op"):
        condition_number(None)
    op = ConvOperator(w, (2, 10))
    with pytest.raises(ValueError, match="tol"):
        operator_norm(op, tol=-1.0)
    with pytest.raises(ValueError, match="maxiter"):
        operator_norm(op, maxiter=0)
    with pytest.raises(ValueError, match="dense_limit"):
        condition_number(op, dense_limit=-1)
