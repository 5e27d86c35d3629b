"""Low-precision error measurement: the emulation against numpy float16, and error ordering."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciconv.winograd import balance, lowp_matmul, transforms, winograd_error

NOVA_F63 = "0,3/5,-3/5,1,-1,7/6,-7/6"
NOVA_F83 = "0,2/5,-2/5,5/6,-5/6,1,-1,7/6,-7/6"


def test_lowp_matmul_matches_numpy_float16_loop() -> None:
    """Each product and partial sum rounded to float16: bit-equal to a numpy float16 loop
    (numpy rounds every float16 operation), an independent implementation."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 7)).astype(np.float16)
    X = rng.standard_normal((3, 7, 4)).astype(np.float16)
    ref = np.zeros((3, 5, 4), dtype=np.float16)
    for b in range(3):
        for i in range(5):
            for j in range(4):
                acc = A[i, 0] * X[b, 0, j]
                for k in range(1, 7):
                    acc = np.float16(acc + np.float16(A[i, k] * X[b, k, j]))
                ref[b, i, j] = acc
    out = lowp_matmul(torch.from_numpy(A), torch.from_numpy(X)).numpy()
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("dim", [1, 2])
def test_error_scales_with_unit_roundoff(dim: int) -> None:
    """float64 arithmetic gives ~1e-15 error; float32 < float16 < bfloat16, each within
    [0.1, 1e4] unit roundoffs for F(4,3) (its 2D growth is far below 1e4)."""
    t = balance(transforms(4, 3))
    e64 = winograd_error(t, torch.float64, dim, 200, seed=0)
    assert e64.mean < 1e-14 and e64.direct_mean < 1e-15
    means = {}
    for dt, u in ((torch.float32, 2.0**-24), (torch.float16, 2.0**-11), (torch.bfloat16, 2.0**-8)):
        e = winograd_error(t, dt, dim, 400, seed=0)
        assert 0.1 * u < e.mean < 1e4 * u and e.mean <= e.max
        assert 0.1 * u < e.direct_mean < 10 * u
        means[dt] = e.mean
    assert means[torch.float32] < means[torch.float16] < means[torch.bfloat16]


def test_classic_points_beat_nova_in_fp16() -> None:
    """The issue's measurement: classic sets give lower 2D fp16 error than NOVA's fractional
    sets (whose kappa is far smaller), for F(6,3) and F(8,3)."""
    for m, nova in ((6, NOVA_F63), (8, NOVA_F83)):
        classic = winograd_error(balance(transforms(m, 3)), "float16", 2, 500, seed=1).mean
        ours_nova = winograd_error(balance(transforms(m, 3, nova)), "float16", 2, 500, seed=1).mean
        assert classic < ours_nova


def _mm16(A: np.ndarray, X: np.ndarray) -> np.ndarray:
    """A @ X in numpy float16, every product and partial sum rounded (sequential over k)."""
    acc = A[:, 0, None] * X[..., 0, None, :]
    for k in range(1, A.shape[1]):
        acc = acc + A[:, k, None] * X[..., k, None, :]
    return acc


def _numpy_fp16_pipeline(t, dim: int, g: np.ndarray, d: np.ndarray, filter_transform: str):
    """Per-tile relative errors of Winograd and of direct correlation, both in numpy float16,
    against the float64 correlation of the same float16 inputs (``g``: (T, r, w), ``d``:
    (T, n, w'))."""
    trials, r, w = g.shape
    AT, G, BT = t.numpy()
    AT16, G16, BT16 = (M.astype(np.float16) for M in (AT, G, BT))

    def nest(lhs, X, mm):
        Y = mm(lhs, X)
        return Y if dim == 1 else np.swapaxes(mm(lhs, np.swapaxes(Y, -1, -2)), -1, -2)

    if filter_transform == "float64":
        U = nest(G, g.astype(np.float64), np.matmul).astype(np.float16)
    else:
        U = nest(G16, g, _mm16)
    Y = nest(AT16, U * nest(BT16, d, _mm16), _mm16)
    win = np.lib.stride_tricks.sliding_window_view(d, (r, w), axis=(1, 2))  # (T, m, m', r, w)
    ref = np.einsum("tijab,tab->tij", win.astype(np.float64), g.astype(np.float64))
    direct = None
    for a in range(r):
        for b in range(w):
            term = win[..., a, b] * g[:, a, b, None, None]
            direct = term if direct is None else direct + term

    def rel(y):
        diff = (y.astype(np.float64) - ref).reshape(trials, -1)
        return np.linalg.norm(diff, axis=1) / np.linalg.norm(ref.reshape(trials, -1), axis=1)

    return rel(Y), rel(direct)


