"""Exact Toom-Cook / Winograd transforms ``F(m, r)`` built on the Vandermonde primitive.

``y = A^T [(G g) * (B^T d)]`` computes the correlation ``y_i = sum_k g_k d_{i+k}`` of a filter
``g`` (length ``r``) with an input tile ``d`` (length ``n = m + r - 1``) into ``m`` outputs, with
``n`` multiplications instead of ``m r``: Winograd's minimal filtering algorithm [1]_, in the
form used for convolutional networks [2]_, built by Toom-Cook interpolation at ``n - 1``
finite points and the point at infinity (the "modified" Toom-Cook algorithm of [3]_).

References
----------
.. [1] S. Winograd, "Arithmetic Complexity of Computations", CBMS-NSF Regional Conference
   Series in Applied Mathematics 33, SIAM, 1980.
.. [2] A. Lavin and S. Gray, "Fast Algorithms for Convolutional Neural Networks", IEEE
   Conference on Computer Vision and Pattern Recognition (CVPR), 2016. arXiv:1509.09308.
.. [3] B. Barabasz, A. Anderson, K. M. Soodhalter and D. Gregg, "Error Analysis and Improving
   the Accuracy of Winograd Convolution for Deep Neural Networks", ACM Transactions on
   Mathematical Software 46(4), 2020. arXiv:1803.10986.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import torch

from ..validation import check_choice, check_positive_int, describe
from ..vandermonde import INF, exact_inverse, parse_point, vandermonde

__all__ = [
    "MAX_M",
    "MAX_R",
    "PLACEMENTS",
    "WinogradTransform",
    "default_points",
    "parse_points",
    "transforms",
    "verify",
]

#: Where the Lagrange normalisers ``1 / N_i`` live: in ``G`` (wincnn's choice), ``A`` or ``B``.
PLACEMENTS = ("G", "A", "B")

#: Largest tile ``m`` and filter ``r`` accepted (the README's range): beyond them the exact
#: rational transforms take seconds to minutes (F(100, 3): 14 s) and their float error is
#: past any use (kappa grows exponentially with ``n = m + r - 1``).
MAX_M, MAX_R = 16, 7


def check_tile(m: Any, r: Any) -> tuple[int, int]:
    """Return ``(m, r)`` as ints after checking ``1 <= m <= MAX_M`` and ``1 <= r <= MAX_R``.

    Examples
    --------
    >>> from sciconv.winograd.transforms import check_tile
    >>> check_tile(6, 3)
    (6, 3)
    >>> check_tile(10**6, 3)
    Traceback (most recent call last):
        ...
    ValueError: m must be an integer in [1, 16] (outputs per tile), got 1000000
    """
    m, r = check_positive_int("m", m), check_positive_int("r", r)
    if m > MAX_M:
        raise ValueError(f"m must be an integer in [1, {MAX_M}] (outputs per tile), got {m}")
    if r > MAX_R:
        raise ValueError(
            f"r must be an integer in [1, {MAX_R}] (the filter length: kernel_size for "
            f"WinogradConv2d), got {r}"
        )
    return m, r


def default_points(count: int) -> list[Fraction]:
    """The classic finite points ``0, 1, -1, 2, -2, 1/2, -1/2, 3, -3, 1/3, -1/3, ...``.

    Parameters
    ----------
    count : int
        How many finite points (``n - 1`` for ``F(m, r)``; the point at infinity is added by
        :func:`transforms`).

    Returns
    -------
    list of Fraction

    Examples
    --------
    The six finite points of ``F(4, 3)`` (``n = 6``) and of ``F(6, 3)``:

    >>> from sciconv.winograd import default_points
    >>> [str(p) for p in default_points(5)]
    ['0', '1', '-1', '2', '-2']
    >>> [str(p) for p in default_points(7)]
    ['0', '1', '-1', '2', '-2', '1/2', '-1/2']
    """
    count = check_positive_int("count", count, 0)
    pts = [Fraction(0)][:count]
    k = 1
    while len(pts) < count:
        for p in (Fraction(k), Fraction(-k), Fraction(1, k), Fraction(-1, k)):
            if p not in pts:
                pts.append(p)
        k += 1
    return pts[:count]


def parse_points(points: Any, n: int) -> tuple:
    """Parse the interpolation points of a transform with ``n`` points (``n - 1`` finite + INF).

    ``points`` is a sequence (or a comma-separated string such as ``"0,1,-1,1/2,-1/2"``) of
    either ``n - 1`` finite points (INF is appended) or ``n`` points holding INF once. Returns
    the tuple of ``Fraction`` / INF with INF last. Wrong counts, duplicates and unparsable
    rationals raise ``ValueError`` naming ``points``.

    Examples
    --------
    >>> from sciconv.winograd import parse_points
    >>> parse_points("0, 1, -1, 1/2, -1/2", 6)
    (Fraction(0, 1), Fraction(1, 1), Fraction(-1, 1), Fraction(1, 2), Fraction(-1, 2), INF)
    >>> parse_points(["inf", 0, 1, -1], 4)  # INF may be given anywhere; it goes last
    (Fraction(0, 1), Fraction(1, 1), Fraction(-1, 1), INF)
    >>> parse_points("0,1,-1", 6)
    Traceback (most recent call last):
        ...
    ValueError: points must hold 5 finite points (n - 1 = m + r - 2; INF is added), got 3: ...
    """
    if isinstance(points, str):
        points = [p for p in points.replace(" ", "").split(",") if p]
    if isinstance(points, bytes) or not isinstance(points, Iterable):
        raise TypeError(f"points must be a sequence of points, got {describe(points)}")
    pts = [parse_point(p) for p in points]
    n_inf = sum(p is INF for p in pts)
    finite = [p for p in pts if p is not INF]
    if n_inf > 1:
        raise ValueError(f"points must hold the point at infinity at most once, got {pts}")
    if len(finite) != n - 1:
        raise ValueError(
            f"points must hold {n - 1} finite points (n - 1 = m + r - 2; INF is added), "
            f"got {len(finite)}: {pts}"
        )
    if len(set(finite)) != len(finite):
        raise ValueError(f"points must be distinct, got duplicates in {pts}")
    return (*finite, INF)


@dataclass(frozen=True)
class WinogradTransform:
    """Exact transforms of ``F(m, r)``: ``AT`` (m x n), ``G`` (n x r), ``BT`` (n x n).

    Unpacks as ``AT, G, BT = t``. The matrices are numpy object arrays of ``Fraction``.

    Attributes
    ----------
    m, r : int
        Outputs and filter taps; ``n = m + r - 1`` is the tile (and the number of products).
    points : tuple
        The ``n`` interpolation points, finite ones first, INF last.
    AT, G, BT : numpy.ndarray of Fraction
    placement : str
        Where the Lagrange normalisers went ('G', 'A' or 'B'); 'custom' after a rescaling.

    Examples
    --------
    >>> from sciconv.winograd import transforms
    >>> t = transforms(4, 3, "0,1,-1,1/2,-1/2")
    >>> t.m, t.r, t.n, t.placement
    (4, 3, 6, 'G')
    >>> t.label()
    'F(4,3) {0, 1, -1, 1/2, -1/2}'
    >>> AT, G, BT = t  # exact Fractions; t.numpy() and t.torch() round them once
    >>> AT.shape, G.shape, BT.shape
    ((4, 6), (6, 3), (6, 6))
    >>> [str(v) for v in t.G[3]]  # (1, 1/2, 1/4) at the point 1/2, times its normaliser
    ['8/3', '4/3', '2/3']
    """

    m: int
    r: int
    points: tuple
    AT: np.ndarray = field(repr=False)
    G: np.ndarray = field(repr=False)
    BT: np.ndarray = field(repr=False)
    placement: str = "G"

    @property
    def n(self) -> int:
        """Tile size ``m + r - 1``."""
        return self.m + self.r - 1

    @property
    def finite_points(self) -> tuple:
        """The ``n - 1`` finite interpolation points."""
        return tuple(p for p in self.points if p is not INF)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.AT, self.G, self.BT))

    def numpy(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(AT, G, BT)`` as float64 arrays (each entry rounded once)."""
        return tuple(np.array(X.tolist(), dtype=np.float64) for X in self)  # type: ignore[return-value]

    def torch(
        self, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(AT, G, BT)`` as tensors of ``dtype`` on ``device`` (rounded once from float64)."""
        return tuple(torch.as_tensor(X, device=device).to(dtype) for X in self.numpy())  # type: ignore[return-value]

    def label(self) -> str:
        """``F(m,r)`` and the finite points, e.g. ``F(2,3) {0, 1, -1}``."""
        return f"F({self.m},{self.r}) {{{', '.join(str(p) for p in self.finite_points)}}}"


def transforms(m: int, r: int, points: Any = None, placement: str = "G") -> WinogradTransform:
    """Exact Toom-Cook transforms of ``F(m, r)`` from ``n - 1`` finite points plus infinity.

    Parameters
    ----------
    m : int
        Number of outputs per tile, ``1 <= m <= 16`` (:data:`MAX_M`).
    r : int
        Filter length, ``1 <= r <= 7`` (:data:`MAX_R`).
    points : sequence or str, optional
        ``n - 1 = m + r - 2`` distinct finite rationals (ints, Fractions, strings like
        ``"5/6"``; a comma-separated string is split), or ``n`` points holding INF once.
        Default :func:`default_points`.
    placement : {'G', 'A', 'B'}
        Where the Lagrange normalisers ``1/N_i`` go: into the rows of ``G`` (default, wincnn's
        choice: ``BT`` holds the monic node polynomials), into the columns of ``AT``, or kept
        in ``BT``.

    Returns
    -------
    WinogradTransform

    Notes
    -----
    Let ``V_k`` be the ``n x k`` Vandermonde matrix of the points (INF gives the row
    ``e_{k-1}``: the leading coefficient). Linear convolution ``s = a * g`` of ``a`` (length
    ``m``) and ``g`` (length ``r``) satisfies ``V_n s = (V_m a) * (V_r g)`` (values of
    ``s(x) = a(x) g(x)`` at each point, leading coefficients at INF), so
    ``s = T_g a = V_n^{-1} diag(V_r g) V_m a``. Correlation is the transpose,
    ``y = T_g^T d = V_m^T diag(V_r g) V_n^{-T} d``, hence

    .. math:: A^T = V_m^T,\\quad G = V_r,\\quad B^T = V_n^{-T}.

    Row ``i`` of ``V_n^{-T}`` holds the coefficients of the Lagrange polynomial
    ``L_i(x) = prod_{j != i}(x - p_j) / N_i`` (``N_i = prod_{j != i}(p_i - p_j)`` over the
    finite points), and for INF those of the monic ``prod_j (x - p_j)``. Any diagonal
    ``A^T S_a, S_g G, S_b B^T`` with ``S_a S_g S_b = I`` is still exact; ``placement`` moves
    ``|1/N_i|`` (the absolute leading coefficient of row ``i``) between the three, so that
    with 'G' or 'A' every row of ``B^T`` is a node polynomial with leading coefficient ``+-1``.

    Examples
    --------
    ``F(2, 3)`` from the points ``0, 1, -1, INF`` is Lavin and Gray's transform (up to row
    signs); it computes two outputs of a 3-tap correlation with four multiplications:

    >>> import numpy as np
    >>> from sciconv.winograd import transforms
    >>> t = transforms(2, 3)
    >>> t.points
    (Fraction(0, 1), Fraction(1, 1), Fraction(-1, 1), INF)
    >>> AT, G, BT = t.numpy()
    >>> G
    array([[ 1. ,  0. ,  0. ],
           [ 0.5,  0.5,  0.5],
           [ 0.5, -0.5,  0.5],
           [ 0. ,  0. ,  1. ]])
    >>> g, d = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, -1.0, 2.0])
    >>> AT @ ((G @ g) * (BT @ d)), np.correlate(d, g, "valid")
    (array([-2.,  4.]), array([-2.,  4.]))
    """
    m, r = check_tile(m, r)
    check_choice("placement", placement, PLACEMENTS)
    n = m + r - 1
    pts = parse_points(default_points(n - 1) if points is None else points, n)
    AT = vandermonde(pts, m, kind="exact").T.copy()
    G = vandermonde(pts, r, kind="exact")
    BT = exact_inverse(vandermonde(pts, n, kind="exact")).T.copy()
    if placement != "B":
        for i in range(n):
            lead = abs(next(v for v in BT[i, ::-1] if v != 0))
            BT[i, :] = [v / lead for v in BT[i, :]]
            if placement == "G":
                G[i, :] = [v * lead for v in G[i, :]]
            else:
                AT[:, i] = [v * lead for v in AT[:, i]]
    return WinogradTransform(m, r, pts, AT, G, BT, placement)


def _tensor_1d(t: WinogradTransform) -> list[list[list[Fraction]]]:
    """``T[i][k][j] = sum_t AT[i,t] G[t,k] BT[t,j]``: the bilinear form of the algorithm."""
    AT, G, BT = (X.tolist() for X in t)
    zero = Fraction(0)
    out = []
    for i in range(t.m):
        rows = []
        for k in range(t.r):
            w = [AT[i][s] * G[s][k] for s in range(t.n)]
            rows.append(
                [sum((w[s] * BT[s][j] for s in range(t.n) if w[s]), zero) for j in range(t.n)]
            )
        out.append(rows)
    return out


def _exact_2d(t: WinogradTransform, g: list[list[int]], d: list[list[int]]) -> list[list[Any]]:
    AT, G, BT = (X.tolist() for X in t)

    def mm(X: list, Y: list) -> list:
        return [
            [sum((a * b for a, b in zip(row, col)), Fraction(0)) for col in zip(*Y)] for row in X
        ]

    def tr(X: list) -> list:
        return [list(c) for c in zip(*X)]

    U = mm(mm(G, g), tr(G))
    V = mm(mm(BT, d), tr(BT))
    M = [[u * v for u, v in zip(ur, vr)] for ur, vr in zip(U, V)]
    return mm(mm(AT, M), tr(AT))


def verify(t: WinogradTransform, dim: int = 1, seed: int = 0) -> bool:
    """Prove in exact rational arithmetic that ``t`` computes correlation.

    Parameters
    ----------
    t : WinogradTransform
    dim : {1, 2}
        1: the identity for all ``g, d``. 2: additionally the nested 2D algorithm
        ``A^T [(G g G^T) * (B^T d B)] A`` on one random integer pair, exactly.
    seed : int
        Seed of the 2D integer test data.

    Returns
    -------
    bool
        True when exact.

    Notes
    -----
    The algorithm is bilinear in ``(g, d)``, so it equals correlation for *all* inputs iff its
    trilinear tensor ``T[i,k,j] = sum_t AT[i,t] G[t,k] BT[t,j]`` equals ``[j == i + k]``: a
    proof with ``m r n^2`` exact products (the polynomial identity read on the monomial basis).
    The 2D algorithm's tensor is the Kronecker square of the 1D one, so the 1D proof covers it;
    ``dim=2`` adds an end-to-end exact check of the nesting on integers in ``[-9, 9]``.

    Examples
    --------
    >>> from sciconv.winograd import WinogradTransform, transforms, verify
    >>> t = transforms(6, 3, "0,1,-1,1/2,-1/2,2,-2")
    >>> verify(t), verify(t, dim=2)
    (True, True)
    >>> AT, G, BT = t
    >>> verify(WinogradTransform(t.m, t.r, t.points, AT, G, -BT))  # one sign flipped: wrong
    False
    """
    if not isinstance(t, WinogradTransform):
        raise TypeError(f"t must be a WinogradTransform, got {describe(t)}")
    if dim not in (1, 2):
        raise ValueError(f"dim must be 1 or 2, got {dim!r}")
    T = _tensor_1d(t)
    ok = all(
        T[i][k][j] == (1 if j == i + k else 0)
        for i in range(t.m)
        for k in range(t.r)
        for j in range(t.n)
    )
    if not ok or dim == 1:
        return ok
    rng = random.Random(seed)
    g = [[rng.randint(-9, 9) for _ in range(t.r)] for _ in range(t.r)]
    d = [[rng.randint(-9, 9) for _ in range(t.n)] for _ in range(t.n)]
    Y = _exact_2d(t, g, d)
    return all(
        Y[i][j] == sum(g[a][b] * d[i + a][j + b] for a in range(t.r) for b in range(t.r))
        for i in range(t.m)
        for j in range(t.m)
    )
