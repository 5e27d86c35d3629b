"""Tests of the finite-element wave solver :mod:`pde.wave` and its dataset generator.

References: the standing mode u = sin(pi x) sin(pi y) cos(sqrt(2) pi t) (exact solution with
c = 1 and Dirichlet data) for the convergence order; the leapfrog energy identity of the
AcousticWave2D Notes (conserved to 1e-8 relative over 1000 steps; balance to 1e-10); the
closed-form eigenvalues of the Q1 lumped-mass operator on a uniform Dirichlet grid for the CFL
bound (1e-9 relative); exact integrals (area, Dirichlet energy of x) for the matrices.
"""

from __future__ import annotations

import numpy as np
import pytest

from pde.wave import AcousticWave2D, RickerSource, ricker
from pde.wave_data import load_dataset, make_dataset, random_velocity, save_dataset

OMEGA = np.sqrt(2) * np.pi


def _mode(x, y):
    return np.sin(np.pi * x) * np.sin(np.pi * y)


def _standing_wave_error(n: int, t_end: float = 0.5) -> float:
    solver = AcousticWave2D(n)
    steps = round(t_end / (0.5 / n))
    dt = t_end / steps
    run = solver.simulate(solver.interpolate(_mode), dt=dt, n_steps=steps)
    return solver.l2_error(run.u, lambda x, y: _mode(x, y) * np.cos(OMEGA * t_end))


def test_convergence_order_two():
    """L2 error against the standing mode drops by 4 +- 0.3 per halving of h (dt = h/2)."""
    errors = [_standing_wave_error(n) for n in (8, 16, 32)]
    ratios = [errors[i] / errors[i + 1] for i in range(2)]
    assert all(3.7 < r < 4.3 for r in ratios), ratios
    assert errors[-1] < 2e-3


def test_energy_conserved_over_1000_steps():
    """Heterogeneous c, Dirichlet, no source: E^{n+1/2} constant to 1e-8 relative."""
    rng = np.random.default_rng(0)
    solver = AcousticWave2D(12, 10, lx=1.2, velocity=random_velocity(12, rng)[:11])
    u0, v0 = rng.standard_normal(solver.n_nodes), rng.standard_normal(solver.n_nodes)
    run = solver.simulate(u0, v0, dt=0.95 * solver.max_stable_dt(), n_steps=1000)
    assert run.energy.size == 1000
    assert np.max(np.abs(run.energy / run.energy[0] - 1)) < 1e-8
    assert run.energy[0] > 0


def test_energy_balance_with_absorbing_boundary_and_source():
    """E+ - E- = -|u+ - u-|_B^2/(4 dt) + F.(u+ - u-)/2 at every step (1e-10 of max E); the
    energy then only decreases, and the absorbing boundary lets > 95 % of it out by t = 2 (on
    coarser meshes more stays: modes near the grid cut-off have almost no group velocity)."""
    solver = AcousticWave2D(40, velocity=1.0, boundary="absorbing")
    src = RickerSource(0.5, 0.5, frequency=4.0)
    dt = 0.5 * solver.max_stable_dt()
    (load,) = solver.source_vector([src])
    u_prev = np.zeros(solver.n_nodes)
    u = solver.step(u_prev, u_prev, dt, src(0.0) * load)  # zero start, first force at t=0
    energies, predicted = [solver.energy(u_prev, u, dt)], []
    for n in range(1, round(2.0 / dt)):
        f = src(n * dt) * load
        new = solver.step(u_prev, u, dt, f)
        jump = new - u_prev
        predicted.append(-jump @ (solver.damping * jump) / (4 * dt) + 0.5 * f @ jump)
        u_prev, u = u, new
        energies.append(solver.energy(u_prev, u, dt))
    energies = np.array(energies)
    assert np.max(np.abs(np.diff(energies) - predicted)) < 1e-10 * energies.max()
    after = energies[round(0.6 / dt) :]  # the wavelet (delay 0.3, width ~0.25) is over
    assert np.all(np.diff(after) <= 1e-15 * energies.max())
    assert after[-1] < 0.05 * energies.max()


def _analytic_dt_max(n: int, h: float) -> float:
    theta = np.pi * np.arange(1, n) / n
    kappa, mu = (2 - 2 * np.cos(theta)) / h, h * (4 + 2 * np.cos(theta)) / 6
    lam = (mu[:, None] * kappa[None, :] + kappa[:, None] * mu[None, :]) / (h * h)
    return 2 / np.sqrt(lam.max())


@pytest.mark.parametrize("n", [8, 30])
def test_cfl_bound_matches_closed_form(n):
    """max_stable_dt equals 2/sqrt(lambda_max) from the sine-mode eigenvalues (dense and
    sparse eigen-solver paths), to 1e-9 relative."""
    solver = AcousticWave2D(n, velocity=1.0)
    assert solver.max_stable_dt() == pytest.approx(_analytic_dt_max(n, 1 / n), rel=1e-9)
    scaled = AcousticWave2D(n, velocity=2.0)  # c -> 2c halves the bound
    assert scaled.max_stable_dt() == pytest.approx(_analytic_dt_max(n, 1 / n) / 2, rel=1e-9)


