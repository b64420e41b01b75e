"""The package's layers, read from its source: what imports what, who may touch the browser, and names that say
what they hold. A new violation fails here (and so in .ci/run) instead of in review."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "py" / "teachbox"
BROWSER_MODULES = ("js", "pyodide", "pyscript")
# Which layer each module is in; a module may import its own layer and the ones before it, never a later one.
LAYERS = ("foundation", "browser", "data", "model", "store", "top", "ui", "app")
FOUNDATION = {"teachbox", "teachbox.errors", "teachbox.arguments", "teachbox.events", "teachbox.backend_choice"}
TOP = {"teachbox.runtime", "teachbox.session", "teachbox.workspace", "teachbox.api"}
APP = "teachbox.app"  # the composition root: starts the runtime, publishes the API, mounts the UI
DOM_DOOR = "teachbox.ui.dom"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(path): ast.parse(path.read_text(encoding="utf-8"), str(path))
            for path in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    if module in FOUNDATION:
        return "foundation"
    if module in TOP:
        return "top"
    if module == APP:
        return "app"
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    raise AssertionError(f"{module} is in no layer: put it in a subpackage or name it in test_architecture.py")


def imports(tree: ast.Module, module: str) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import, at any depth (lazy imports in functions count too). `from pkg
    import name` counts as pkg.name when that is a module of the package."""
    known = {module_name(path) for path in PACKAGE.rglob("*.py")}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + (1 if _is_package(module) else 0)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                yield (full if full in known else target), node.lineno


def _is_package(module: str) -> bool:
    return (PACKAGE.parent / module.replace(".", "/") / "__init__.py").exists()


def internal_graph() -> dict[str, set[str]]:
    trees = modules()
    return {name: {target for target, _ in imports(tree, name) if target in trees and target != name}
            for name, tree in trees.items()}


def test_only_the_browser_layer_and_the_dom_door_import_js_or_pyodide() -> None:
    offenders = [f"{name}:{line} imports {target}" for name, tree in modules().items()
                 for target, line in imports(tree, name)
                 if target.split(".")[0] in BROWSER_MODULES and layer(name) != "browser" and name != DOM_DOOR]
    assert not offenders, "only teachbox/browser/ (and ui/dom.py) may import js/pyodide:\n" + "\n".join(offenders)


def test_the_core_reaches_the_browser_only_through_named_functions() -> None:
    """No `tf.X` / `js.X` globals and no `.to_py()` outside browser/: conversions and TF.js entry points are named
    functions there, so the core never depends on how a value crosses the boundary."""
    offenders = []
    for name, tree in modules().items():
        if layer(name) == "browser" or name == DOM_DOOR:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ("tf", "js"):
                offenders.append(f"{name}:{node.lineno} uses {node.value.id}.{node.attr}")
            if isinstance(node, ast.Attribute) and node.attr in ("to_py", "jsnull", "create_proxy"):
                offenders.append(f"{name}:{node.lineno} uses .{node.attr}")
    assert not offenders, "\n".join(offenders)


def test_nothing_imports_a_later_layer() -> None:
    trees = modules()
    offenders = [f"{name} ({layer(name)}) imports {target} ({layer(target)})"
                 for name, tree in trees.items() for target, _ in imports(tree, name)
                 if target in trees and target != "teachbox"
                 and LAYERS.index(layer(target)) > LAYERS.index(layer(name))]
    assert not offenders, "\n".join(offenders)


def test_there_are_no_import_cycles() -> None:
    graph = internal_graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not cycles, "\n".join(" → ".join(cycle) for cycle in cycles)


def test_module_names_differ_by_more_than_a_suffix() -> None:
    """`project`/`projects`, `training`/`trainer`, `export`/`exports`: names that differ by a suffix make a reader
    guess which holds what. A compound (`image_reading` beside `image_header`) is fine; one name twice is not."""
    stems = sorted({path.stem for path in PACKAGE.rglob("*.py") if path.stem != "__init__"}
                   | {path.name for path in PACKAGE.rglob("*") if path.is_dir() and path.name != "__pycache__"})
    clashes = [(a, b) for a in stems for b in stems if a != b and b.startswith(a) and not b[len(a)].startswith("_")]
    assert not clashes, clashes
    paths = [path for path in PACKAGE.rglob("*.py") if path.stem != "__init__"]
    twice = sorted({p.stem for p in paths if sum(q.stem == p.stem for q in paths) > 1})
    assert not twice, f"module names used twice: {twice}"


@pytest.mark.parametrize("source, layer_name", [("teachbox.data.geometry", "data"), ("teachbox.api", "top"),
                                                ("teachbox.browser.tfjs", "browser"), ("teachbox.ui.dom", "ui")])
def test_layer_reading(source: str, layer_name: str) -> None:
    """The checks above stand on reading each module's layer right."""
    assert layer(source) == layer_name


def test_the_import_reader_sees_what_the_checks_need() -> None:
    """A check that reads no imports would pass whatever the code did: the reader must find known edges."""
    graph = internal_graph()
    assert "teachbox.browser.tfjs" in graph["teachbox.model.trainer"]
    assert "teachbox.errors" in graph["teachbox.data.labels_csv"]
    assert "teachbox.ui.dom" in graph["teachbox.ui.camera"]
    assert any(target == "js" for target, _ in imports(modules()["teachbox.browser.tfjs"], "teachbox.browser.tfjs"))
