"""Tests of :func:`sciconv.dottest` on dense matrices, where the true adjoint is known.

A correct adjoint gives a gap of a few machine epsilons (asserted <= 1e-14: the inner products
of vectors of length <= 60 are accurate to ~n * eps relative to the Cauchy-Schwarz scale); a
wrong one gives a gap of order one (asserted >= 1e-2).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg as spla

from sciconv import ConvOperator, dottest

EXACT = 1e-14
WRONG = 1e-2


def _matrix(rng: np.random.Generator, m: int, n: int, complex_: bool = False) -> np.ndarray:
    a = rng.standard_normal((m, n))
    return a + 1j * rng.standard_normal((m, n)) if complex_ else a


def _linop(a: np.ndarray, rmatvec=None) -> spla.LinearOperator:
    return spla.LinearOperator(
        a.shape,
        matvec=lambda x: a @ x,
        rmatvec=rmatvec if rmatvec is not None else (lambda y: a.conj().T @ y),
        dtype=a.dtype,
    )


@pytest.mark.parametrize("dtype", ["float64", "complex128", np.float64, np.dtype("complex128")])
@pytest.mark.parametrize(
    ("m", "n", "complex_"),
    [(7, 5, False), (5, 9, False), (6, 6, True), (40, 60, True), (1, 1, False)],
)
def test_correct_adjoint_gives_machine_precision(m, n, complex_, dtype):
    rng = np.random.default_rng([m, n])
    a = _matrix(rng, m, n, complex_)
    gap = dottest(_linop(a), dtype=dtype, rng=1)
    assert 0 <= gap <= EXACT
    assert dottest(_linop(a), dtype=dtype, rng=1, rtol=EXACT) == gap  # reproducible by seed


@pytest.mark.parametrize(
    ("wrong", "least_gap"),
    [
        pytest.param(lambda a: lambda y: 2 * a.T @ y, WRONG, id="2*A^T y"),
        pytest.param(lambda a: lambda y: np.roll(a.T @ y, 1), WRONG, id="A^T y shifted"),
        pytest.param(lambda a: lambda y: a[::-1].T @ y, WRONG, id="rows permuted"),
        pytest.param(lambda a: lambda y: np.zeros(a.shape[1]), WRONG, id="zero"),
        pytest.param(
            lambda a: lambda y: a.T @ y + 1e-3 * y[: a.shape[1]], 1e-5, id="A^T y + 1e-3 y"
        ),
    ],
)
def test_wrong_adjoint_gives_large_gap(wrong, least_gap):
    rng = np.random.default_rng(2)
    a = _matrix(rng, 8, 6)
    op = _linop(a, rmatvec=wrong(a))
    gap = dottest(op, rng=3)
    assert gap >= least_gap
    with pytest.raises(AssertionError, match="dot test failed"):
        dottest(op, rng=3, rtol=1e-10)


def test_small_perturbation_is_resolved():
    """A 1e-6 relative error in the adjoint is far above the gap of an exact one."""
    rng = np.random.default_rng(4)
    a = _matrix(rng, 10, 10)
    a_wrong = a * (1 + 1e-6 * rng.standard_normal(a.shape))
    op = _linop(a, rmatvec=lambda y: a_wrong.T @ y)
    assert 1e-9 < dottest(op, rng=0) < 1e-4


def test_rtol_raises_only_when_exceeded():
    rng = np.random.default_rng(5)
    a = _matrix(rng, 6, 4)
    exact = _linop(a)
    assert dottest(exact, rtol=EXACT, rng=0) <= EXACT  # no raise
    wrong = _linop(a, rmatvec=lambda y: 2 * a.T @ y)
    gap = dottest(wrong, rng=0)
    assert dottest(wrong, rng=0, rtol=gap) == gap  # equal to rtol passes
    with pytest.raises(AssertionError, match="rtol"):
        dottest(wrong, rng=0, rtol=gap / 2)


def test_complex_vectors_detect_missing_conjugation():
    """rmatvec = A^T y instead of A^H y for a complex A: caught by complex test vectors."""
    rng = np.random.default_rng(6)
    a = _matrix(rng, 7, 5, complex_=True)
    no_conj = _linop(a, rmatvec=lambda y: a.T @ y)
    assert dottest(no_conj, dtype="complex128", rng=0) >= WRONG
    with pytest.raises(AssertionError):
        dottest(no_conj, dtype="complex128", rng=0, rtol=1e-12)
    assert dottest(_linop(a), dtype="complex128", rng=0) <= EXACT


def test_complex_vectors_detect_conjugated_forward():
    """A real operator whose rmatvec conjugates its input is caught only by complex vectors."""
    rng = np.random.default_rng(7)
    a = _matrix(rng, 5, 5)
    op = _linop(a, rmatvec=lambda y: a.T @ np.conj(y))
    assert dottest(op, dtype="float64", rng=0) <= EXACT
    assert dottest(op, dtype="complex128", rng=0) >= WRONG


def test_scale_invariance():
    rng = np.random.default_rng(8)
    a = _matrix(rng, 6, 6)
    wrong = lambda s: _linop(s * a, rmatvec=lambda y: 2 * s * a.T @ y)  # noqa: E731
    g1, g2 = dottest(wrong(1.0), rng=0), dottest(wrong(1e-150), rng=0)
    assert g1 == pytest.approx(g2, rel=1e-12)
    zero = _linop(np.zeros((3, 4)))
    assert dottest(zero, rng=0) == 0.0


def test_trials_take_the_worst_gap():
    """The returned gap is the maximum over the trials, each trial drawn afresh."""
    rng = np.random.default_rng(9)
    a = _matrix(rng, 4, 4)
    op = _linop(a, rmatvec=lambda y: a.T @ y + 0.1 * y)
    singles = [dottest(op, rng=np.random.default_rng(0), trials=k) for k in (1, 2, 5)]
    assert singles[0] <= singles[1] <= singles[2]
    assert singles[0] > 0


def test_generator_rng_is_used_and_advanced():
    rng = np.random.default_rng(10)
    a = _matrix(rng, 5, 3)
    op = _linop(a, rmatvec=lambda y: 2 * a.T @ y)
    gen = np.random.default_rng(123)
    first, second = dottest(op, rng=gen), dottest(op, rng=gen)
    assert first != second  # the generator advanced between calls
    assert dottest(op, rng=np.random.default_rng(123)) == first


def test_conv_operator_and_its_adjoints_pass():
    rng = np.random.default_rng(11)
    w = rng.standard_normal((2, 3, 3)) + 1j * rng.standard_normal((2, 3, 3))
    op = ConvOperator(w, (3, 9), padding="reflect", stride=2)
    for a in (op, op.H, op.T, op.to_scipy()):
        assert dottest(a, dtype="complex128", rng=0, rtol=1e-12) <= 1e-12


def test_bad_arguments_raise():
    a = np.eye(3)
    op = _linop(a)
    with pytest.raises(ValueError, match="dtype"):
        dottest(op, dtype="float32")
    with pytest.raises(ValueError, match="dtype"):
        dottest(op, dtype="complex64")
    with pytest.raises(TypeError):
        dottest(op, dtype="not-a-dtype")
    with pytest.raises(TypeError, match="op must have"):
        dottest(a)  # an ndarray has shape but no matvec
    with pytest.raises(TypeError, match="op must have"):
        dottest(object())
    for trials in (0, -1, 1.5, "3", None):
        with pytest.raises(ValueError, match="trials"):
            dottest(op, trials=trials)
    with pytest.raises(TypeError):
        dottest(op, 1)  # keyword-only options

    class WrongShapes:
        shape = (3, 2)

        def matvec(self, x):
            return np.ones(4)

        def rmatvec(self, y):
            return np.ones(2)

    with pytest.raises(ValueError, match="returned shapes"):
        dottest(WrongShapes())
