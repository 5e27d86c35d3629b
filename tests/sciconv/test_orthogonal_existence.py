"""Existence oracle of orthogonal convolutions vs numerical certificates (sciconv.orthogonal).

The oracle states when an orthogonal convolution exists (Achour, Malgouyres and Mamalet, JMLR
2022, extended to rectangular kernels/strides and derived for 'valid' and 'same'); `certify`
minimises the Gram defect by L-BFGS from random starts, independently of the oracle's
reasoning. Tolerances: a certified floor <= 1e-6 counts as orthogonal; for circular padding the
floor of an impossible configuration must equal N^d (M - C prod(min(k, S))) (RO) or
N^d C (prod(S) - prod(min(k, S))) (CO) to 1e-6 relative.
"""

import math

import numpy as np
import pytest

from sciconv.orthogonal import certify, exists


def _circular_configs():
    cfgs = []
    for s in (1, 2, 3):  # 1D, two input channels: below, at and above C*S
        for k in (1, 2, 3, 5):
            for m in (2 * s - 1, 2 * s, 2 * s + 1):
                cfgs.append((2, m, k, s, 1))
    for s in (1, 2, 3):  # 2D, one input channel: below, at and above S^2
        for k in (1, 2, 3):
            for m in (s * s - 1, s * s, s * s + 1):
                if m >= 1:
                    cfgs.append((1, m, k, s, 2))
    cfgs += [(1, 3, (3, 1), (2, 2), 2), (1, 2, (3, 1), (2, 2), 2), (1, 5, (1, 3), (2, 1), 2)]
    cfgs += [(1, 8, 2, 2, 3), (1, 9, 2, 2, 3), (1, 2, 1, 2, 3)]
    return cfgs


CIRCULAR = _circular_configs()


def _closed_form_floor(c, m, k, s, d, coarse_points):
    """The floor of the Gram defect for circular padding, written out from the statement
    (Achour et al. 2022) without the oracle: per coarse grid point, with
    ``e = prod(min(k_i, S_i))``, ``max(0, M - C e)`` when ``M <= C prod(S)`` (RO) and
    ``C (prod(S) - e)`` otherwise (CO)."""
    k = (k,) * d if isinstance(k, int) else tuple(k)
    s = (s,) * d if isinstance(s, int) else tuple(s)
    e = math.prod(min(ki, si) for ki, si in zip(k, s, strict=True))
    blocks = math.prod(s)
    per_point = max(0, m - c * e) if m <= c * blocks else c * (blocks - e)
    return coarse_points * per_point


# (C, M, k, S, d, padding, exists): the derived 'valid' / 'same' statements
ZERO_PADDED = [
    (2, 3, 3, 1, 1, "valid", False),  # CO needs k = S
    (2, 4, 2, 2, 1, "valid", True),  # k = S, M = C S: square block convolution
    (2, 5, 2, 2, 1, "valid", True),  # k = S, CO
    (2, 5, 3, 2, 1, "valid", False),  # k > S, CO
    (2, 3, 3, 2, 1, "valid", True),  # RO as circular
    (2, 3, 1, 2, 1, "valid", False),  # RO: M > C k
    (1, 1, 3, 1, 2, "valid", True),  # M = C S^d but the valid operator is wide: RO
    (1, 1, 3, 1, 1, "same", True),  # S = 1: only a single tap
    (1, 2, 3, 1, 1, "same", True),  # S = 1, CO: only a single tap
    (1, 3, 3, 3, 1, "same", False),  # e = min(S, k - 1) = 2 < M
    (1, 2, 3, 3, 1, "same", True),
    (1, 3, 3, 2, 1, "same", True),  # CO, e = 2 = S
    (1, 4, 3, 3, 1, "same", False),  # CO, e = 2 < S = 3
    (1, 4, 5, 3, 1, "same", True),  # CO, e = min(3, 5 - 2) = 3 = S
    (1, 2, 1, 2, 1, "same", False),  # RO, e = 1 < M
]


def test_at_least_fifty_configurations():
    """The certified sweep covers >= 50 configurations, 1D and 2D, strides 1-3, kernels 1-5."""
    allc = CIRCULAR + ZERO_PADDED
    assert len(allc) >= 50
    assert {c[3] for c in allc if isinstance(c[3], int)} == {1, 2, 3}
    assert {c[2] for c in allc if isinstance(c[2], int)} >= {1, 2, 3, 5}
    kinds = {exists(c, m, k, s, d).kind for c, m, k, s, d in CIRCULAR}
    assert kinds == {"RO", "CO"}
    assert any(exists(c, m, k, s, d).hard for c, m, k, s, d in CIRCULAR)
    assert sum(not exists(c, m, k, s, d) for c, m, k, s, d in CIRCULAR) >= 10


