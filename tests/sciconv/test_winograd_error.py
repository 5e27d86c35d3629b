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


def test_seed_reproducible_and_filter_transform_option() -> None:
    t = transforms(2, 3)
    a = winograd_error(t, "float16", 2, 100, seed=5)
    b = winograd_error(t, "float16", 2, 100, seed=5)
    assert a == b
    c = winograd_error(t, "float16", 2, 100, seed=5, filter_transform="dtype")
    assert c.mean > 0 and c.as_dict()["ratio"] == c.mean / c.direct_mean


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
