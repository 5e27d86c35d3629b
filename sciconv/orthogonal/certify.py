r"""Numerical certificates: how close can a convolution of a given shape get to orthogonal?

:func:`certify` minimises the Gram defect :math:`\|KK^T - I\|_F^2` (RO) or :math:`\|K^TK -
I\|_F^2` (CO) over all kernels on a small grid and reports the floor reached, to be compared
with the existence oracle :func:`sciconv.orthogonal.exists` (floor 0 iff an orthogonal
convolution exists; for circular padding the floor of an impossible configuration is known).
The existence conditions and the Gram-defect measures are those of [1]_.

References
----------
.. [1] E. M. Achour, F. Malgouyres and F. Mamalet, "Existence, Stability and Scalability of
   Orthogonal Convolutional Neural Networks", Journal of Machine Learning Research 23(347),
   2022. arXiv:2108.05623.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize

from ..operator import ConvOperator
from ..validation import as_int_tuple, check_choice, check_positive_int
from ._symbol import symbol_from_taps, tap_symbols
from .existence import BOUNDARIES, Verdict, exists

__all__ = ["Certificate", "certify", "default_grid"]


@dataclass(frozen=True)
class Certificate:
    """Result of :func:`certify`.

    Attributes
    ----------
    floor : float
        Smallest Gram defect :math:`\\|G\\|_F^2` reached over the restarts.
    runs : tuple of float
        The floor of each restart.
    exists : bool
        ``floor <= tol``: the numerical verdict.
    expected_floor : float or None
        Circular padding: the exact minimum ``N^d * max(0, M - C prod(e))`` (RO) or
        ``N^d C (prod(S) - prod(e))`` (CO); ``None`` for other boundaries.
    verdict : Verdict
        The oracle's answer for the same configuration.

    Examples
    --------
    >>> from sciconv.orthogonal import certify
    >>> c = certify(4, 6, 1, stride=2, dim=1)  # impossible: 2 rows too many per frequency
    >>> c.exists, c.expected_floor, round(c.floor, 6), c.agrees
    (False, 4.0, 4.0, True)
    >>> c.grid, c.kind, c.verdict.exists
    ((2,), 'RO', False)
    """

    floor: float
    runs: tuple[float, ...]
    exists: bool
    expected_floor: float | None
    grid: tuple[int, ...]
    kind: str
    padding: str
    verdict: Verdict

    @property
    def agrees(self) -> bool:
        """Numerical and oracle verdicts agree (and the floor matches, when known, to 1e-6)."""
        if self.exists != self.verdict.exists:
            return False
        if self.expected_floor is None:
            return True
        return abs(self.floor - self.expected_floor) <= 1e-6 * max(1.0, self.expected_floor)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["verdict"] = self.verdict.to_dict()
        return out


def default_grid(
    kernel_size: Sequence[int], stride: Sequence[int], padding: str
) -> tuple[int, ...]:
    r"""Coarse grid :math:`N_a` used by :func:`certify` (input size :math:`S_a N_a`).

    Circular: :math:`\lceil k/S\rceil + 1` (no tap wraps onto another); zero padding:
    :math:`2\lceil k/S\rceil + 1`, enough for interior rows and columns that see every tap.

    Examples
    --------
    >>> from sciconv.orthogonal import default_grid
    >>> default_grid((3, 3), (2, 2), "circular"), default_grid((3, 3), (2, 2), "same")
    ((3, 3), (5, 5))
    """
    if padding == "circular":
        return tuple(-(-k // s) + 1 for k, s in zip(kernel_size, stride))
    return tuple(2 * (-(-k // s)) + 1 for k, s in zip(kernel_size, stride))


class _SymbolObjective:
    """Gram defect of a circular convolution through its symbol (exact, cheap)."""

    def __init__(self, m: int, c: int, k: tuple[int, ...], n: tuple[int, ...], s: Any, kind: str):
        self.shape = (m, c, *k)
        self.taps = tap_symbols(k, n, s)
        self.kind = kind

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        w = x.reshape(self.shape)
        k = symbol_from_taps(w, self.taps)  # (*f, M, C R)
        kh = np.conj(np.swapaxes(k, -1, -2))
        g = k @ kh if self.kind == "RO" else kh @ k
        g = g - np.eye(g.shape[-1])
        val = float(np.sum(np.abs(g) ** 2))
        d = g @ k if self.kind == "RO" else k @ g  # df = 4 Re <D, dK>
        m, c = self.shape[:2]
        d = d.reshape(*d.shape[:-1], c, -1)
        e = self.taps.reshape(-1, *self.taps.shape[-2:])
        d = d.reshape(-1, m, c, d.shape[-1])
        grad = 4.0 * np.real(np.einsum("fmcr,ftr->mct", np.conj(d), e))
        return val, grad.reshape(-1)


class _DenseObjective:
    """Gram defect through the dense matrix of :class:`sciconv.ConvOperator` (any boundary)."""

    def __init__(
        self, m: int, c: int, k: tuple[int, ...], n: tuple[int, ...], s: Any, kind: str, pad: str
    ):
        size = m * c * math.prod(k)
        basis = []
        for j in range(size):
            unit = np.zeros(size)
            unit[j] = 1.0
            op = ConvOperator(unit.reshape(m, c, *k), (c, *n), stride=s, padding=pad)
            basis.append(op.to_dense())
        self.basis = np.stack(basis)  # (P, rows, cols)
        self.kind = kind

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        a = np.tensordot(x, self.basis, axes=1)
        g = a @ a.T if self.kind == "RO" else a.T @ a
        g = g - np.eye(g.shape[0])
        ga = 4.0 * (g @ a if self.kind == "RO" else a @ g)
        return float(np.sum(g * g)), np.tensordot(self.basis, ga, axes=([1, 2], [0, 1]))


def certify(
    in_channels: int,
    out_channels: int,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    dim: int = 2,
    padding: str = "circular",
    *,
    grid: int | Sequence[int] | None = None,
    restarts: int | None = None,
    maxiter: int = 400,
    tol: float = 1e-6,
    method: str = "auto",
    seed: int = 0,
) -> Certificate:
    r"""Minimise the Gram defect over kernels and return the floor reached.

    Parameters
    ----------
    in_channels, out_channels, kernel_size, stride, dim, padding
        As in :func:`sciconv.orthogonal.exists`.
    grid : int or sequence of int, optional
        Coarse grid :math:`N` (the input has :math:`S_a N_a` samples per axis); default
        :func:`default_grid`.
    restarts : int, optional
        Random starts at most (default 3, and 12 when :math:`M = C\prod S_a`, where local
        minima abound); the search stops early when a start reaches ``tol`` or when two
        starts (four when :math:`M = C\prod S_a`) reach the same floor (to 1e-9 relative).
    maxiter : int
        L-BFGS iterations per start.
    tol : float
        Floor below which the configuration counts as orthogonal.
    method : {'auto', 'symbol', 'dense'}
        'symbol' (circular only, exact and cheap), 'dense' (the matrix of
        :class:`sciconv.ConvOperator`, any boundary); 'auto' picks 'symbol' when circular.
    seed : int
        Seed of the random starts.

    Returns
    -------
    Certificate

    Notes
    -----
    The objective :math:`f(K) = \|G\|_F^2`, :math:`G = KK^T - I` (RO) or :math:`K^TK - I`
    (CO), has gradient :math:`4GK` (RO) or :math:`4KG` (CO) with respect to the operator,
    pulled back to the kernel through the linear map kernel :math:`\to` operator (the
    symbol :math:`K(f) = \sum_t w_t E_t(f)`, or the dense matrices of unit kernels). It is
    minimised by L-BFGS (scipy) from Gaussian starts of variance :math:`1/(Ck^d)`.
    For circular padding the minimum is known: per frequency, :math:`K(f)` has only
    :math:`C\prod_a e_a` non-zero columns, so :math:`KK^H` has :math:`M - C\prod e_a`
    zero eigenvalues (RO) and :math:`K^HK` has :math:`C(\prod S_a - \prod e_a)` zero diagonal
    entries (CO), and a block convolution attains exactly that.

    Examples
    --------
    The oracle says yes, and the optimiser finds an orthogonal kernel (floor 0); with 'valid'
    padding and ``k > S`` no column-orthogonal kernel exists, and the floor stays positive:

    >>> from sciconv.orthogonal import certify
    >>> c = certify(4, 2, 3, dim=1)
    >>> c.exists, c.floor < 1e-6, c.agrees
    (True, True, True)
    >>> c = certify(1, 2, 2, dim=1, padding="valid")
    >>> c.verdict.kind, c.exists, c.floor > 0.1, c.agrees
    ('CO', False, True, True)
    """
    verdict = exists(in_channels, out_channels, kernel_size, stride, dim, padding)
    k, s, pad = verdict.kernel_size, verdict.stride, verdict.padding
    check_choice("padding", padding, BOUNDARIES)
    method = check_choice("method", method, ("auto", "symbol", "dense"))
    hard = verdict.hard
    restarts = check_positive_int("restarts", (12 if hard else 3) if restarts is None else restarts)
    maxiter = check_positive_int("maxiter", maxiter)
    big_n = default_grid(k, s, pad) if grid is None else as_int_tuple("grid", grid, len(k))
    n = tuple(na * sa for na, sa in zip(big_n, s))
    m, c = verdict.out_channels, verdict.in_channels
    if method == "auto":
        method = "symbol" if pad == "circular" else "dense"
    if method == "symbol":
        if pad != "circular":
            raise ValueError(f"method='symbol' needs padding='circular', got {padding!r}")
        fun: Any = _SymbolObjective(m, c, k, n, s, verdict.kind)
    else:
        fun = _DenseObjective(m, c, k, n, s, verdict.kind, pad)
    rng = np.random.default_rng(seed)
    size = m * c * math.prod(k)
    runs: list[float] = []
    for _ in range(restarts):
        x0 = rng.standard_normal(size) / math.sqrt(c * math.prod(k))
        res = minimize(
            fun, x0, jac=True, method="L-BFGS-B",
            options={"maxiter": maxiter, "ftol": 1e-15, "gtol": 1e-12, "maxcor": 30},
        )  # fmt: skip
        runs.append(float(res.fun))
        best = min(runs)
        if best <= tol:
            break
        if sum(abs(r - best) <= 1e-9 * max(1.0, best) for r in runs) >= (4 if hard else 2):
            break
    floor = min(runs)
    expected = None
    if pad == "circular":
        expected = float(math.prod(big_n) * verdict.floor_per_frequency())
    return Certificate(
        floor=floor,
        runs=tuple(runs),
        exists=floor <= tol,
        expected_floor=expected,
        grid=big_n,
        kind=verdict.kind,
        padding=pad,
        verdict=verdict,
    )
