"""Measured rounding error of Winograd convolution in fp16 / bf16 / fp32 against float64.

Every low-precision operation is a torch elementwise op on tensors of that dtype, so each
product and each partial sum is rounded to the dtype (a faithful emulation of arithmetic
without fused multiply-add or wider accumulators, on any device). The error measured is the
one analysed (and bounded) in [1]_.

References
----------
.. [1] B. Barabasz, A. Anderson, K. M. Soodhalter and D. Gregg, "Error Analysis and Improving
   the Accuracy of Winograd Convolution for Deep Neural Networks", ACM Transactions on
   Mathematical Software 46(4), 2020. arXiv:1803.10986.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import torch

from ..validation import check_choice, check_positive_int, describe
from .transforms import WinogradTransform

__all__ = ["DTYPES", "ErrorReport", "as_dtype", "lowp_matmul", "single_thread", "winograd_error"]

#: Accepted names for the low-precision dtypes.
DTYPES: dict[str, torch.dtype] = {
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float32": torch.float32,
    "fp32": torch.float32,
    "float64": torch.float64,
}


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """One torch intra-op thread for many tiny ops (the previous count is restored).

    On a loaded machine OpenMP's barrier makes each tiny op wait for a descheduled second
    thread; the error measurements and the search are sequences of such ops.

    Examples
    --------
    >>> import torch
    >>> from sciconv.winograd.error import single_thread
    >>> before = torch.get_num_threads()
    >>> with single_thread():
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def as_dtype(dtype: Any) -> torch.dtype:
    """A torch dtype from a torch dtype or one of the names in :data:`DTYPES`.

    Examples
    --------
    >>> import torch
    >>> from sciconv.winograd.error import as_dtype
    >>> as_dtype("fp16"), as_dtype("bf16"), as_dtype(torch.float32)
    (torch.float16, torch.bfloat16, torch.float32)
    """
    if isinstance(dtype, torch.dtype) and dtype in DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype in DTYPES:
        return DTYPES[dtype]
    raise ValueError(
        f"dtype must be one of {sorted(DTYPES)} or a torch dtype, got {describe(dtype)}"
    )


