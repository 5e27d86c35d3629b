"""The 2D acoustic wave equation with Q1 finite elements, lumped mass and explicit leapfrog.

:class:`AcousticWave2D` assembles the semi-discrete system ``M u'' + B u' + K u = F`` of
``u_tt = c(x)^2 Δu + f`` on a structured rectangle mesh, checks the time step against the CFL
bound, steps it, and records the discrete energy that leapfrog conserves (Dirichlet) or
dissipates (first-order absorbing boundary).

References
----------
Cohen, "Higher-Order Numerical Methods for Transient Wave Equations", Springer, 2002 (mass
lumping of continuous finite elements, explicit leapfrog time stepping, its discrete energy
and CFL bound).

Engquist and Majda, "Absorbing Boundary Conditions for the Numerical Simulation of Waves",
Mathematics of Computation 31(139), 629-651, 1977 (the first-order absorbing condition of
``boundary='absorbing'``).

Ricker, "The Form and Laws of Propagation of Seismic Wavelets", Geophysics 18, 1953 (the
source wavelet, :func:`ricker`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from sciconv.validation import check_choice, check_finite, check_positive_int, describe

__all__ = ["AcousticWave2D", "RickerSource", "WaveRun", "ricker"]

BOUNDARIES = ("dirichlet", "absorbing")

#: 3-point Gauss-Legendre rule on [-1, 1].
_GAUSS_X, _GAUSS_W = np.polynomial.legendre.leggauss(3)


def ricker(t: np.ndarray | float, frequency: float, delay: float | None = None) -> np.ndarray:
    r"""Ricker wavelet :math:`(1 - 2\pi^2 f^2 \tau^2)\,e^{-\pi^2 f^2 \tau^2}`, :math:`\tau=t-t_0`.

    ``delay`` :math:`t_0` defaults to :math:`1.2/f` (the wavelet starts at ~2e-5 of its peak).

    Examples
    --------
    Peak 1 at :math:`t_0 = 1.2/f`, zeros at :math:`\tau = \pm 1/(\sqrt 2\,\pi f)`:

    >>> f = 2.0
    >>> float(ricker(0.6, f)), abs(float(ricker(0.0, f))) < 2e-5
    (1.0, True)
    >>> np.round(ricker(0.6 + np.array([-1.0, 1.0]) / (np.sqrt(2) * np.pi * f), f), 12)
    array([0., 0.])
    """
    if not frequency > 0:
        raise ValueError(f"frequency must be > 0, got {frequency!r}")
    t0 = 1.2 / frequency if delay is None else delay
    a = (np.pi * frequency * (np.asarray(t, dtype=float) - t0)) ** 2
    return (1.0 - 2.0 * a) * np.exp(-a)


@dataclass(frozen=True)
class RickerSource:
    """Point source ``f = amplitude * ricker(t) * delta(x - (x, y))``.

    Examples
    --------
    >>> src = RickerSource(0.5, 0.5, frequency=2.0, amplitude=3.0)
    >>> src(0.6), src(0.6) == 3.0 * float(ricker(0.6, 2.0))
    (3.0, True)
    >>> solver = AcousticWave2D(4)
    >>> load = solver.source_vector([src])[0]  # Q1 weights at the centre node / c^2
    >>> float(load.reshape(solver.shape)[2, 2]), float(load.sum())
    (1.0, 1.0)
    """

    x: float
    y: float
    frequency: float
    delay: float | None = None
    amplitude: float = 1.0

    def __call__(self, t: float) -> float:
        return float(self.amplitude * ricker(t, self.frequency, self.delay))


@dataclass
class WaveRun:
    """Result of :meth:`AcousticWave2D.simulate`.

    Attributes
    ----------
    times : ndarray (n_rec,)
        Times of the snapshots.
    snapshots : ndarray (n_rec, ny + 1, nx + 1)
        Nodal values of u.
    energy : ndarray (n_steps,)
        Staggered discrete energy :math:`E^{n+1/2}` after each step.
    u_prev, u : ndarray
        The last two states (flat), to continue a run.

    Examples
    --------
    >>> solver = AcousticWave2D(8)
    >>> u0 = solver.interpolate(lambda x, y: np.sin(np.pi * x) * np.sin(np.pi * y))
    >>> run = solver.simulate(u0, dt=0.5 * solver.max_stable_dt(), n_steps=20, record_every=5)
    >>> run.times.shape, run.snapshots.shape, run.energy.shape, run.u.shape
    ((5,), (5, 9, 9), (20,), (81,))
    """

    times: np.ndarray
    snapshots: np.ndarray
    energy: np.ndarray
    u_prev: np.ndarray = field(repr=False)
    u: np.ndarray = field(repr=False)


def _lumped_1d(n: int, h: float) -> np.ndarray:
    m = np.full(n + 1, h)
    m[[0, -1]] = h / 2
    return m


def _stiffness_1d(n: int, h: float) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """1D P1 stiffness and consistent mass on ``n`` elements of size ``h``."""
    main = np.full(n + 1, 2.0)
    main[[0, -1]] = 1.0
    off = np.ones(n)
    k = sp.diags([-off, main, -off], [-1, 0, 1]) / h
    m = sp.diags([off, 2 * main, off], [-1, 0, 1]) * (h / 6)
    return k.tocsr(), m.tocsr()


class AcousticWave2D:
    r"""Q1 finite elements for :math:`u_{tt} = c(x)^2\Delta u + f` on :math:`[0,L_x]\times[0,L_y]`.

    Parameters
    ----------
    nx, ny : int
        Elements per axis (``ny`` defaults to ``nx``); nodal arrays have shape
        ``(ny + 1, nx + 1)``, row ``j`` at :math:`y_j = j h_y`, column ``i`` at :math:`x_i`.
    lx, ly : float
        Side lengths.
    velocity : float or ndarray (ny + 1, nx + 1)
        Wave speed c > 0 at the nodes.
    boundary : {'dirichlet', 'absorbing'}
        u = 0 on the boundary, or the first-order absorbing (Engquist-Majda) condition
        :math:`\partial_n u + c^{-1} u_t = 0`.

    Notes
    -----
    Dividing by :math:`c^2` gives the weak form :math:`\int c^{-2} u_{tt} v + \int \nabla u\cdot
    \nabla v + \int_{\Gamma} c^{-1} u_t v = \int c^{-2} f v` (the boundary term only for the
    absorbing condition), hence :math:`M\ddot u + B\dot u + Ku = F` with

    * :math:`K = M^{1D}_y\otimes K^{1D}_x + K^{1D}_y\otimes M^{1D}_x`, the exact Q1 stiffness of
      the Laplacian on the tensor mesh (1D P1 stiffness and consistent mass);
    * :math:`M = \mathrm{diag}(|\omega_i|/c_i^2)`, the row-sum lumped Q1 mass weighted by nodal
      quadrature of :math:`c^{-2}` (:math:`|\omega_i| = \int \varphi_i`);
    * :math:`B = \mathrm{diag}(|\gamma_i|/c_i)`, the lumped boundary mass (trapezoidal rule);
    * :math:`F_i = s(t)\,\varphi_i(x_s)/c(x_s)^2` for a point source.

    Leapfrog: :math:`M\frac{u^{n+1}-2u^n+u^{n-1}}{\Delta t^2} + B\frac{u^{n+1}-u^{n-1}}{2\Delta t}
    + Ku^n = F^n`, explicit because M and B are diagonal. Multiplying by
    :math:`u^{n+1}-u^{n-1}` shows that the staggered energy

    .. math:: E^{n+1/2} = \tfrac12 \|v^{n+1/2}\|_M^2 + \tfrac12 (u^{n+1})^T K u^n,
              \qquad v^{n+1/2} = (u^{n+1}-u^n)/\Delta t,

    obeys :math:`E^{n+1/2} - E^{n-1/2} = -\frac{1}{4\Delta t}\|u^{n+1}-u^{n-1}\|_B^2
    + \frac12 (F^n)^T(u^{n+1}-u^{n-1})`: it is conserved exactly without damping and sources.
    It equals :math:`\frac12\|v\|^2_{M-\Delta t^2K/4} + \frac12\bar u^TK\bar u`, positive iff
    :math:`\Delta t < 2/\sqrt{\lambda_{\max}(M^{-1}K)}` — the CFL bound enforced by
    :meth:`check_dt`.

    Examples
    --------
    A standing mode in the Dirichlet unit square: the staggered energy is conserved to
    rounding, and the L2 error against :math:`\cos(\sqrt2\pi t)\sin(\pi x)\sin(\pi y)`
    is small.

    >>> solver = AcousticWave2D(16)
    >>> mode = lambda x, y: np.sin(np.pi * x) * np.sin(np.pi * y)
    >>> dt = 0.5 * solver.max_stable_dt()
    >>> run = solver.simulate(solver.interpolate(mode), dt=dt, n_steps=40)
    >>> bool(np.ptp(run.energy) <= 1e-12 * run.energy[0])
    True
    >>> t = run.times[-1]
    >>> exact = lambda x, y: np.cos(np.sqrt(2) * np.pi * t) * mode(x, y)
    >>> solver.l2_error(run.snapshots[-1], exact) < 0.01
    True

    The absorbing boundary only dissipates; a step beyond the CFL bound is refused:

    >>> absorbing = AcousticWave2D(16, boundary="absorbing")
    >>> run = absorbing.simulate(absorbing.interpolate(mode), dt=dt, n_steps=40)
    >>> bool(np.all(np.diff(run.energy) <= 1e-12)), bool(run.energy[-1] < run.energy[0])
    (True, True)
    >>> solver.check_dt(2 * solver.max_stable_dt())
    Traceback (most recent call last):
    ...
    ValueError: dt=... violates the CFL condition of leapfrog: expected dt < ...
    """

    def __init__(
        self,
        nx: int,
        ny: int | None = None,
        *,
        lx: float = 1.0,
        ly: float = 1.0,
        velocity: float | np.ndarray = 1.0,
        boundary: str = "dirichlet",
    ) -> None:
        self.nx = check_positive_int("nx", nx)
        self.ny = check_positive_int("ny", nx if ny is None else ny)
        if not (lx > 0 and ly > 0):
            raise ValueError(f"lx and ly must be > 0, got lx={lx!r}, ly={ly!r}")
        self.lx, self.ly = float(lx), float(ly)
        self.hx, self.hy = self.lx / self.nx, self.ly / self.ny
        self.boundary = check_choice("boundary", boundary, BOUNDARIES)
        shape = self.shape
        c = np.asarray(velocity, dtype=float)
        if c.ndim == 0:
            c = np.full(shape, float(c))
        if c.shape != shape:
            raise ValueError(f"velocity must be a scalar or of shape {shape}, got {describe(c)}")
        check_finite("velocity", c)
        if np.any(c <= 0):
            raise ValueError(f"velocity must be > 0 everywhere, got min {c.min()!r}")
        self.velocity = np.array(c)
        kx, mx = _stiffness_1d(self.nx, self.hx)
        ky, my = _stiffness_1d(self.ny, self.hy)
        self.stiffness = (sp.kron(my, kx) + sp.kron(ky, mx)).tocsr()
        area = np.outer(_lumped_1d(self.ny, self.hy), _lumped_1d(self.nx, self.hx))
        self.mass = (area / self.velocity**2).ravel()
        edge = np.zeros(shape)
        edge[[0, -1], :] += _lumped_1d(self.nx, self.hx)
        edge[:, [0, -1]] += _lumped_1d(self.ny, self.hy)[:, None]
        absorbing = self.boundary == "absorbing"
        self.damping = (edge / self.velocity).ravel() if absorbing else np.zeros(self.n_nodes)
        free = np.ones(shape, dtype=bool)
        if not absorbing:
            free[[0, -1], :] = free[:, [0, -1]] = False
        self.free = free.ravel()
        self._dt_max: float | None = None

    # ------------------------------------------------------------------ mesh
    @property
    def shape(self) -> tuple[int, int]:
        """Shape of nodal arrays, ``(ny + 1, nx + 1)``."""
        return (self.ny + 1, self.nx + 1)

    @property
    def n_nodes(self) -> int:
        return (self.nx + 1) * (self.ny + 1)

    def coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        """Nodal coordinates ``(X, Y)``, each of shape :attr:`shape`."""
        x = np.linspace(0.0, self.lx, self.nx + 1)
        y = np.linspace(0.0, self.ly, self.ny + 1)
        return np.meshgrid(x, y, indexing="xy")

    def interpolate(self, fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
        """Nodal interpolant of ``fn(x, y)`` (flat; zeroed on Dirichlet nodes)."""
        x, y = self.coordinates()
        return np.where(self.free, np.asarray(fn(x, y), dtype=float).ravel(), 0.0)

    def point_weights(self, x: float, y: float) -> np.ndarray:
        """Values :math:`\\varphi_i(x, y)` of the Q1 basis at a point (flat, 4 non-zeros)."""
        if not (0 <= x <= self.lx and 0 <= y <= self.ly):
            raise ValueError(f"source point must lie in the domain, got ({x!r}, {y!r})")
        i = min(int(x / self.hx), self.nx - 1)
        j = min(int(y / self.hy), self.ny - 1)
        s, t = x / self.hx - i, y / self.hy - j
        w = np.zeros(self.shape)
        w[j : j + 2, i : i + 2] = np.outer([1 - t, t], [1 - s, s])
        return w.ravel()

    def l2_error(
        self, u: np.ndarray, exact: Callable[[np.ndarray, np.ndarray], np.ndarray]
    ) -> float:
        """:math:`\\|u_h - u\\|_{L^2}` of the Q1 field ``u`` (flat or nodal), 3x3 Gauss per cell."""
        uh = np.asarray(u, dtype=float).reshape(self.shape)
        corners = (uh[:-1, :-1], uh[:-1, 1:], uh[1:, :-1], uh[1:, 1:])
        x0 = np.arange(self.nx) * self.hx
        y0 = np.arange(self.ny) * self.hy
        total = 0.0
        for gs, ws in zip(_GAUSS_X, _GAUSS_W):
            for gt, wt in zip(_GAUSS_X, _GAUSS_W):
                s, t = (gs + 1) / 2, (gt + 1) / 2
                val = (1 - s) * (1 - t) * corners[0] + s * (1 - t) * corners[1]
                val = val + (1 - s) * t * corners[2] + s * t * corners[3]
                px, py = np.meshgrid(x0 + s * self.hx, y0 + t * self.hy, indexing="xy")
                total += ws * wt / 4 * np.sum((val - exact(px, py)) ** 2)
        return float(np.sqrt(total * self.hx * self.hy))

    # ------------------------------------------------------------------ time step
    def max_stable_dt(self) -> float:
        """CFL bound :math:`2/\\sqrt{\\lambda_{\\max}(M^{-1}K)}` on the free nodes (cached)."""
        if self._dt_max is None:
            f = self.free
            d = 1.0 / np.sqrt(self.mass[f])
            a = sp.diags(d) @ self.stiffness[f][:, f] @ sp.diags(d)
            if a.shape[0] <= 400:
                lam = float(np.linalg.eigvalsh(a.toarray())[-1])
            else:
                lam = float(spla.eigsh(a, k=1, which="LA", tol=1e-12)[0][0])
            self._dt_max = 2.0 / np.sqrt(lam)
        return self._dt_max

    def check_dt(self, dt: float) -> float:
        """Return ``dt`` if ``0 < dt < max_stable_dt()``; otherwise raise ``ValueError``."""
        if not (isinstance(dt, int | float | np.floating) and np.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be a finite number > 0, got {dt!r}")
        bound = self.max_stable_dt()
        if dt >= bound:
            raise ValueError(
                f"dt={dt:.6g} violates the CFL condition of leapfrog: expected dt < "
                f"2/sqrt(lambda_max(M^-1 K)) = {bound:.6g} for this mesh and velocity"
            )
        return float(dt)

    # ------------------------------------------------------------------ stepping
    def source_vector(self, sources: Sequence[RickerSource]) -> list[np.ndarray]:
        """Load vectors :math:`\\varphi_i(x_s)/c(x_s)^2` of each source (flat)."""
        out = []
        for s in sources:
            phi = self.point_weights(s.x, s.y)
            c2 = float(phi @ self.velocity.ravel()) ** 2
            out.append(np.where(self.free, phi / c2, 0.0))
        return out

    def step(self, u_prev: np.ndarray, u: np.ndarray, dt: float, force: np.ndarray | None = None):
        """One leapfrog step ``(u^{n-1}, u^n) -> u^{n+1}`` (no CFL check; see :meth:`simulate`)."""
        rhs = -(self.stiffness @ u)
        if force is not None:
            rhs = rhs + force
        m, b = self.mass / dt**2, self.damping / (2 * dt)
        new = (2 * m * u - (m - b) * u_prev + rhs) / (m + b)
        new[~self.free] = 0.0
        return new

    def energy(self, u_prev: np.ndarray, u_next: np.ndarray, dt: float) -> float:
        """Staggered energy :math:`\\tfrac12\\|v\\|^2_M + \\tfrac12 u_{next}^T K u_{prev}`."""
        v = (u_next - u_prev) / dt
        return float(0.5 * v @ (self.mass * v) + 0.5 * u_next @ (self.stiffness @ u_prev))

    def simulate(
        self,
        u0: np.ndarray,
        v0: np.ndarray | None = None,
        *,
        dt: float,
        n_steps: int,
        sources: Sequence[RickerSource] = (),
        record_every: int = 1,
        check_cfl: bool = True,
    ) -> WaveRun:
        """Run ``n_steps`` leapfrog steps from ``u(0) = u0``, ``u_t(0) = v0``.

        The first step is the Taylor start :math:`u^1 = u^0 + \\Delta t\\,v^0 +
        \\tfrac{\\Delta t^2}{2} M^{-1}(F^0 - Ku^0 - Bv^0)` (second order). Snapshots are taken
        at steps ``0, record_every, ...``; ``check_cfl=False`` skips :meth:`check_dt` (only
        to demonstrate instability).
        """
        if check_cfl:
            dt = self.check_dt(dt)
        n_steps = check_positive_int("n_steps", n_steps)
        record_every = check_positive_int("record_every", record_every)
        u = np.where(self.free, np.asarray(u0, dtype=float).ravel(), 0.0)
        v = np.zeros_like(u) if v0 is None else np.asarray(v0, dtype=float).ravel()
        if u.size != self.n_nodes or v.size != self.n_nodes:
            raise ValueError(f"u0 and v0 must have {self.n_nodes} entries ({self.shape})")
        loads = self.source_vector(sources)

        def force(t: float) -> np.ndarray:
            f = np.zeros(self.n_nodes)
            for s, w in zip(sources, loads):
                f += s(t) * w
            return f

        acc = (force(0.0) - self.stiffness @ u - self.damping * v) / self.mass
        u_prev, u = u, np.where(self.free, u + dt * v + 0.5 * dt**2 * acc, 0.0)
        times, snaps, energy = [0.0], [u_prev.reshape(self.shape)], [self.energy(u_prev, u, dt)]
        for n in range(1, n_steps):
            if n % record_every == 0:
                times.append(n * dt)
                snaps.append(u.reshape(self.shape))
            u_prev, u = u, self.step(u_prev, u, dt, force(n * dt) if sources else None)
            energy.append(self.energy(u_prev, u, dt))
        if n_steps % record_every == 0:
            times.append(n_steps * dt)
            snaps.append(u.reshape(self.shape))
        return WaveRun(np.array(times), np.array(snaps), np.array(energy), u_prev, u)
