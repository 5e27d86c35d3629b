"""The import graph against ARCHITECTURE.md: no cycles, no import against the layering.

Read with ``ast`` only (nothing is imported). Lazy (function-level) imports count; imports
under ``if TYPE_CHECKING:`` do not. The rules are the ``layering`` and ``stack`` blocks of
ARCHITECTURE.md, so the file a reader trusts is the file the test enforces.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sciconv", "tensors", "pde", "solvers")


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def imports(name: str, path: Path) -> set[str]:
    """Absolute dotted names this module imports (modules or names inside them)."""
    tree = ast.parse(path.read_text())
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(sub) for sub in ast.walk(node))
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = pkg.split(".")
                up = up[: len(up) - (node.level - 1)] if node.level > 1 else up
                base = ".".join(up + ([base] if base else []))
            found.update(f"{base}.{a.name}" for a in node.names)
            found.add(base)
    return found


def resolve(target: str, mods: dict[str, Path]) -> str | None:
    while target and target not in mods:
        target = target.rpartition(".")[0]
    return target or None


def graph() -> dict[str, set[str]]:
    mods = modules()
    g = {}
    for name, path in mods.items():
        deps = set()
        for t in imports(name, path):
            m = resolve(t, mods)
            if m and m != name and not m.startswith(name + ".") and not name.startswith(m + "."):
                deps.add(m)
        g[name] = deps
    return g


def block(kind: str) -> list[str]:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    match = re.search(rf"```{kind}\n(.*?)```", text, re.S)
    assert match, f"ARCHITECTURE.md has no ```{kind} block"
    lines = (ln.split("#")[0].strip() for ln in match.group(1).splitlines())
    return [ln for ln in lines if ln]


def under(name: str, prefix: str) -> bool:
    return prefix == "*" or name == prefix or name.startswith(prefix + ".")


def test_no_import_cycles():
    g = graph()
    index, low, on, stack, comps, counter = {}, {}, set(), [], [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    assert not comps, f"import cycles: {comps}"


def layering_violations(imported: dict[str, set[str]], rules: list[str]) -> list[str]:
    """Each ``module imports target (rule)`` that breaks a ``layering`` line.

    ``imported`` maps a module to the dotted names it imports. A rule line reads
    ``IMPORTER[!EXEMPT...] TARGET[!EXEMPT...] ...``: modules under IMPORTER (but not under an
    exempt prefix) never import anything under TARGET (but not under its exemptions).
    """
    bad = []
    for line in rules:
        importer, *targets = line.split()
        who, *who_not = importer.split("!")
        for name, names in imported.items():
            if not under(name, who) or any(under(name, x) for x in who_not):
                continue
            for t in names:
                for target in targets:
                    what, *allowed = target.split("!")
                    if under(t, what) and not any(under(t, a) for a in allowed):
                        bad.append(f"{name} imports {t} (rule: {line})")
    return sorted(set(bad))


def stack_violations(g: dict[str, set[str]], order: list[str]) -> list[str]:
    """Each import from a layer of ``order`` to a layer listed after it."""
    rank = {m: i for i, m in enumerate(order)}

    def level(m: str) -> int | None:
        hits = [p for p in order if under(m, p)]
        return rank[max(hits, key=len)] if hits else None

    bad = []
    for m, deps in g.items():
        lm = level(m)
        for d in deps:
            ld = level(d)
            if lm is not None and ld is not None and ld > lm:
                bad.append(f"{m} (layer {order[lm]}) imports {d} (layer {order[ld]}, above it)")
    return sorted(bad)


def test_no_import_against_the_layering():
    mods = modules()
    imported = {name: imports(name, path) for name, path in mods.items()}
    bad = layering_violations(imported, block("layering"))
    assert not bad, "\n".join(bad)


def test_serial_solver_stack_imports_only_downwards():
    bad = stack_violations(graph(), block("stack")[0].split())
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("needle,owner", [("petsc4py", "solvers.petsc._core")])
def test_one_place_loads_petsc(needle, owner):
    mods = modules()
    loaders = sorted(n for n, p in mods.items() if any(under(t, needle) for t in imports(n, p)))
    assert loaders == [owner], loaders


def test_the_rules_can_fail():
    """The checker itself: synthetic modules that break each kind of rule are caught, and the
    exemptions let the allowed ones through."""
    rules = block("layering")
    imported = {
        "sciconv.fft": {"solvers.maps"},  # the core importing upwards
        "sciconv.cli.poisson.serial": {"solvers.compare", "pde"},  # the CLI may
        "solvers.grid": {"torch.nn"},  # a torch-free layer importing torch
        "pde.dmda": {"solvers.petsc._core", "solvers.maps"},  # the seam yes, the rest no
        "tensors.layers": {"petsc4py.PETSc"},  # PETSc outside its one loader
        "solvers.network.model": {"sciconv.cli"},  # library code importing the CLI
    }
    bad = layering_violations(imported, rules)
    assert any(b.startswith("sciconv.fft imports solvers.maps") for b in bad)
    assert not any(b.startswith("sciconv.cli.poisson.serial") for b in bad)
    assert any(b.startswith("solvers.grid imports torch.nn") for b in bad)
    assert any(b.startswith("pde.dmda imports solvers.maps") for b in bad)
    assert not any(b.startswith("pde.dmda imports solvers.petsc._core") for b in bad)
    assert any(b.startswith("tensors.layers imports petsc4py.PETSc") for b in bad)
    assert any(b.startswith("solvers.network.model imports sciconv.cli") for b in bad)
    order = ["solvers.info", "solvers.coarse", "solvers.maps"]
    assert stack_violations({"solvers.coarse": {"solvers.maps"}}, order)
    assert not stack_violations({"solvers.maps": {"solvers.coarse", "numpy"}}, order)