def test_cfl_refusal_and_instability_beyond_it():
    """dt above the bound raises a ValueError that says CFL; forced through, 1.02x the bound
    blows up while 0.98x stays bounded."""
    solver = AcousticWave2D(10, velocity=1.5)
    bound = solver.max_stable_dt()
    with pytest.raises(ValueError, match="CFL"):
        solver.simulate(np.zeros(solver.n_nodes), dt=1.001 * bound, n_steps=10)
    with pytest.raises(ValueError, match="dt"):
        solver.check_dt(-1.0)
    u0 = np.random.default_rng(1).standard_normal(solver.n_nodes)
    good = solver.simulate(u0, dt=0.98 * bound, n_steps=2000)
    bad = solver.simulate(u0, dt=1.02 * bound, n_steps=200, check_cfl=False)
    assert np.abs(good.u).max() < 10 * np.abs(u0).max()
    assert np.abs(bad.u).max() > 1e6 * np.abs(u0).max()


def test_matrices_integrate_exactly():
    """Lumped mass sums to the integral of 1/c^2; K kills constants; x^T K x = int |grad x|^2."""
    solver = AcousticWave2D(5, 7, lx=2.0, ly=0.5, velocity=2.0, boundary="absorbing")
    x, _ = solver.coordinates()
    assert solver.mass.sum() == pytest.approx(1.0 / 4.0, rel=1e-14)
    assert np.abs(solver.stiffness @ np.ones(solver.n_nodes)).max() < 1e-12
    assert x.ravel() @ solver.stiffness @ x.ravel() == pytest.approx(1.0, rel=1e-13)
    assert solver.damping.sum() == pytest.approx(5.0 / 2.0, rel=1e-14)  # perimeter / c
    w = solver.point_weights(0.77, 0.31)
    assert w.sum() == pytest.approx(1.0) and w @ x.ravel() == pytest.approx(0.77)


def test_ricker_shape():
    """Peak 1 at the delay; zeros at delay +- 1/(sqrt(2) pi f)."""
    f = 5.0
    assert ricker(1.2 / f, f) == pytest.approx(1.0)
    assert ricker(0.3 + 1 / (np.sqrt(2) * np.pi * f), f, delay=0.3) == pytest.approx(0, abs=1e-14)


def test_dataset_is_seeded_and_consistent(tmp_path):
    """Same seed -> same data; pairs are consecutive snapshots; the .npz round-trips."""
    a = make_dataset(3, 12, n_snapshots=8, seed=5)
    b = make_dataset(3, 12, n_snapshots=8, seed=5)
    c = make_dataset(3, 12, n_snapshots=8, seed=6)
    assert np.array_equal(a["inputs"], b["inputs"]) and not np.array_equal(a["inputs"], c["inputs"])
    assert a["inputs"].shape == (3 * 6, 2, 13, 13) and a["targets"].shape == (18, 1, 13, 13)
    k, s = 7, a["sim_index"][7]
    t = k - 6 * s + 2
    assert np.array_equal(a["inputs"][k], a["trajectories"][s, t - 2 : t])
    assert np.array_equal(a["targets"][k, 0], a["trajectories"][s, t])
    assert np.abs(a["trajectories"]).max(axis=(1, 2, 3)) == pytest.approx(1.0)
    assert 1.0 <= a["velocity"].min() and a["velocity"].max() <= 2.0
    save_dataset(tmp_path / "d.npz", a)
    back = load_dataset(tmp_path / "d.npz")
    assert back["seed"] == 5 and np.array_equal(back["trajectories"], a["trajectories"])


def test_dataset_follows_the_solver():
    """A stored trajectory is the normalised FE solution for the stored velocity and source:
    re-simulating it independently reproduces it to float32 precision (1e-6)."""
    d = make_dataset(1, 10, n_snapshots=6, boundary="dirichlet", seed=3)
    c = d["velocity"][0].astype(float)
    x, y, f = d["sources"][0]
    solver = AcousticWave2D(10, velocity=c, boundary="dirichlet")
    snap = d["snapshot_dt"]
    substeps = int(np.ceil(snap / (0.5 * solver.max_stable_dt())))
    start = int(np.ceil(2.2 / f / snap))
    run = solver.simulate(
        np.zeros(solver.n_nodes),
        dt=snap / substeps,
        n_steps=substeps * (start + 5),
        sources=[RickerSource(x, y, f)],
        record_every=substeps,
    )
    ref = run.snapshots[start:]
    assert np.abs(d["trajectories"][0] - ref / np.abs(ref).max()).max() < 1e-6


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: AcousticWave2D(4, velocity=-1.0), "velocity"),
        (lambda: AcousticWave2D(4, velocity=np.ones((4, 4))), "velocity"),
        (lambda: AcousticWave2D(4, boundary="periodic"), "boundary"),
        (lambda: AcousticWave2D(0), "nx"),
        (lambda: AcousticWave2D(4).point_weights(1.5, 0.5), "source"),
        (lambda: make_dataset(1, 8, n_snapshots=2), "n_snapshots"),
    ],
)
def test_bad_arguments(make, match):
    """ValueError naming the argument."""
    with pytest.raises(ValueError, match=match):
        make()
