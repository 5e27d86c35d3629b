"""Krylov solvers, the deep conjugate-direction method and classical baselines.

PETSc is imported only by :mod:`solvers.petsc` (and lazily by :func:`solvers.krylov.petsc_solve`).
"""

from .dcdm import dcdm
from .info import SolveInfo
from .krylov import ALIASES, BASELINES, cg, petsc_solve, pyamg_cg, solve
from .maps import MAPS, make_map

__all__ = [
    "ALIASES",
    "BASELINES",
    "MAPS",
    "SolveInfo",
    "cg",
    "dcdm",
    "make_map",
    "petsc_solve",
    "pyamg_cg",
    "solve",
]
