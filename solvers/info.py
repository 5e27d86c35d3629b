"""What an iteration reports, and the argument adapters shared by the solvers."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from sciconv.validation import check_positive_int, describe

__all__ = [
    "SolveInfo",
    "as_map",
    "as_matvec",
    "check_rhs",
    "check_tolerances",
    "require_linear",
]

#: Reasons that count as convergence.
CONVERGED = ("rtol", "atol")


@dataclass
class SolveInfo:
    """The outcome of a solve (the ``info`` of ``(x, info)``).

    Attributes
    ----------
    reason : str
        ``'rtol'``/``'atol'`` (converged), ``'maxiter'``, ``'indefinite'`` (a direction with
        :math:`p^TAp \\le 0`), ``'nan'`` (a non-finite value, e.g. from the map),
        ``'breakdown'`` (a direction in the span of the previous ones, or stagnation), or a
        PETSc converged reason name in lower case.
    iterations : int
        Iterations done.
    residuals : list of float
        :math:`\\|r_k\\|_2` for ``k = 0..iterations`` (recursive residuals of the iteration).
    message : str
        Human-readable explanation (empty when converged).
    extra : dict
        Solver-specific figures (e.g. ``setup_s``, ``solve_s``, PETSc ``ksp_reason``).

    Notes
    -----
    ``int(info)`` follows SciPy's convention: 0 converged, the iteration count when the
    iteration limit was hit, and -1 for a breakdown. ``info`` compares with integers as that
    code (``info == 0``, ``info > 0``), and is falsy exactly when the solve converged, so
    SciPy's ``if info: ...`` reads as "did not converge" here too.

    Examples
    --------
    >>> info = SolveInfo("rtol", 3, [1.0, 0.1, 0.01, 1e-6])
    >>> info.converged, int(info), info == 0
    (True, 0, True)
    >>> SolveInfo("maxiter", 50).code, SolveInfo("breakdown", 4, message="stagnation").code
    (50, -1)

    Every solver of :mod:`solvers` returns one (here: CG on a 1D Laplacian):

    >>> import scipy.sparse as sp
    >>> from solvers import cg
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(8, 8), format="csr")
    >>> b = np.random.default_rng(0).standard_normal(8)
    >>> x, info = cg(A, b, rtol=1e-10)
    >>> info.reason, info.iterations, len(info.residuals) == info.iterations + 1
    ('rtol', 8, True)
    """

    reason: str
    iterations: int
    residuals: list[float] = field(default_factory=list)
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        """True when the stopping test was met (``reason`` is ``'rtol'`` or ``'atol'``)."""
        return self.reason in CONVERGED

    @property
    def code(self) -> int:
        """SciPy's integer ``info``: 0, the iteration count (limit reached) or -1."""
        if self.converged:
            return 0
        return max(self.iterations, 1) if self.reason == "maxiter" else -1

    def __int__(self) -> int:
        return self.code

    def __index__(self) -> int:
        return self.code

    def __bool__(self) -> bool:
        """False exactly when the solve converged, as SciPy's ``info`` (0) is."""
        return self.code != 0

    def _int(self, other: object) -> int | None:
        ok = isinstance(other, int | np.integer) and not isinstance(other, bool)
        return int(other) if ok else None

    def __lt__(self, other: object) -> bool:
        o = self._int(other)
        return NotImplemented if o is None else self.code < o

    def __le__(self, other: object) -> bool:
        o = self._int(other)
        return NotImplemented if o is None else self.code <= o

    def __gt__(self, other: object) -> bool:
        o = self._int(other)
        return NotImplemented if o is None else self.code > o

    def __ge__(self, other: object) -> bool:
        o = self._int(other)
        return NotImplemented if o is None else self.code >= o

    def __eq__(self, other: object) -> bool:
        """Field by field against a SolveInfo; against an int, SciPy's code (``info == 0``)."""
        if isinstance(other, int | np.integer) and not isinstance(other, bool):
            return self.code == int(other)
        if not isinstance(other, SolveInfo):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def _fields(self) -> tuple[Any, ...]:
        return (self.reason, self.iterations, list(self.residuals), self.message, self.extra)


def as_matvec(A: Any, n: int | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """``x -> A x`` for a dense/sparse matrix, a LinearOperator, a ConvOperator or a callable."""
    if sp.issparse(A) or isinstance(A, np.ndarray):
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"A must be a square matrix, got {describe(A)}")
        return lambda x: A @ x
    if hasattr(A, "matvec") and hasattr(A, "shape"):
        if A.shape[0] != A.shape[1]:
            raise ValueError(f"A must be square, got shape {tuple(A.shape)}")
        return lambda x: np.asarray(A.matvec(x)).reshape(-1)
    if callable(A):
        return lambda x: np.asarray(A(x)).reshape(-1)
    raise TypeError(
        f"A must be a matrix, a LinearOperator, a ConvOperator or a callable, got {describe(A)}"
    )


