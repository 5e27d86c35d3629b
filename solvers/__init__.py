"""Krylov solvers, the deep conjugate-direction method and classical baselines.

PETSc is loaded only by :func:`solvers.petsc.petsc_module` (in :mod:`solvers.petsc._core`), on
first use; every KSP solve goes through :func:`solvers.petsc.ksp_solve`.

``import solvers`` is lazy (PEP 562, :func:`sciconv.lazy.attach`): each public name is
imported from its module on first access. The classical maps and DCDM (:func:`make_map`,
:func:`dcdm`, :class:`SolveInfo`) and the Krylov drivers (:func:`cg`, :func:`solve`, ...)
load no torch: :mod:`solvers.petsc` is lazy as well, so only the network maps and the
plug-ins that run them import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sciconv.lazy import attach as _attach

if TYPE_CHECKING:  # the real imports, for type checkers and readers
    from .dcdm import dcdm
    from .info import SolveInfo
    from .krylov import ALIASES, BASELINES, SOLVERS, cg, petsc_solve, pyamg_cg, solve
    from .maps import MAPS, make_map

#: public name -> the submodule (relative to this package) that defines it
_ORIGIN: dict[str, str] = {
    "dcdm": ".dcdm",
    "SolveInfo": ".info",
    "ALIASES": ".krylov",
    "BASELINES": ".krylov",
    "SOLVERS": ".krylov",
    "cg": ".krylov",
    "petsc_solve": ".krylov",
    "pyamg_cg": ".krylov",
    "solve": ".krylov",
    "MAPS": ".maps",
    "make_map": ".maps",
}

__all__ = [
    "ALIASES",
    "BASELINES",
    "MAPS",
    "SOLVERS",
    "SolveInfo",
    "cg",
    "dcdm",
    "make_map",
    "petsc_solve",
    "pyamg_cg",
    "solve",
]

__getattr__, __dir__ = _attach(__name__, _ORIGIN)
