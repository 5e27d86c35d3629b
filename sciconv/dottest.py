"""The dot test: the public check that an operator's adjoint is its adjoint."""

from __future__ import annotations

from typing import Any

import numpy as np

from .validation import check_choice, describe

__all__ = ["dottest"]


def dottest(
    op: Any,
    *,
    dtype: str | np.dtype = "float64",
    trials: int = 3,
    rng: int | np.random.Generator | None = None,
    rtol: float | None = None,
) -> float:
    r"""Relative gap of the adjoint identity :math:`\langle Ax, y\rangle = \langle x, A^H y\rangle`.

    Parameters
    ----------
    op : object
        Anything with ``shape`` and flat ``matvec``/``rmatvec`` (a :class:`ConvOperator`,
        its ``.H``, a :class:`scipy.sparse.linalg.LinearOperator`, ...).
    dtype : {'float64', 'complex128'}
        Type of the random test vectors; complex vectors also test the conjugation.
    trials : int
        Number of random pairs; the largest gap is returned.
    rng : int or numpy.random.Generator, optional
        Seed or generator for reproducibility.
    rtol : float, optional
        If given, raise ``AssertionError`` when the gap exceeds it.

    Returns
    -------
    float
        :math:`\max |\langle Ax, y\rangle - \langle x, A^H y\rangle| /
        (\|Ax\|\,\|y\| + \|x\|\,\|A^H y\|)` over the trials (0 for an exact adjoint; about
        machine epsilon times a modest factor in floating point).

    Raises
    ------
    ValueError
        If ``op.matvec`` or ``op.rmatvec`` returns NaN or infinity for a finite random
        vector (or the inner products overflow): such an operator never passes, with or
        without ``rtol`` (a NaN gap would otherwise compare as no failure).

    Notes
    -----
    The denominator bounds both inner products by Cauchy-Schwarz, so the gap is scale
    invariant and cannot be made small by a tiny operator.

    Examples
    --------
    A convolution and its adjoint pass with a gap at rounding level, for real and complex
    test vectors; a hand-written adjoint that forgot the conjugation fails:

    >>> import numpy as np
    >>> import scipy.sparse.linalg as spla
    >>> from sciconv import ConvOperator, dottest
    >>> w = np.random.default_rng(0).standard_normal((3, 2, 5))
    >>> A = ConvOperator(w, input_shape=(2, 32), padding="reflect")
    >>> bool(dottest(A, rng=0) < 1e-14), bool(dottest(A.H, dtype="complex128", rng=0) < 1e-14)
    (True, True)
    >>> M = np.array([[1.0, 2j], [0.5, -1j]])
    >>> bad = spla.LinearOperator((2, 2), matvec=lambda x: M @ x, rmatvec=lambda y: M.T @ y)
    >>> bool(dottest(bad, rng=0) > 0.1)
    True
    >>> dottest(bad, rng=0, rtol=1e-12)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    AssertionError: dot test failed: relative gap ... > rtol=1.0e-12
    """
    dt = np.dtype(check_choice("dtype", str(np.dtype(dtype)), ("float64", "complex128")))
    if not hasattr(op, "shape") or not hasattr(op, "matvec") or not hasattr(op, "rmatvec"):
        raise TypeError(f"op must have shape, matvec and rmatvec, got {describe(op)}")
    if not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials must be a positive integer, got {trials!r}")
    if rtol is not None and (
        isinstance(rtol, bool) or not isinstance(rtol, int | float) or not rtol >= 0
    ):
        raise ValueError(f"rtol must be None or a float >= 0, got {describe(rtol)}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    m, n = (int(v) for v in op.shape)

    def rand(size: int) -> np.ndarray:
        v = gen.standard_normal(size)
        if dt.kind == "c":
            v = v + 1j * gen.standard_normal(size)
        return v.astype(dt)

    worst = 0.0
    for _ in range(trials):
        x, y = rand(n), rand(m)
        ax = np.asarray(op.matvec(x)).reshape(-1)
        ahy = np.asarray(op.rmatvec(y)).reshape(-1)
        if ax.shape != (m,) or ahy.shape != (n,):
            raise ValueError(
                f"op.matvec/rmatvec returned shapes {ax.shape}/{ahy.shape}, expected ({m},)/({n},)"
            )
        for what, v, arg in (("op.matvec", ax, "x"), ("op.rmatvec", ahy, "y")):
            if not np.all(np.isfinite(v)):
                raise ValueError(
                    f"{what} returned NaN or infinity for a finite random {arg} "
                    f"({describe(v)}); op must map finite vectors to finite vectors for "
                    f"the dot test to mean anything"
                )
        lhs = np.vdot(y, ax)  # <Ax, y> = y^H A x
        rhs = np.vdot(ahy, x)  # <x, A^H y> = (A^H y)^H x
        scale = np.linalg.norm(ax) * np.linalg.norm(y) + np.linalg.norm(x) * np.linalg.norm(ahy)
        gap = float(abs(lhs - rhs) / scale) if scale > 0 else float(abs(lhs - rhs))
        if not np.isfinite(gap):  # finite products whose inner products overflow
            raise ValueError(
                f"the inner products of op's products overflow (<Ax, y> = {lhs}, "
                f"<x, A^H y> = {rhs}); op must have a finite, representable scale"
            )
        worst = max(worst, gap)
    if rtol is not None and worst > rtol:
        raise AssertionError(f"dot test failed: relative gap {worst:.3e} > rtol={rtol:.1e}")
    return worst
