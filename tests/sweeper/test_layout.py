"""The layout is the architecture: sweeper's groups import strictly downward, read with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

SWEEPER = Path(__file__).resolve().parents[2] / "sweeper"

# A group may import only groups of a lower layer (and its own modules); cli.py sits on top.
LAYERS = {
    "plan": 0,
    "record": 1,
    "resources": 1,
    "train": 1,
    "trial": 2,
    "results": 2,
    "launch": 3,
    "rehearsal": 4,
    "cli": 5,
}


def _group(module: str) -> str:
    """``sweeper.plan.spec`` → ``plan``; ``sweeper.cli`` → ``cli``."""
    return module.split(".")[1]


def _sweeper_imports(path: Path) -> list[str]:
    """Every ``sweeper.…`` module ``path`` imports, at module level or inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sweeper."):
            found.append(node.module)
        elif isinstance(node, ast.ImportFrom) and node.module == "sweeper":
            found.extend(f"sweeper.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names if alias.name.startswith("sweeper."))
    return found


def test_only_cli_lives_directly_in_sweeper() -> None:
    assert sorted(path.name for path in SWEEPER.glob("*.py")) == ["__init__.py", "cli.py"]
    assert {path.name for path in SWEEPER.iterdir() if path.is_dir() and path.name != "__pycache__"} == set(LAYERS) - {
        "cli"
    }


def test_groups_import_strictly_downward() -> None:
    upward = []
    for path in sorted(SWEEPER.rglob("*.py")):
        own = _group("sweeper." + ".".join(path.relative_to(SWEEPER).with_suffix("").parts))
        if own == "__init__":
            continue
        for module in _sweeper_imports(path):
            other = _group(module)
            if other != own and LAYERS[other] >= LAYERS[own]:
                upward.append(f"{path.relative_to(SWEEPER.parent)} imports {module}")
    assert upward == []


def test_group_tables_of_contents_import_nothing() -> None:
    for init in SWEEPER.glob("*/__init__.py"):
        tree = ast.parse(init.read_text())
        assert not [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)], init


def test_the_layout_check_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from sweeper.launch.launch import launch\n")
    assert _sweeper_imports(module) == ["sweeper.launch.launch"]
