"""PDE problems expressed as operators: pressure-Poisson systems on labelled 2D/3D grids."""

from .geometry import AIR, FLUID, GEOMETRIES, SOLID, box, make_geometry, obstacles, plume
from .poisson import PoissonProblem, dirichlet_box, poisson_problem

__all__ = [
    "AIR",
    "FLUID",
    "GEOMETRIES",
    "SOLID",
    "PoissonProblem",
    "box",
    "dirichlet_box",
    "make_geometry",
    "obstacles",
    "plume",
    "poisson_problem",
]
