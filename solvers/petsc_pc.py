"""``NetworkPC``: any preconditioning map (a network, a multigrid cycle) as a PETSc PC python type.

``-pc_type python -pc_python_type solvers.petsc.NetworkPC`` with ``-pc_network_map NAME``
(a classical map of :mod:`solvers.maps`, e.g. ``jacobi:4`` or ``pyamg``), ``-pc_network MODEL``
(a pretrained network, e.g. ``poisson2d``, after ``set_grid(labels, exterior)``), or
``pc.getPythonContext().set_map(f)`` for any learned one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from .maps import make_map

__all__ = ["NetworkPC", "petsc_to_scipy"]


def petsc_module() -> Any:
    """``solvers.petsc.petsc_module()``, imported late: ``solvers.petsc`` re-exports this module."""
    from .petsc import petsc_module as load

    return load()


def petsc_to_scipy(mat: Any) -> sp.csr_matrix:
    """A serial PETSc Mat (AIJ, or a shell whose operator has ``to_sparse``) as scipy CSR."""
    if mat.getType() == "python":
        ctx = mat.getPythonContext()
        op = getattr(ctx, "op", None)
        if op is None or not hasattr(op, "to_sparse"):
            raise TypeError("the shell matrix's operator has no to_sparse(); give a map instead")
        return sp.csr_matrix(op.to_sparse())
    indptr, indices, data = mat.getValuesCSR()
    return sp.csr_matrix((data, indices, indptr), shape=mat.getSize())


class NetworkPC:
    r"""PC python context applying :math:`y = f(x/\|x\|)` (or :math:`f(x)`), serial.

    Parameters
    ----------
    map : callable, optional
        numpy vector to numpy vector, approximating :math:`A^{-1}`.
    spec : str, optional
        Name of a classical map built from the operator in ``setUp``
        (option ``-pc_network_map``); used when ``map`` is None.
    normalize : bool
        Feed the map unit vectors, as a network is trained (option ``-pc_network_normalize``).

    Notes
    -----
    With ``normalize`` the output norm no longer tracks :math:`\|r\|`, so a KSP monitoring
    the *preconditioned* residual norm :math:`\|f(r/\|r\|)\|` sees a quantity that does not go
    to zero and never stops. Use it with the unpreconditioned norm:
    ``-ksp_norm_type unpreconditioned`` (the :class:`~solvers.petsc.DCDM` KSP does this by
    default). Flexible CG (``-ksp_type fcg -ksp_fcg_mmax 2 -ksp_fcg_truncation_type
    standard``) is invariant to the scale of the preconditioned vector, so it runs DCDM with
    :math:`k = 2` up to residual recomputation.

    ``setUp`` builds a named map (once per operator change) and ``reset`` drops it;
    :attr:`calls` counts the protocol calls.
    """

    def __init__(
        self,
        map: Callable[[np.ndarray], np.ndarray] | None = None,  # noqa: A002 - the natural name
        spec: str | None = None,
        normalize: bool = True,
    ) -> None:
        self.user_map = map
        self.spec = spec
        self.normalize = bool(normalize)
        self.fmap: Callable[[np.ndarray], np.ndarray] | None = map
        self.calls: Counter[str] = Counter()
        self.grid: tuple[Any, int | None] | None = None

    def set_grid(self, labels: Any, exterior: int | None = None) -> None:
        """The grid labels (and exterior label) a ``-pc_network MODEL`` network needs."""
        self.grid = (np.asarray(labels), exterior)

    def set_map(self, fmap: Callable[[np.ndarray], np.ndarray]) -> None:
        """Use ``fmap`` from now on (e.g. a trained network wrapped to numpy)."""
        self.user_map = self.fmap = fmap

    # ------------------------------------------------------------------ protocol
    def create(self, pc: Any) -> None:
        self.calls["create"] += 1

    def setFromOptions(self, pc: Any) -> None:  # noqa: N802 - PETSc protocol
        self.calls["setFromOptions"] += 1
        opts = petsc_module().Options(pc.getOptionsPrefix())
        spec = opts.getString("pc_network_map", self.spec or "")
        model = opts.getString("pc_network", "")
        spec = f"network:{model}" if model else spec
        if spec and spec != self.spec:
            self.spec = spec
            self.fmap = self.user_map
        self.normalize = opts.getBool("pc_network_normalize", self.normalize)

    def setUp(self, pc: Any) -> None:  # noqa: N802 - PETSc protocol
        self.calls["setUp"] += 1
        if pc.getComm().getSize() > 1:
            raise NotImplementedError(
                "NetworkPC applies its map to whole vectors and runs on one rank; use PETSc's "
                "own PCs (e.g. -pc_type gamg) with the DCDM KSP on several ranks"
            )
        if self.user_map is not None:
            self.fmap = self.user_map
            return
        if not self.spec:
            raise ValueError(
                "NetworkPC has no map: call set_map(f) or give -pc_network_map NAME "
                "(identity, jacobi:K, pyamg:K, exact)"
            )
        _, P = pc.getOperators()
        labels, exterior = self.grid if self.grid is not None else (None, None)
        if self.spec.startswith("network") and labels is None:
            raise ValueError(
                f"-pc_network {self.spec.partition(':')[2] or 'poisson2d'} needs the grid: call "
                "pc.getPythonContext().set_grid(labels, exterior) before KSPSetUp"
            )
        self.fmap = make_map(self.spec, petsc_to_scipy(P), labels=labels, exterior=exterior)

    def reset(self, pc: Any) -> None:
        self.calls["reset"] += 1
        self.fmap = self.user_map

    def apply(self, pc: Any, x: Any, y: Any) -> None:
        self.calls["apply"] += 1
        if self.fmap is None:
            self.setUp(pc)
        xa = np.array(x.getArray(readonly=True))
        if self.normalize:
            nrm = float(np.linalg.norm(xa))
            xa = xa / nrm if nrm > 0 else xa
        y.setArray(np.asarray(self.fmap(xa), dtype=float).reshape(-1))

    def view(self, pc: Any, viewer: Any) -> None:
        what = self.spec if self.user_map is None else getattr(self.user_map, "__name__", "map")
        viewer.printfASCII(f"  NetworkPC: map {what}, normalize={self.normalize}\n")
