"""The one PyAMG hierarchy of :mod:`solvers`: the bottom layer of the serial solver stack."""

from __future__ import annotations

from typing import Any

import pyamg
import scipy.sparse as sp

__all__ = ["pyamg_hierarchy"]


def pyamg_hierarchy(A: Any) -> Any:
    """PyAMG smoothed-aggregation hierarchy used by every PyAMG path of :mod:`solvers`.

    Parameters
    ----------
    A : scipy sparse matrix
        Symmetric positive (semi)definite.

    Returns
    -------
    pyamg.multilevel.MultilevelSolver

    Notes
    -----
    The coarse pseudo-inverse gets a relative cutoff (1e-10) well above round-off: on a
    singular (pure Neumann) matrix the coarse null eigenvalue sits at about
    ``eps * ||A_c||``, right at scipy's default cutoff, and inverting it now and then (the
    set-up's spectral-radius estimate starts from a random vector) made the V-cycle
    unsymmetric.

    References
    ----------
    Vaněk, Mandel and Brezina, "Algebraic multigrid by smoothed aggregation for second and
    fourth order elliptic problems", Computing 56 (1996).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(50, 50), format="csr")
    >>> ml = pyamg_hierarchy(A)
    >>> len(ml.levels) >= 1
    True
    """
    return pyamg.smoothed_aggregation_solver(
        sp.csr_matrix(A), symmetry="symmetric", coarse_solver=("pinv", {"rtol": 1e-10})
    )
