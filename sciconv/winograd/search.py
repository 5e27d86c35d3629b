"""Search for Winograd point sets: an evolution strategy on numpy over symmetric sets.

Every candidate is snapped to simple rationals ``p/q`` (bounded ``p`` and ``q``), so the search
moves on a finite lattice of exact algorithms; every reported candidate is verified exactly.
This is NOVA's discovery loop [1]_ (evolution strategy, snap to rationals, exact
verification), with cumulative step-size adaptation [2]_ and a choice of objectives.

References
----------
.. [1] J. Lohia, "NOVA: Discovering Well-Conditioned Winograd Transforms through Numerical
   Optimization of Vandermonde Arithmetic", preprint, 2025. arXiv:2512.18453.
.. [2] N. Hansen and A. Ostermeier, "Completely Derandomized Self-Adaptation in Evolution
   Strategies", Evolutionary Computation 9(2), 2001.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import torch

from ..validation import check_choice, check_positive_int
from .conditioning import kappa_vfin, predictor_E
from .error import single_thread, winograd_error
from .scaling import balance
from .transforms import check_tile, default_points, transforms, verify

__all__ = ["OBJECTIVES", "SearchResult", "evaluate_points", "search", "simple_rationals"]

OBJECTIVES = ("kappa", "E", "fp16-error")


def simple_rationals(max_num: int, max_den: int) -> list[Fraction]:
    """The positive rationals ``p/q`` with ``1 <= p <= max_num``, ``1 <= q <= max_den``, sorted.

    Examples
    --------
    >>> from sciconv.winograd import simple_rationals
    >>> [str(q) for q in simple_rationals(3, 2)]
    ['1/2', '1', '3/2', '2', '3']
    >>> len(simple_rationals(12, 8))  # the default snapping grid of :func:`search`
    63
    """
    return sorted({Fraction(p, q) for p in range(1, max_num + 1) for q in range(1, max_den + 1)})


def _snap(value: float, grid: list[Fraction], logs: list[float]) -> Fraction:
    """Nearest grid rational to ``exp(value)`` in log scale."""
    i = bisect.bisect_left(logs, value)
    cands = [j for j in (i - 1, i) if 0 <= j < len(grid)]
    return grid[min(cands, key=lambda j: abs(logs[j] - value))]


def evaluate_points(
    m: int, r: int, points: Any, objective: str, *, trials: int = 256, data_seed: int = 0
) -> float:
    """The search objective of one point set (lower is better).

    'kappa': ``kappa_2`` of the finite-point Vandermonde matrix (float64 SVD); 'E': the predictor
    :func:`~sciconv.winograd.predictor_E`; 'fp16-error': the mean relative 2D float16 error of
    the balanced transforms, :func:`~sciconv.winograd.winograd_error` with ``trials`` tiles of
    seed ``data_seed``.

    Examples
    --------
    The classic ``F(4, 3)`` points against the same tile with halves instead of twos:
    :math:`\\kappa_2` prefers the halves, the predictor ``E`` rates both sets alike.

    >>> from sciconv.winograd import evaluate_points
    >>> classic, halves = "0,1,-1,2,-2", "0,1,-1,1/2,-1/2"
    >>> [round(evaluate_points(4, 3, p, "kappa"), 3) for p in (classic, halves)]
    [42.472, 23.531]
    >>> [round(evaluate_points(4, 3, p, "E"), 3) for p in (classic, halves)]
    [25.968, 25.968]
    """
    check_choice("objective", objective, OBJECTIVES)
    t = transforms(m, r, points)
    if objective == "kappa":
        V = np.array([[float(p) ** j for j in range(t.n - 1)] for p in t.finite_points])
        return float(np.linalg.cond(V))
    if objective == "E":
        return float(predictor_E(t))
    err = winograd_error(balance(t), torch.float16, 2, trials, data_seed).mean
    return err if math.isfinite(err) else math.inf  # fp16 overflow


@dataclass
class SearchResult:
    """Ranked point sets found by :func:`search` (best first) and the run's settings.

    ``rows`` holds one dict per point set (``points``, ``objective``, ``kappa_Vfin``, ``E``,
    ``verified``); ``history`` the best objective after each generation.

    Examples
    --------
    >>> from sciconv.winograd import search
    >>> res = search(4, 3, "kappa", budget=24, seed=0, top=3, progress=False)
    >>> res.table().splitlines()[0]
    'F(4,3) objective=kappa seed=0'
    >>> len(res.rows), all(row["verified"] for row in res.rows), res.best == res.rows[0]["points"]
    (3, True, True)
    """

    m: int
    r: int
    objective: str
    seed: int
    budget: int
    rows: list[dict[str, Any]]
    history: list[float] = field(default_factory=list)
    evaluations: int = 0

    @property
    def best(self) -> tuple:
        """Finite points of the best set."""
        return self.rows[0]["points"]

    def table(self) -> str:
        """The ranked table as text."""
        lines = [f"F({self.m},{self.r}) objective={self.objective} seed={self.seed}"]
        lines.append(f"{'rank':>4}  {'objective':>11}  {'kappa(Vfin)':>11}  {'E':>9}  ok  points")
        for i, row in enumerate(self.rows, 1):
            pts = ", ".join(str(p) for p in row["points"])
            lines.append(
                f"{i:>4}  {row['objective']:>11.4g}  {row['kappa_Vfin']:>11.4g}  "
                f"{row['E']:>9.4g}  {'yes' if row['verified'] else 'NO':>3} {{{pts}}}"
            )
        return "\n".join(lines)


def _decode(z: np.ndarray, k: int, odd: bool, grid: list, logs: list) -> tuple | None:
    if k < 0:  # asymmetric: z holds asinh of each non-zero point
        pts = [Fraction(0)]
        for v in z:
            x = math.sinh(float(v))
            q = _snap(math.log(max(abs(x), 1e-12)), grid, logs)
            pts.append(q if x >= 0 else -q)
        return tuple(sorted(pts)) if len(set(pts)) == len(pts) else None
    mags = [_snap(float(v), grid, logs) for v in z[:k]]
    pts = [Fraction(0)] + [s * q for q in mags for s in (1, -1)]
    if not odd:
        free = float(z[k])
        q = _snap(math.log(max(abs(free), 1e-12)), grid, logs)
        pts.append(q if free >= 0 else -q)
    if len(set(pts)) != len(pts):
        return None
    return tuple(sorted(pts))


def search(
    m: int,
    r: int,
    objective: str = "E",
    budget: int = 240,
    seed: int = 0,
    *,
    max_num: int = 12,
    max_den: int = 8,
    popsize: int = 12,
    trials: int = 256,
    top: int = 10,
    symmetric: bool = True,
    progress: bool = True,
) -> SearchResult:
    """Search symmetric point sets ``{0, +-x_1, ..., +-x_k}`` (plus one free point if ``n - 1``
    is even) for ``F(m, r)`` minimising ``objective``.

    Parameters
    ----------
    m, r : int
    objective : {'kappa', 'E', 'fp16-error'}
        See :func:`evaluate_points` (the error objective uses data seed ``seed``).
    budget : int
        Number of candidates sampled (``popsize`` per generation); repeats are cached.
    seed : int
        Seeds the strategy (``numpy.random.default_rng``) and the error objective's data:
        the same arguments give the same result.
    max_num, max_den : int
        Snapping grid: magnitudes ``p/q`` with ``p <= max_num``, ``q <= max_den``.
    popsize : int
        ``lambda`` offspring per generation; ``mu = lambda // 2`` parents.
    trials : int
        Random 2D tiles of the 'fp16-error' objective.
    top : int
        Rows returned, each verified exactly with :func:`~sciconv.winograd.verify`.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    SearchResult

    Notes
    -----
    A (mu/mu_w, lambda)-ES with cumulative step-size adaptation (CSA) [2]_ on
    ``z = log|x_j|``: offspring ``z = mean + sigma N(0, I)``, the ``mu`` best recombined with
    log-rank weights, ``sigma`` updated by the length of the evolution path. It starts from
    the classic points (:func:`~sciconv.winograd.default_points`), which are always evaluated,
    so the best row is never worse than the classic set on the search objective. Snapping
    candidates to simple rationals and verifying them exactly is NOVA's recipe [1]_.

    References
    ----------
    .. [1] J. Lohia, "NOVA: Discovering Well-Conditioned Winograd Transforms through
       Numerical Optimization of Vandermonde Arithmetic", preprint, 2025. arXiv:2512.18453.
    .. [2] N. Hansen and A. Ostermeier, "Completely Derandomized Self-Adaptation in Evolution
       Strategies", Evolutionary Computation 9(2), 2001.

    Examples
    --------
    A short, reproducible search for ``F(4, 3)`` on the predictor ``E``; the best set is at
    least as good as the classic points, and every reported set is proved exact:

    >>> from sciconv.winograd import default_points, evaluate_points, search
    >>> res = search(4, 3, "E", budget=36, seed=0, top=5, progress=False)
    >>> bool(res.rows[0]["objective"] <= evaluate_points(4, 3, default_points(5), "E"))
    True
    >>> all(row["verified"] for row in res.rows)
    True
    >>> search(4, 3, "E", budget=36, seed=0, top=5, progress=False).best == res.best
    True
    >>> [str(p) for p in res.best]
    ['-3/2', '-3/5', '0', '3/5', '3/2']
    """
    m, r = check_tile(m, r)
    check_choice("objective", objective, OBJECTIVES)
    budget = check_positive_int("budget", budget)
    popsize = check_positive_int("popsize", popsize, 2)
    grid = simple_rationals(
        check_positive_int("max_num", max_num), check_positive_int("max_den", max_den)
    )
    logs = [math.log(q) for q in grid]
    n = m + r - 1
    odd = (n - 1) % 2 == 1
    k = (n - 2) // 2 if odd else (n - 3) // 2
    dim = k + (0 if odd else 1)
    if not symmetric:
        k, dim = -1, n - 2
    classic = default_points(n - 1)
    cache: dict[tuple, float] = {}

    def f(pts: tuple | None) -> float:
        if pts is None:
            return math.inf
        if pts not in cache:
            cache[pts] = evaluate_points(m, r, pts, objective, trials=trials, data_seed=seed)
        return cache[pts]

    rng = np.random.default_rng(seed)
    history: list[float] = []
    samples = 0
    with single_thread():
        f(tuple(sorted(classic)))
        if dim > 0 and k < 0:
            mean = np.array([math.asinh(float(p)) for p in classic if p != 0])
        elif dim > 0:
            mags = sorted({abs(p) for p in classic if p != 0})[:k]
            mean = np.array([math.log(q) for q in mags] + ([1.0] if not odd else []))
            if not odd:
                mean[k] = float(next(p for p in classic if -p not in classic))
        if dim > 0:
            sigma = 0.4
            mu = popsize // 2
            w = np.log(mu + 0.5) - np.log(np.arange(1, mu + 1))
            w /= w.sum()
            mueff = 1.0 / np.sum(w**2)
            cs = (mueff + 2) / (dim + mueff + 5)
            ds = 1 + 2 * max(0.0, math.sqrt((mueff - 1) / (dim + 1)) - 1) + cs
            chi = math.sqrt(dim) * (1 - 1 / (4 * dim) + 1 / (21 * dim**2))
            ps = np.zeros(dim)
            gens = max(1, budget // popsize)
            bar = _bar(gens, progress, f"F({m},{r}) {objective}")
            for _ in range(gens):
                noise = rng.standard_normal((popsize, dim))
                cand = mean + sigma * noise
                vals = np.array([f(_decode(z, k, odd, grid, logs)) for z in cand])
                samples += popsize
                order = np.argsort(vals, kind="stable")[:mu]
                step = w @ noise[order]
                mean = mean + sigma * step
                ps = (1 - cs) * ps + math.sqrt(cs * (2 - cs) * mueff) * step
                sigma = float(
                    np.clip(sigma * math.exp(cs / ds * (np.linalg.norm(ps) / chi - 1)), 0.02, 2.0)
                )
                history.append(min(cache.values()))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(best=f"{history[-1]:.4g}")
            if bar is not None:
                bar.close()
    ranked = sorted(cache.items(), key=lambda kv: (kv[1], kv[0]))[:top]
    rows = []
    for pts, val in ranked:
        t = transforms(m, r, pts)
        rows.append(
            {
                "points": pts,
                "objective": val,
                "kappa_Vfin": float(kappa_vfin(pts)),
                "E": float(predictor_E(t)),
                "verified": verify(t) and verify(balance(t)),
            }
        )
    return SearchResult(m, r, objective, seed, budget, rows, history, len(cache))


def _bar(total: int, enabled: bool, desc: str) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False, disable=None)  # None: off when not a TTY
