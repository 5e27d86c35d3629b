"""Sphinx configuration of sciconv's API documentation (``make docs``).

The pages are built from the numpydoc docstrings with autodoc and napoleon (numpy style); the
maths of the Notes sections (``:math:`` roles and ``.. math::`` blocks) is rendered by MathJax.
``make docs`` runs ``sphinx -W --keep-going``: every warning is an error.
"""

from __future__ import annotations

import inspect
import re
import sys
from importlib.metadata import version as _dist_version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the four import packages live at the repository root

project = "sciconv"
author = "the sciconv engineers"
copyright = "sciconv"
release = _dist_version("sciconv")
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]

# numpydoc sections (Parameters, Returns, Raises, Notes, References, Examples) through napoleon
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_include_init_with_doc = False
# Parameter and return types stay text: as cross-references, the words of "array of shape (n,)"
# were looked up as Python names ("shape" matched two classes' attributes and warned)
napoleon_use_param = False
napoleon_use_rtype = False
napoleon_use_ivar = False
# and so do attribute types: an Attributes section is laid out as a Parameters one
napoleon_custom_sections = [("Attributes", "params_style")]

# each page documents a package's ``__all__`` (imported names included), in source order
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "signature"
autoclass_content = "class"
# torch, PETSc and MPI are imported for real: the documented objects are the ones users get


#: the entries of a numpydoc References section (``.. [1] ...``) and their citations (``[1]_``)
_ENTRY = re.compile(r"^(\s*)\.\. \[(\d+)\]")
_CITE = re.compile(r"\[(\d+)\]_")


def _module_entries(obj: object, labels: set[str]) -> list[str]:
    """The entries ``labels`` of the References section of the module defining ``obj``.

    Some modules list their papers once, in the module docstring, and their functions and
    classes cite them (``[1]_``); the module docstring is not on the package's page, so the
    cited entries are copied under the citing docstring.
    """
    target = getattr(obj, "fget", obj)  # a property's getter knows its module
    module = sys.modules.get(getattr(target, "__module__", None) or "")
    doc = inspect.getdoc(module) if module is not None else None
    out: list[str] = []
    taking = False
    for line in (doc or "").splitlines():
        match = _ENTRY.match(line)
        if match:
            taking = match.group(2) in labels
        elif not line.startswith(" ") or not line.strip():
            taking = False
        if taking:
            out.append(line)
    return out


def _unique_footnotes(app, what, name, obj, options, lines):
    """Make each docstring's numbered references its own (as numpydoc does).

    A numpydoc References section labels its entries ``[1]``, ``[2]``; on a page documenting
    several objects the labels collide ("Duplicate explicit target name"). A cited entry
    becomes an auto-numbered footnote named after the object (``[#sciconv-ssm-hippo-1]``), so
    every ``[1]_`` links to its own docstring's entry; an entry the text does not cite (numpydoc
    allows that) becomes a plain paragraph ``[1] ...``, where a footnote would warn "not
    referenced". A citation with no entry in its docstring takes the entry of the defining
    module's docstring (:func:`_module_entries`); one found in neither fails the build.
    """
    key = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    cited = {label for line in lines for label in _CITE.findall(line)}
    defined = {m.group(2) for line in lines if (m := _ENTRY.match(line))}
    borrowed = _module_entries(obj, cited - defined) if cited - defined else []
    if borrowed:
        if not any(line.strip() == ".. rubric:: References" for line in lines):
            lines.extend(["", ".. rubric:: References"])
        lines.extend(["", *borrowed])
    out: list[str] = []
    indent = None  # the indentation of an uncited entry whose continuation lines are dedented
    for line in lines:
        stripped = line.lstrip()
        if indent is not None and stripped and len(line) - len(stripped) > indent:
            out.append(" " * indent + stripped)
            continue
        if indent is not None and stripped:  # the paragraph ends before the next entry
            out.append("")
        indent = None
        match = _ENTRY.match(line)
        if match and match.group(2) not in cited:
            indent = len(match.group(1))
            if out and out[-1].strip():  # a paragraph, not the previous entry's continuation
                out.append("")
            out.append(_ENTRY.sub(lambda m: f"{m.group(1)}[{m.group(2)}]", line))
            continue
        line = _ENTRY.sub(lambda m: f"{m.group(1)}.. [#{key}-{m.group(2)}]", line)
        out.append(_CITE.sub(lambda m: f"[#{key}-{m.group(1)}]_", line))
    lines[:] = out


def setup(app):
    app.connect("autodoc-process-docstring", _unique_footnotes)


templates_path: list[str] = []
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path: list[str] = []
html_title = f"sciconv {release}"
