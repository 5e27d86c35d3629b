"""Tests of :mod:`tensors.decompose`.

References: tensorly's own reconstructions (``cp_to_tensor``, ``tucker_to_tensor``,
``tt_to_tensor``) for our ``*_to_kernel`` functions, and the input kernel itself for the
reconstruction error (recomputed here with numpy in float64). Tolerances: exact (full-rank or
known-rank) decompositions reproduce the kernel to 1e-10 relative in float64; ALS on an exactly
rank-R CP tensor to 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorly as tl
import torch

from tensors import decompose, max_rank, resolve_rank
from tensors.decompose import cp_to_kernel, tt_to_kernel, tucker_to_kernel

SHAPES = [(5, 3, 4), (4, 3, 3, 3), (6, 2, 3, 1), (3, 2, 2, 3, 2)]


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double().numpy(), b.detach().double().numpy()
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("backend", ["pytorch", "numpy"])
@pytest.mark.parametrize("kind", ["cp", "tucker", "tt"])
@pytest.mark.parametrize("shape", SHAPES)
def test_full_rank_is_exact(shape, kind, backend):
    """At the bounds of max_rank every kind reproduces the kernel to 1e-10 (float64)."""
    w = torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    dec = decompose(w, kind, "full", backend=backend)
    assert dec.rank == max_rank(kind, shape)
    assert _rel(dec.reconstruct(), w) < 1e-10
    assert dec.error < 1e-10
    assert all(f.dtype == torch.float64 for f in dec.factors)


@pytest.mark.parametrize("kind", ["cp", "tucker", "tt"])
def test_reported_error_matches_numpy(kind):
    """``error`` is ||W - W_hat|| / ||W|| recomputed independently (rank-dependent bounds on
    its value: test_truncated_error_within_unfolding_bounds)."""
    w = torch.randn(6, 5, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    dec = decompose(w, kind, 2)
    assert dec.error == pytest.approx(_rel(dec.reconstruct(), w), rel=1e-12)


def _decaying_kernel():
    """A (6, 5, 3, 3) kernel with decaying spectra: 8 random rank-one terms of norms 2^-i, so
    truncation errors are far from 0 and 1 and the bounds below are informative."""
    rng = np.random.default_rng(3)
    shape = (6, 5, 3, 3)
    terms = []
    for i in range(8):
        t = np.einsum("a,b,c,d->abcd", *(rng.standard_normal(n) for n in shape))
        terms.append(2.0**-i * t / np.linalg.norm(t))
    return terms


def _tail(tensor, modes, rank):
    """||sigma_{rank+1:}|| of the unfolding with ``modes`` as rows (Eckart-Young: the least
    Frobenius error of any matrix of that rank)."""
    rest = [k for k in range(tensor.ndim) if k not in modes]
    rows = int(np.prod([tensor.shape[k] for k in modes]))
    s = np.linalg.svd(np.transpose(tensor, [*modes, *rest]).reshape(rows, -1), compute_uv=False)
    return float(np.sqrt(np.sum(s[rank:] ** 2)))


@pytest.mark.parametrize(
    ("kind", "rank"),
    [("cp", 1), ("cp", 2), ("cp", 3), ("tucker", 1), ("tucker", 2), ("tucker", 3),
     ("tucker", (3, 1)), ("tt", 1), ("tt", 2), ("tt", 3), ("tt", (2, 3, 1))],
)  # fmt: skip
def test_truncated_error_within_unfolding_bounds(kind, rank):
    """Truncated ranks: the error is bounded by the singular values of the unfoldings.

    Lower bound (any decomposition of that rank, Eckart-Young on each unfolding whose rank the
    format caps): ``max_k tail_k / ||W||``; Tucker caps the out (mode 0) and in (mode 1)
    unfoldings, TT the unfoldings (in, kh, ..., k-th) vs rest in its mode order
    (in, kh, kw, out), CP every mode unfolding at R. Upper bound: Tucker (HOSVD-initialised
    HOOI) and TT-SVD meet ``sqrt(sum_k tail_k^2) / ||W||`` (De Lathauwer et al. 2000;
    Oseledets 2011); CP (ALS, no such theorem) must be within 1.1x of the rank-R candidate
    known by construction (the first R terms; measured 0.95-1.0x). Slack 1e-12 relative.
    """
    terms = _decaying_kernel()
    W = sum(terms)
    dec = decompose(torch.as_tensor(W), kind, rank)
    err, norm = dec.error, np.linalg.norm(W)
    assert err == pytest.approx(_rel(dec.reconstruct(), torch.as_tensor(W)), rel=1e-12)
    if kind == "cp":
        (R,) = dec.rank
        tails = [_tail(W, [k], R) for k in range(4)]
        candidate = np.linalg.norm(W - sum(terms[:R])) / norm
        assert err <= 1.1 * candidate, (err, candidate)
    else:
        if kind == "tucker":
            tails = [_tail(W, [0], dec.rank[0]), _tail(W, [1], dec.rank[1])]
        else:
            X = np.transpose(W, (1, 2, 3, 0))
            tails = [_tail(X, list(range(k + 1)), r) for k, r in enumerate(dec.rank)]
        upper = np.sqrt(np.sum(np.square(tails))) / norm
        assert err <= upper * (1 + 1e-12), (err, upper)
    lower = max(tails) / norm
    assert err >= lower * (1 - 1e-12), (err, lower)
    assert 0.01 < lower < 0.9  # the bound is informative for this kernel


def test_factor_layouts_match_tensorly():
    """Our reconstructions equal tensorly's cp/tucker/tt_to_tensor on the same factors."""
    g = torch.Generator().manual_seed(3)
    o, i, kh, kw, r = 4, 3, 3, 2, 5
    a, b, c, d = (torch.randn(n, r, dtype=torch.float64, generator=g) for n in (o, i, kh, kw))
    with tl.backend_context("pytorch"):
        ref = tl.cp_to_tensor((torch.ones(r, dtype=torch.float64), [a, b, c, d]))
        assert _rel(cp_to_kernel(a, b, [c, d]), ref) < 1e-14
        core = torch.randn(2, 3, kh, kw, dtype=torch.float64, generator=g)
        u, v = torch.randn(o, 2, dtype=torch.float64), torch.randn(i, 3, dtype=torch.float64)
        eye_h, eye_w = torch.eye(kh, dtype=torch.float64), torch.eye(kw, dtype=torch.float64)
        ref = tl.tucker_to_tensor((core, [u, v, eye_h, eye_w]))
        assert _rel(tucker_to_kernel(u, v, core), ref) < 1e-14
        cores = [
            torch.randn(*s, dtype=torch.float64, generator=g)
            for s in [(1, i, 2), (2, kh, 3), (3, kw, 2), (2, o, 1)]
        ]
        ref = tl.tt_to_tensor(cores).permute(3, 0, 1, 2)
        got = tt_to_kernel(cores[0][0], cores[1:3], cores[3][..., 0])
        assert _rel(got, ref) < 1e-14


