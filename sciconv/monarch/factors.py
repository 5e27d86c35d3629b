"""Factoring a transform length for the Monarch DFT: ``n = n_1 n_2 (n_3)`` near the root."""

from __future__ import annotations

import functools
import math

import torch

from ..validation import check_bool, check_positive_int

__all__ = ["DENSE_DFT_LIMIT", "monarch_factors"]

#: Largest factor computed as one dense DFT matrix (an ``n x n`` matrix).
DENSE_DFT_LIMIT = 8192


def _divisors(n: int) -> list[int]:
    small = [d for d in range(2, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small] + [n]))


def _factor(n: int, order: int) -> tuple[int, ...] | None:
    """Best factors of ``n`` into ``order`` factors >= 2 (None if impossible); cached in eager
    mode, searched afresh under ``torch.compile`` (Dynamo would warn on the cache wrapper)."""
    if torch.compiler.is_compiling():
        return _search(n, order)
    return _cached_search(n, order)


def _search(n: int, order: int) -> tuple[int, ...] | None:
    if order == 1:
        return (n,) if n >= 2 else None
    best, best_gap = None, math.inf
    target = math.log(n) / order
    for d in _divisors(n):
        if d == n:
            continue
        rest = _factor(n // d, order - 1)
        if rest is None:
            continue
        gap = max(abs(math.log(f) - target) for f in (d,) + rest)
        if gap < best_gap - 1e-12:
            best, best_gap = (d,) + rest, gap
    return best


_cached_search = functools.lru_cache(maxsize=256)(_search)


def monarch_factors(n: int, order: int = 2, *, strict: bool = True) -> tuple[int, ...]:
    """Factors ``n = n_1 n_2 ... n_p`` (each ``>= 2``), as close to ``n**(1/p)`` as possible.

    Parameters
    ----------
    n : int
        Transform length, ``n >= 2``.
    order : int
        Number of factors ``p >= 1``.
    strict : bool
        If False, a length with fewer than ``order`` prime factors gets as many factors as it
        has (a prime is one factor: a dense DFT) instead of an error.

    Returns
    -------
    tuple of int
        The factors, minimising the largest ``|log n_i - log(n)/p|`` (first found on ties).

    Notes
    -----
    A Monarch DFT [1]_ of order ``p`` costs :math:`n \\sum_i n_i` complex multiply-adds, smallest
    when every :math:`n_i` is near :math:`n^{1/p}` (:math:`2 n^{3/2}` at order 2,
    :math:`3 n^{4/3}` at order 3); the search runs over the divisors of ``n``. A factor above
    ``DENSE_DFT_LIMIT`` is refused (its dense matrix alone would take gigabytes).

    References
    ----------
    .. [1] D. Y. Fu, H. Kumbong, E. Nguyen and C. Ré, "FlashFFTConv: Efficient Convolutions
       for Long Sequences with Tensor Cores", ICLR 2024. arXiv:2311.05908.

    Examples
    --------
    >>> from sciconv.monarch import monarch_factors
    >>> monarch_factors(1024), monarch_factors(2**20, 3), monarch_factors(1080, 3)
    ((32, 32), (64, 128, 128), (9, 10, 12))
    >>> monarch_factors(97, 2, strict=False)
    (97,)
    >>> monarch_factors(97)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: n=97 cannot be written as a product of 2 factors >= 2 (it has 1 prime factor)...
    """
    n = check_positive_int("n", n, minimum=2)
    order = check_positive_int("order", order)
    check_bool("strict", strict)
    for p in range(order, 0, -1):
        f = _factor(n, p)
        if f is not None:
            if p < order and strict:
                primes = sum(1 for _ in _prime_factors(n))
                raise ValueError(
                    f"n={n} cannot be written as a product of {order} factors >= 2 (it has "
                    f"{primes} prime factor{'s' * (primes != 1)}); use a length with at least "
                    f"{order} prime factors (e.g. from sciconv.fft_size)"
                )
            if max(f) > DENSE_DFT_LIMIT:
                raise ValueError(
                    f"n={n} with order={order} needs a dense DFT factor of {max(f)} > "
                    f"DENSE_DFT_LIMIT={DENSE_DFT_LIMIT}; use a higher order or a smoother length"
                )
            return f
    raise AssertionError("unreachable: order 1 always factors n >= 2")  # pragma: no cover


def _prime_factors(n: int):
    d = 2
    while d * d <= n:
        while n % d == 0:
            yield d
            n //= d
        d += 1
    if n > 1:
        yield n
