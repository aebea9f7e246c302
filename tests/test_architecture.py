"""The layers, read from the imports: core imports nothing of chatcli and no third-party package; backends,
storage and render import only core; repl sits above them; cli on top. Nothing below cli reads the process's
streams or environment itself (they come in an Environment)."""

from __future__ import annotations

import ast
import functools
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "chatcli"
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    "backends": {"core", "backends"},
    "storage": {"core", "storage"},
    "render": {"core", "render"},
    "tools": {"core", "tools"},
    "repl": {"core", "backends", "storage", "render", "tools", "repl"},
    "cli": {"core", "backends", "storage", "render", "tools", "repl", "cli"},
}
PROCESS_STATE = {("sys", "stdout"), ("sys", "stderr"), ("sys", "stdin"), ("os", "environ"), ("os", "getenv")}


@functools.cache  # parsed once for all the tests below
def modules() -> tuple[tuple[str, Path, ast.Module], ...]:
    paths = [(path.relative_to(PACKAGE).parts, path) for path in sorted(PACKAGE.rglob("*.py"))]
    return tuple(
        (parts[0], path, ast.parse(path.read_text(), str(path))) for parts, path in paths if len(parts) > 1
    )


def imported(tree: ast.Module) -> Iterator[tuple[str, int]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, node.lineno


def test_every_sub_package_has_a_layer() -> None:
    packages = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    assert packages == set(ALLOWED)


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_the_layers_below_it(layer: str) -> None:
    wrong = []
    for package, path, tree in modules():
        if package != layer:
            continue
        for name, line in imported(tree):
            parts = name.split(".")
            if parts[0] == "chatcli" and len(parts) > 1 and parts[1] not in ALLOWED[layer]:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} imports {name}")
    assert wrong == []


def test_core_imports_only_the_standard_library() -> None:
    wrong = [
        f"{path.relative_to(PACKAGE)}:{line} imports {name}"
        for package, path, tree in modules()
        if package == "core"
        for name, line in imported(tree)
        if name.split(".")[0] not in sys.stdlib_module_names and not name.startswith("chatcli.core")
    ]
    assert wrong == []


def test_nothing_below_cli_reads_the_process_streams_or_environment() -> None:
    wrong = []
    for package, path, tree in modules():
        if package == "cli":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if (node.value.id, node.attr) in PROCESS_STATE:
                    wrong.append(
                        f"{path.relative_to(PACKAGE)}:{node.lineno} reads {node.value.id}.{node.attr}"
                    )
                if node.attr == "isatty":
                    wrong.append(f"{path.relative_to(PACKAGE)}:{node.lineno} calls isatty()")
    assert wrong == []


def test_every_third_party_package_chatcli_imports_is_declared() -> None:
    import tomllib

    pyproject = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
    declared = {
        requirement.split(">")[0].split("=")[0].strip().lower().replace("-", "_")
        for requirement in pyproject["project"]["dependencies"]
    }
    distributions = {"markdown_it": "markdown_it_py"}
    used = {
        distributions.get(top, top)
        for _, _, tree in modules()
        for name, _ in imported(tree)
        if (top := name.split(".")[0]) not in sys.stdlib_module_names and top != "chatcli"
    }
    assert used - declared == set()


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.Module, known: set[str]) -> set[str]:
    """The chatcli modules a module imports anywhere (at its top, in a function, under TYPE_CHECKING);
    `from chatcli.x import y` names module chatcli.x.y when there is one."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
    return {name for name in found if name in known}


def test_no_module_imports_itself_through_others() -> None:
    graph = {module_name(path): tree for _, path, tree in modules()}
    edges = {name: imported_modules(tree, set(graph)) - {name} for name, tree in graph.items()}
    packages = {
        name for _, path, _ in modules() if path.name == "__init__.py" for name in [module_name(path)]
    }
    cycles = []
    for start in sorted(edges):
        path = _path_back(start, edges, packages)
        if path is not None and min(path) == start:  # each cycle once, from its smallest module
            cycles.append(" → ".join(path))
    assert cycles == []


def _path_back(start: str, edges: dict[str, set[str]], packages: set[str]) -> list[str] | None:
    """A shortest chain of imports from `start` back to itself (package __init__ files not followed)."""
    seen, queue = {start}, [[start]]
    while queue:
        path = queue.pop(0)
        for target in sorted(edges[path[-1]] - packages):
            if target == start:
                return [*path, start]
            if target not in seen:
                seen.add(target)
                queue.append([*path, target])
    return None
