"""``sciconv winograd``: exact Winograd transforms, their conditioning and error; point search."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import dumps

HELP = (
    "Winograd F(m, r): exact transforms, mpmath conditioning, fp16/bf16 error; "
    "`sciconv winograd search` looks for better points"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        nargs="?",
        default="show",
        choices=("show", "search"),
        help="show one transform (default) or search for points",
    )
    parser.add_argument("--m", type=int, default=6, help="outputs per tile (default 6)")
    parser.add_argument("--r", type=int, default=3, help="filter taps (default 3)")
    parser.add_argument(
        "--points", default=None, help='n-1 finite points, e.g. "0,1,-1,1/2,-1/2,2,-2"'
    )
    parser.add_argument("--placement", default="G", choices=("G", "A", "B"))
    parser.add_argument("--no-balance", action="store_true", help="skip power-of-two balancing")
    parser.add_argument("--dtype", default="float16", choices=("float16", "bfloat16", "float32"))
    parser.add_argument("--trials", type=int, default=2000, help="random tiles per error figure")
    parser.add_argument(
        "--objective",
        default="fp16-error",
        choices=("kappa", "E", "fp16-error"),
        help="search objective",
    )
    parser.add_argument("--budget", type=int, default=240, help="search candidates")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--asymmetric", action="store_true", help="search non-symmetric sets")
    parser.add_argument("--json", action="store_true", help="print a JSON object")


def _fmt(X: Any) -> list[list[str]]:
    return [[str(v) for v in row] for row in X.tolist()]


def _show(args: argparse.Namespace) -> dict[str, Any]:
    from sciconv.winograd import balance, kappa_table, transforms, verify, winograd_error

    t = transforms(args.m, args.r, args.points, placement=args.placement)
    tb = t if args.no_balance else balance(t)
    errors = {
        f"{dim}d": winograd_error(tb, args.dtype, dim, args.trials, args.seed).as_dict()
        for dim in (1, 2)
    }
    return {
        "m": t.m,
        "r": t.r,
        "points": [str(p) for p in t.points],
        "verified": verify(t, 2) and verify(tb),
        "balanced": not args.no_balance,
        "AT": _fmt(tb.AT),
        "G": _fmt(tb.G),
        "BT": _fmt(tb.BT),
        "conditioning": kappa_table(t),
        "errors": errors,
    }


def _print_matrix(name: str, rows: list[list[str]]) -> None:
    width = max(len(v) for row in rows for v in row)
    print(f"{name} =")
    for row in rows:
        print("  [" + " ".join(v.rjust(width) for v in row) + "]")


def run(args: argparse.Namespace) -> int:
    if args.action == "search":
        from sciconv.winograd import search

        res = search(
            args.m,
            args.r,
            args.objective,
            args.budget,
            args.seed,
            symmetric=not args.asymmetric,
            progress=not args.json,
        )
        if args.json:
            rows = [{**row, "points": [str(p) for p in row["points"]]} for row in res.rows]
            print(
                dumps(
                    {
                        "m": res.m,
                        "r": res.r,
                        "objective": res.objective,
                        "seed": res.seed,
                        "budget": res.budget,
                        "evaluations": res.evaluations,
                        "rows": rows,
                    },
                    indent=2,
                )
            )
        else:
            print(res.table())
        return 0
    out = _show(args)
    if args.json:
        print(dumps(out, indent=2))
        return 0
    print(
        f"F({out['m']},{out['r']}) points {{{', '.join(out['points'])}}}  "
        f"exact: {'yes' if out['verified'] else 'NO'}"
        f"{'  (power-of-two balanced)' if out['balanced'] else ''}"
    )
    for name in ("AT", "G", "BT"):
        _print_matrix(name, out[name])
    c = out["conditioning"]
    print("conditioning (mpmath, 50 digits)      1D            2D")
    for key, label in (
        ("kappa_Vfin", "kappa_2(V finite points)"),
        ("kappa_V", "kappa_2(V with inf)"),
        ("kappa_AT", "kappa_2(A^T)"),
        ("kappa_G", "kappa_2(G)"),
        ("kappa_BT", "kappa_2(B^T)"),
        ("E", "E = sum |A^T e_i||G^T e_i||B e_i|"),
    ):
        print(f"  {label:<34} {c[key]:>12.6g}  {c[key + '_2d']:>12.6g}")
    print(f"measured error ({args.dtype}, {args.trials} tiles, seed {args.seed}): mean / max rel.")
    for dim, e in out["errors"].items():
        print(
            f"  {dim}: Winograd {e['mean']:.3e} / {e['max']:.3e}   direct {e['direct_mean']:.3e}"
            f" / {e['direct_max']:.3e}   ratio {e['ratio']:.2f}"
        )
    return 0
