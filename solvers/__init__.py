"""Krylov solvers, the deep conjugate-direction method and classical baselines.

PETSc is loaded only by :func:`solvers.petsc.petsc_module` (in :mod:`solvers.petsc._core`), on
first use; every KSP solve goes through :func:`solvers.petsc.ksp_solve`.
"""

from .dcdm import dcdm
from .info import SolveInfo
from .krylov import ALIASES, BASELINES, SOLVERS, cg, petsc_solve, pyamg_cg, solve
from .maps import MAPS, make_map

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
