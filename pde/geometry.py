"""Cell labels for fluid-simulation pressure grids, and seeded geometry generators.

A geometry is an integer array of the grid's shape whose entries are :data:`FLUID`,
:data:`SOLID` or :data:`AIR`. Axis 0 is the vertical axis and its last index is the *top*
(so ``labels[-1]`` is the top layer, where a smoke plume meets the open air).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sciconv.validation import as_int_tuple, check_choice, check_positive_int, describe

__all__ = [
    "AIR",
    "EXTERIORS",
    "FLUID",
    "GEOMETRIES",
    "MAX_CELLS",
    "SOLID",
    "box",
    "make_geometry",
    "obstacles",
    "plume",
]

#: An unknown pressure cell (a row of the matrix).
FLUID = 0
#: A wall or obstacle cell: zero normal velocity, a Neumann boundary for the pressure.
SOLID = 1
#: A free-surface cell: pressure fixed to zero, a Dirichlet boundary.
AIR = 2
#: What may lie outside the grid, by name: closed walls or open air.
EXTERIORS = {"solid": SOLID, "air": AIR}


#: The most cells a generated grid may have (1024**3): its labels alone take 1 GiB, the matrix
#: of a Poisson problem on it about 80 GiB. Larger grids are refused before any allocation.
MAX_CELLS = 2**30


def _shape(shape: Sequence[int] | int, dim: int | None = None) -> tuple[int, ...]:
    if isinstance(shape, int) and not isinstance(shape, bool):
        if dim is None:
            raise ValueError(f"shape {shape} is an int; give dim (2 or 3) as well")
        shape = (shape,) * dim
    if not isinstance(shape, Sequence) or len(shape) not in (2, 3):
        raise ValueError(f"shape must have 2 or 3 entries, got {describe(shape)}")
    out = as_int_tuple("shape", tuple(shape), len(shape), minimum=2)
    cells = math.prod(out)
    if cells > MAX_CELLS:
        raise ValueError(
            f"shape {out} has {cells:.3g} cells, more than MAX_CELLS = 2**30 "
            f"(the labels alone would take {cells / 2**30:.3g} GiB)"
        )
    return out


def box(shape: Sequence[int] | int, dim: int | None = None) -> np.ndarray:
    """An empty box: every cell fluid.

    Parameters
    ----------
    shape : sequence of 2 or 3 int, or int
        Grid cells per axis (an int needs ``dim``).
    dim : int, optional
        Spatial dimension when ``shape`` is an int.

    Returns
    -------
    numpy.ndarray of int8
        Labels (all :data:`FLUID`). What lies outside the grid is chosen by the problem
        (``exterior='air'``: a Dirichlet box; ``'solid'``: a closed, pure-Neumann box).

    Examples
    --------
    >>> box((2, 3))
    array([[0, 0, 0],
           [0, 0, 0]], dtype=int8)
    >>> box(4, dim=3).shape, (FLUID, SOLID, AIR)
    ((4, 4, 4), (0, 1, 2))
    """
    return np.full(_shape(shape, dim), FLUID, dtype=np.int8)


def obstacles(
    shape: Sequence[int] | int,
    dim: int | None = None,
    *,
    count: int = 6,
    seed: int = 0,
    kinds: Sequence[str] = ("sphere", "box"),
    size: tuple[float, float] = (0.06, 0.16),
) -> np.ndarray:
    r"""A box of fluid with ``count`` random solid obstacles (spheres/discs and boxes).

    Parameters
    ----------
    shape, dim
        As in :func:`box`.
    count : int
        Number of obstacles.
    seed : int
        Seed of ``numpy.random.default_rng``: the same seed gives the same geometry.
    kinds : sequence of {'sphere', 'box'}
        Shapes drawn uniformly.
    size : (float, float)
        Range of the radius / half-width as a fraction of the smallest grid side.

    Notes
    -----
    Centres are uniform in the middle 80 % of the domain; a cell is solid when its centre
    :math:`c` satisfies :math:`\|c - m\|_2 \le r` (sphere) or :math:`\|c - m\|_\infty \le r`
    (box). Obstacles may overlap and may enclose fluid pockets; such pockets are separate
    components of the matrix (see :meth:`pde.poisson.PoissonProblem.null_space`).

    Examples
    --------
    >>> labels = obstacles((8, 10), count=2, seed=0, kinds=("box",), size=(0.15, 0.2))
    >>> labels
    array([[0, 0, 0, 0, 0, 0, 1, 1, 1, 0],
           [0, 0, 0, 0, 0, 0, 1, 1, 1, 0],
           [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
           [0, 0, 1, 1, 0, 0, 0, 0, 0, 0],
           [0, 0, 1, 1, 0, 0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]], dtype=int8)
    >>> bool(np.array_equal(obstacles(16, 2, seed=7), obstacles(16, 2, seed=7)))  # seeded
    True
    """
    labels = box(shape, dim)
    count = check_positive_int("count", count, minimum=0)
    for k in kinds:
        check_choice("kinds", k, ("sphere", "box"))
    lo, hi = float(size[0]), float(size[1])
    if not 0 < lo <= hi < 0.5:
        raise ValueError(f"size must satisfy 0 < size[0] <= size[1] < 0.5, got {size}")
    rng = np.random.default_rng(seed)
    n = np.array(labels.shape, dtype=float)
    centres = np.meshgrid(*[np.arange(s) + 0.5 for s in labels.shape], indexing="ij")
    for _ in range(count):
        m = rng.uniform(0.1 * n, 0.9 * n)
        r = rng.uniform(lo, hi) * n.min()
        kind = kinds[int(rng.integers(len(kinds)))]
        d = np.stack([c - mi for c, mi in zip(centres, m)])
        dist = np.sqrt((d**2).sum(0)) if kind == "sphere" else np.abs(d).max(0)
        labels[dist <= r] = SOLID
    return labels


def plume(
    shape: Sequence[int] | int, dim: int | None = None, *, count: int = 3, seed: int = 0
) -> np.ndarray:
    """A smoke-plume-like domain: fluid under an open top, with a few solid obstacles.

    The top layer (``labels[-1]``) is :data:`AIR`; with ``exterior='solid'`` the side and
    bottom walls are closed, so the only Dirichlet boundary is the free surface at the top.
    Obstacles (``count``, seeded) sit in the lower 80 % of the domain.

    Examples
    --------
    >>> plume((5, 4), count=0)
    array([[0, 0, 0, 0],
           [0, 0, 0, 0],
           [0, 0, 0, 0],
           [0, 0, 0, 0],
           [2, 2, 2, 2]], dtype=int8)
    >>> labels = plume(16, 2, count=3, seed=0)
    >>> bool((labels[-1] == AIR).all()), bool((labels[13:-1] == FLUID).all())
    (True, True)
    """
    labels = obstacles(shape, dim, count=count, seed=seed) if count else box(shape, dim)
    labels[int(0.8 * labels.shape[0]) : -1][labels[int(0.8 * labels.shape[0]) : -1] == SOLID] = (
        FLUID
    )
    labels[-1] = AIR
    return labels


#: Generators by name (``sciconv poisson --geometry NAME``).
GEOMETRIES = {"box": box, "obstacles": obstacles, "plume": plume}


def make_geometry(
    name: str, shape: Sequence[int] | int, dim: int | None = None, **kw
) -> np.ndarray:
    """Call the generator ``name`` of :data:`GEOMETRIES` (``seed=`` etc. are forwarded).

    Examples
    --------
    >>> sorted(GEOMETRIES)
    ['box', 'obstacles', 'plume']
    >>> bool(np.array_equal(make_geometry("obstacles", 12, 2, seed=3), obstacles(12, 2, seed=3)))
    True
    >>> make_geometry("box", (2, 2), seed=3)  # box takes no seed: it is dropped
    array([[0, 0],
           [0, 0]], dtype=int8)
    """
    check_choice("name", name, tuple(GEOMETRIES))
    if name == "box":
        kw.pop("seed", None)
    return GEOMETRIES[name](shape, dim, **kw)
