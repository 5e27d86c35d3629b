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


def test_no_import_against_the_layering():
    """``IMPORTER[!EXEMPT...] TARGET[!EXEMPT...] ...``: modules under IMPORTER (but not under
    an exempt prefix) never import anything under TARGET (but not under its exemptions)."""
    mods = modules()
    bad = []
    for line in block("layering"):
        importer, *targets = line.split()
        who, *who_not = importer.split("!")
        for name, path in mods.items():
            if not under(name, who) or any(under(name, x) for x in who_not):
                continue
            for t in imports(name, path):
                for target in targets:
                    what, *allowed = target.split("!")
                    if under(t, what) and not any(under(t, a) for a in allowed):
                        bad.append(f"{name} imports {t} (rule: {line})")
    assert not bad, "\n".join(sorted(set(bad)))


def test_serial_solver_stack_imports_only_downwards():
    g = graph()
    order = block("stack")[0].split()
    rank = {m: i for i, m in enumerate(order)}

    def level(m: str) -> int | None:
        hits = [p for p in order if under(m, p)]
        return rank[max(hits, key=len)] if hits else None

    bad = []
    for m, deps in g.items():
        lm = level(m)
        if lm is None:
            continue
        for d in deps:
            ld = level(d)
            if ld is not None and ld > lm:
                bad.append(f"{m} (layer {order[lm]}) imports {d} (layer {order[ld]}, above it)")
    assert not bad, "\n".join(sorted(bad))


@pytest.mark.parametrize("needle,owner", [("petsc4py", "solvers.petsc._core")])
def test_one_place_loads_petsc(needle, owner):
    mods = modules()
    loaders = sorted(n for n, p in mods.items() if any(under(t, needle) for t in imports(n, p)))
    assert loaders == [owner], loaders


def test_the_rules_can_fail():
    """The checker itself: a synthetic module that breaks a rule is caught."""
    assert under("solvers.network.learned", "solvers.network")
    assert not under("solvers.networkx", "solvers.network")
    assert resolve("solvers.maps.make_map", modules()) == "solvers.maps"
