"""The layers, read from the imports: core imports nothing of chatcli and no third-party package; backends,
storage and render import only core; repl sits above them; cli on top. Nothing below cli reads the process's
streams or environment itself (they come in an Environment). No private name of a third-party package is used."""

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


# A private name (a leading underscore) is its package's to change in any release, without notice.


@functools.cache
def every_module() -> tuple[tuple[Path, ast.Module], ...]:
    """modules(), and the package's own files (__init__.py, __main__.py)."""
    top = [(path, ast.parse(path.read_text(), str(path))) for path in sorted(PACKAGE.glob("*.py"))]
    return (*top, *((path, tree) for _, path, tree in modules()))


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def is_third_party(module: str) -> bool:
    top = module.split(".")[0]
    return top != "chatcli" and top not in sys.stdlib_module_names


def third_party_imports(tree: ast.Module) -> Iterator[tuple[int, str, str]]:
    """Each name a module imports from a third-party package: its line, its dotted name (`from typer.core
    import TyperGroup` gives typer.core.TyperGroup), the name it is bound to in the module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports = [(alias.name, alias.asname or alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imports = [(f"{node.module}.{alias.name}", alias.asname or alias.name) for alias in node.names]
        else:
            continue
        yield from ((node.lineno, dotted, bound) for dotted, bound in imports if is_third_party(dotted))


def root_name(node: ast.expr) -> str | None:
    """`typer` for `typer.rich_utils.STYLE`; None when the chain does not start at a plain name."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def assigned(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return node.targets
    return [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []


def private_uses(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """A private name imported from a third-party package or read from one it imported, and `__class__`
    assigned (an object turned into a class its package never made)."""
    bound = set()
    for line, dotted, name in third_party_imports(tree):
        bound.add(name)
        if any(is_private(part) for part in dotted.split(".")):
            yield line, f"imports {dotted}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr) and root_name(node) in bound:
            yield node.lineno, f"uses {ast.unparse(node)}"
        for target in assigned(node):
            if isinstance(target, ast.Attribute) and target.attr == "__class__":
                yield target.lineno, f"assigns {ast.unparse(target)}"


def third_party_subclasses() -> list[tuple[Path, ast.ClassDef]]:
    """chatcli's classes that derive from a third-party class, directly or through another of chatcli's."""
    classes = [
        (path, node, {name for _, _, name in third_party_imports(tree)})
        for path, tree in every_module()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
    ]
    found: list[tuple[Path, ast.ClassDef]] = []
    grew = True
    while grew:
        derived = {node.name for _, node in found}
        grew = False
        for path, node, bound in classes:
            bases = {root_name(base) for base in node.bases}
            if (path, node) not in found and bases & (bound | derived):
                found.append((path, node))
                grew = True
    return found


def private_members(node: ast.ClassDef) -> Iterator[tuple[int, str]]:
    for statement in node.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names = [statement.name]
        else:
            names = [target.id for target in assigned(statement) if isinstance(target, ast.Name)]
        yield from ((statement.lineno, name) for name in names if is_private(name))


def test_nothing_in_chatcli_uses_a_private_name_of_a_third_party_package() -> None:
    """No private name of a third-party package is imported or read, no `__class__` is swapped, and a class
    deriving from a third-party class defines no `_name` of its own: that overrides one of the package's
    private hooks, or silently becomes one the day the package adds it."""
    wrong = [
        f"{path.relative_to(PACKAGE)}:{line} {what}"
        for path, tree in every_module()
        for line, what in private_uses(tree)
    ]
    wrong += [
        f"{path.relative_to(PACKAGE)}:{line} defines {node.name}.{name}, deriving from a third-party class"
        for path, node in third_party_subclasses()
        for line, name in private_members(node)
    ]
    assert wrong == []
