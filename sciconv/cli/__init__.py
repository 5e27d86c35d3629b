"""The ``sciconv`` command: one subcommand per capability, each imported lazily.

Each subcommand lives in its own module of this package with ``HELP``, ``add_arguments(parser)``
and ``run(args) -> int``; heavy imports (PETSc, the solver packages) happen inside ``run`` so
that ``import sciconv`` and ``sciconv --help`` never load PETSc.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["SUBCOMMANDS", "main"]

#: name -> module (relative to this package). Families add their entries here.
SUBCOMMANDS: dict[str, str] = {
    "info": ".info",
    "ortho": ".ortho",
    "poisson": ".poisson",
    "ssm": ".ssm",
    "tour": ".tour",
    "winograd": ".winograd",
}


class _Version(argparse.Action):
    """``--version``: the installed distribution's version, read only when asked for
    (``importlib.metadata`` is the slowest import left on the ``--help`` path)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("help", "show the installed version and exit")
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from importlib.metadata import version

        print(f"sciconv {version('sciconv')}", flush=True)
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sciconv", description="Convolution as an operator: tools and demonstrations."
    )
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, modname in SUBCOMMANDS.items():
        mod = importlib.import_module(modname, __name__)
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sciconv`` console script.

    A bad value (``ValueError``/``TypeError`` from the library's argument checks) ends with
    one ``sciconv COMMAND: error: ...`` line on stderr and exit status 2, as argparse's own
    errors do, never a traceback.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (ValueError, TypeError) as exc:
        from ._common import refuse

        return refuse(args.command, exc, rank=0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