@pytest.mark.parametrize("filter_transform", ["float64", "dtype"])
@pytest.mark.parametrize(("m", "dim"), [(2, 2), (4, 1), (4, 2), (6, 2)])
def test_error_matches_an_independent_numpy_float16_pipeline(
    m: int, dim: int, filter_transform: str
) -> None:
    """winograd_error's float16 mean errors (Winograd and direct) are within a factor 2 of a
    numpy float16 pipeline on independent random tiles (numpy's generator, 400 tiles;
    measured ratios 0.94-1.10)."""
    t = balance(transforms(m, 3))
    rep = winograd_error(t, "float16", dim, 400, seed=3, filter_transform=filter_transform)
    rng = np.random.default_rng(3)
    w, wd = (1, 1) if dim == 1 else (3, t.n)
    g = rng.standard_normal((400, 3, w)).astype(np.float16)
    d = rng.standard_normal((400, t.n, wd)).astype(np.float16)
    e_w, e_d = _numpy_fp16_pipeline(t, dim, g, d, filter_transform)
    assert 0.5 < rep.mean / e_w.mean() < 2.0
    assert 0.5 < rep.direct_mean / e_d.mean() < 2.0
    assert rep.overflows == 0 and rep.max >= rep.mean


def test_seed_reproducible_and_filter_transform_option() -> None:
    """Same seed, same report. ``filter_transform='dtype'`` computes U = G g G^T in float16:
    on the same tiles (drawn as winograd_error draws them) its mean and max equal the numpy
    pipeline with a float16 U (rtol 1e-9: only the float64 norms differ in summation order),
    and differ from the pipeline with a float64 U by more than that."""
    t = transforms(2, 3)
    a = winograd_error(t, "float16", 2, 100, seed=5)
    b = winograd_error(t, "float16", 2, 100, seed=5)
    assert a == b
    c = winograd_error(t, "float16", 2, 100, seed=5, filter_transform="dtype")
    assert c.as_dict()["ratio"] == c.mean / c.direct_mean
    gen = torch.Generator().manual_seed(5)
    g = torch.randn((100, 3, 3), generator=gen, dtype=torch.float64).half().numpy()
    d = torch.randn((100, 4, 4), generator=gen, dtype=torch.float64).half().numpy()
    e16, e_d = _numpy_fp16_pipeline(t, 2, g, d, "dtype")
    e64, _ = _numpy_fp16_pipeline(t, 2, g, d, "float64")
    np.testing.assert_allclose([c.mean, c.max, c.direct_mean], [e16.mean(), e16.max(), e_d.mean()],
                               rtol=1e-9)  # fmt: skip
    np.testing.assert_allclose([a.mean, a.max], [e64.mean(), e64.max()], rtol=1e-9)
    assert abs(c.mean - a.mean) > 1e-6 * a.mean


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"dim": 3}, "dim"),
        ({"dtype": "int8"}, "dtype"),
        ({"trials": 0}, "trials"),
        ({"filter_transform": "x"}, "filter_transform"),
    ],
)
def test_bad_input(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        winograd_error(transforms(2, 3), **kwargs)
