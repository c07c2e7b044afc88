"""The package's import graph: no cycles, and imports point down the layers only.

The graph is read from the source with ``ast`` (nothing is imported), counting every
import: module level, inside functions and under ``TYPE_CHECKING``. Importing ``a.b.c``
also runs the packages ``a`` and ``a.b``, so an edge goes to each of them too (except
those that contain the importer, which Python has already imported).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "hyperphysics_strategy"
ROOT = PACKAGE.name


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def _imported_names(module: str, is_package: bool, tree: ast.AST) -> set[str]:
    """Absolute names ``module`` imports (``from x import y`` counts as ``x.y`` and ``x``)."""
    base = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                source = f"{anchor}.{node.module}" if node.module else anchor
            else:
                source = node.module or ""
            names.add(source)
            names.update(f"{source}.{a.name}" for a in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules importing it runs."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, (path, is_package) in modules.items():
        edges: set[str] = set()
        for name in _imported_names(module, is_package, ast.parse(path.read_text())):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                target = ".".join(parts[:i])
                if target in modules and not (module == target or module.startswith(target + ".")):
                    edges.add(target)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_package_has_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def _all_imports(directory: str) -> dict[str, set[str]]:
    modules = _modules()
    return {
        module: _imported_names(module, is_package, ast.parse(path.read_text()))
        for module, (path, is_package) in modules.items()
        if module.startswith(f"{ROOT}.{directory}")
    }


def test_engine_and_ensemble_never_import_freqtrade():
    for layer in ("engine", "ensemble"):
        for module, names in _all_imports(layer).items():
            assert not any(n.split(".")[0] == "freqtrade" for n in names), module


def test_the_engine_knows_nothing_of_the_layers_above():
    above = tuple(f"{ROOT}.{layer}" for layer in ("ensemble", "freqai", "strategy", "cli"))
    for module, names in _all_imports("engine").items():
        assert not any(n.startswith(above) for n in names), module


#: The layers, top first: a layer imports only the layers below it (``cli`` may import
#: anything, and nothing in a layer imports ``cli``).
LAYERS = ("strategy", "freqai", "trading", "ensemble", "engine")


def upward_imports(imports: dict[str, set[str]], layer: str) -> list[tuple[str, str]]:
    """``(module, name)`` for each name a module of ``layer`` imports from a layer above it
    or from ``cli``."""
    above = [f"{ROOT}.{name}" for name in (*LAYERS[: LAYERS.index(layer)], "cli")]
    return sorted(
        (module, name)
        for module, names in imports.items()
        for name in names
        if any(name == p or name.startswith(p + ".") for p in above)
    )


def test_every_layer_imports_only_the_layers_below():
    for layer in LAYERS:
        assert upward_imports(_all_imports(layer), layer) == [], layer


def test_the_layer_check_finds_an_upward_import():
    imports = {f"{ROOT}.ensemble.x": {f"{ROOT}.trading.bet", f"{ROOT}.engine.devices"}}
    assert upward_imports(imports, "ensemble") == [(f"{ROOT}.ensemble.x", f"{ROOT}.trading.bet")]
    assert upward_imports(imports, "strategy") == []


def test_trading_never_imports_freqtrade():
    for module, names in _all_imports("trading").items():
        assert not any(n.split(".")[0] == "freqtrade" for n in names), module