def lowp_matmul(A: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """``A @ X`` over the last two axes of ``X``, summing sequentially in ``X.dtype``.

    ``A`` has shape ``(p, q)``, ``X`` shape ``(..., q, s)``. Each product ``A[i,k] X[k,j]`` and
    each running sum is rounded to the dtype (no wider accumulator), in the order ``k = 0..q-1``.

    Examples
    --------
    ``2048 + 1`` is not a float16 number (the spacing there is 2), so the sum rounds:

    >>> import torch
    >>> from sciconv.winograd import lowp_matmul
    >>> A = torch.tensor([[1.0, 1.0], [1.0, -1.0]])
    >>> X = torch.tensor([[2048.0], [1.0]], dtype=torch.float16)
    >>> lowp_matmul(A, X).flatten().tolist(), (A.double() @ X.double()).flatten().tolist()
    ([2048.0, 2047.0], [2049.0, 2047.0])
    """
    A = A.to(X.dtype)
    acc = A[:, 0, None] * X[..., 0, None, :]
    for k in range(1, A.shape[1]):
        acc = acc + A[:, k, None] * X[..., k, None, :]
    return acc


@dataclass(frozen=True)
class ErrorReport:
    """Relative errors ``||y - y_ref|| / ||y_ref||`` over random tiles (mean and max).

    ``overflows`` counts tiles whose Winograd output is not finite (the dtype's range was
    exceeded); their error counts as infinite, so ``mean`` and ``max`` are then ``inf``.

    Examples
    --------
    Returned by :func:`winograd_error`; ``ratio`` compares Winograd with direct convolution:

    >>> from sciconv.winograd import ErrorReport
    >>> rep = ErrorReport("float16", 2, 100, 2e-3, 5e-3, 1e-3, 3e-3)
    >>> rep.ratio
    2.0
    >>> sorted(rep.as_dict())  # doctest: +NORMALIZE_WHITESPACE
    ['dim', 'direct_max', 'direct_mean', 'dtype', 'max', 'mean', 'overflows', 'ratio',
     'trials']
    """

    dtype: str
    dim: int
    trials: int
    mean: float
    max: float
    direct_mean: float
    direct_max: float
    overflows: int = 0

    @property
    def ratio(self) -> float:
        """Mean Winograd error over mean direct error."""
        return self.mean / self.direct_mean

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def _rel(y: torch.Tensor, ref: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    return torch.linalg.vector_norm(y.double() - ref, dim=dims) / torch.linalg.vector_norm(
        ref, dim=dims
    )


def winograd_error(
    t: WinogradTransform,
    dtype: Any = torch.float16,
    dim: int = 2,
    trials: int = 1000,
    seed: int = 0,
    *,
    filter_transform: str = "float64",
    device: torch.device | str | None = None,
) -> ErrorReport:
    """Mean and max relative error of ``F(m, r)`` in ``dtype``, with direct convolution's beside it.

    Parameters
    ----------
    t : WinogradTransform
        The transforms (their placement and scaling matter: they are rounded to ``dtype``).
    dtype : torch dtype or str
        ``float16``, ``bfloat16``, ``float32`` (or a name in :data:`DTYPES`).
    dim : {1, 2}
        One tile ``d`` of ``n`` (or ``n x n``) inputs and a filter of ``r`` (``r x r``) taps.
    trials : int
        Number of random tiles; ``g`` and ``d`` are standard normal, drawn in float64 from
        ``torch.Generator().manual_seed(seed)`` and rounded to ``dtype``.
    seed : int
    filter_transform : {'float64', 'dtype'}
        'float64': ``U = G g G^T`` is computed in float64 and rounded once (weights are
        transformed offline); 'dtype': it is computed in ``dtype`` too.
    device : optional
        Where to compute (default CPU). Runs with one torch thread (restored afterwards).

    Returns
    -------
    ErrorReport

    Notes
    -----
    The reference is the float64 correlation of the *rounded* ``g`` and ``d``, so only the
    algorithm's rounding is measured. Winograd: ``V = B^T d B``, ``M = U * V``,
    ``Y = A^T M A`` in ``dtype`` (1D: ``B^T d``, ``(G g) * .``, ``A^T .``) with
    :func:`lowp_matmul`; direct: ``y_ij = sum_ab g_ab d_{i+a, j+b}`` summed sequentially in
    ``dtype``. Relative errors are per tile, in the Euclidean norm.

    Examples
    --------
    ``F(4 x 4, 3 x 3)`` in float16 loses accuracy against direct convolution in float16;
    larger tiles lose more:

    >>> from sciconv.winograd import balance, transforms, winograd_error
    >>> rep = winograd_error(balance(transforms(4, 3)), "float16", dim=2, trials=200, seed=0)
    >>> rep.dtype, rep.trials, rep.overflows
    ('float16', 200, 0)
    >>> bool(rep.mean > rep.direct_mean)
    True
    >>> big = winograd_error(balance(transforms(6, 3)), "float16", dim=2, trials=200, seed=0)
    >>> bool(big.mean > rep.mean)
    True
    """
    with single_thread():
        return _winograd_error(t, dtype, dim, trials, seed, filter_transform, device)


def _winograd_error(
    t: WinogradTransform,
    dtype: Any,
    dim: int,
    trials: int,
    seed: int,
    filter_transform: str,
    device: torch.device | str | None,
) -> ErrorReport:
    if not isinstance(t, WinogradTransform):
        raise TypeError(f"t must be a WinogradTransform, got {describe(t)}")
    dt = as_dtype(dtype)
    if dim not in (1, 2):
        raise ValueError(f"dim must be 1 or 2, got {dim!r}")
    trials = check_positive_int("trials", trials)
    check_choice("filter_transform", filter_transform, ("float64", "dtype"))
    m, r, n = t.m, t.r, t.n
    gen = torch.Generator().manual_seed(int(seed))
    gshape, dshape = (
        ((trials, r, 1), (trials, n, 1)) if dim == 1 else ((trials, r, r), (trials, n, n))
    )
    g = torch.randn(gshape, generator=gen, dtype=torch.float64).to(dt).to(device)
    d = torch.randn(dshape, generator=gen, dtype=torch.float64).to(dt).to(device)
    g64, d64 = g.double(), d.double()
    AT, G, BT = t.torch(torch.float64, device)
    ATl, Gl, BTl = AT.to(dt), G.to(dt), BT.to(dt)

    def nest(X: torch.Tensor, lhs: torch.Tensor, lowp: bool) -> torch.Tensor:
        mm = lowp_matmul if lowp else (lambda a, x: a @ x)
        Y = mm(lhs, X)
        return Y if dim == 1 else mm(lhs, Y.transpose(-1, -2)).transpose(-1, -2)

    U = nest(g64, G, False).to(dt) if filter_transform == "float64" else nest(g, Gl, True)
    Y = nest(U * nest(d, BTl, True), ATl, True)
    # direct correlation (float64 reference, and sequential in dtype)
    ref = torch.zeros((trials, m, 1 if dim == 1 else m), dtype=torch.float64, device=d.device)
    acc = None
    taps = [(a, 0) for a in range(r)] if dim == 1 else [(a, b) for a in range(r) for b in range(r)]
    w = 1 if dim == 1 else m
    for a, b in taps:
        ref = ref + g64[:, a, b, None, None] * d64[:, a : a + m, b : b + w]
        term = g[:, a, b, None, None] * d[:, a : a + m, b : b + w]
        acc = term if acc is None else acc + term
    dims = (1, 2)
    e_w, e_d = _rel(Y, ref, dims), _rel(acc, ref, dims)
    bad = ~torch.isfinite(e_w)
    e_w = torch.where(bad, torch.full_like(e_w, float("inf")), e_w)
    name = {torch.float16: "float16", torch.bfloat16: "bfloat16", torch.float32: "float32"}.get(
        dt, str(dt).replace("torch.", "")
    )
    return ErrorReport(
        name,
        dim,
        trials,
        float(e_w.mean()),
        float(e_w.max()),
        float(e_d.mean()),
        float(e_d.max()),
        int(bad.sum()),
    )
