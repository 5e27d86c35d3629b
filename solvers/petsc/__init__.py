"""PETSc plug-ins: operators as PETSc matrices, DCDM as a KSP, any map as a PC, one KSP driver.

:mod:`solvers.petsc._core` is the one door to PETSc (loader, communicators, CSR <-> AIJ, null
spaces, converged reasons, :func:`ksp_solve`); the other modules build on it:

* :mod:`~solvers.petsc.shell` -- :func:`as_petsc_mat`, a MATPYTHON shell of any operator;
* :mod:`~solvers.petsc.ksp` -- :class:`DCDM`, the KSP python type;
* :mod:`~solvers.petsc.pc` -- :class:`MapPC` (alias :data:`NetworkPC`), the PC python type;
* :mod:`~solvers.petsc.dmda` -- DMDA layouts, owned boxes, halo windows;
* :mod:`~solvers.petsc.gather`, :mod:`~solvers.petsc.halo`, :mod:`~solvers.petsc.coarse` --
  how a map meets a distributed vector (gather to rank 0; per-rank network on a halo-grown
  box; the distributed two-level coarse correction).
* :mod:`~solvers.petsc.options` -- the options database: each solve's documented prefix,
  un-prefixed options fanned out to a run's solves, the plug-ins' ``-help`` lines.

PETSc's loader finds the plug-ins by their dotted paths: ``-ksp_type python
-ksp_python_type solvers.petsc.DCDM`` and ``-pc_type python -pc_python_type
solvers.petsc.NetworkPC``. Importing this package loads neither PETSc nor torch: each public
name is imported from its module on first access (PEP 562, :func:`sciconv.lazy.attach`), and
PETSc itself by the first call that needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sciconv.lazy import attach as _attach

if TYPE_CHECKING:  # the real imports, for type checkers and readers
    from ._core import (
        REASONS,
        KSPSolver,
        aij_from_csr,
        as_comm,
        attach_null_space,
        ksp_solve,
        max_over_ranks,
        ownership,
        petsc_module,
        petsc_to_scipy,
        reason_name,
        solve_reason,
    )
    from .coarse import PetscCoarse, local_aggregates
    from .dmda import dmda_layout, global_index, local_threads, owned_box, window, window_bounds
    from .gather import GatherMap, gather_matrix, natural_to_global
    from .halo import HaloNetwork
    from .ksp import DCDM
    from .pc import STRATEGIES, MapPC, NetworkPC
    from .shell import OperatorShell, as_petsc_mat

#: public name -> the submodule (relative to this package) that defines it
_ORIGIN: dict[str, str] = {
    "DCDM": ".ksp",
    "GatherMap": ".gather",
    "HaloNetwork": ".halo",
    "KSPSolver": "._core",
    "MapPC": ".pc",
    "NetworkPC": ".pc",
    "OperatorShell": ".shell",
    "PetscCoarse": ".coarse",
    "REASONS": "._core",
    "STRATEGIES": ".pc",
    "aij_from_csr": "._core",
    "as_comm": "._core",
    "as_petsc_mat": ".shell",
    "attach_null_space": "._core",
    "dmda_layout": ".dmda",
    "gather_matrix": ".gather",
    "global_index": ".dmda",
    "ksp_solve": "._core",
    "local_aggregates": ".coarse",
    "local_threads": ".dmda",
    "max_over_ranks": "._core",
    "natural_to_global": ".gather",
    "owned_box": ".dmda",
    "ownership": "._core",
    "petsc_module": "._core",
    "petsc_to_scipy": "._core",
    "reason_name": "._core",
    "solve_reason": "._core",
    "window": ".dmda",
    "window_bounds": ".dmda",
}

__all__ = [
    "DCDM",
    "REASONS",
    "STRATEGIES",
    "GatherMap",
    "HaloNetwork",
    "KSPSolver",
    "MapPC",
    "NetworkPC",
    "OperatorShell",
    "PetscCoarse",
    "aij_from_csr",
    "as_comm",
    "as_petsc_mat",
    "attach_null_space",
    "dmda_layout",
    "gather_matrix",
    "global_index",
    "ksp_solve",
    "local_aggregates",
    "local_threads",
    "max_over_ranks",
    "natural_to_global",
    "owned_box",
    "ownership",
    "petsc_module",
    "petsc_to_scipy",
    "reason_name",
    "solve_reason",
    "window",
    "window_bounds",
]

__getattr__, __dir__ = _attach(__name__, _ORIGIN)
