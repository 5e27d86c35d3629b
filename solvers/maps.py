"""Classical preconditioning maps by name: stand-ins for a learned map in DCDM and NetworkPC."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from sciconv.validation import check_choice, check_positive_int, describe

from .amg import pyamg_hierarchy

__all__ = ["MAPS", "grid_spec", "make_map", "pyamg_hierarchy"]

#: Names accepted by :func:`make_map` (``NAME`` or ``NAME:SWEEPS``; ``network:MODEL``;
#: ``coarse:BLOCK``; ``network+coarse:MODEL:BLOCK``).
MAPS = ("identity", "jacobi", "pyamg", "exact", "network", "coarse", "network+coarse")

#: Default block side of the coarse correction (``coarse`` and ``network+coarse`` maps).
COARSE_BLOCK = 4


def make_map(
    spec: str,
    A: Any,
    *,
    omega: float = 2.0 / 3.0,
    labels: Any = None,
    exterior: int | None = None,
) -> Callable[[np.ndarray], np.ndarray]:
    r"""Build the map ``spec`` for the sparse SPD (or SPSD) matrix ``A``.

    Parameters
    ----------
    spec : str
        ``'identity'``; ``'jacobi:K'`` (K damped-Jacobi sweeps from zero, default 4);
        ``'pyamg:K'`` (K smoothed-aggregation V-cycles from zero, default 1); ``'exact'``
        (a sparse LU solve, for tests); ``'network:MODEL'`` (the pretrained network
        ``MODEL`` of :mod:`solvers.network.registry`, e.g. ``network:poisson2d``, between
        symmetric Gauss-Seidel sweeps: :class:`solvers.network.precond.NetworkMap`);
        ``'coarse:B'`` (a symmetric Gauss-Seidel sweep, a two-level correction on the
        fluid pieces of B×B(×B) grid blocks, default B = 4, and a sweep: no network, see
        :class:`solvers.coarse.CoarseCorrection`); ``'network+coarse:MODEL:B'`` (sweep,
        network step, coarse correction, sweep; MODEL defaults to ``poisson{dim}d-coarse``,
        the network trained as the coarse correction's partner, when shipped).
    A : scipy sparse matrix
    omega : float
        Jacobi damping.
    labels : array_like of int, optional
        Cell labels of the grid (needed by ``network``, ``coarse`` and ``network+coarse``;
        FLUID cells are A's rows).
    exterior : int, optional
        Label code outside the grid (``network``, ``network+coarse``).

    Notes
    -----
    K Jacobi sweeps from :math:`q_0 = 0` give
    :math:`q = \omega\sum_{j<K}(I-\omega D^{-1}A)^j D^{-1} r`, a symmetric polynomial
    preconditioner, positive definite for :math:`0<\omega\lambda_{\max}(D^{-1}A)<2`. A V-cycle
    with symmetric smoothing is symmetric positive definite as well. On a singular (pure
    Neumann) matrix the maps are meant for inputs in :math:`\mathrm{range}(A)`: the V-cycle's
    coarse pseudo-inverse may amplify a null-space component of an inconsistent input without
    bound (project the input, or pass ``nullspace`` to :func:`solvers.dcdm.dcdm`).
    """
    if not isinstance(spec, str):
        raise TypeError(f"spec must be a string like 'jacobi:4', got {describe(spec)}")
    name, _, count = spec.partition(":")
    check_choice("spec", name, MAPS)
    if name in ("network", "coarse", "network+coarse"):
        return _grid_map(spec, A, labels, exterior)
    sweeps = check_positive_int("sweeps", int(count)) if count else None
    if name == "identity":
        return lambda r: np.array(r, dtype=float)
    A = sp.csr_matrix(A)
    if name == "jacobi":
        dinv = omega / A.diagonal()
        k = sweeps or 4

        def jacobi(r: np.ndarray) -> np.ndarray:
            q = dinv * r
            for _ in range(k - 1):
                q = q + dinv * (r - A @ q)
            return q

        return jacobi
    if name == "pyamg":
        ml = pyamg_hierarchy(A)
        k = sweeps or 1
        return lambda r: ml.solve(r, x0=np.zeros_like(r), maxiter=k, tol=1e-300, cycle="V")
    lu = spla.splu(A.tocsc())
    return lambda r: lu.solve(np.asarray(r, dtype=float))


def _grid_map(
    spec: str, A: Any, labels: Any, exterior: int | None
) -> Callable[[np.ndarray], np.ndarray]:
    """The maps that need the grid: ``network:M``, ``coarse:B``, ``network+coarse:M:B``."""
    from .network.precond import NetworkMap
    from .network.registry import load_pretrained

    if labels is None:
        raise ValueError(f"spec {spec!r} needs labels= (the grid whose FLUID cells are A's rows)")
    name, model, block = grid_spec(spec, np.ndim(labels))
    if name == "coarse":
        return NetworkMap(None, labels, A=A, mode="smoother", coarse=block)
    return NetworkMap(load_pretrained(model), labels, exterior=exterior, A=A, coarse=block)


def grid_spec(spec: str, ndim: int) -> tuple[str, str | None, int | None]:
    """``(name, model, block)`` of a grid map spec, defaults filled in.

    ``network[:M]`` -> ``('network', M or 'poisson2d', None)``; ``coarse[:B]`` ->
    ``('coarse', None, B)``; ``network+coarse[:M[:B]]`` -> ``('network+coarse', M, B)`` with M
    defaulting to the shipped ``poisson{ndim}d-coarse`` (else ``poisson{ndim}d``) and B to
    :data:`COARSE_BLOCK`. The one parser behind :func:`make_map` and ``NetworkPC``'s halo path.
    """
    from .network.registry import available

    name, _, rest = spec.partition(":")
    if name == "coarse":
        return name, None, _block(spec, rest)
    model, _, block_text = rest.partition(":")
    if name == "network":
        return name, model or "poisson2d", None
    if name != "network+coarse":
        raise ValueError(f"spec {spec!r} is not a grid map (network, coarse, network+coarse)")
    if not model:
        model = f"poisson{ndim}d-coarse"
        model = model if model in available() else f"poisson{ndim}d"
    return name, model, _block(spec, block_text)


def _block(spec: str, text: str) -> int:
    """The block side written in ``spec`` (default :data:`COARSE_BLOCK`)."""
    if not text:
        return COARSE_BLOCK
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"spec {spec!r}: the block side must be an integer >= 1, got {text!r}")
    return int(text)
