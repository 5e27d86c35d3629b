"""Conditioning of Winograd transforms in mpmath: kappa_2 of V, A^T, G, B^T and the predictor E.

NOVA's quantity [1]_ is ``kappa_2`` of the square Vandermonde matrix of the ``n - 1`` *finite*
points; with the INF row it is the matrix whose inverse is ``B^T``.

References
----------
.. [1] J. Lohia, "NOVA: Discovering Well-Conditioned Winograd Transforms through Numerical
   Optimization of Vandermonde Arithmetic", preprint, 2025. arXiv:2512.18453.
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

    Examples
    --------
    The output transform ``A^T`` (2 x 4) of ``F(2, 3)`` has orthogonal rows of equal norm;
    its input transform ``B^T`` does not:

    >>> from sciconv.winograd import kappa, transforms
    >>> t = transforms(2, 3)
    >>> round(float(kappa(t.AT)), 6)
    1.0
    >>> round(float(kappa(t.BT)), 6)  # 1 + sqrt(2)
    2.414214
    """
    X = np.asarray(X, dtype=object)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-d matrix, got {describe(X)}")
    return cond(X, 2, dps)


def kappa_vfin(points: Any, dps: int = 50) -> mpmath.mpf:
    """``kappa_2`` of the square Vandermonde matrix of the finite points (NOVA's quantity).

    Examples
    --------
    NOVA's fractional points for ``F(6, 3)`` against the consecutive integers (the values
    published in [1]_):

    >>> from sciconv.winograd import kappa_vfin, transforms
    >>> round(float(kappa_vfin(transforms(6, 3, "0,3/5,-3/5,1,-1,7/6,-7/6").points)), 2)
    76.64
    >>> round(float(kappa_vfin(transforms(6, 3, "0,1,-1,2,-2,3,-3").points)), 1)
    2074.5

    References
    ----------
    .. [1] J. Lohia, "NOVA: Discovering Well-Conditioned Winograd Transforms through
       Numerical Optimization of Vandermonde Arithmetic", preprint, 2025. arXiv:2512.18453.
    """
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

    Examples
    --------
    ``E`` ranks point sets and is unchanged by exact rescalings such as :func:`balance`:

    >>> from sciconv.winograd import balance, predictor_E, transforms
    >>> t = transforms(6, 3, "0,1,-1,1/2,-1/2,2,-2")
    >>> E = predictor_E(t)
    >>> round(float(E), 4)
    54.3216
    >>> float(predictor_E(transforms(6, 3, "0,1,-1,2,-2,3,-3"))) > float(E)
    True
    >>> abs(float(predictor_E(balance(t)) / E) - 1) < 1e-30
    True
    >>> abs(float(predictor_E(t, dim=2) / E**2) - 1) < 1e-30
    True
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

    Examples
    --------
    >>> from sciconv.winograd import kappa_table, transforms
    >>> tab = kappa_table(transforms(4, 3))
    >>> sorted(tab)  # doctest: +NORMALIZE_WHITESPACE
    ['E', 'E_2d', 'kappa_AT', 'kappa_AT_2d', 'kappa_BT', 'kappa_BT_2d', 'kappa_G',
     'kappa_G_2d', 'kappa_V', 'kappa_V_2d', 'kappa_Vfin', 'kappa_Vfin_2d']
    >>> round(tab["kappa_Vfin"], 3), round(tab["kappa_V"], 3), round(tab["E"], 3)
    (42.472, 305.368, 25.968)
    >>> bool(abs(tab["kappa_BT_2d"] / tab["kappa_BT"] ** 2 - 1) < 1e-12)
    True
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
