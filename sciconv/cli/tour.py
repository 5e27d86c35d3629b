"""``sciconv tour``: the main job of ``make demo``.

A guided run through the primitives, each section checking a fast path against an exact or
dense reference and printing the figures. Every convolution family adds a section to
:data:`SECTIONS` (a name and a function returning the lines it prints).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

HELP = "a guided tour of sciconv: each primitive and family checked against its reference"


def _operator() -> list[str]:
    from sciconv import ConvOperator, dottest

    rng = np.random.default_rng(0)
    lines = []
    for padding in ("zeros", "valid", "circular", "reflect"):
        op = ConvOperator(rng.standard_normal((8, 4, 3, 3)), (4, 12, 12), stride=2, padding=padding)
        x = rng.standard_normal(op.in_shape)
        dense = op.to_dense()
        err = np.linalg.norm(dense @ x.ravel() - op.matvec(x)) / np.linalg.norm(dense @ x.ravel())
        lines.append(
            f"ConvOperator 4->8 ch, 3x3, stride 2, {padding:<8}: {op.shape[0]}x{op.shape[1]}, "
            f"|Ax - dense x|/|dense x| = {err:.1e}, dot test gap {dottest(op, rng=1):.1e}"
        )
    return lines


def _spectrum() -> list[str]:
    from sciconv import ConvOperator, conv_singular_values

    rng = np.random.default_rng(1)
    w = rng.standard_normal((6, 4, 3, 3))
    lines = []
    for stride in (1, 2):
        t0 = time.perf_counter()
        sv = conv_singular_values(w, (4, 12, 12), stride=stride, flat=True)
        t_fft = time.perf_counter() - t0
        op = ConvOperator(w, (4, 12, 12), stride=stride, padding="circular")
        t0 = time.perf_counter()
        ref = np.linalg.svd(op.to_dense(), compute_uv=False)
        t_dense = time.perf_counter() - t0
        err = np.max(np.abs(sv - ref)) / ref[0]
        lines.append(
            f"circular 4->6 ch, 3x3, 12x12, stride {stride}: sigma_max {sv[0]:.4f}, "
            f"sigma_min {sv[-1]:.4f}, max rel. diff vs dense SVD {err:.1e} "
            f"(FFT {t_fft * 1e3:.1f} ms, dense {t_dense * 1e3:.0f} ms)"
        )
    return lines


def _fft() -> list[str]:
    from scipy.signal import convolve

    from sciconv import fftconv

    rng = np.random.default_rng(2)
    x, k = rng.standard_normal(1000), rng.standard_normal(64)
    lines = []
    for mode in ("full", "same"):
        err = np.max(np.abs(fftconv(x, k, mode=mode) - convolve(x, k, mode, method="direct")))
        lines.append(f"fftconv mode={mode:<8} vs direct: max abs diff {err:.1e}")
    causal = fftconv(x, k, mode="causal")
    err = np.max(np.abs(causal - convolve(x, k, "full", method="direct")[: x.size]))
    lines.append(f"fftconv mode=causal   vs direct: max abs diff {err:.1e}")
    return lines


def _vandermonde() -> list[str]:
    from sciconv import cond, vandermonde

    lines = []
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
    for name, pts in sets.items():
        kappa = cond(vandermonde(pts, kind="mp"), norm=2)
        lines.append(f"kappa_2 of the Vandermonde matrix, {name}: {float(kappa):,.2f}")
    return lines


def _petsc() -> list[str]:
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
    return [
        f"PETSc KSP cg on a shell matrix (circular shifted Laplacian, 32x32): "
        f"{info.iterations} iterations, reason {info.extra['ksp_reason_code']}, "
        f"|x - scipy|/|scipy| = {err:.1e}"
    ]


def _poisson() -> list[str]:
    from .poisson.serial import tour_lines

    return tour_lines()


def _dcdm_network() -> list[str]:
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

    lines = []
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
    return lines


def _orthogonal() -> list[str]:
    import torch

    from sciconv import conv_singular_values
    from sciconv.orthogonal import OrthogonalConv2d, certify, exists

    lines = []
    for c, m, k, s in [(16, 64, 3, 2), (32, 289, 3, 4), (16, 32, 1, 2)]:
        v = exists(c, m, k, s)
        reason = v.reason.split(" [")[0]
        lines.append(f"exists {c}->{m}, k={k}, S={s}: {v.exists} ({v.kind}): {reason}")
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
    return lines


def _winograd() -> list[str]:
    from sciconv.winograd import balance, kappa_table, transforms, verify, winograd_error

    lines = []
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
        lines.append(
            f"F({m},3) {name:<8} exact: {verify(t)}, kappa_2(V_fin) {tab['kappa_Vfin']:.6g}, "
            f"E {tab['E']:.4g}, 2D fp16 error {err} (direct {e.direct_mean:.1e})"
        )
    return lines


def _ssm() -> list[str]:
    from .ssm import tour_lines

    return tour_lines()


def _hyperbolic() -> list[str]:
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
    ]


def _generalized() -> list[str]:
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
    ]


def _tensors() -> list[str]:
    import torch
    import torch.nn.functional as F

    from tensors import CPConv2d, TTConv2d, TuckerConv2d

    torch.manual_seed(0)
    d = torch.float64
    conv = torch.nn.Conv2d(16, 16, 3, padding=1, dtype=d)
    x = torch.randn(2, 16, 12, 12, dtype=d)
    lines = []
    with torch.no_grad():
        for cls, rank in ((CPConv2d, 8), (TuckerConv2d, (8, 8)), (TTConv2d, (8, 8, 8))):
            layer = cls(16, 16, 3, stride=2, padding=1, rank=rank, dtype=d)
            err = (layer(x) - F.conv2d(x, layer.weight, layer.bias, 2, 1)).abs().max().item()
            err_full = (cls.from_conv(conv, "full")(x) - conv(x)).abs().max().item()
            trunc = cls.from_conv(conv, rank)
            lines.append(
                f"{cls.__name__:<13} rank {str(layer.rank):<10}: {layer.n_parameters():>4} params "
                f"(dense {layer.dense_parameters()}), |layer - conv(W_hat)| {err:.1e}, "
                f"full-rank from_conv |diff| {err_full:.1e}, rank-{rank} kernel error "
                f"{trunc.decomposition_error:.2f}"
            )
    return lines


def _wave() -> list[str]:
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
    return [
        "Q1 wave, standing mode, h = 1/8, 1/16, 1/32: L2 errors "
        + ", ".join(f"{e:.2e}" for e in errors)
        + f" (ratios {rates}; order 2 -> 4)",
        f"heterogeneous c, 1000 leapfrog steps at 0.9 CFL: max |E/E0 - 1| = {drift:.1e}",
        f"dt = 1.01 x CFL bound {solver.max_stable_dt():.4f}: {refused}",
    ]


def _info() -> list[str]:
    from .info import collect

    info = collect(check_mpi=True)
    p = info["petsc"]
    deps = ", ".join(f"{k} {v}" for k, v in info["dependencies"].items() if v)
    lines = [f"dependencies: {deps}", f"CUDA available: {info['cuda']['available']}"]
    if p.get("available"):
        lines.append(
            f"PETSc {p['version']} ({p['scalar_type']}, {p['precision']}, "
            f"MPI {'on' if p['mpi'] else 'off'})"
        )
    chk = info.get("mpiexec_petsc")
    if chk is not None:
        lines.append(f"mpiexec -n 2 runs a PETSc program: {'yes' if chk['ok'] else 'NO'}")
    return lines


#: (title, section) in the order the tour prints them; families append theirs.
SECTIONS: list[tuple[str, Callable[[], list[str]]]] = [
    ("ConvOperator: forward vs dense matrix, adjoint by the dot test", _operator),
    ("Spectrum: singular values of circular convolutions by FFT (Sedghi et al.)", _spectrum),
    ("FFT convolution vs direct summation", _fft),
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
    for i, (title, fn) in enumerate(chosen, 1):
        print(f"\n[{i}/{len(chosen)}] {title}")
        t0 = time.perf_counter()
        for line in fn():
            print(f"  {line}")
        print(f"  ({time.perf_counter() - t0:.1f} s)")
    return 0