def as_map(M: Any, n: int | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """``r -> M r`` for a preconditioner given as SciPy accepts it (or a plain callable).

    With ``n``, a matrix ``M`` must be ``n x n`` and every output is checked to have ``n``
    entries (``ValueError`` naming ``M`` otherwise).

    Examples
    --------
    >>> as_map(lambda r: np.ones(7), 20)(np.ones(20))
    Traceback (most recent call last):
    ...
    ValueError: M must return a vector of 20 entries (one per row of A), got 7 entries
    """
    if M is None:
        return lambda r: r.copy()
    if sp.issparse(M) or isinstance(M, np.ndarray):
        if n is not None and (M.ndim != 2 or M.shape != (n, n)):
            raise ValueError(f"M must be a {n} x {n} matrix to match A, got {describe(M)}")
        return lambda r: M @ r
    if hasattr(M, "matvec"):
        fmap = lambda r: np.asarray(M.matvec(r)).reshape(-1)  # noqa: E731
    elif callable(M):
        fmap = lambda r: np.asarray(M(r), dtype=float).reshape(-1)  # noqa: E731
    else:
        raise TypeError(
            f"M must be None, a matrix, a LinearOperator or a callable, got {describe(M)}"
        )
    if n is None:
        return fmap

    def checked(r: np.ndarray) -> np.ndarray:
        z = fmap(r)
        if z.size != n:
            raise ValueError(
                f"M must return a vector of {n} entries (one per row of A), got {z.size} entries"
            )
        return z

    return checked


def check_tolerances(rtol: Any, atol: Any, maxiter: Any = None) -> tuple[float, float, int | None]:
    """Validate a solver's stopping test: ``rtol``, ``atol`` finite numbers ``>= 0``.

    ``maxiter`` is ``None`` or an integer ``>= 0``. Every solver of :mod:`solvers` (NumPy and
    PETSc) calls this before doing anything, so that ``rtol=-1`` (PETSc's "default"), ``nan``
    (never met) or ``atol=inf`` (met by ``x = 0``) is refused by name, never reinterpreted.

    Returns
    -------
    rtol, atol : float
    maxiter : int or None

    Examples
    --------
    >>> check_tolerances(1e-8, 0, 50)
    (1e-08, 0.0, 50)
    >>> check_tolerances(-1.0, 0.0)
    Traceback (most recent call last):
    ...
    ValueError: rtol must be a finite number >= 0, got -1.0
    >>> check_tolerances(1e-5, float("inf"))
    Traceback (most recent call last):
    ...
    ValueError: atol must be a finite number >= 0, got inf
    """
    out = []
    for name, value in (("rtol", rtol), ("atol", atol)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a finite number >= 0, got {describe(value)}")
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {float(value)!r}")
        out.append(float(value))
    if maxiter is not None:
        maxiter = check_positive_int("maxiter", maxiter, 0)
    return out[0], out[1], maxiter


def check_rhs(A: Any, b: Any, x0: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``b`` and ``x0`` against ``A``'s shape; return float64 copies."""
    for name, v in (("b", b), ("x0", x0)):
        if v is not None and np.iscomplexobj(v):
            raise TypeError(
                f"{name} is complex ({np.asarray(v).dtype}) but the solvers of this package are "
                "real: solve the real and imaginary parts separately"
            )
    b = np.asarray(b, dtype=float).reshape(-1)
    n = getattr(A, "shape", (b.size,))[0]
    if b.size != n:
        raise ValueError(f"b must have {n} entries to match A of shape {A.shape}, got {b.size}")
    if not np.all(np.isfinite(b)):
        raise ValueError("b must be finite, got NaN or infinity")
    x = np.zeros(n) if x0 is None else np.array(x0, dtype=float).reshape(-1)
    if x.size != n:
        raise ValueError(f"x0 must have {n} entries, got {describe(x0)}")
    return b, x


def require_linear(M: Any, solver: str) -> None:
    """Raise ``TypeError`` when ``M`` declares itself nonlinear (``M.linear is False``).

    PCG and the PETSc Krylov baselines assume a fixed, linear, symmetric preconditioner; a
    map with a network inside the cycle is nonlinear and belongs to a flexible method
    (:func:`solvers.dcdm.dcdm`, the DCDM KSP, PETSc's FCG).

    Examples
    --------
    >>> class Net:
    ...     linear = False
    >>> require_linear(Net(), "cg")
    Traceback (most recent call last):
    ...
    TypeError: cg needs a linear preconditioner, but M=...Net... is nonlinear...
    """
    if not getattr(M, "linear", True):
        raise TypeError(
            f"{solver} needs a linear preconditioner, but M={M!r} is nonlinear (a network "
            "inside the cycle); use solvers.dcdm (flexible) instead"
        )
