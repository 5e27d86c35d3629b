"""Conditioning in mpmath: NOVA's published kappa values, Kronecker 2D values, predictor E."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from sciconv.winograd import (
    balance,
    kappa,
    kappa_table,
    kappa_vfin,
    predictor_E,
    rescale,
    transforms,
    verify,
    winograd_error,
)

INT_F83 = "0,1,-1,2,-2,3,-3,4,-4"
NOVA_F83 = "0,2/5,-2/5,5/6,-5/6,1,-1,7/6,-7/6"
INT_F63 = "0,1,-1,2,-2,3,-3"
NOVA_F63 = "0,3/5,-3/5,1,-1,7/6,-7/6"


def _sig4(x: float, ref: float) -> bool:
    return abs(x - ref) <= 0.5e-4 * abs(ref)  # agree to 4 significant digits


def test_nova_table_reproduced() -> None:
    """NOVA (Dec 2025): kappa_2(V_fin) F(8,3) 196,899.68 vs 474.10 (x415.3, 2D x172,484);
    F(6,3) 2,074.5 vs 76.64. Each to 4 significant digits."""
    t_int, t_nova = transforms(8, 3, INT_F83), transforms(8, 3, NOVA_F83)
    a, b = kappa_table(t_int), kappa_table(t_nova)
    assert _sig4(a["kappa_Vfin"], 196_899.68)
    assert _sig4(b["kappa_Vfin"], 474.10)
    assert _sig4(a["kappa_Vfin"] / b["kappa_Vfin"], 415.3)
    assert _sig4(a["kappa_Vfin_2d"] / b["kappa_Vfin_2d"], 172_484)
    assert _sig4(float(kappa_vfin(transforms(6, 3, INT_F63).points)), 2_074.5)
    assert _sig4(float(kappa_vfin(transforms(6, 3, NOVA_F63).points)), 76.64)
    # the V with the infinity row is a different (much worse) matrix for the integers
    assert a["kappa_V"] > 1e3 * a["kappa_Vfin"]


@pytest.mark.parametrize("points", [None, "0,1,-1,1/2,-1/2"])
def test_kappa_matches_numpy_and_kronecker(points: str | None) -> None:
    """mpmath kappa equals numpy's float64 cond (rel. 1e-9); the 2D values equal the cond of
    the explicit Kronecker products (rel. 1e-8)."""
    t = transforms(4, 3, points)
    tab = kappa_table(t)
    AT, G, BT = t.numpy()
    V = np.vander([float(p) for p in t.finite_points], increasing=True)
    for key, X in (("kappa_AT", AT), ("kappa_G", G), ("kappa_BT", BT), ("kappa_Vfin", V)):
        assert tab[key] == pytest.approx(np.linalg.cond(X), rel=1e-9)
        assert tab[key + "_2d"] == pytest.approx(np.linalg.cond(np.kron(X, X)), rel=1e-8)


def _e_numpy(AT: np.ndarray, G: np.ndarray, BT: np.ndarray) -> float:
    return float(
        np.sum(np.linalg.norm(AT, axis=0) * np.linalg.norm(G, axis=1) * np.linalg.norm(BT, axis=1))
    )


def test_predictor_e_scale_invariant_and_2d() -> None:
    """E is unchanged by an exact rescaling with non-power-of-two factors, and E_2D equals the
    same sum computed on the explicit Kronecker transforms (numpy, rel. 1e-10)."""
    t = transforms(4, 3)
    rng = np.random.default_rng(0)
    sa = [Fraction(int(v), 7) for v in rng.integers(1, 30, t.n)]
    sg = [Fraction(int(v), 3) for v in rng.integers(1, 30, t.n)]
    t2 = rescale(t, sa=sa, sg=sg)
    assert verify(t2)
    assert float(predictor_E(t2)) == pytest.approx(float(predictor_E(t)), rel=1e-30)
    AT, G, BT = t2.numpy()
    assert float(predictor_E(t2, dim=2)) == pytest.approx(
        _e_numpy(np.kron(AT, AT), np.kron(G, G), np.kron(BT, BT)), rel=1e-10
    )
    assert float(predictor_E(t)) == pytest.approx(_e_numpy(*t.numpy()), rel=1e-12)


def test_rescale_refuses_inexact_factors() -> None:
    t = transforms(2, 3)
    with pytest.raises(ValueError, match="sa"):
        rescale(t, sa=[2, 1, 1, 1], sg=[1, 1, 1, 1], sb=[1, 1, 1, 1])
    with pytest.raises(ValueError, match="sg"):
        rescale(t, sg=[1, 1])


@pytest.mark.parametrize("target", ["output", "geometric"])
def test_balance_is_power_of_two_exact_and_error_neutral(target: str) -> None:
    """Balancing keeps exactness, uses only powers of two (so float32 rounding is bit-for-bit
    unchanged: equal errors), and sizes the rows as its target says (within 2^0.5 / 2^1.5)."""
    t = transforms(8, 3, INT_F83)
    tb = balance(t, target=target)
    assert verify(tb)
    AT, G, BT = tb.numpy()
    for i in range(t.n):
        for X, Y in ((t.G[i, :], tb.G[i, :]), (t.BT[i, :], tb.BT[i, :]), (t.AT[:, i], tb.AT[:, i])):
            j = next(k for k, v in enumerate(X) if v != 0)
            s = Y[j] / X[j]
            assert s.numerator & (s.numerator - 1) == 0 and s.denominator & (s.denominator - 1) == 0
        sizes = np.array([np.linalg.norm(AT[:, i]), np.linalg.norm(G[i]), np.linalg.norm(BT[i])])
        if target == "geometric":
            assert sizes.max() / sizes.min() <= 2**2.5
        else:
            assert np.all(np.abs(np.log2(sizes[1:])) <= 0.5 + 1e-12)
    e0 = winograd_error(transforms(6, 3), torch.float32, 2, 200, seed=3)
    e1 = winograd_error(balance(transforms(6, 3), target=target), torch.float32, 2, 200, seed=3)
    assert e0.mean == e1.mean and e0.max == e1.max


def test_balance_prevents_fp16_underflow_and_overflow() -> None:
    """Classic F(8,3) unbalanced: U = G g G^T underflows in fp16 (error > 1); balanced it does
    not. Integer F(8,3): unbalanced every 2D tile overflows; 'output' balancing almost none."""
    t = transforms(8, 3)
    assert winograd_error(t, "float16", 2, 300, seed=0).mean > 1.0
    assert winograd_error(balance(t), "float16", 2, 300, seed=0).mean < 0.6
    ti = transforms(8, 3, INT_F83)
    assert winograd_error(ti, "float16", 2, 300, seed=0).overflows == 300
    assert winograd_error(balance(ti), "float16", 2, 300, seed=0).overflows <= 3
    with pytest.raises(ValueError, match="target"):
        balance(t, target="median")


def test_kappa_rectangular_and_bad_input() -> None:
    t = transforms(3, 2)
    assert float(kappa(t.AT)) == pytest.approx(np.linalg.cond(t.numpy()[0]), rel=1e-9)
    with pytest.raises(ValueError, match="dim"):
        predictor_E(t, dim=3)