def test_known_low_rank_is_recovered():
    """A kernel of exact CP rank 3 / Tucker rank (2, 2) / TT rank (2, 3, 2) is recovered."""
    g = torch.Generator().manual_seed(4)
    o, i, k = 6, 5, 3
    cp = [torch.randn(n, 3, dtype=torch.float64, generator=g) for n in (o, i, k, k)]
    w = cp_to_kernel(cp[0], cp[1], cp[2:])
    assert decompose(w, "cp", 3, n_iter_max=2000, tol=1e-14).error < 1e-6
    core = torch.randn(2, 2, k, k, dtype=torch.float64, generator=g)
    w = tucker_to_kernel(
        torch.randn(o, 2, dtype=torch.float64, generator=g),
        torch.randn(i, 2, dtype=torch.float64, generator=g),
        core,
    )
    assert decompose(w, "tucker", (2, 2)).error < 1e-10
    cores = [torch.randn(*s, dtype=torch.float64, generator=g) for s in [(2, k, 3), (3, k, 2)]]
    w = tt_to_kernel(
        torch.randn(i, 2, dtype=torch.float64, generator=g),
        cores,
        torch.randn(2, o, dtype=torch.float64, generator=g),
    )
    assert decompose(w, "tt", (2, 3, 2)).error < 1e-10


def test_max_rank_values():
    """Bounds worked out by hand for a (8, 4, 3, 3) kernel."""
    assert max_rank("cp", (8, 4, 3, 3)) == (36,)  # 288 / 8
    assert max_rank("tucker", (8, 4, 3, 3)) == (8, 4)
    assert max_rank("tt", (8, 4, 3, 3)) == (4, 12, 8)  # train 4-3-3-8
    assert resolve_rank("tt", (8, 4, 3, 3), 4) == (4, 4, 4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rank": 0}, "rank"),
        ({"rank": -2}, "rank"),
        ({"rank": 37}, "rank .* too large"),
        ({"rank": (8, 5), "kind": "tucker"}, "too large"),
        ({"rank": (4, 13, 8), "kind": "tt"}, "too large"),
        ({"rank": (2, 2), "kind": "tt"}, "rank must have 3 entries"),
        ({"rank": "most"}, "rank"),
        ({"rank": 2, "kind": "svd"}, "kind"),
        ({"rank": 2, "backend": "jax"}, "backend"),
    ],
)
def test_bad_arguments(kwargs, match):
    """Each bad argument raises ValueError naming it."""
    w = torch.randn(8, 4, 3, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=match):
        decompose(w, **kwargs)


@pytest.mark.parametrize("shape", [(8, 4), (2, 2, 2, 2, 2, 2)])
def test_kernel_not_conv_shaped(shape):
    """A 2-way or 6-way tensor is not a conv kernel: ValueError naming ``weight``."""
    with pytest.raises(ValueError, match="weight"):
        decompose(torch.randn(*shape), "cp", 1)


def test_non_finite_and_non_tensor():
    """NaN kernels and non-array inputs are refused."""
    w = torch.randn(2, 2, 3, 3)
    w[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="weight"):
        decompose(w, "cp", 1)
    with pytest.raises(TypeError, match="weight"):
        decompose([[1.0]], "cp", 1)
