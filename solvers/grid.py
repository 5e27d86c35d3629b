"""Cell labels, exterior names and grid-map specs: the grid vocabulary of :mod:`solvers`.

No torch and no PETSc here, so every layer above (coarse correction, two-level maps, the
network, the PETSc plug-ins) reads labels the same way. :mod:`pde.geometry` uses the same
codes; ``solvers`` never imports ``pde``, so this is the one definition inside ``solvers``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sciconv.validation import describe

__all__ = [
    "AIR",
    "COARSE_BLOCK",
    "EXTERIORS",
    "FLUID",
    "GRID_MAPS",
    "LABELS",
    "SOLID",
    "check_labels",
    "exterior_label",
    "fluid_mask",
    "pad_labels",
    "parse_grid_spec",
]

#: An unknown cell (a row of the matrix).
FLUID = 0
#: A wall: a Neumann boundary.
SOLID = 1
#: Open air: a Dirichlet boundary (pressure zero).
AIR = 2
#: Exterior names accepted wherever an exterior label is (``pde`` uses the names).
EXTERIORS = {"air": AIR, "solid": SOLID}
#: Default block side of the coarse correction.
COARSE_BLOCK = 4
#: Map names that need the grid (labels), parsed by :func:`parse_grid_spec`.
GRID_MAPS = ("network", "coarse", "smoothed", "learned", "network+coarse")


def exterior_label(exterior: Any) -> int | None:
    """The label code of ``exterior``: a name (``'air'``/``'solid'``), a code, or None.

    Examples
    --------
    >>> exterior_label("air"), exterior_label(SOLID), exterior_label(None)
    (2, 1, None)
    """
    if exterior is None:
        return None
    if isinstance(exterior, str):
        if exterior not in EXTERIORS:
            raise ValueError(
                f"exterior must be one of {sorted(EXTERIORS)} or a label code, got {exterior!r}"
            )
        return EXTERIORS[exterior]
    if isinstance(exterior, (int, np.integer)) and not isinstance(exterior, bool):
        if int(exterior) not in (SOLID, AIR):
            raise ValueError(f"exterior label must be SOLID (1) or AIR (2), got {exterior!r}")
        return int(exterior)
    raise TypeError(
        f"exterior must be 'air', 'solid', a label code or None, got {describe(exterior)}"
    )


#: Every label code a grid may hold.
LABELS = (FLUID, SOLID, AIR)


def check_labels(labels: Any, name: str = "labels") -> np.ndarray:
    """``labels`` as an array, checked to be a 2D or 3D integer grid of FLUID/SOLID/AIR codes.

    Examples
    --------
    >>> check_labels(np.array([[0, 1], [2, 5]]))
    Traceback (most recent call last):
    ...
    ValueError: labels must hold only FLUID (0), SOLID (1) or AIR (2), got the value(s) [5]
    """
    lab = np.asarray(labels)
    if lab.ndim not in (2, 3) or lab.dtype.kind not in "iu":
        raise ValueError(f"{name} must be a 2D or 3D integer array, got {describe(lab)}")
    if lab.size and (lab.min() < FLUID or lab.max() > AIR):
        bad = np.unique(lab[(lab < FLUID) | (lab > AIR)])
        raise ValueError(
            f"{name} must hold only FLUID (0), SOLID (1) or AIR (2), got the value(s) "
            f"{bad[:8].tolist()}"
        )
    return lab


def pad_labels(labels: Any, exterior: Any) -> np.ndarray:
    """Surround the grid with one layer of ``exterior`` (a name or code), or copy it as is.

    Examples
    --------
    >>> pad_labels(np.zeros((2, 2), dtype=int), "air")
    array([[2, 2, 2, 2],
           [2, 0, 0, 2],
           [2, 0, 0, 2],
           [2, 2, 2, 2]])
    """
    lab = check_labels(labels)
    code = exterior_label(exterior)
    return lab.copy() if code is None else np.pad(lab, 1, constant_values=code)


def fluid_mask(labels: Any) -> np.ndarray:
    """Boolean grid of the unknowns (:data:`FLUID` cells), checked to be 2D or 3D."""
    return check_labels(labels) == FLUID


def parse_grid_spec(spec: str) -> tuple[str, str, int | None]:
    """``(name, model, block)`` written in a grid-map spec; empty model / None block if absent.

    ``network[:M]``, ``coarse[:B]``, ``smoothed[:B]``, ``learned[:M]``,
    ``network+coarse[:M[:B]]``. Defaults
    (which model, which block) are filled in by :func:`solvers.maps.grid_spec`, which knows
    the shipped models.

    Examples
    --------
    >>> parse_grid_spec("network+coarse:poisson2d-coarse:8")
    ('network+coarse', 'poisson2d-coarse', 8)
    >>> parse_grid_spec("coarse")
    ('coarse', '', None)
    """
    if not isinstance(spec, str):
        raise TypeError(f"spec must be a string like 'coarse:4', got {describe(spec)}")
    name, _, rest = spec.partition(":")
    if name not in GRID_MAPS:
        raise ValueError(f"spec {spec!r} is not a grid map (one of {', '.join(GRID_MAPS)})")
    if name in ("coarse", "smoothed"):
        return name, "", _block(spec, rest)
    model, _, block_text = rest.partition(":")
    if name in ("network", "learned"):
        if block_text:
            raise ValueError(f"spec {spec!r}: {name} takes only a model name ({name}:MODEL)")
        return name, model, None
    return name, model, _block(spec, block_text)


def _block(spec: str, text: str) -> int | None:
    """The block side written in ``spec`` (None when absent)."""
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"spec {spec!r}: the block side must be an integer >= 1, got {text!r}")
    return int(text)
