"""``sciconv tour``: the main job of ``make demo``.

A guided run through the primitives, each section checking a fast path against an exact or
dense reference and printing the figures. Every convolution family adds a section to
:data:`SECTIONS` (a name and a function returning the lines it prints).

A section's lines are strings and :class:`~sciconv.cli._common.Check` items: each check is one
printed figure against its stated tolerance, printed as ``ok: ...`` or ``FAILED: ...``. A
section that fails a check, or raises, is named at the end and the tour exits with status 1;
the other sections still run. Every line is flushed as it is printed.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable

from ._common import Check
from .tour_interpret import interpret_section as _interpret
from .tour_monarch import tour_lines as _monarch
from .tour_streaming import tour_lines as _streaming
from .tour_subpixel import subpixel_section as _subpixel

#: what a section returns: the lines it prints, with its checks among them
Lines = list[str | Check]

HELP = "a guided tour of sciconv: each primitive and family checked against its reference"


def _published(what: str, value: float, ref: float, digits: int, source: str = "NOVA") -> Check:
    """``value`` equals the figure ``ref`` published by ``source``, to its ``digits``
    significant digits."""
    import numpy as np

    tol = 0.5 * 10 ** (np.floor(np.log10(abs(ref))) - digits + 1)
    return Check(
        f"{what} = {ref:,.2f} ({source}'s table) to {digits} significant digits, |diff| <= {tol:g}",
        bool(abs(value - ref) <= tol),
        f"{value:,.4f}",
    )


#: NOVA's published kappa_2 of the finite-point Vandermonde matrices (as README's Winograd
#: findings reproduce them): (figure, its significant digits)
NOVA_KAPPA = {
    "F(8,3) integer": (196_899.68, 6),
    "F(8,3) NOVA": (474.10, 5),
    "F(6,3) NOVA": (76.64, 4),
}


def _operator() -> Lines:
    import numpy as np

    from sciconv import ConvOperator, dottest

    rng = np.random.default_rng(0)
    lines: Lines = []
    errs, gaps = [], []
    for padding in ("zeros", "valid", "circular", "reflect"):
        op = ConvOperator(rng.standard_normal((8, 4, 3, 3)), (4, 12, 12), stride=2, padding=padding)
        x = rng.standard_normal(op.in_shape)
        dense = op.to_dense()
        err = np.linalg.norm(dense @ x.ravel() - op.matvec(x)) / np.linalg.norm(dense @ x.ravel())
        gap = dottest(op, rng=1)
        errs.append(err)
        gaps.append(gap)
        lines.append(
            f"ConvOperator 4->8 ch, 3x3, stride 2, {padding:<8}: {op.shape[0]}x{op.shape[1]}, "
            f"|Ax - dense x|/|dense x| = {err:.1e}, dot test gap {gap:.1e}"
        )
    return lines + [
        Check.at_most(
            "forward vs dense matrix, worst relative error of 4 paddings", max(errs), 1e-12
        ),
        Check.at_most("adjoint, worst dot-test gap of 4 paddings", max(gaps), 1e-12),
    ]


def _spectrum() -> Lines:
    import numpy as np

    from sciconv import ConvOperator, conv_singular_values

    rng = np.random.default_rng(1)
    w = rng.standard_normal((6, 4, 3, 3))
    lines: Lines = []
    diffs = []
    for stride in (1, 2):
        t0 = time.perf_counter()
        sv = conv_singular_values(w, (4, 12, 12), stride=stride, flat=True)
        t_fft = time.perf_counter() - t0
        op = ConvOperator(w, (4, 12, 12), stride=stride, padding="circular")
        t0 = time.perf_counter()
        ref = np.linalg.svd(op.to_dense(), compute_uv=False)
        t_dense = time.perf_counter() - t0
        err = np.max(np.abs(sv - ref)) / ref[0] if sv.shape == ref.shape else np.inf
        diffs.append(err)
        lines.append(
            f"circular 4->6 ch, 3x3, 12x12, stride {stride}: sigma_max {sv[0]:.4f}, "
            f"sigma_min {sv[-1]:.4f}, max rel. diff vs dense SVD {err:.1e} "
            f"(FFT {t_fft * 1e3:.1f} ms, dense {t_dense * 1e3:.0f} ms)"
        )
    lines.append(
        Check.at_most(
            "FFT singular values vs dense SVD, worst of 2 strides (/ sigma_max)", max(diffs), 1e-12
        )
    )
    return lines


def _fft() -> Lines:
    import numpy as np
    from scipy.signal import convolve

    from sciconv import fftconv

    rng = np.random.default_rng(2)
    x, k = rng.standard_normal(1000), rng.standard_normal(64)
    lines: Lines = []
    diffs = []
    for mode in ("full", "same"):
        err = np.max(np.abs(fftconv(x, k, mode=mode) - convolve(x, k, mode, method="direct")))
        diffs.append(err)
        lines.append(f"fftconv mode={mode:<8} vs direct: max abs diff {err:.1e}")
    causal = fftconv(x, k, mode="causal")
    err = np.max(np.abs(causal - convolve(x, k, "full", method="direct")[: x.size]))
    diffs.append(err)
    lines.append(f"fftconv mode=causal   vs direct: max abs diff {err:.1e}")
    lines.append(
        Check.at_most("fftconv, worst of 3 modes, max abs diff from direct", max(diffs), 1e-10)
    )
    return lines


def _vandermonde() -> Lines:
    from fractions import Fraction

    import numpy as np

    from sciconv import cond, vandermonde

    lines: Lines = []
    sets = {
        "consecutive integers {0,±1,±2,±3,±4}": [0, 1, -1, 2, -2, 3, -3, 4, -4],
        "NOVA F(8,3) {0,±2/5,±5/6,±1,±7/6}": [
            "0",
            "2/5",
            "-2/5",
            "5/6",
            "-5/6",
            1,
            -1,
            "7/6",
            "-7/6",
        ],
    }
    checks = []
    for (name, pts), short in zip(sets.items(), ("integer", "NOVA"), strict=True):
        kappa = float(cond(vandermonde(pts, kind="mp"), norm=2))
        lines.append(f"kappa_2 of the Vandermonde matrix, {name}: {kappa:,.2f}")
        ref = np.linalg.cond(np.vander([float(Fraction(p)) for p in pts], increasing=True))
        checks.append(
            Check.at_most(
                f"kappa_2 ({short}) vs numpy float64 cond, rel. diff", abs(kappa / ref - 1), 1e-9
            )
        )
        published = NOVA_KAPPA[f"F(8,3) {short}"]
        checks.append(_published(f"kappa_2 ({short})", kappa, *published))
    return lines + checks


def _petsc() -> Lines:
    import numpy as np
    import scipy.sparse.linalg as spla

    from sciconv import ConvOperator
    from solvers.petsc import as_petsc_mat, ksp_solve

    lap = np.array([[0.0, -1.0, 0.0], [-1.0, 4.1, -1.0], [0.0, -1.0, 0.0]])
    op = ConvOperator(lap[None, None], (1, 32, 32), padding="circular")
    A = as_petsc_mat(op)
    rhs = np.random.default_rng(3).standard_normal(op.shape[0])
    x, info = ksp_solve(A, rhs, rtol=1e-10, norm_type=None)
    A.destroy()
    ref = spla.spsolve(op.to_sparse().tocsc(), rhs)
    err = np.linalg.norm(x - ref) / np.linalg.norm(ref)
    code = info.extra["ksp_reason_code"]
    return [
        f"PETSc KSP cg on a shell matrix (circular shifted Laplacian, 32x32): "
        f"{info.iterations} iterations, reason {code}, "
        f"|x - scipy|/|scipy| = {err:.1e}",
        Check("KSP converged on rtol 1e-10 (PETSc reason 2)", code == 2, f"reason {code}"),
        # kappa = 8.1 / 0.1 = 81, so the error is at most kappa * rtol = 8.1e-9
        Check.at_most("solution vs scipy spsolve, rel. error (kappa 81 x rtol 1e-10)", err, 1e-8),
    ]


def _poisson() -> Lines:
    from .poisson.serial import tour_lines

    return tour_lines()


def _dcdm_network() -> Lines:
    import numpy as np
    import torch

    from pde import poisson_problem
    from solvers.compare import compare, plot, table
    from solvers.petsc import DCDM, MapPC, ksp_solve

    torch.set_num_threads(1)

    def petsc_dcdm(prob, b, spec: str, label: str) -> dict:
        """DCDM as a PETSc KSP (python type) with the map ``spec`` as its PC."""
        t0 = time.perf_counter()
        A = prob.petsc_aij()
        assembly = time.perf_counter() - t0
        pc = MapPC(spec=spec)
        pc.set_grid(prob.labels, prob.exterior)
        x, info = ksp_solve(A, b, ksp_type=DCDM(directions=10), pc_type=pc, rtol=1e-6,
                            maxiter=1000)  # fmt: skip
        A.destroy()
        bn = float(np.linalg.norm(b))
        return {"solver": label, "iterations": info.iterations,
                "time_s": time.perf_counter() - t0, "setup_s": assembly + info.extra["setup_s"],
                "true_relres": float(np.linalg.norm(b - prob.matrix @ x)) / bn,
                "reason": info.reason, "converged": info.converged,
                "residuals": [h / bn for h in info.residuals]}  # fmt: skip

    lines: Lines = []
    checks = []
    for geometry, n, dim in (("obstacles", 512, 2), ("obstacles", 64, 3)):
        seed = 10_000  # held-out generator seed: never used in training
        prob = poisson_problem(geometry, n, dim, seed=seed)
        b = prob.rhs_divergence(seed)
        rows = compare(prob, ["petsc-cg", "icc", "gamg", "pyamg"], b, rtol=1e-6)
        rows.append(petsc_dcdm(prob, b, "coarse", "PETSc DCDM[coarse, no network]"))
        rows.append(petsc_dcdm(prob, b, "learned", "PETSc DCDM[learned, net at set-up]"))
        rows.append(petsc_dcdm(prob, b, "network+coarse", "PETSc DCDM[network+coarse]"))
        title = f"{geometry} {n}^{dim} ({prob.n} unknowns), held-out seed {seed}, rtol 1e-6"
        path = f"out/tour_dcdm_{dim}d.png"
        plot(rows, path, title)
        gamg = next(r for r in rows if r["solver"] == "gamg-cg")
        icc = next(r for r in rows if r["solver"] == "icc-cg")
        coarse, learned, net = rows[-3:]
        lines += [f"{title}:", *("  " + line for line in table(rows))]
        for name, r in (("coarse", coarse), ("learned", learned), ("network+coarse", net)):
            lines.append(
                f"  {name} vs GAMG-CG: {r['iterations'] / gamg['iterations']:.2f}x iterations, "
                f"{r['time_s'] / gamg['time_s']:.2f}x wall time; vs ICC-CG: "
                f"{r['time_s'] / icc['time_s']:.2f}x wall time"
            )
        lines.append(f"  plot {path}")
        bad = [r["solver"] for r in rows if not r["converged"]]
        checks.append(
            Check(
                f"{dim}D: all {len(rows)} solvers converged, true relres <= rtol 1e-6",
                not bad and all(r["true_relres"] <= 1e-6 for r in rows),
                f"worst {max(r['true_relres'] for r in rows):.1e}"
                + (f"; not converged: {', '.join(bad)}" if bad else ""),
            )
        )
        checks.append(
            Check(
                f"{dim}D: learned map's iterations <= coarse map's",
                learned["iterations"] <= coarse["iterations"],
                f"{learned['iterations']} vs {coarse['iterations']}",
            )
        )
    return lines + checks


def _orthogonal() -> Lines:
    import numpy as np
    import torch

    from sciconv import conv_singular_values
    from sciconv.orthogonal import OrthogonalConv2d, certify, exists

    lines: Lines = []
    wrong = []
    for c, m, k, s in [(16, 64, 3, 2), (32, 289, 3, 4), (16, 32, 1, 2)]:
        v = exists(c, m, k, s)
        reason = v.reason.split(" [")[0]
        lines.append(f"exists {c}->{m}, k={k}, S={s}: {v.exists} ({v.kind}): {reason}")
        # Achour et al. (JMLR 2022), Thm. 1, circular 2D: row-orthogonal (M <= C S^2) exists
        # iff M <= C min(k, S)^2; column-orthogonal iff S <= k
        expected = m <= c * min(k, s) ** 2 if m <= c * s**2 else s <= k
        if v.exists != expected:
            wrong.append(f"{c}->{m}, k={k}, S={s}: {v.exists}")
    cert = certify(1, 5, 1, 2, 2)
    lines.append(
        f"certify 1->5, k=1, S=2 (2D, N={cert.grid}): floor {cert.floor:.6g} vs closed form "
        f"{cert.expected_floor:g}, agrees {cert.agrees}"
    )
    layer = OrthogonalConv2d(16, 32, 3, 2, bias=False, dtype=torch.float64)
    sv = conv_singular_values(layer.weight.detach(), (16, 16, 16), stride=2, flat=True)
    lines.append(
        f"OrthogonalConv2d 16->32, 3x3, stride 2 on 16x16: {sv.size} singular values, "
        f"max |sigma - 1| = {abs(sv - 1).max():.1e}"
    )
    return lines + [
        Check(
            "existence verdicts = Achour et al. Thm. 1 closed form (3 configurations)",
            not wrong,
            "; ".join(wrong) or "3 of 3 agree",
        ),
        Check(
            "certificate floor agrees with its closed form",
            bool(cert.agrees),
            f"{cert.floor:.6g} vs {cert.expected_floor:g}",
        ),
        Check.at_most(
            "OrthogonalConv2d singular values, max |sigma - 1|",
            abs(sv - 1).max() if sv.size == 2048 else np.inf,
            1e-12,
        ),
    ]


def _winograd() -> Lines:
    from sciconv.winograd import balance, kappa_table, transforms, verify, winograd_error

    lines: Lines = []
    inexact, kappas = [], {}
    for m, name, pts in (
        (6, "classic", None),
        (6, "NOVA", "0,3/5,-3/5,1,-1,7/6,-7/6"),
        (8, "integer", "0,1,-1,2,-2,3,-3,4,-4"),
        (8, "NOVA", "0,2/5,-2/5,5/6,-5/6,1,-1,7/6,-7/6"),
    ):
        t = transforms(m, 3, pts)
        tab = kappa_table(t)
        e = winograd_error(balance(t), "float16", 2, 300, seed=0)
        err = f"{e.mean:.2e}" if e.overflows == 0 else f"overflow in {e.overflows}/300 tiles"
        if not verify(t):
            inexact.append(f"F({m},3) {name}")
        kappas[f"F({m},3) {name}"] = float(tab["kappa_Vfin"])
        lines.append(
            f"F({m},3) {name:<8} exact: {verify(t)}, kappa_2(V_fin) {tab['kappa_Vfin']:.6g}, "
            f"E {tab['E']:.4g}, 2D fp16 error {err} (direct {e.direct_mean:.1e})"
        )
    lines.append(
        Check(
            "all 4 transforms exact (rational arithmetic)",
            not inexact,
            "; ".join(inexact) or "4 of 4",
        )
    )
    for name, published in NOVA_KAPPA.items():
        lines.append(_published(f"{name} kappa_2(V_fin)", kappas[name], *published))
    return lines


def _ssm() -> Lines:
    from .ssm import tour_lines

    return tour_lines()


def _hyperbolic() -> Lines:
    import torch

    from sciconv.hyperbolic import PoincareConv2d
    from sciconv.hyperbolic import ball as hb

    d = torch.float64
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        conv = PoincareConv2d(3, 5, 3, padding=1, c=0.5, id_init=False, dtype=d)
        x = hb.expmap0(torch.randn(2, 3, 6, 6, dtype=d, generator=gen), 0.5, dim=1)
        conv.impl = "unfold"  # the recipe as written: log0, beta scaling, unfold, exp0, FC
        ref = conv(x)
        conv.impl = "fused"  # two conv2d calls, no unfold
        err = float((conv(x) - ref).abs().max())
        ident = PoincareConv2d(4, 4, 3, padding=1, dtype=d)
        small = hb.expmap0(1e-3 * torch.randn(1, 4, 6, 6, dtype=d, generator=gen), 1.0, dim=1)
        id_err = float(((ident(small) - small).norm(dim=1) / small.norm(dim=1)).max())
        y = hb.expmap0(torch.randn(4, 3, dtype=d, generator=gen), 1.0)
        mid = float(hb.weighted_midpoint(torch.stack([y, -y]), 1.0, reduce_dim=0).abs().max())
        inv = float(hb.mobius_add(-y, y, 1.0).abs().max())
    return [
        f"PoincareConv2d 3->5, 3x3: fused (2 conv2d) vs unfold recipe, max diff {err:.1e}",
        f"identity init, inputs of norm ~1e-3: max relative change {id_err:.1e}",
        f"midpoint of {{x, -x}}: max |m| = {mid:.1e}; (-x) (+) x: max {inv:.1e}",
        Check.at_most("fused vs unfold recipe, max abs diff", err, 1e-12),
        # the identity init is exact to first order: the change is O(|x|^2) ~ 1e-6
        Check.at_most("identity init, max relative change at |x| ~ 1e-3", id_err, 1e-5),
        Check.at_most("midpoint of {x, -x} and (-x) (+) x, max abs", max(mid, inv), 1e-12),
    ]


def _generalized() -> Lines:
    import torch
    import torch.nn.functional as F

    from sciconv.generalized import KernelConv2d
    from sciconv.hadamard import FiLM
    from sciconv.hyperzzw import TerminatorBlock

    torch.manual_seed(0)
    d = torch.float64
    x = torch.rand(2, 3, 12, 12, dtype=d)
    layer = KernelConv2d(3, 4, 3, padding=1, kernel="gaussian", gamma=0.1, bias=False, dtype=d)
    p = F.unfold(x, 3, padding=1)
    d2 = ((p.unsqueeze(1) - layer.weight.reshape(1, 4, -1, 1)) ** 2).sum(2)
    with torch.no_grad():
        err = (layer(x) - torch.exp(-0.1 * d2).reshape(2, 4, 12, 12)).abs().max().item()
        ident = torch.equal(FiLM(3, 5, dtype=d)(x, torch.randn(2, 5, dtype=d)), x)
        block = TerminatorBlock(3, 4, dtype=d).eval()
        x2 = x.clone()
        x2[1] = torch.randn(3, 12, 12, dtype=d)
        gap = (block(x)[0] - block(x2)[0]).abs().max().item()
    return [
        f"gaussian KernelConv2d (3 convolutions, no unfold) vs unfold: max error {err:.1e}",
        f"fresh FiLM layer is the identity: {ident}",
        f"HyperZ·Z·W block, eval: sample 0 changes by {gap:.1e} when sample 1 changes",
        Check.at_most("gaussian KernelConv2d vs unfold, max abs error", err, 1e-12),
        Check("fresh FiLM layer is exactly the identity", ident, str(ident)),
        Check.at_most("HyperZ·Z·W eval, sample 0's change from sample 1", gap, 1e-12),
    ]


def _tensors() -> Lines:
    import torch
    import torch.nn.functional as F

    from tensors import CPConv2d, TTConv2d, TuckerConv2d

    torch.manual_seed(0)
    d = torch.float64
    conv = torch.nn.Conv2d(16, 16, 3, padding=1, dtype=d)
    x = torch.randn(2, 16, 12, 12, dtype=d)
    lines: Lines = []
    errs, errs_full = [], []
    with torch.no_grad():
        for cls, rank in ((CPConv2d, 8), (TuckerConv2d, (8, 8)), (TTConv2d, (8, 8, 8))):
            layer = cls(16, 16, 3, stride=2, padding=1, rank=rank, dtype=d)
            err = (layer(x) - F.conv2d(x, layer.weight, layer.bias, 2, 1)).abs().max().item()
            err_full = (cls.from_conv(conv, "full")(x) - conv(x)).abs().max().item()
            trunc = cls.from_conv(conv, rank)
            errs.append(err)
            errs_full.append(err_full)
            lines.append(
                f"{cls.__name__:<13} rank {str(layer.rank):<10}: {layer.n_parameters():>4} params "
                f"(dense {layer.dense_parameters()}), |layer - conv(W_hat)| {err:.1e}, "
                f"full-rank from_conv |diff| {err_full:.1e}, rank-{rank} kernel error "
                f"{trunc.decomposition_error:.2f}"
            )
    return lines + [
        Check.at_most(
            "factored layer vs conv2d with its W_hat, worst of 3, max abs", max(errs), 1e-12
        ),
        Check.at_most(
            "full-rank from_conv vs the conv, worst of 3, max abs", max(errs_full), 1e-12
        ),
    ]


def _wave() -> Lines:
    import numpy as np

    from pde.wave import AcousticWave2D

    def mode(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.sin(np.pi * x) * np.sin(np.pi * y)

    def exact(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return mode(x, y) * np.cos(np.sqrt(2) * np.pi * 0.5)

    errors = []
    for n in (8, 16, 32):
        solver = AcousticWave2D(n)
        run = solver.simulate(solver.interpolate(mode), dt=0.5 / n, n_steps=n)  # to t = 0.5
        errors.append(solver.l2_error(run.u, exact))
    rates = ", ".join(f"{errors[i] / errors[i + 1]:.2f}" for i in range(2))
    rng = np.random.default_rng(0)
    solver = AcousticWave2D(16, velocity=1 + rng.random((17, 17)))
    run = solver.simulate(rng.standard_normal(289), dt=0.9 * solver.max_stable_dt(), n_steps=1000)
    drift = np.max(np.abs(run.energy / run.energy[0] - 1))
    try:
        solver.check_dt(1.01 * solver.max_stable_dt())
        refused = "accepted (wrong)"
    except ValueError as exc:
        refused = f"refused: {str(exc)[:60]}..."
    ratios = [errors[i] / errors[i + 1] for i in range(2)]
    return [
        "Q1 wave, standing mode, h = 1/8, 1/16, 1/32: L2 errors "
        + ", ".join(f"{e:.2e}" for e in errors)
        + f" (ratios {rates}; order 2 -> 4)",
        f"heterogeneous c, 1000 leapfrog steps at 0.9 CFL: max |E/E0 - 1| = {drift:.1e}",
        f"dt = 1.01 x CFL bound {solver.max_stable_dt():.4f}: {refused}",
        Check(
            "second order: both error ratios in [3.8, 4.2]",
            all(3.8 <= r <= 4.2 for r in ratios),
            rates,
        ),
        Check.at_most("leapfrog discrete energy drift, max |E/E0 - 1|", drift, 1e-12),
        Check("dt above the CFL bound is refused", refused.startswith("refused"), refused[:7]),
    ]


def _one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line (whitespace collapsed), cut to its last ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else "..." + text[-limit:]


def _cuda_line(cuda: dict) -> str:
    """Whether CUDA is available, and if not, why (torch's own message where it gives one)."""
    if cuda.get("available"):
        return f"CUDA available: True ({', '.join(cuda.get('devices') or [])})"
    try:
        import torch
    except ImportError as exc:
        return f"CUDA available: False: torch does not import ({_one_line(exc)})"
    if torch.version.cuda is None:
        why = f"torch {torch.__version__} is built without CUDA (torch.version.cuda is None)"
    else:
        try:
            torch.cuda.init()
        except Exception as exc:  # noqa: BLE001 - torch's reason, whatever it raises
            why = _one_line(exc)
        else:
            why = "torch.cuda.init() succeeded but torch.cuda.device_count() is 0"
        why = f"no CUDA device (torch built for CUDA {torch.version.cuda}): {why}"
    return f"CUDA available: False: torch.cuda.is_available() is False; {why}"


def _info() -> Lines:
    from .info import collect

    info = collect(check_mpi=True)
    p = info["petsc"]
    deps = ", ".join(f"{k} {v}" for k, v in info["dependencies"].items() if v)
    lines: Lines = [f"dependencies: {deps}", _cuda_line(info["cuda"])]
    if p.get("available"):
        lines.append(
            f"PETSc {p['version']} ({p['scalar_type']}, {p['precision']}, "
            f"MPI {'on' if p['mpi'] else 'off'})"
        )
    else:
        lines.append(f"PETSc: not available: {_one_line(p.get('error', 'unknown'))}")
    chk = info.get("mpiexec_petsc")
    if chk is None:
        lines.append("mpiexec -n 2 runs a PETSc program: not tried (PETSc is not available)")
    elif chk["ok"]:
        lines.append("mpiexec -n 2 runs a PETSc program: yes")
    else:
        why = _one_line(chk.get("reason") or "") or f"unexpected output {chk.get('output')}"
        lines.append(f"mpiexec -n 2 runs a PETSc program: NO: {why}")
    return lines


#: (title, section) in the order the tour prints them; families append theirs.
SECTIONS: list[tuple[str, Callable[[], list[str]]]] = [
    ("ConvOperator: forward vs dense matrix, adjoint by the dot test", _operator),
    ("Spectrum: singular values of circular convolutions by FFT (Sedghi et al.)", _spectrum),
    ("FFT convolution vs direct summation", _fft),
    ("FFT as matrix products (Monarch), partial and frequency-sparse convolutions", _monarch),
    ("Vandermonde matrices and their mpmath condition numbers", _vandermonde),
    ("PETSc: KSP on a ConvOperator shell matrix", _petsc),
    ("Poisson problems, classical baselines, DCDM through PETSc KSP/PC plug-ins", _poisson),
    ("DCDM (PETSc KSP) with the pretrained network + coarse correction, held out", _dcdm_network),
    ("Orthogonal convolutions: existence oracle, certificate, exact layer", _orthogonal),
    ("Winograd/Toom-Cook: exact transforms, conditioning, fp16 error", _winograd),
    ("State-space kernels: Krylov, Vandermonde and Cauchy vs dense Krylov", _ssm),
    ("Hyperbolic (Poincaré ball) convolutions", _hyperbolic),
    ("Generalized, Hadamard and HyperZ·Z·W convolutions", _generalized),
    ("Tensor-compressed convolutions (CP/Tucker/TT)", _tensors),
    ("Finite-element wave equation (Q1, leapfrog)", _wave),
    ("Streaming inference of 1D CNNs (StreamiNNC): exact vs windowed", _streaming),
    ("Linear interpreters (LinearScope): a CNN frozen at x, f(x) = A(x) x + c(x)", _interpret),
    ("Sub-pixel convolution (ESPCN) as a stride-r transposed convolution", _subpixel),
    ("Environment (sciconv info)", _info),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--only",
        nargs="*",
        metavar="WORD",
        help="run only the sections whose title contains one of these words",
    )


def run(args: argparse.Namespace) -> int:
    chosen = [
        (title, fn)
        for title, fn in SECTIONS
        if not args.only or any(w.lower() in title.lower() for w in args.only)
    ]
    if not chosen:
        words = " ".join(args.only)
        raise ValueError(
            f"--only {words}: no section title contains any of these words; the sections are: "
            + "; ".join(title for title, _ in SECTIONS)
        )
    failed = []
    n_checks = 0
    for i, (title, fn) in enumerate(chosen, 1):
        print(f"\n[{i}/{len(chosen)}] {title}", flush=True)
        t0 = time.perf_counter()
        checks: list[Check] = []
        try:
            for line in fn():
                if isinstance(line, Check):
                    checks.append(line)
                print(f"  {line}", flush=True)
        except Exception as exc:  # noqa: BLE001 - a section that raises fails; the tour goes on
            traceback.print_exc(file=sys.stderr)
            sys.stderr.flush()
            checks.append(Check("the section runs", False, f"raised {_one_line(repr(exc))}"))
            print(f"  {checks[-1]}", flush=True)
        bad = sum(not c.ok for c in checks)
        n_checks += len(checks)
        if bad:
            failed.append(f"[{i}] {title}")
            verdict = f"{bad} of {len(checks)} checks FAILED"
        else:
            n = len(checks)
            verdict = f"{n} check{'s' * (n != 1)} passed" if checks else "report only, no checks"
        print(f"  ({time.perf_counter() - t0:.1f} s; {verdict})", flush=True)
    if failed:
        print(
            f"\ntour FAILED: {len(failed)} of {len(chosen)} sections: " + "; ".join(failed),
            flush=True,
        )
        return 1
    print(f"\ntour: all {len(chosen)} sections passed their {n_checks} checks", flush=True)
    return 0
