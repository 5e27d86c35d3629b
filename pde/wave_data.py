"""Seeded datasets of finite-element wavefields: (past states -> next states) on the node grid.

Each simulation draws a velocity model (layers with curved interfaces plus a Gaussian
inclusion) and a Ricker point source, runs :class:`pde.wave.AcousticWave2D`, and records
snapshots after the source has fired; consecutive snapshots become training pairs.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from sciconv.validation import check_choice, check_positive_int

from .wave import BOUNDARIES, AcousticWave2D, RickerSource

__all__ = ["load_dataset", "make_dataset", "random_velocity", "save_dataset"]


def random_velocity(
    n: int, rng: np.random.Generator, c_min: float = 1.0, c_max: float = 2.0
) -> np.ndarray:
    r"""Random nodal velocity model on an ``(n + 1) x (n + 1)`` grid of the unit square.

    Two to four layers separated by interfaces :math:`y = y_0 + a\sin(2\pi k x + \phi)`, each of
    constant speed in ``[c_min, c_max]``, plus a Gaussian inclusion of random sign; clipped to
    ``[c_min, c_max]``.

    Examples
    --------
    >>> c = random_velocity(16, np.random.default_rng(0))
    >>> c.shape, bool(c.min() >= 1.0), bool(c.max() <= 2.0)
    ((17, 17), True, True)
    >>> bool(np.array_equal(c, random_velocity(16, np.random.default_rng(0))))  # seeded
    True
    """
    x, y = np.meshgrid(np.linspace(0, 1, n + 1), np.linspace(0, 1, n + 1), indexing="xy")
    n_layers = int(rng.integers(2, 5))
    speeds = rng.uniform(c_min, c_max, n_layers)
    depths = np.sort(rng.uniform(0.15, 0.85, n_layers - 1))
    c = np.full(x.shape, speeds[0])
    for depth, speed in zip(depths, speeds[1:]):
        wiggle = rng.uniform(0, 0.1) * np.sin(
            2 * np.pi * rng.integers(1, 3) * x + rng.uniform(0, 6.3)
        )
        c = np.where(y > depth + wiggle, speed, c)
    cx, cy, width = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.05, 0.15)
    bump = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * width**2))
    c = c + rng.choice([-1.0, 1.0]) * 0.5 * (c_max - c_min) * bump
    return np.clip(c, c_min, c_max)


def make_dataset(
    n_sims: int = 60,
    nx: int = 31,
    *,
    n_past: int = 2,
    n_future: int = 1,
    n_snapshots: int = 40,
    snapshot_dt: float | None = None,
    boundary: str = "absorbing",
    frequency: tuple[float, float] = (3.0, 4.5),
    velocity_range: tuple[float, float] = (1.0, 2.0),
    seed: int = 0,
) -> dict[str, Any]:
    r"""Simulate ``n_sims`` random wavefields and cut them into training pairs.

    Parameters
    ----------
    n_sims : int
        Number of simulations (velocity model + source each).
    nx : int
        Elements per axis of the unit square; grids are ``(nx + 1) x (nx + 1)``.
    n_past, n_future : int
        Snapshots in each input / target.
    n_snapshots : int
        Snapshots kept per simulation, spaced by ``snapshot_dt`` (default ``2h / c_max``, two
        cells at the fastest speed).
    boundary : {'absorbing', 'dirichlet'}
    frequency, velocity_range : (float, float)
        Ranges of the Ricker peak frequency and of the wave speed.
    seed : int
        Seed of ``numpy.random.default_rng``: the same seed gives the same data.

    Returns
    -------
    dict
        ``inputs (N, n_past, H, W)``, ``targets (N, n_future, H, W)`` (float32),
        ``sim_index (N,)``, ``trajectories (n_sims, n_snapshots, H, W)``,
        ``velocity (n_sims, H, W)``, ``sources (n_sims, 3)`` (x, y, frequency) and scalars
        ``snapshot_dt``, ``h``, ``seed``.

    Notes
    -----
    The leapfrog step is :math:`\Delta t = \Delta t_{snap}/m` with the smallest integer
    :math:`m` such that :math:`\Delta t \le 0.5\,\Delta t_{CFL}`. Recording starts at the
    first snapshot time after :math:`t_0 + 1/f` (the wavelet's delay plus its main lobe), so the
    targets follow the homogeneous equation. Each trajectory is divided by its largest absolute
    value (the equation is linear).

    Examples
    --------
    One simulation on an 8 x 8 mesh, five snapshots: three (2 past -> 1 next) pairs.

    >>> data = make_dataset(n_sims=1, nx=8, n_snapshots=5, seed=0)
    >>> data["inputs"].shape, data["targets"].shape, data["trajectories"].shape
    ((3, 2, 9, 9), (3, 1, 9, 9), (1, 5, 9, 9))
    >>> float(np.abs(data["trajectories"]).max()), data["h"], data["snapshot_dt"]
    (1.0, 0.125, 0.125)
    >>> bool(np.array_equal(data["targets"][0, 0], data["inputs"][1, 1]))  # consecutive
    True
    """
    n_sims = check_positive_int("n_sims", n_sims)
    nx = check_positive_int("nx", nx, minimum=4)
    n_past = check_positive_int("n_past", n_past)
    n_future = check_positive_int("n_future", n_future)
    n_snapshots = check_positive_int("n_snapshots", n_snapshots, minimum=n_past + n_future)
    boundary = check_choice("boundary", boundary, BOUNDARIES)
    c_min, c_max = velocity_range
    if not 0 < c_min <= c_max:
        raise ValueError(f"velocity_range must satisfy 0 < min <= max, got {velocity_range!r}")
    h = 1.0 / nx
    snap = 2 * h / c_max if snapshot_dt is None else float(snapshot_dt)
    if not snap > 0:
        raise ValueError(f"snapshot_dt must be > 0, got {snapshot_dt!r}")
    rng = np.random.default_rng(seed)
    trajectories, velocities, sources = [], [], []
    for _ in range(n_sims):
        c = random_velocity(nx, rng, c_min, c_max)
        src = RickerSource(*rng.uniform(0.25, 0.75, 2), frequency=rng.uniform(*frequency))
        solver = AcousticWave2D(nx, velocity=c, boundary=boundary)
        substeps = math.ceil(snap / (0.5 * solver.max_stable_dt()))
        dt = snap / substeps
        start = math.ceil((2.2 / src.frequency) / snap)
        run = solver.simulate(
            np.zeros(solver.n_nodes),
            dt=dt,
            n_steps=substeps * (start + n_snapshots - 1),
            sources=[src],
            record_every=substeps,
        )
        traj = run.snapshots[start : start + n_snapshots]
        trajectories.append(traj / np.abs(traj).max())
        velocities.append(c)
        sources.append((src.x, src.y, src.frequency))
    traj = np.asarray(trajectories, dtype=np.float32)
    inputs, targets, index = [], [], []
    for s in range(n_sims):
        for t in range(n_past, n_snapshots - n_future + 1):
            inputs.append(traj[s, t - n_past : t])
            targets.append(traj[s, t : t + n_future])
            index.append(s)
    return {
        "inputs": np.asarray(inputs),
        "targets": np.asarray(targets),
        "sim_index": np.asarray(index),
        "trajectories": traj,
        "velocity": np.asarray(velocities, dtype=np.float32),
        "sources": np.asarray(sources),
        "snapshot_dt": snap,
        "h": h,
        "seed": seed,
    }


def save_dataset(path: str | os.PathLike, data: dict[str, Any]) -> None:
    """Write a dataset from :func:`make_dataset` to a compressed ``.npz`` file.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> data = make_dataset(n_sims=1, nx=8, n_snapshots=5, seed=0)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_dataset(Path(folder) / "waves.npz", data)
    ...     back = load_dataset(Path(folder) / "waves.npz")
    >>> sorted(back) == sorted(data), bool(np.array_equal(back["inputs"], data["inputs"]))
    (True, True)
    """
    np.savez_compressed(path, **{k: np.asarray(v) for k, v in data.items()})


def load_dataset(path: str | os.PathLike) -> dict[str, Any]:
    """Read a dataset written by :func:`save_dataset` (scalars come back as numbers).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> data = make_dataset(n_sims=1, nx=8, n_snapshots=5, seed=0)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_dataset(Path(folder) / "waves.npz", data)
    ...     back = load_dataset(Path(folder) / "waves.npz")
    >>> back["seed"], back["h"], type(back["h"]).__name__, back["velocity"].shape
    (0, 0.125, 'float', (1, 9, 9))
    """
    with np.load(path) as f:
        return {k: (f[k].item() if f[k].ndim == 0 else f[k]) for k in f.files}
