"""The import graph of our packages: no cycles, formats depend on nothing, the service never on the extension.

Every ``import`` statement of every module counts, also those inside
functions: a cycle hidden in a function is still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {
    "feedback_formats": ROOT / "ext" / "feedback_formats",
    "handbook_editions": ROOT / "ext" / "handbook_editions",
    "sphinx_handbook": ROOT / "ext" / "sphinx_handbook",
    "feedback_service": ROOT / "feedback_service",
}


def module_name(package: str, directory: Path, path: Path) -> str:
    parts = [package, *path.relative_to(directory).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def our_modules() -> dict[str, Path]:
    return {
        module_name(package, directory, path): path
        for package, directory in PACKAGES.items()
        for path in directory.rglob("*.py")
    }


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ours that ``name`` (at ``path``) imports."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            # ``import a.b.c`` runs a, a.b and a.b.c; a module's own packages are running already.
            parts = target.split(".")
            for end in range(1, len(parts) + 1):
                candidate = ".".join(parts[:end])
                if candidate in known and candidate != name and not name.startswith(candidate + "."):
                    found.add(candidate)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = our_modules()
    return {name: imports_of(name, path, set(modules)) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of modules (first = last), or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_the_checks_see_what_they_look_for():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    graph = import_graph()
    # A function-level import counts: the sync imports the builder's package.
    assert "handbook_editions" in graph["feedback_service.sync"]
    assert "feedback_formats" in reachable(graph, "feedback_service.app")


def test_no_import_cycle_in_ext_or_the_service():
    assert find_cycle(import_graph()) is None


@pytest.mark.parametrize("module", sorted(name for name in our_modules() if name.startswith("feedback_service")))
def test_the_service_never_reaches_the_sphinx_extension(module):
    assert not {name for name in reachable(import_graph(), module) if name.startswith("sphinx_handbook")}


def test_the_formats_depend_on_nothing_of_ours():
    graph = import_graph()
    for module in (name for name in graph if name.startswith("feedback_formats")):
        assert all(target.startswith("feedback_formats") for target in graph[module]), module
