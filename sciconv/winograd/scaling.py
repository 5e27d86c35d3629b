"""Diagonal rescalings of Winograd transforms that keep the algorithm exact.

``A^T S_a``, ``S_g G``, ``S_b B^T`` with diagonal ``S_a S_g S_b = I`` compute the same
correlation. Power-of-two factors change no rounding error in binary floating point (they
only move values in the exponent range), so they are chosen against fp16 overflow and
underflow; other factors (the Lagrange normalisers) change rounding and are *placed*.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from ..validation import describe
from .transforms import WinogradTransform, transforms

__all__ = ["balance", "place_fractions", "rescale"]


def _fractions(name: str, values: Sequence[Any], n: int) -> list[Fraction]:
    vals = list(values)
    if len(vals) != n:
        raise ValueError(f"{name} must hold {n} factors, got {len(vals)}")
    out = []
    for v in vals:
        f = Fraction(v)
        if f == 0:
            raise ValueError(f"{name} must hold non-zero factors, got {vals}")
        out.append(f)
    return out


def rescale(
    t: WinogradTransform,
    sa: Sequence[Any] | None = None,
    sg: Sequence[Any] | None = None,
    sb: Sequence[Any] | None = None,
) -> WinogradTransform:
    """Scale column ``i`` of ``AT`` by ``sa[i]``, row ``i`` of ``G`` by ``sg[i]``, of ``BT`` by
    ``sb[i]``.

    Omitted factors default to ``1`` except that one omitted vector is solved for so that
    ``sa * sg * sb == 1`` (at most one may be omitted when two are given). The product is
    checked exactly; a violation raises ``ValueError``.

    Notes
    -----
    ``A^T S_a [(S_g G g) * (S_b B^T d)] = A^T [(G g) * (B^T d)]`` because the Hadamard product
    commutes with diagonal scaling: ``(S_g u) * (S_b v) = S_g S_b (u * v)``.

    Examples
    --------
    Move the ``1/2`` of ``F(2, 3)``'s filter transform into the output transform (``sb`` is
    solved for, here all ones):

    >>> from sciconv.winograd import rescale, transforms, verify
    >>> t = transforms(2, 3)
    >>> u = rescale(t, sa=[1, "1/2", "1/2", 1], sg=[1, 2, 2, 1])
    >>> u.numpy()[1]  # G without fractions
    array([[ 1.,  0.,  0.],
           [ 1.,  1.,  1.],
           [ 1., -1.,  1.],
           [ 0.,  0.,  1.]])
    >>> verify(u), u.placement
    (True, 'custom')
    >>> rescale(t, sa=[2, 1, 1, 1], sg=[1, 1, 1, 1], sb=[1, 1, 1, 1])
    Traceback (most recent call last):
        ...
    ValueError: sa * sg * sb must equal 1 for every i (else the algorithm is not exact)
    """
    if not isinstance(t, WinogradTransform):
        raise TypeError(f"t must be a WinogradTransform, got {describe(t)}")
    n = t.n
    given = {
        k: _fractions(k, v, n) for k, v in (("sa", sa), ("sg", sg), ("sb", sb)) if v is not None
    }
    missing = [k for k in ("sa", "sg", "sb") if k not in given]
    one = [Fraction(1)] * n
    for k in missing[1:]:
        given[k] = one
    if missing:
        others = [given[k] for k in ("sa", "sg", "sb") if k != missing[0]]
        given[missing[0]] = [1 / (x * y) for x, y in zip(*others)]
    a, g, b = given["sa"], given["sg"], given["sb"]
    if any(x * y * z != 1 for x, y, z in zip(a, g, b)):
        raise ValueError("sa * sg * sb must equal 1 for every i (else the algorithm is not exact)")
    AT, G, BT = (X.copy() for X in t)
    for i in range(n):
        AT[:, i] = [v * a[i] for v in AT[:, i]]
        G[i, :] = [v * g[i] for v in G[i, :]]
        BT[i, :] = [v * b[i] for v in BT[i, :]]
    return WinogradTransform(t.m, t.r, t.points, AT, G, BT, "custom")


def _log2_size(values: Any, norm: int | str) -> float:
    vals = [abs(float(v)) for v in values]
    size = max(vals) if norm == "inf" else math.sqrt(sum(v * v for v in vals))
    return math.log2(size)


def balance(t: WinogradTransform, norm: int | str = 2, target: str = "output") -> WinogradTransform:
    """Power-of-two balancing of column ``i`` of ``AT`` against rows ``i`` of ``G`` and ``BT``.

    Parameters
    ----------
    t : WinogradTransform
    norm : {2, 'inf'}
        Size of a row/column: Euclidean norm or largest magnitude.
    target : {'output', 'geometric'}
        'output' (default): scale the rows of ``G`` and ``BT`` to size 1 (within a factor
        ``sqrt 2``) and let ``AT`` absorb the rest, so the filter and input transforms and
        their product stay at the scale of the data; 'geometric': make all three equally
        large (their geometric mean).

    Notes
    -----
    With sizes ``2^alpha, 2^gamma, 2^beta`` of ``AT e_i``, ``G^T e_i``, ``B e_i``, 'output'
    takes ``S_g = 2^-round(gamma)``, ``S_b = 2^-round(beta)``; 'geometric' takes
    ``S_g = 2^round(mu - gamma)``, ``S_b = 2^round(mu - beta)`` with
    ``mu = (alpha + gamma + beta) / 3``; then ``S_a = 1 / (S_g S_b)``. Every product
    ``sa sg sb`` is exactly one and, in binary floating point, scaling by a power of two is
    exact, so no rounding changes *unless* a value leaves the normal range: what balancing
    prevents is fp16 underflow (e.g. ``G g G^T`` below 6.1e-5 when ``G`` holds the tiny
    ``1/N_i``) and overflow (above 65504) of the intermediate transforms -- dynamic-range loss.

    Examples
    --------
    After balancing, every row of ``G`` and ``B^T`` has norm in ``[1/sqrt 2, sqrt 2]``, and
    the algorithm is still exact:

    >>> import numpy as np
    >>> from sciconv.winograd import balance, transforms, verify
    >>> t = transforms(6, 3, "0,1,-1,1/2,-1/2,2,-2")
    >>> b = balance(t)
    >>> AT, G, BT = b.numpy()
    >>> rows = np.r_[np.linalg.norm(G, axis=1), np.linalg.norm(BT, axis=1)]
    >>> bool(np.all((rows >= 2**-0.5) & (rows <= 2**0.5))), verify(b)
    (True, True)
    """
    if norm not in (2, "inf"):
        raise ValueError(f"norm must be 2 or 'inf', got {norm!r}")
    if target not in ("output", "geometric"):
        raise ValueError(f"target must be 'output' or 'geometric', got {target!r}")
    sg, sb = [], []
    for i in range(t.n):
        al = _log2_size(t.AT[:, i], norm)
        ga = _log2_size(t.G[i, :], norm)
        be = _log2_size(t.BT[i, :], norm)
        mu = (al + ga + be) / 3 if target == "geometric" else 0.0
        sg.append(Fraction(2) ** round(mu - ga))
        sb.append(Fraction(2) ** round(mu - be))
    return rescale(t, sg=sg, sb=sb)


def place_fractions(t: WinogradTransform, where: str) -> WinogradTransform:
    """The transform of the same points with the Lagrange normalisers in ``where``.

    ``where`` is 'G' (wincnn: rows of ``B^T`` are monic node polynomials, the ``1/N_i`` sit in
    ``G`` and are applied to the filter once, offline), 'A' (in the output transform) or 'B'
    (``B^T = V^{-T}`` as is). See :func:`~sciconv.winograd.transforms`.

    Examples
    --------
    With the normalisers kept in ``B^T``, ``G`` is the plain Vandermonde matrix of the points:

    >>> from sciconv.winograd import place_fractions, transforms, verify
    >>> t = place_fractions(transforms(2, 3), "B")
    >>> t.G.astype(int)
    array([[ 1,  0,  0],
           [ 1,  1,  1],
           [ 1, -1,  1],
           [ 0,  0,  1]])
    >>> t.placement, verify(t)
    ('B', True)
    """
    if not isinstance(t, WinogradTransform):
        raise TypeError(f"t must be a WinogradTransform, got {describe(t)}")
    return transforms(t.m, t.r, t.points, placement=where)
