"""The ``tasks`` package's imports, read from its source: no cycle among its modules, at
module level or inside functions, and never an import of ``sweeper``."""

from __future__ import annotations

import ast
from pathlib import Path

TASKS = Path(__file__).resolve().parents[2] / "tasks"


def _module_name(path: Path) -> str:
    parts = path.relative_to(TASKS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every module an import statement anywhere in ``tree`` names (``from a import b`` names
    ``a``, and ``a.b`` where that is a module of the package)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing module's package
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = sorted(TASKS.rglob("*.py"))
    modules = {_module_name(path): path for path in paths}
    graph = {}
    for name, path in modules.items():
        imported = _imported(ast.parse(path.read_text(encoding="utf-8")), name, path.name == "__init__.py")
        graph[name] = {other for other in imported if other in modules and other != name}
        graph[name] |= {other for other in imported if other.split(".")[0] == "sweeper"}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as the path around it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for other in sorted(graph.get(node, ())):
            if state.get(other) == 1:
                return [*path[path.index(other) :], other]
            if other not in state and (cycle := visit(other)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_walker_finds_a_planted_cycle() -> None:
    graph = {"tasks.a": {"tasks.b"}, "tasks.b": {"tasks.c"}, "tasks.c": {"tasks.a"}, "tasks.d": set()}
    assert find_cycle(graph) == ["tasks.a", "tasks.b", "tasks.c", "tasks.a"]
    assert find_cycle({"tasks.a": {"tasks.b"}, "tasks.b": set()}) is None


def test_the_walker_reads_function_level_and_relative_imports() -> None:
    source = "def f():\n    from tasks.registry import get_task\n\nfrom . import data\nfrom .families import _base\n"
    found = _imported(ast.parse(source), "tasks.sources", is_package=False)
    assert {"tasks.registry", "tasks.data", "tasks.families", "tasks.families._base"} <= found


def test_tasks_imports_have_no_cycle() -> None:
    graph = import_graph()
    assert "tasks.families.multitask" in graph and "tasks.resolve" in graph
    assert find_cycle(graph) is None, " → ".join(find_cycle(graph) or ())


def test_tasks_never_imports_sweeper() -> None:
    offenders = {
        module: sorted(found)
        for module, found in import_graph().items()
        if any(other.split(".")[0] == "sweeper" for other in found)
    }
    assert not offenders
