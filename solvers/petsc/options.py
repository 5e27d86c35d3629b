"""PETSc's options database for the project's solves: documented prefixes, command-line options
handed to PETSc, un-prefixed options fanned out to every solve, and ``-help`` lines of the
plug-ins.

Each PETSc solve that the ``sciconv poisson`` command (and :data:`solvers.krylov.SOLVERS`) runs
reads the options database under a documented prefix, :data:`SOLVER_PREFIXES`: ``-gamg_``
addresses the GAMG-CG baseline, ``-dcdm_`` the DCDM KSP with its map PC, and so on, as PETSc
prefixes address the inner solvers of any PETSc program. :func:`fan_out` lets un-prefixed KSP
and PC options (``-ksp_monitor``, ``-ksp_view``, ``-ksp_converged_reason``, ``-ksp_rtol``...)
reach every one of a set of solves too, as a PETSc user expects of ``PETSC_OPTIONS``; an option
that reached none of them is left for PETSc's "unused database option" warning.

References
----------
Balay et al., "PETSc/TAO Users Manual", Argonne National Laboratory, ANL-21/39, rev. 3.26
(the options database, option prefixes, ``-help``, ``-options_left``).
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterator, Sequence
from typing import Any

from sciconv.validation import describe

from ._core import petsc_module

__all__ = [
    "FANNED",
    "SOLVER_PREFIXES",
    "TYPE_OPTIONS",
    "fan_out",
    "init_petsc",
    "print_options_help",
    "split_options",
]

#: Solver name (as the distributed ``sciconv poisson`` path calls them) -> the options prefix
#: of its KSP: ``cg`` (serial name ``petsc-cg``), ``jacobi`` (``jacobi-cg``), ``icc``
#: (``icc-cg``), ``gamg`` (``gamg-cg``) and ``dcdm`` (the DCDM KSP with :class:`MapPC`).
SOLVER_PREFIXES = {
    "cg": "cg_",
    "jacobi": "jacobi_",
    "icc": "icc_",
    "gamg": "gamg_",
    "dcdm": "dcdm_",
}
#: The heads of the un-prefixed options that :func:`fan_out` hands to every solve.
FANNED = ("ksp_", "pc_", "sub_", "mg_")
#: Options that say which solver a solve is; never fanned out (address one with its prefix,
#: e.g. ``-icc_pc_type ilu``), so each table row stays the solver its name says.
TYPE_OPTIONS = ("ksp_type", "pc_type", "ksp_python_type", "pc_python_type")

_printed: set[tuple[str, str]] = set()


def split_options(text: str, name: str = "--petsc-options") -> list[str]:
    """``text`` split as a shell would (:func:`shlex.split`), checked to start with an option.

    Examples
    --------
    >>> split_options("-ksp_monitor -gamg_pc_gamg_threshold 0.05")
    ['-ksp_monitor', '-gamg_pc_gamg_threshold', '0.05']
    >>> split_options("ksp_monitor")
    Traceback (most recent call last):
    ...
    ValueError: --petsc-options must start with an option like -ksp_monitor, got 'ksp_monitor'
    """
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a string of PETSc options, got {describe(text)}")
    try:
        words = shlex.split(text)
    except ValueError as err:
        raise ValueError(f"{name} {text!r} cannot be split like a shell line: {err}") from None
    if words and not (words[0].startswith("-") and len(words[0]) > 1):
        raise ValueError(f"{name} must start with an option like -ksp_monitor, got {words[0]!r}")
    return words


def init_petsc(args: Sequence[str] = (), program: str = "sciconv") -> Any:
    """Initialise PETSc with ``args`` as its command line; return ``petsc4py.PETSc``.

    Parameters
    ----------
    args : sequence of str
        PETSc options, e.g. ``['-ksp_monitor', '-log_view']``.
    program : str
        The program name PETSc is told (``argv[0]``).

    Notes
    -----
    PETSc reads ``PETSC_OPTIONS`` and then its command line when it initialises, so options
    that act at initialisation (``-log_view``, ``-malloc_debug``, ``-help``) work only when
    they are given before PETSc is loaded. If PETSc is already initialised (it is loaded once
    per process), ``args`` are inserted into the database instead.

    Examples
    --------
    >>> PETSc = init_petsc(["-doc_init_example", "7"])
    >>> PETSc.Options().getInt("doc_init_example")
    7
    >>> PETSc.Options().delValue("doc_init_example")
    """
    return petsc_module([program, *(str(a) for a in args)])


def _fanned(name: str, prefixes: Sequence[str]) -> bool:
    return (
        name.startswith(FANNED)
        and name not in TYPE_OPTIONS
        and not any(name.startswith(p) for p in prefixes)
        and not any(name.startswith(p) for p in SOLVER_PREFIXES.values())
    )


@contextlib.contextmanager
def fan_out(prefixes: Sequence[str]) -> Iterator[list[str]]:
    """Inside the block, every un-prefixed KSP/PC option also holds under each of ``prefixes``.

    Parameters
    ----------
    prefixes : sequence of str
        Options prefixes of the solves run inside the block (:data:`SOLVER_PREFIXES`).

    Yields
    ------
    list of str
        The un-prefixed option names fanned out.

    Notes
    -----
    An un-prefixed option whose name starts with one of :data:`FANNED` (and is not one of
    :data:`TYPE_OPTIONS`) is copied to ``prefix + name`` for every prefix that holds no value
    of its own, so a prefixed option beats the un-prefixed one. On leaving, the copies are
    removed, and an un-prefixed option is marked used when one of its copies was read: PETSc's
    end-of-run "unused database option" warning then names exactly the options that reached
    no solve (a misspelling, ``-pc_gamg_threshold`` with no GAMG solve run, or a type option).

    Examples
    --------
    >>> PETSc = petsc_module()
    >>> db = PETSc.Options()
    >>> db["ksp_doc_fan"] = 3
    >>> with fan_out(["a_", "b_"]) as names:
    ...     "ksp_doc_fan" in names, db.getInt("a_ksp_doc_fan"), db.getInt("b_ksp_doc_fan")
    (True, 3, 3)
    >>> db.used("ksp_doc_fan"), "a_ksp_doc_fan" in db.getAll()
    (True, False)
    >>> db.delValue("ksp_doc_fan")
    """
    prefixes = [str(p) for p in prefixes]
    db = petsc_module().Options()
    present = db.getAll()
    names = [n for n in present if _fanned(n, prefixes)]
    copies: dict[str, list[str]] = {}
    for name in names:
        for prefix in prefixes:
            key = prefix + name
            if key not in present:
                db[key] = present[name]
                copies.setdefault(name, []).append(key)
    try:
        yield names
    finally:
        for name, keys in copies.items():
            if any(db.used(key) for key in keys):
                db.hasName(name)  # marks the un-prefixed option used
            for key in keys:
                db.delValue(key)


def print_options_help(
    obj: Any, title: str, rows: Sequence[tuple[str, Any, str]], manual: str
) -> None:
    """Print ``rows`` in PETSc's ``-help`` format when ``-help`` is set (once per prefix).

    Parameters
    ----------
    obj : petsc4py.PETSc.Object
        The KSP or PC whose options these are (its prefix and communicator are used).
    title : str
        Heading, e.g. ``'KSP DCDM options'``.
    rows : sequence of (name, current value, description)
        Option names without the leading dash or prefix.
    manual : str
        Where the option is documented (printed in parentheses, as PETSc names a function).

    Notes
    -----
    A python KSP or PC reads its options in ``setFromOptions`` through ``PETSc.Options``,
    which, unlike PETSc's ``PetscOptions*`` macros, prints no help; this prints the same
    lines PETSc does: ``  -PREFIXname <now VALUE>: DESCRIPTION (MANUAL)``.

    Examples
    --------
    Nothing is printed without ``-help``:

    >>> ksp = petsc_module().KSP().create()
    >>> print_options_help(ksp, "KSP DCDM options", [("ksp_dcdm_directions", 2, "k")], "DCDM")
    >>> _ = ksp.destroy()
    """
    PETSc = petsc_module()
    if not PETSc.Options().hasName("help"):
        return
    prefix = obj.getOptionsPrefix() or ""
    if (prefix, title) in _printed:
        return
    _printed.add((prefix, title))
    lines = [f"{title} ({prefix or 'no prefix'}) -------------------------------------------"]
    for name, value, text in rows:
        lines.append(f"  -{prefix}{name} <now {value}>: {text} ({manual})")
    PETSc.Sys.Print("\n".join(lines), comm=obj.getComm())
