"""Solvers side by side: comparison rows, text tables and convergence plots.

Used by the ``sciconv poisson`` command, the examples and the benchmarks. Nothing here knows
a PDE: a problem is anything with the few pieces :class:`GridProblem` names (a
:class:`pde.PoissonProblem` has them), and the distributed rows are built from the
:class:`~solvers.info.SolveInfo` of :func:`solvers.petsc.ksp_solve`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from sciconv.validation import check_positive_int

from .device import DeviceTwoLevel, dcdm_torch
from .info import SolveInfo
from .krylov import ALIASES, solve
from .maps import make_map
from .twolevel import TwoLevelMap

__all__ = [
    "DISTRIBUTED_CG",
    "PETSC_METHODS",
    "GridProblem",
    "compare",
    "distributed_row",
    "distributed_table",
    "map_cost",
    "plot",
    "table",
]

#: The baselines of :data:`solvers.krylov.SOLVERS` that run in PETSc (they take ``nullspace``).
PETSC_METHODS = ("petsc-cg", "jacobi-cg", "icc-cg", "gamg-cg")
#: Solver name -> PETSc options of a CG solve on a distributed matrix (the ``options`` of
#: :func:`solvers.petsc.ksp_solve`). ``icc`` is block Jacobi with one ICC(0) block per rank
#: (PETSc's ICC itself is serial), so it is ICC(0) on one rank and weakens as ranks grow.
DISTRIBUTED_CG: dict[str, dict[str, str]] = {
    "cg": {"pc_type": "none"},
    "jacobi": {"pc_type": "jacobi"},
    "icc": {"pc_type": "bjacobi", "sub_pc_type": "icc"},
    "gamg": {"pc_type": "gamg"},
}


class GridProblem(Protocol):
    """What :func:`compare` reads of a problem (a :class:`pde.PoissonProblem` has it all)."""

    @property
    def matrix(self) -> Any:
        """The sparse SPD (or SPSD) matrix over the unknowns."""

    @property
    def labels(self) -> np.ndarray:
        """Cell labels of the grid (FLUID cells are the unknowns)."""

    @property
    def exterior(self) -> str:
        """What lies outside the grid: ``'air'`` or ``'solid'``."""

    @property
    def is_singular(self) -> bool:
        """Whether the matrix has a null space."""

    def null_space(self) -> np.ndarray:
        """Orthonormal rows spanning the null space."""


def compare(
    problem: GridProblem,
    names: list[str],
    b: Any,
    *,
    rtol: float = 1e-6,
    maxiter: int | None = None,
    dcdm_map: str = "coarse",
    directions: int = 2,
    threads: int | None = 1,
    device: str | None = None,
) -> list[dict[str, Any]]:
    r"""Run each solver of ``names`` on ``problem.matrix x = b``; one result row per solver.

    Parameters
    ----------
    problem : GridProblem
        The matrix, its grid (labels, exterior) and its null space.
    names : list of str
        Keys or aliases of :data:`solvers.krylov.SOLVERS` (``dcdm`` uses ``dcdm_map``).
    b : numpy array
        Right-hand side.
    rtol : float
        Relative tolerance on the unpreconditioned residual.
    maxiter : int, optional
        Iteration limit.
    dcdm_map : str
        The map of DCDM, a spec of :func:`solvers.maps.make_map`.
    directions : int
        DCDM's :math:`k`.
    threads : int or None
        Cap on the BLAS/OpenMP threads (via threadpoolctl, when installed); None leaves the
        thread pools alone.
    device : str, optional
        Run DCDM on this torch device (:func:`solvers.device.dcdm_torch` with the map moved
        there by :class:`~solvers.device.DeviceTwoLevel`; ``dcdm_map`` must then be a
        two-level map: ``coarse``, ``smoothed`` or ``learned``). The others run as always.

    Returns
    -------
    list of dict
        Rows with ``solver``, ``iterations``, ``time_s`` (setup + solve), ``setup_s``,
        ``solve_s``, for DCDM the map's cost (:func:`map_cost`: ``map_ms``,
        ``map_flops_per_cell``, ``network_setup_s``),
        ``true_relres`` (:math:`\|b-Ax\|/\|b\|` recomputed here), ``reason``, ``converged``,
        ``message`` and ``residuals`` (relative, per iteration).

    Notes
    -----
    ``threads`` makes NumPy's vector operations run serially like the serial PETSc
    baselines: threaded BLAS on small vectors of a loaded machine is up to 10x slower.
    """
    if threads is not None:
        try:
            from threadpoolctl import threadpool_limits  # optional (the bench extra)
        except ImportError:  # pragma: no cover - threadpoolctl is optional
            pass
        else:
            with threadpool_limits(limits=threads):
                return compare(
                    problem,
                    names,
                    b,
                    rtol=rtol,
                    maxiter=maxiter,
                    dcdm_map=dcdm_map,
                    directions=directions,
                    threads=None,
                    device=device,
                )
    A = problem.matrix
    null = problem.null_space() if problem.is_singular else None
    bnorm = float(np.linalg.norm(b))
    rows = []
    for raw in names:
        name = ALIASES.get(raw, raw)
        kw: dict[str, Any] = {"rtol": rtol, "maxiter": maxiter}
        setup, extra = 0.0, {}
        if name == "dcdm":
            t0 = time.perf_counter()
            fmap = make_map(dcdm_map, A, labels=problem.labels, exterior=problem.exterior)
            if device is not None:
                fmap = _on_device(fmap, problem.labels, device, dcdm_map)
            setup = time.perf_counter() - t0
            extra = map_cost(fmap, np.asarray(problem.labels).size)
            kw.update(M=fmap, directions=directions, nullspace=null)
        elif name in PETSC_METHODS:
            kw["nullspace"] = null
        if name == "dcdm" and device is not None:
            t0 = time.perf_counter()
            xt, info = dcdm_torch(A, b, **kw, device=device)
            x, info.extra["time_s"] = xt.cpu().numpy(), time.perf_counter() - t0
        else:
            x, info = solve(A, b, method=name, **kw)
        if name == "dcdm":
            solve_s = float(info.extra["time_s"])
        else:
            setup = float(info.extra.get("setup_s", 0.0))
            solve_s = float(info.extra["time_s"]) - setup
        label = f"dcdm[{dcdm_map},k={directions}]" if name == "dcdm" else name
        label += f"@{device}" if name == "dcdm" and device is not None else ""
        rows.append(
            {
                "solver": label,
                "iterations": info.iterations,
                "time_s": setup + solve_s,
                "setup_s": setup,
                "solve_s": solve_s,
                "true_relres": float(np.linalg.norm(b - A @ x)) / bnorm,
                "reason": info.reason,
                "converged": info.converged,
                "message": info.message,
                "residuals": [float(r) / bnorm for r in info.residuals],
                **extra,
            }
        )
    return rows


def _on_device(fmap: Any, labels: Any, device: str, spec: str) -> DeviceTwoLevel:
    """The built linear two-level map ``fmap`` moved to a torch device."""
    if not isinstance(fmap, TwoLevelMap) or fmap.coarse is None or not fmap.linear:
        raise ValueError(
            f"device={device!r} runs DCDM on torch tensors with a two-level map: dcdm_map must "
            f"be coarse, smoothed or learned, got {spec!r}"
        )
    return DeviceTwoLevel(fmap, labels, device=device)


def map_cost(fmap: Any, cells: int, repeats: int = 3) -> dict[str, float]:
    """What one application of a DCDM map costs: ``map_ms`` (median wall milliseconds on a
    random vector), ``map_flops_per_cell`` (its :meth:`flops` over the grid's cells, when the
    map counts them) and ``network_setup_s`` (the set-up share of a network, when it has one).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from solvers.maps import make_map
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(64, 64), format="csr")
    >>> sorted(map_cost(make_map("jacobi", A), 64))
    ['map_ms']
    """
    cells = check_positive_int("cells", cells)
    repeats = check_positive_int("repeats", repeats)
    n = fmap.shape[0] if hasattr(fmap, "shape") else getattr(fmap, "n", None)
    if n is None:
        raise TypeError(f"fmap must have .shape or .n (its size), got {fmap!r:.80}")
    r = np.random.default_rng(0).standard_normal(n)
    if isinstance(fmap, DeviceTwoLevel):
        r = torch.as_tensor(r, dtype=fmap.dtype, device=fmap.device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fmap(r)
        times.append(time.perf_counter() - t0)
    out = {"map_ms": 1e3 * float(np.median(times))}
    if isinstance(fmap, DeviceTwoLevel):
        return out
    if hasattr(fmap, "flops"):
        out["map_flops_per_cell"] = fmap.flops() / cells
    if hasattr(fmap, "prolongation_s"):
        out["prolongation_setup_s"] = float(fmap.prolongation_s)
    if hasattr(fmap, "network_s"):
        out["network_setup_s"] = float(fmap.network_s)
    return out


def table(rows: list[dict[str, Any]]) -> list[str]:
    """The rows of :func:`compare` as aligned text lines.

    Columns: iterations, set-up, solve and total seconds, the true relative residual, and for
    a DCDM map its milliseconds and FLOP per cell per application (``-`` for the others).
    """
    head = (f"{'solver':<34} {'its':>6} {'setup [s]':>10} {'solve [s]':>10} {'total [s]':>10} "
            f"{'true relres':>12} {'map ms':>8} {'FLOP/cell':>10}  reason")  # fmt: skip
    lines = [head]
    for r in rows:
        ms = f"{r['map_ms']:>8.2f}" if "map_ms" in r else f"{'-':>8}"
        fl = r.get("map_flops_per_cell")
        fl = f"{fl:>10.0f}" if fl is not None else f"{'-':>10}"
        solve = r.get("solve_s", r["time_s"] - r["setup_s"])
        lines.append(
            f"{r['solver']:<34} {r['iterations']:>6d} {r['setup_s']:>10.4f} {solve:>10.4f} "
            f"{r['time_s']:>10.4f} {r['true_relres']:>12.3e} {ms} {fl}  {r['reason']}"
        )
    return lines


def distributed_row(solver: str, info: SolveInfo, bnorm: float) -> dict[str, Any]:
    r"""One row of a distributed solve, from :func:`~solvers.petsc.ksp_solve`'s :class:`SolveInfo`.

    Parameters
    ----------
    solver : str
        The row's label.
    info : SolveInfo
        With the ``extra`` of :func:`~solvers.petsc.ksp_solve` (``ranks``, ``setup_s``,
        ``solve_s``, ``true_residual``, ``ksp_reason``, ``ksp_reason_code``).
    bnorm : float
        :math:`\|b\|_2`, to make the residuals relative (0: left absolute).

    Returns
    -------
    dict
        ``solver``, ``ranks``, ``iterations``, ``setup_s``, ``solve_s`` (the slowest
        rank's), ``true_relres``, ``reason`` (PETSc's name), ``converged``, ``residuals``
        (relative, per iteration) and ``time_s`` (set-up + solve).
    """
    ex = info.extra
    row = {
        "solver": solver,
        "ranks": int(ex["ranks"]),
        "iterations": info.iterations,
        "setup_s": ex["setup_s"],
        "solve_s": ex["solve_s"],
        "true_relres": ex["true_residual"] / bnorm if bnorm else 0.0,
        "reason": ex["ksp_reason"],
        "converged": ex["ksp_reason_code"] > 0,
        "residuals": [h / bnorm for h in info.residuals] if bnorm else list(info.residuals),
    }
    row["time_s"] = row["setup_s"] + row["solve_s"]
    return row


def distributed_table(rows: list[dict[str, Any]]) -> list[str]:
    """The rows of :func:`distributed_row` as aligned text lines."""
    w = max([8] + [len(r["solver"]) for r in rows])
    head = f"{'solver':<{w}} {'ranks':>5} {'its':>6} {'setup [s]':>10} {'solve [s]':>10}"
    lines = [f"{head} {'true relres':>12}  reason"]
    for r in rows:
        lines.append(
            f"{r['solver']:<{w}} {r['ranks']:>5d} {r['iterations']:>6d} {r['setup_s']:>10.4f} "
            f"{r['solve_s']:>10.4f} {r['true_relres']:>12.3e}  {r['reason']}"
        )
    return lines


def plot(rows: list[dict[str, Any]], path: str | Path, title: str) -> None:
    """Relative residual against iteration, one line per row, saved to ``path``.

    Notes
    -----
    Draws with matplotlib's Agg backend (no display needed); matplotlib is imported here,
    not at module import, so that importing :mod:`solvers.compare` never picks a backend.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for r in rows:
        if r["residuals"]:
            ax.semilogy(r["residuals"], label=f"{r['solver']} ({r['iterations']})")
    ax.set_xlabel("iteration")
    ax.set_ylabel(r"$\|r_k\| / \|b\|$")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