@pytest.mark.parametrize("cfg", CIRCULAR, ids=str)
def test_circular_oracle_agrees_with_certificate(cfg):
    """Oracle verdict = certified verdict; the floor equals the closed form to 1e-6 relative."""
    c, m, k, s, d = cfg
    v = exists(c, m, k, s, d)
    cert = certify(c, m, k, s, d)
    assert cert.exists == v.exists, (v.reason, cert.runs)
    expected = _closed_form_floor(c, m, k, s, d, math.prod(cert.grid))
    assert cert.expected_floor == expected  # the oracle's floor, against the written-out form
    assert math.prod(cert.grid) * v.floor_per_frequency() == expected
    assert abs(cert.floor - expected) <= 1e-6 * max(1.0, expected), (cert.floor, expected)
    if not v.exists:
        assert expected > 0


@pytest.mark.parametrize("cfg", ZERO_PADDED, ids=str)
def test_zero_padding_statements_agree_with_certificate(cfg):
    """'valid' and 'same': the derived statements match the certified floor (<= 1e-6 or not)."""
    c, m, k, s, d, padding, expected = cfg
    v = exists(c, m, k, s, d, padding)
    assert v.exists is expected, v.reason
    cert = certify(c, m, k, s, d, padding)
    assert cert.exists is expected, (v.reason, cert.runs)
    if not expected:
        assert cert.floor > 0.5  # a floor bounded away from 0, not round-off


def test_symbol_and_dense_objectives_reach_the_same_floor():
    """The symbol objective (circular) and ConvOperator's dense matrix give the same floor."""
    a = certify(2, 5, 1, 2, 1, grid=3, method="symbol")
    b = certify(2, 5, 1, 2, 1, grid=3, method="dense")
    assert a.floor == pytest.approx(b.floor, rel=1e-6)
    assert a.floor == pytest.approx(3 * 2 * (2 - 1), rel=1e-6)


def test_paper_statements_square_kernels():
    """Achour et al. Thm. 1 for square kernels: RO iff M <= C k^d, CO iff S <= k."""
    for d in (1, 2, 3):
        for s in (1, 2, 3, 4):
            for k in (1, 2, 3, 5):
                for c in (1, 3):
                    for m in range(1, c * s**d + 4):
                        v = exists(c, m, k, s, d)
                        if m <= c * s**d:
                            assert v.kind == "RO" and v.exists == (m <= c * k**d)
                        else:
                            assert v.kind == "CO" and v.exists == (s <= k)
                        assert v.hard == (m == c * s**d)


def test_measured_zero_padding_statements():
    """'valid' CO iff k = S; 'same' with S = 1: only single-tap kernels; 'valid' RO as circular."""
    for k in (1, 2, 3, 4):
        for s in (1, 2, 3):
            assert exists(1, s * s + 1, k, s, 2, "valid").exists == (k == s)
            for m in range(1, s * s + 1):
                assert exists(1, m, k, s, 2, "valid").exists == exists(1, m, k, s, 2).exists
    for k in (1, 3, 5):
        for m in (1, 2, 4):
            v = exists(2, m, k, 1, 2, "same")
            assert v.exists and v.effective == (1, 1)
            assert ("single non-zero tap" in v.note) == (k > 1)


def test_error_message_states_violated_condition():
    """The message of an impossible configuration names the condition with the numbers."""
    v = exists(32, 289, 3, 4)
    assert not v
    assert v.reason.startswith(
        "no orthogonal convolution: M = 289 > C·k² = 288 (row-orthogonal case)"
    )
    v = exists(4, 20, 1, 2)
    assert "S_a ≤ k_a" in v.reason and "column-orthogonal" in v.reason


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        ({"dim": 4}, ValueError),
        ({"padding": "reflect"}, ValueError),
        ({"kernel_size": (3, 3, 3)}, ValueError),
        ({"stride": 0}, ValueError),
        ({"in_channels": 2.5}, TypeError),
    ],
)
def test_input_validation(kwargs, exc):
    """Bad arguments raise with the argument's name in the message."""
    args = {"in_channels": 2, "out_channels": 3, "kernel_size": 3, "stride": 1, "dim": 2}
    args.update(kwargs)
    with pytest.raises(exc, match=next(iter(kwargs)).split("_")[0]):
        exists(**args)


def test_floor_formula_on_the_block_construction():
    """The closed-form floor is attained: a kernel using only the first min(k, S) taps per
    stride block with an orthonormal M x C prod(e) matrix has Gram defect exactly the floor."""
    from sciconv.orthogonal import err_F

    rng = np.random.default_rng(0)
    for c, m, k, s in [(2, 3, 1, 2), (2, 5, 1, 2), (1, 2, 1, 3)]:  # RO, CO, RO; infeasible
        q, _ = np.linalg.qr(rng.standard_normal((m, c)))  # orthonormal columns (M > C e)
        w = q.reshape(m, c, 1)
        v = exists(c, m, k, s, 1)
        assert not v and v.floor_per_frequency() > 0
        n = 4 * s
        assert err_F(w, n, s) ** 2 == pytest.approx(4 * v.floor_per_frequency(), rel=1e-12)
