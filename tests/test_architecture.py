"""The package's layering, read from the code's own imports (every import, module-level
or inside a function, since a function-local import is still a dependency).

Layers, lowest first: ``domain`` (pure rules) ← ``models`` ← ``services`` ← ``security``
← ``api`` ← ``views``; the wiring modules (the app factory, ``cli``, ``scheduler``) sit on
top, and the infrastructure modules (``config``, ``extensions``, ``database``, ``i18n``)
below everything but the domain. No module imports a layer above its own, and there is
no import cycle between modules."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "feedback"

LAYERS = {
    "domain": 0,
    "config": 1,
    "extensions": 1,
    "database": 1,
    "i18n": 1,
    "models": 2,
    "services": 3,
    "security": 4,
    "api": 5,
    "views": 6,
    "cli": 7,
    "scheduler": 7,
    "": 8,  # feedback/__init__.py: the app factory
}


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        if "migrations" in rel.parts:
            continue
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


MODULES = dict(_modules())


def _imports(name: str, path: Path) -> set[str]:
    """Every feedback module ``name`` imports, resolved to the module itself where the
    imported name is a submodule."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("feedback")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("feedback"):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else target)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1] if len(parts) > 1 else ""]


def test_the_graph_is_read() -> None:
    """Guards the reader itself: known edges are found, so the tests below can fail."""
    assert "feedback.domain.permissions" in GRAPH["feedback.security.access"]
    assert "feedback.services.reference.cache" in GRAPH["feedback.services.intake.submission"]
    assert len(MODULES) > 80


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_layer_above_its_own(module: str) -> None:
    upward = sorted(t for t in GRAPH[module] if _layer(t) > _layer(module))
    assert not upward, f"{module} imports {upward}"


def test_the_domain_imports_neither_flask_nor_sqlalchemy() -> None:
    for name, path in MODULES.items():
        if not name.startswith("feedback.domain"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for imported in names:
                assert not imported.startswith(("flask", "sqlalchemy")), (name, imported)


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles() -> None:
    assert _cycles() == []


def test_no_service_reads_the_request() -> None:
    """Services take the actor and ``now`` from their caller: none imports what describes
    the request (flask's ``request``, ``g``, ``session``; Flask-Login's ``current_user``)."""
    request_names = {("flask", n) for n in ("request", "g", "session")}
    request_names.add(("flask_login", "current_user"))
    for name, path in MODULES.items():
        if not name.startswith("feedback.services"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                found = {(node.module, a.name) for a in node.names} & request_names
                assert not found, f"{name} imports {sorted(found)}"
