"""The two-level map: smoother, optional inner step, coarse correction, smoother.

No torch here: the classical maps (``coarse``, ``smoothed``) and the learned one (whose
network only runs at set-up) are :class:`TwoLevelMap` objects and so
:class:`scipy.sparse.linalg.LinearOperator` s; a network step inside the cycle (the
``network+coarse`` map of :mod:`solvers.network.precond`) makes it nonlinear.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from pyamg.relaxation.relaxation import gauss_seidel

from sciconv.validation import check_choice, check_positive_int, describe

from .coarse import CoarseCorrection

__all__ = ["SMOOTHERS", "InnerStep", "TwoLevelMap"]

#: Smoothing schedules of :class:`TwoLevelMap`.
SMOOTHERS = ("symmetric", "forward-backward")
#: ``step(x, r)``: improve ``x`` towards ``A^{-1} r`` in place (e.g. a line-searched network step).
InnerStep = Callable[[np.ndarray, np.ndarray], None]


class TwoLevelMap(spla.LinearOperator):
    r"""``M r``: symmetric Gauss-Seidel, (inner step), coarse correction, symmetric Gauss-Seidel.

    Parameters
    ----------
    A : scipy sparse matrix, shape (n, n)
        Symmetric positive (semi)definite.
    coarse : CoarseCorrection or None
        The coarse correction (None: smoothing only).
    sweeps : int
        Gauss-Seidel sweeps before and after (0: none).
    smoother : {'symmetric', 'forward-backward'}
        ``'symmetric'``: each of the ``sweeps`` is a forward then a backward Gauss-Seidel
        sweep, before and after; ``'forward-backward'``: forward sweeps before, backward
        sweeps after (half the smoothing work; the map stays symmetric).
    inner : callable, optional
        ``inner(x, r)`` updates ``x`` in place between the first smoothing and the coarse
        correction. Given one, the map is nonlinear (:attr:`linear` is False).

    Notes
    -----
    With :math:`S_f = (D+L)^{-1}` and :math:`S_b = (D+U)^{-1} = S_f^T` the forward and
    backward Gauss-Seidel sweeps and :math:`\Pi = PA_c^{-1}P^TA`, the map without ``inner``
    smooths, corrects on the coarse space and smooths:

    .. math:: x_1 = S_1 r, \quad x_2 = x_1 + PA_c^{-1}P^T(r - Ax_1), \quad
              x_3 = x_2 + S_2(r - Ax_2),

    so :math:`I - MA = (I - S_2A)(I - \Pi)(I - S_1A)`. The A-adjoint of
    :math:`I - S_fA` is :math:`I - S_bA`; with :math:`I - S_1A = (I-S_bA)(I-S_fA) = I - S_2A`
    (``'symmetric'``) or :math:`S_1 = S_f, S_2 = S_b` (``'forward-backward'``) the error
    propagation is A-self-adjoint, so :math:`M` is symmetric; it is positive definite when
    the smoother converges (:math:`\|I - S_fA\|_A < 1`, true for Gauss-Seidel on an SPD
    matrix). Each stage can only
    lower the A-norm error: Gauss-Seidel is an A-norm contraction and the coarse step an
    A-orthogonal projection (exact coarse solve). The map is linear, so plain PCG
    (``scipy.sparse.linalg.cg(A, b, M=map)``) and DCDM both take it.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from solvers.coarse import CoarseCorrection
    >>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(16, 16))
    >>> A = sp.csr_matrix(sp.kron(T, sp.eye(16)) + sp.kron(sp.eye(16), T))
    >>> M = TwoLevelMap(A, CoarseCorrection(A, np.ones((16, 16), bool), block=4))
    >>> x, info = sp.linalg.cg(A, np.ones(256), M=M, rtol=1e-8)
    >>> info, M.linear, M.shape
    (0, True, (256, 256))
    """

    def __init__(
        self,
        A: Any,
        coarse: CoarseCorrection | None = None,
        *,
        sweeps: int = 1,
        smoother: str = "symmetric",
        inner: InnerStep | None = None,
    ) -> None:
        if not sp.issparse(A):
            raise TypeError(f"A must be a scipy sparse matrix, got {describe(A)}")
        self.A = sp.csr_matrix(A, dtype=float)
        n = self.A.shape[0]
        if self.A.shape != (n, n):
            raise ValueError(f"A must be square, got shape {self.A.shape}")
        if coarse is not None and not isinstance(coarse, CoarseCorrection):
            raise TypeError(f"coarse must be a CoarseCorrection or None, got {describe(coarse)}")
        if coarse is not None and coarse.A.shape != self.A.shape:
            raise ValueError(f"coarse was built for shape {coarse.A.shape}, A has {self.A.shape}")
        if inner is not None and not callable(inner):
            raise TypeError(f"inner must be callable as inner(x, r), got {describe(inner)}")
        self.coarse = coarse
        self.sweeps = check_positive_int("sweeps", sweeps, 0)
        self.smoother = check_choice("smoother", smoother, SMOOTHERS)
        self.inner = inner
        self.calls = 0
        super().__init__(np.dtype(float), (n, n))

    @property
    def linear(self) -> bool:
        """True when the map is linear in ``r`` (no inner step)."""
        return self.inner is None

    @property
    def n(self) -> int:
        """Number of unknowns."""
        return self.shape[0]

    def flops(self) -> int:
        r"""Floating-point operations of one application without the inner step: each
        symmetric Gauss-Seidel sweep is a forward and a backward sweep of about
        :math:`2\,\mathrm{nnz}(A)` each, plus the coarse correction's
        (:meth:`CoarseCorrection.flops`)."""
        per_side = 2 if self.smoother == "symmetric" else 1
        sweeps = 2 * self.sweeps * per_side * (2 * self.A.nnz)
        return sweeps + (self.coarse.flops() if self.coarse is not None else 0)

    def smooth(self, x: np.ndarray, r: np.ndarray, post: bool = False) -> None:
        """The pre- (or ``post``-) smoothing sweeps on ``A x = r``, updating ``x`` in place."""
        if self.sweeps:
            sweep = "symmetric"
            if self.smoother == "forward-backward":
                sweep = "backward" if post else "forward"
            gauss_seidel(self.A, x, r, iterations=self.sweeps, sweep=sweep)

    def apply(self, r: np.ndarray) -> np.ndarray:
        """The map applied to the vector ``r`` (the same as ``self(r)`` and ``self @ r``)."""
        self.calls += 1
        r = np.asarray(r, dtype=float).reshape(-1)
        if r.size != self.n:
            raise ValueError(f"r must have {self.n} entries, got {r.size}")
        x = np.zeros(self.n)
        self.smooth(x, r)
        if self.inner is not None:
            self.inner(x, r)
        if self.coarse is not None:
            self.coarse.correct(x, r)
        self.smooth(x, r, post=True)
        return x

    def _matvec(self, r: np.ndarray) -> np.ndarray:
        return self.apply(r).reshape(np.shape(r))

    def _rmatvec(self, r: np.ndarray) -> np.ndarray:
        if not self.linear:
            raise TypeError("the map has a nonlinear inner step: it has no adjoint")
        return self._matvec(r)

    def __call__(self, r: np.ndarray) -> np.ndarray:  # type: ignore[override]
        return self.apply(r)

    def __repr__(self) -> str:
        kind = "linear" if self.linear else "nonlinear"
        cs = "no coarse" if self.coarse is None else f"{self.coarse.size} coarse unknowns"
        return f"<TwoLevelMap {self.n}x{self.n}, {kind}, sweeps={self.sweeps}, {cs}>"
