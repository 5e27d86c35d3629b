"""PETSc objects configured only through the options database, as a PETSc program would be.

Each call puts the options under a fresh prefix, so tests never see each other's options.
"""

from __future__ import annotations

import itertools
from typing import Any

from solvers.petsc import petsc_module

_ids = itertools.count()


def fresh_prefix(options: dict[str, Any], tag: str = "t") -> str:
    """Write ``options`` into PETSc's database under a new prefix; return the prefix."""
    prefix = f"{tag}{next(_ids)}_"
    db = petsc_module().Options()
    for key, val in options.items():
        db[prefix + key] = val
    return prefix


def ksp_from_options(
    mat: Any, options: dict[str, Any], *, rtol: float = 1e-8, max_it: int = 500, tag: str = "ksp"
) -> Any:
    """A KSP on ``mat`` configured by ``options`` (type, PC, ...) and ``setFromOptions``."""
    ksp = petsc_module().KSP().create()
    ksp.setOptionsPrefix(fresh_prefix(options, tag))
    ksp.setOperators(mat)
    ksp.setTolerances(rtol=rtol, atol=0.0, max_it=max_it)
    ksp.setFromOptions()
    return ksp
