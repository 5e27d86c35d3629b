"""Orthogonality measures (err_F, err_s, L_orth) against the dense matrix of ConvOperator.

References: the dense matrix of `sciconv.ConvOperator` (its Gram computed with numpy in float64)
and the self-correlation definition of L_orth. Tolerances: err_F^2 = N^d L_orth to 1e-10
relative for N >= 2 floor((k-1)/S) + 1 (Achour et al. Thm. 3); err_F / err_s vs the dense Gram
to 1e-10 relative; err_s <= sqrt(alpha L_orth) exactly (with 1e-12 slack for round-off).
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sciconv import ConvOperator
from sciconv.orthogonal import (
    OrthogonalConv1d,
    OrthogonalConv2d,
    err_F,
    err_s,
    gram_errors,
    l_orth,
    l_orth_alpha,
    orthogonality,
)


def _dense_errors(w, n, s, padding):
    op = ConvOperator(w, (w.shape[1], *n), stride=s, padding=padding)
    a = op.to_dense()
    kind = "RO" if w.shape[0] <= w.shape[1] * math.prod(s) else "CO"
    g = a @ a.T if kind == "RO" else a.T @ a
    g = g - np.eye(g.shape[0])
    return np.linalg.norm(g), np.linalg.norm(g, 2)


@settings(max_examples=25, deadline=None)
@given(
    d=st.integers(1, 2),
    c=st.integers(1, 3),
    m=st.integers(1, 6),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    extra=st.integers(0, 1),
    seed=st.integers(0, 2**16),
)
def test_err_f_squared_equals_n_d_l_orth(d, c, m, k, s, extra, seed):
    """err_F^2 = N^d L_orth (to 1e-10 rel.) and err_F, err_s equal the dense Gram's."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((m, c) + (k,) * d) / math.sqrt(c * k**d)
    big_n = 2 * ((k - 1) // s) + 1 + extra
    n = (big_n * s,) * d
    ef, es, _ = gram_errors(w, n, s)
    lo = l_orth(w, s)
    assert ef**2 == pytest.approx(big_n**d * lo, rel=1e-10, abs=1e-12)
    if c * big_n**d * s**d <= 400:
        dense_f, dense_s = _dense_errors(w, n, (s,) * d, "circular")
        assert ef == pytest.approx(dense_f, rel=1e-10)
        assert es == pytest.approx(dense_s, rel=1e-10)


@pytest.mark.parametrize(
    "m, c, k, s, d", [(4, 4, 3, 1, 2), (8, 2, 3, 2, 2), (2, 2, 5, 2, 1), (12, 2, 3, 2, 2)]
)
def test_err_s_bound_on_near_orthogonal_kernels(m, c, k, s, d):
    """err_s <= sqrt(alpha L_orth) on orthogonal kernels perturbed by 1e-3..1e-1."""
    layer = OrthogonalConv2d if d == 2 else OrthogonalConv1d
    rng = np.random.default_rng(1)
    w0 = layer(c, m, k, s, bias=False, dtype=torch.float64).weight.detach().numpy()
    kind = "RO" if m <= c * s**d else "CO"
    alpha = l_orth_alpha(k, s, kind, d)
    paper = (2 * ((k - 1) // s) + 1) ** d * m if kind == "RO" else (2 * k - 1) ** d * c
    assert alpha <= paper  # ours is sharper than Achour et al.'s constant
    for eps in (1e-3, 1e-2, 1e-1):
        w = w0 + eps * rng.standard_normal(w0.shape)
        for big_n in (2 * ((k - 1) // s) + 1, 7):
            es = err_s(w, big_n * s, s)
            lo = l_orth(w, s)
            assert es <= math.sqrt(alpha * lo) + 1e-12
            assert err_F(w, big_n * s, s) ** 2 == pytest.approx(big_n**d * lo, rel=1e-10)


@pytest.mark.parametrize("padding", ["same", "valid", "zeros"])
def test_zero_padding_measures_match_dense(padding):
    """Non-circular err_F / err_s equal those of the dense Gram (1e-10 rel.)."""
    rng = np.random.default_rng(2)
    w = rng.standard_normal((3, 2, 3, 3)) / 3
    ef, es, _ = gram_errors(w, (6, 6), 2, padding)
    dense_f, dense_s = _dense_errors(w, (6, 6), (2, 2), padding)
    assert ef == pytest.approx(dense_f, rel=1e-10)
    assert es == pytest.approx(dense_s, rel=1e-10)


def test_l_orth_is_differentiable_and_matches_numpy():
    """torch in -> differentiable tensor equal to the float64 numpy value; grad by finite diff."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((6, 2, 3, 3)) / 3
    wt = torch.tensor(w, requires_grad=True)
    val = l_orth(wt, 2)
    val.backward()
    assert float(val.detach()) == pytest.approx(l_orth(w, 2), rel=1e-14)
    v = rng.standard_normal(w.shape)
    h = 1e-6
    fd = (l_orth(w + h * v, 2) - l_orth(w - h * v, 2)) / (2 * h)
    assert float((wt.grad.numpy() * v).sum()) == pytest.approx(fd, rel=1e-6)


def test_orthogonality_report_on_an_orthogonal_layer():
    """An exactly orthogonal kernel: sigma = 1, err_F, err_s, L_orth at round-off."""
    w = OrthogonalConv2d(4, 8, 3, 1, bias=False, dtype=torch.float64).weight.detach()
    r = orthogonality(w, 8, 1)
    assert r.kind == "CO" and r.alpha == 25
    assert abs(r.sigma_min - 1) < 1e-13 and abs(r.sigma_max - 1) < 1e-13
    assert r.err_F < 1e-12 and r.err_s < 1e-13 and abs(r.l_orth) < 1e-12


def test_bad_weight_rejected():
    with pytest.raises(ValueError, match="weight"):
        err_F(np.zeros((3, 3)), 8)
    with pytest.raises(ValueError, match="kind"):
        err_F(np.ones((2, 2, 3)), 8, kind="XO")
