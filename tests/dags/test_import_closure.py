"""No DAG, and nothing a DAG or its tasks import, reaches the simulated shop: the warehouse reads what the
shop sent, it never makes data up.

The closure is static and generous: every `import` statement of a module counts, at the top or inside a
function (the tasks import their work lazily), and a project module's closure is followed through.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"extract", "gx", "monitoring", "publish", "stack", "simshop"}


def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    for candidate in (ROOT.joinpath(*parts).with_suffix(".py"), ROOT.joinpath(*parts, "__init__.py")):
        if candidate.exists():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """Every project module `path` imports (a package's __init__ included), at any depth of the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name.split(".")[0] in PACKAGES:
                parts = name.split(".")
                found |= {
                    ".".join(parts[:i]) for i in range(1, len(parts) + 1) if _module_file(".".join(parts[:i]))
                }
    return found


def closure(start: Path) -> set[str]:
    seen: set[str] = set()
    todo = list(_imports(start))
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += _imports(_module_file(name)) - seen
    return seen


@pytest.mark.parametrize("dag_file", sorted((ROOT / "dags").glob("*.py")), ids=lambda p: p.stem)
def test_no_dag_reaches_the_simulated_shop(dag_file: Path) -> None:
    modules = closure(dag_file)
    assert "extract" in modules or "monitoring" in modules or "gx" in modules  # it does see the project
    assert not {m for m in modules if m.split(".")[0] == "simshop"}


def test_the_closure_finds_a_lazy_import(tmp_path: Path) -> None:
    module = tmp_path / "dag.py"
    module.write_text("def task():\n    from stack.run import run_pipeline\n")
    assert "simshop.delivery" in closure(module)  # make run's own code does use the simulator
