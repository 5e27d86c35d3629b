"""Preconditioning maps by name: the factory at the top of the serial solver stack.

Linear maps (``identity``, ``jacobi``, ``pyamg``, ``exact``, ``coarse``, ``smoothed``,
``learned``) are :class:`scipy.sparse.linalg.LinearOperator` s, so SciPy's Krylov solvers,
:func:`solvers.krylov.cg` and DCDM all take them; the maps with a network inside the cycle
(``network``, ``network+coarse``) are nonlinear and say so (``.linear`` is False).

``solvers.network`` (torch code) is imported only when a map needs it: the classical maps
never go through it. (torch itself is still loaded by ``import sciconv``'s package init.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from sciconv.validation import check_choice, check_positive_int, describe

from .amg import pyamg_hierarchy
from .coarse import CoarseCorrection, block_aggregates, smoothed_prolongation
from .grid import (
    COARSE_BLOCK,
    FLUID,
    GRID_MAPS,
    check_labels,
    exterior_label,
    parse_grid_spec,
)
from .stencil import StencilGeometry
from .twolevel import TwoLevelMap

__all__ = ["MAPS", "FunctionMap", "check_spec", "grid_spec", "make_map", "pyamg_hierarchy"]

#: Names accepted by :func:`make_map` (``NAME`` or ``NAME:SWEEPS``; ``network:MODEL``;
#: ``coarse:BLOCK``; ``smoothed:BLOCK``; ``learned:MODEL``; ``network+coarse:MODEL:BLOCK``).
MAPS = (
    "identity",
    "jacobi",
    "pyamg",
    "exact",
    "network",
    "coarse",
    "smoothed",
    "learned",
    "network+coarse",
)
#: The damping of the classical smoothed prolongator :math:`P = (I - \omega D^{-1}A)P_0`.
SA_OMEGA = 2.0 / 3.0


class FunctionMap(spla.LinearOperator):
    """A linear map given by a function of one vector, as a symmetric ``LinearOperator``.

    Parameters
    ----------
    fn : callable
        ``fn(r) -> q`` on flat float64 vectors; must be linear and symmetric.
    n : int
        Number of unknowns.
    name : str
        Shown by ``repr``.

    Examples
    --------
    >>> M = FunctionMap(lambda r: 2.0 * r, 3, "twice")
    >>> M @ np.ones(3), M.linear
    (array([2., 2., 2.]), True)
    """

    linear = True

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], n: int, name: str) -> None:
        self.fn, self.name, self.calls = fn, name, 0
        super().__init__(np.dtype(float), (n, n))

    def _matvec(self, r: np.ndarray) -> np.ndarray:
        self.calls += 1
        return np.asarray(self.fn(np.asarray(r, dtype=float).reshape(-1))).reshape(np.shape(r))

    def _rmatvec(self, r: np.ndarray) -> np.ndarray:
        return self._matvec(r)

    def __call__(self, r: np.ndarray) -> np.ndarray:  # type: ignore[override]
        return self._matvec(np.asarray(r, dtype=float).reshape(-1))

    def __repr__(self) -> str:
        return f"<FunctionMap {self.name} {self.shape[0]}x{self.shape[1]}>"


def check_spec(spec: Any, name: str = "spec") -> str:
    """Check the syntax of a map spec without building it (no matrix needed).

    ``name`` is how the caller calls the spec in errors (``'-pc_network_map'`` for the PETSc
    option), so a bad sweep count or block side is reported against what the user typed.

    Examples
    --------
    >>> check_spec("jacobi:4"), check_spec("network+coarse:poisson2d-coarse:8")
    ('jacobi:4', 'network+coarse:poisson2d-coarse:8')
    >>> check_spec("jacobi:abc", "-pc_network_map")
    Traceback (most recent call last):
    ...
    ValueError: -pc_network_map 'jacobi:abc': the sweep count must be an integer >= 1, got 'abc'
    """
    if not isinstance(spec, str):
        raise TypeError(f"{name} must be a string like 'jacobi:4', got {describe(spec)}")
    head, _, count = spec.partition(":")
    check_choice(name, head, MAPS)
    if head in GRID_MAPS:
        try:
            parse_grid_spec(spec)
        except ValueError as err:
            detail = str(err).removeprefix(f"spec {spec!r}: ")
            raise ValueError(f"{name} {spec!r}: {detail}") from None
    elif count and (not count.isdigit() or int(count) < 1):
        raise ValueError(f"{name} {spec!r}: the sweep count must be an integer >= 1, got {count!r}")
    return spec


def make_map(
    spec: str,
    A: Any,
    *,
    omega: float = 2.0 / 3.0,
    labels: Any = None,
    exterior: str | int | None = None,
) -> Any:
    r"""Build the map ``spec`` for the sparse SPD (or SPSD) matrix ``A``.

    Parameters
    ----------
    spec : str
        ``'identity'``; ``'jacobi:K'`` (K damped-Jacobi sweeps from zero, default 4);
        ``'pyamg:K'`` (K smoothed-aggregation V-cycles from zero, default 1); ``'exact'``
        (a sparse LU solve, for tests); ``'coarse:B'`` (a symmetric Gauss-Seidel sweep, a
        two-level correction on the fluid pieces of B×B(×B) grid blocks, default B = 4, and a
        sweep: :class:`~solvers.twolevel.TwoLevelMap`); ``'smoothed:B'`` (the same with the
        classical smoothed prolongator :math:`(I - \tfrac23 D^{-1}A)P_0`); ``'learned:MODEL'``
        (the same with a prolongator whose per-cell stencil a network predicts once from the
        matrix, :mod:`solvers.network.learned`; MODEL defaults to ``stencil{dim}d``);
        ``'network:MODEL'`` (the pretrained network between symmetric Gauss-Seidel sweeps,
        :class:`solvers.network.precond.NetworkMap`; nonlinear); ``'network+coarse:MODEL:B'``
        (sweep, network step, coarse correction, sweep; nonlinear; MODEL defaults to
        ``poisson{dim}d-coarse``).
    A : scipy sparse matrix
    omega : float
        Jacobi damping.
    labels : array_like of int, optional
        Cell labels of the grid (needed by the grid maps; FLUID cells are A's rows).
    exterior : {'air', 'solid'} or int, optional
        What lies outside the grid (``network``, ``network+coarse``), name or label code.

    Returns
    -------
    scipy.sparse.linalg.LinearOperator or NetworkMap
        Callable as ``M(r)``; the linear ones also as ``M @ r``.

    Notes
    -----
    K Jacobi sweeps from :math:`q_0 = 0` give
    :math:`q = \omega\sum_{j<K}(I-\omega D^{-1}A)^j D^{-1} r`, a symmetric polynomial
    preconditioner, positive definite for :math:`0<\omega\lambda_{\max}(D^{-1}A)<2`. A V-cycle
    and the two-level maps with symmetric smoothing are symmetric positive definite as well.
    On a singular (pure Neumann) matrix the maps are meant for inputs in
    :math:`\mathrm{range}(A)`: a coarse pseudo-inverse may amplify a null-space component of
    an inconsistent input without bound (project the input, or pass ``nullspace`` to
    :func:`solvers.dcdm.dcdm`).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(100, 100), format="csr")
    >>> M = make_map("pyamg", A)
    >>> x, info = sp.linalg.cg(A, np.ones(100), M=M, rtol=1e-10)
    >>> info, bool(np.allclose(A @ x, 1.0))
    (0, True)
    """
    name, _, count = check_spec(spec).partition(":")
    if not sp.issparse(A):
        raise TypeError(f"A must be a scipy sparse matrix, got {describe(A)}")
    A = sp.csr_matrix(A, dtype=float)
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be a square matrix, got {describe(A)}")
    if name in ("network", "coarse", "smoothed", "learned", "network+coarse"):
        return _grid_map(spec, A, labels, exterior)
    if count and name in ("identity", "exact"):
        raise ValueError(f"spec {spec!r}: {name!r} takes no count (use {name!r})")
    if count and not count.isdigit():
        raise ValueError(f"spec {spec!r}: the sweep count must be an integer >= 1, got {count!r}")
    if isinstance(omega, bool) or not isinstance(omega, (int, float)) or not 0 < omega < 2:
        raise ValueError(f"omega must be a number in (0, 2) (Jacobi damping), got {omega!r}")
    sweeps = check_positive_int("sweeps", int(count)) if count else None
    n = A.shape[0]
    if name == "identity":
        return FunctionMap(lambda r: np.array(r, dtype=float), n, spec)
    if name == "jacobi":
        diag = A.diagonal()
        if not np.all(np.isfinite(diag) & (diag != 0)):
            raise ValueError(f"spec {spec!r}: Jacobi needs a finite nonzero diagonal of A")
        dinv = omega / diag
        k = sweeps or 4

        def jacobi(r: np.ndarray) -> np.ndarray:
            q = dinv * r
            for _ in range(k - 1):
                q = q + dinv * (r - A @ q)
            return q

        return FunctionMap(jacobi, n, spec)
    if name == "pyamg":
        ml = pyamg_hierarchy(A)
        k = sweeps or 1
        return FunctionMap(
            lambda r: ml.solve(r, x0=np.zeros_like(r), maxiter=k, tol=1e-300, cycle="V"), n, spec
        )
    lu = spla.splu(A.tocsc())
    return FunctionMap(lambda r: lu.solve(np.asarray(r, dtype=float)), n, spec)


def _grid_map(spec: str, A: sp.csr_matrix, labels: Any, exterior: str | int | None) -> Any:
    """The maps that need the grid: coarse, smoothed, learned, network, network+coarse."""
    if labels is None:
        raise ValueError(f"spec {spec!r} needs labels= (the grid whose FLUID cells are A's rows)")
    labels = check_labels(labels)
    code = exterior_label(exterior)
    name, model, block = grid_spec(spec, labels.ndim)
    fluid = labels == FLUID
    if name in ("coarse", "smoothed"):
        if name == "coarse":
            return TwoLevelMap(A, CoarseCorrection(A, fluid, block=block))
        try:  # a 5/7-point grid stencil: the grid path of the learned map, weights w = omega
            geom = StencilGeometry.from_matrix(A, labels)
        except ValueError:
            geom = None
        # the grid path reads the Dirichlet excess from |a_ij|: K = omega D^-1 A needs a_ij <= 0
        if geom is not None and geom.nonpositive:
            agg = geom.block_aggregates(block)
            P = geom.prolongation(np.zeros(geom.neighbours.shape), SA_OMEGA, agg)
        else:
            agg = block_aggregates(A, fluid, block)
            P = smoothed_prolongation(A, agg, SA_OMEGA)
        cc = CoarseCorrection(A, fluid, block=block, aggregates=agg, prolongation=P)
        return TwoLevelMap(A, cc)
    from .network import learned, precond, registry  # torch: only for the network maps

    if name == "learned":
        return learned.learned_map(registry.load_pretrained(model), A, labels)
    coarse = None if name == "network" else block
    return precond.NetworkMap(
        registry.load_pretrained(model), labels, exterior=code, A=A, coarse=coarse
    )


def grid_spec(spec: str, ndim: int) -> tuple[str, str | None, int | None]:
    """``(name, model, block)`` of a grid map spec, defaults filled in.

    ``network[:M]`` -> ``('network', M or 'poisson{ndim}d', None)``; ``coarse[:B]`` /
    ``smoothed[:B]`` -> ``(name, None, B)``; ``learned[:M]`` -> ``('learned', M or
    'stencil{ndim}d', None)`` (the learned map uses 4×4(×4) blocks, as its network was
    trained); ``network+coarse[:M[:B]]`` -> ``('network+coarse', M, B)`` with M defaulting to
    ``poisson{ndim}d-coarse`` and B to :data:`~solvers.grid.COARSE_BLOCK`. The one parser
    behind :func:`make_map` and the PETSc map PC's halo path.

    Examples
    --------
    >>> grid_spec("coarse", 2)
    ('coarse', None, 4)
    >>> grid_spec("network+coarse", 3)
    ('network+coarse', 'poisson3d-coarse', 4)
    """
    name, model, block = parse_grid_spec(spec)
    if name in ("coarse", "smoothed"):
        return name, None, block or COARSE_BLOCK
    if name == "network":
        return name, model or f"poisson{ndim}d", None
    if name == "learned":
        return name, model or f"stencil{ndim}d", None
    return name, model or f"poisson{ndim}d-coarse", block or COARSE_BLOCK
