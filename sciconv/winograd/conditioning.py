"""Conditioning of Winograd transforms in mpmath: kappa_2 of V, A^T, G, B^T and the predictor E.

NOVA's quantity is ``kappa_2`` of the square Vandermonde matrix of the ``n - 1`` *finite*
points; with the INF row it is the matrix whose inverse is ``B^T``.
"""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np

from ..validation import check_positive_int, describe
from ..vandermonde import INF, cond, vandermonde
from .transforms import WinogradTransform

__all__ = ["kappa", "kappa_table", "kappa_vfin", "predictor_E"]


def _mp(X: np.ndarray) -> mpmath.matrix:
    return mpmath.matrix(
        [[mpmath.mpf(v.numerator) / v.denominator for v in row] for row in X.tolist()]
    )


def kappa(X: Any, dps: int = 50) -> mpmath.mpf:
    """``kappa_2 = sigma_max / sigma_min`` of a (possibly rectangular) exact matrix.

    :func:`sciconv.cond` with ``norm=2`` (``sigma_min`` is the smallest of the
    ``min(rows, cols)`` singular values).
    """
    X = np.asarray(X, dtype=object)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-d matrix, got {describe(X)}")
    return cond(X, 2, dps)


def kappa_vfin(points: Any, dps: int = 50) -> mpmath.mpf:
    """``kappa_2`` of the square Vandermonde matrix of the finite points (NOVA's quantity)."""
    finite = [p for p in points if p is not INF]
    if not finite:
        return mpmath.mpf(1)  # F(1, 1): no finite point, an empty (identity) map
    return cond(vandermonde(finite, kind="exact"), 2, dps)


def predictor_E(t: WinogradTransform, dim: int = 1, dps: int = 50) -> mpmath.mpf:
    """Scale-invariant error predictor ``E = sum_i ||A^T e_i|| ||G^T e_i|| ||B e_i||``.

    Parameters
    ----------
    t : WinogradTransform
    dim : {1, 2}
        2: the same sum for the nested transforms ``A^T (x) A^T``, ``G (x) G``, ``B^T (x) B^T``.
    dps : int

    Notes
    -----
    Term ``i`` bounds how much rounding in the ``i``-th product channel is amplified: the
    input enters through row ``i`` of ``B^T``, the filter through row ``i`` of ``G`` and the
    product leaves through column ``i`` of ``A^T``. Under an exact rescaling
    (``sa_i sg_i sb_i = 1``) every term is unchanged, so E depends on the points only. The
    Kronecker norms factor, ``||(X (x) X) e_{ij}|| = ||X e_i|| ||X e_j||``, so
    ``E_2D = E_1D ** 2``.
    """
    if dim not in (1, 2):
        raise ValueError(f"dim must be 1 or 2, got {dim!r}")
    with mpmath.workdps(check_positive_int("dps", dps)):
        AT, G, BT = (_mp(X) for X in t)

        def nrm(vals: list) -> mpmath.mpf:
            return mpmath.sqrt(mpmath.fsum(v * v for v in vals))

        e = mpmath.fsum(
            nrm([AT[j, i] for j in range(t.m)])
            * nrm([G[i, k] for k in range(t.r)])
            * nrm([BT[i, j] for j in range(t.n)])
            for i in range(t.n)
        )
        return +(e**dim)


def kappa_table(t: WinogradTransform, dps: int = 50) -> dict[str, float]:
    """The conditioning table of a transform, each value computed in mpmath at ``dps`` digits.

    Returns
    -------
    dict
        ``kappa_Vfin`` (finite points, NOVA), ``kappa_V`` (with the INF row), ``kappa_AT``,
        ``kappa_G``, ``kappa_BT``, their 2D values ``*_2d`` and ``E``, ``E_2d``, as floats.

    Notes
    -----
    The 2D transforms are Kronecker squares and ``sigma(X (x) X) = {sigma_i sigma_j}``, so
    ``kappa_2(X (x) X) = kappa_2(X)^2`` (tested against the explicit Kronecker product).
    """
    out: dict[str, float] = {
        "kappa_Vfin": float(kappa_vfin(t.points, dps)),
        "kappa_V": float(cond(vandermonde(t.points, kind="exact"), 2, dps)),
        "kappa_AT": float(kappa(t.AT, dps)),
        "kappa_G": float(kappa(t.G, dps)) if t.r > 1 else 1.0,
        "kappa_BT": float(kappa(t.BT, dps)),
    }
    for k in list(out):
        out[k + "_2d"] = out[k] ** 2
    out["E"] = float(predictor_E(t, 1, dps))
    out["E_2d"] = out["E"] ** 2
    return out
