"""PDE problems as operators: pressure-Poisson systems on labelled grids, the FE wave equation."""

from .dmda import DMDAPoisson, dmda_poisson
from .geometry import AIR, FLUID, GEOMETRIES, SOLID, box, make_geometry, obstacles, plume
from .poisson import PoissonProblem, dirichlet_box, poisson_problem
from .wave import AcousticWave2D, RickerSource, WaveRun, ricker
from .wave_data import load_dataset, make_dataset, random_velocity, save_dataset

__all__ = [
    "AIR",
    "AcousticWave2D",
    "DMDAPoisson",
    "FLUID",
    "GEOMETRIES",
    "SOLID",
    "PoissonProblem",
    "RickerSource",
    "WaveRun",
    "box",
    "dirichlet_box",
    "dmda_poisson",
    "load_dataset",
    "make_dataset",
    "make_geometry",
    "obstacles",
    "plume",
    "poisson_problem",
    "random_velocity",
    "ricker",
    "save_dataset",
]
