"""``sciconv ortho``: does an orthogonal convolution exist, and how orthogonal is a kernel?"""

from __future__ import annotations

import argparse
from typing import Any

from ._common import dumps

HELP = "orthogonal convolutions: existence oracle (exists) and orthogonality measures (measure)"


def _ints(text: str) -> int | tuple[int, ...]:
    """'3' -> 3, '3,1' -> (3, 1)."""
    try:
        vals = tuple(int(v) for v in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected an int or ints like 3,1, got {text!r}") from exc
    return vals[0] if len(vals) == 1 else vals


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="ortho_command", required=True, metavar="ACTION")
    ex = sub.add_parser(
        "exists",
        help="does an orthogonal convolution with these channels/kernel/stride exist?",
        description="Existence oracle (Achour, Malgouyres and Mamalet, JMLR 2022).",
    )
    ex.add_argument("--in-channels", type=int, required=True, help="C")
    ex.add_argument("--out-channels", type=int, required=True, help="M")
    ex.add_argument("--kernel", type=_ints, required=True, help="k (or k1,k2,...)")
    ex.add_argument("--stride", type=_ints, default=1, help="S (or S1,S2,...), default 1")
    ex.add_argument("--dim", type=int, default=2, help="spatial dimensions (1, 2, 3)")
    ex.add_argument("--padding", default="circular", choices=("circular", "valid", "same"))
    ex.add_argument(
        "--certify", action="store_true", help="also minimise the Gram defect numerically"
    )
    ex.add_argument("--json", action="store_true", help="print a JSON object")
    ex.set_defaults(_ortho=_run_exists)
    me = sub.add_parser(
        "measure",
        help="σ_min, σ_max, err_F, err_s and L_orth of a kernel stored as .npy",
        description="Orthogonality measures of a kernel (M, C, *k) saved with numpy.save.",
    )
    me.add_argument("--weight", required=True, help="path to a .npy kernel (M, C, *k)")
    me.add_argument("--input-size", type=_ints, required=True, help="spatial size n (or n1,n2)")
    me.add_argument("--stride", type=_ints, default=1, help="S (or S1,S2,...), default 1")
    me.add_argument(
        "--padding", default="circular", choices=("circular", "same", "zeros", "valid", "reflect")
    )
    me.add_argument("--json", action="store_true", help="print a JSON object")
    me.set_defaults(_ortho=_run_measure)


#: The most work ``--certify`` takes on, in entries: the symbol method's taps
#: (M C k^d N^d) and the dense method's basis of unit-kernel matrices (M C k^d (M N^d)(C N^d))
#: are bounded so that a certificate takes about a minute at most, never hours.
CERTIFY_LIMITS = {"symbol": 2**25, "dense": 2**25}


def check_certify_size(v: Any) -> None:
    """Refuse ``--certify`` when the certificate's work is out of reach (ValueError)."""
    import math

    from sciconv.orthogonal import default_grid

    m, c, k = v.out_channels, v.in_channels, v.kernel_size
    grid = default_grid(k, v.stride, v.padding)
    n = math.prod(g * s for g, s in zip(grid, v.stride))
    params = m * c * math.prod(k)
    method = "symbol" if v.padding == "circular" else "dense"
    work = params * n if method == "symbol" else params * (m * n) * (c * n)
    if work > CERTIFY_LIMITS[method]:
        raise ValueError(
            f"--certify with --in-channels {c} --out-channels {m} --kernel "
            f"{','.join(map(str, k))} ({v.padding}, grid {grid}) needs {work:.3g} entries of "
            f"{method} work, more than {CERTIFY_LIMITS[method]:.3g}: out of reach; the "
            "oracle's verdict alone (without --certify) is exact and instant"
        )


def _run_exists(args: argparse.Namespace) -> int:
    from sciconv.orthogonal import certify, exists

    v = exists(
        args.in_channels, args.out_channels, args.kernel, args.stride, args.dim, args.padding
    )
    out = v.to_dict()
    if args.certify:
        check_certify_size(v)
        cert = certify(
            args.in_channels, args.out_channels, args.kernel, args.stride, args.dim, args.padding
        )
        out["certificate"] = {
            "floor": cert.floor,
            "expected_floor": cert.expected_floor,
            "grid": cert.grid,
            "agrees": cert.agrees,
        }
    if args.json:
        print(dumps(out, indent=2, ensure_ascii=False))
        return 0
    print(f"{'EXISTS' if v.exists else 'DOES NOT EXIST'} ({v.kind}): {v.reason}")
    if v.note:
        print(f"note: {v.note}")
    if args.certify:
        c = out["certificate"]
        print(
            f"certificate on grid N = {c['grid']}: floor {c['floor']:.3e}"
            + (f" (expected {c['expected_floor']:.6g})" if c["expected_floor"] is not None else "")
            + f", agrees with the oracle: {c['agrees']}"
        )
    return 0


def _run_measure(args: argparse.Namespace) -> int:
    import numpy as np

    from sciconv.orthogonal import orthogonality

    w = np.load(args.weight)
    res = orthogonality(w, args.input_size, args.stride, args.padding)
    if args.json:
        print(dumps(res.to_dict(), indent=2))
        return 0
    print(
        f"kernel {w.shape} on n = {res.input_size}, stride {res.stride}, {res.padding} "
        f"({res.kind}): sigma_min {res.sigma_min:.6g}, sigma_max {res.sigma_max:.6g}, "
        f"err_F {res.err_F:.6g}, err_s {res.err_s:.6g}, L_orth {res.l_orth:.6g} "
        f"(alpha {res.alpha})"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return int(args._ortho(args) or 0)
    except (ValueError, TypeError, OSError) as exc:
        print(f"error: {exc}")
        return 2
