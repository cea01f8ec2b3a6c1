"""No DAG, and nothing a DAG or its tasks import, reaches the simulated shop: the warehouse reads what the
shop sent, it never makes data up. Nor the local platform: the DAGs, their tasks and the monitoring plugin
reach the Airflow glue (orchestration/), never `stack/`. DAG files are wiring, short.

The closure is static and generous: every `import` statement of a module counts, at the top or inside a
function (the tasks import their work lazily), and a project module's closure is followed through.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"extract", "gx", "monitoring", "orchestration", "publish", "stack", "simshop"}
DAG_FILE_LINES = 130  # wiring: the work is in orchestration/ and the packages it calls


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


RUN_TIME_FOLDERS = ("dags", "monitoring", "orchestration")  # the DAGs, their tasks, the plugin
RUN_TIME = sorted(path for folder in RUN_TIME_FOLDERS for path in (ROOT / folder).glob("*.py"))


@pytest.mark.parametrize("module", RUN_TIME, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_nothing_at_run_time_reaches_the_local_platform(module: Path) -> None:
    """stack/ runs the local platform; DAGs, tasks and the plugin find what they share in orchestration/."""
    assert not {m for m in closure(module) if m.split(".")[0] == "stack"}


@pytest.mark.parametrize("dag_file", sorted((ROOT / "dags").glob("*.py")), ids=lambda p: p.stem)
def test_dag_files_are_wiring(dag_file: Path) -> None:
    lines = len(dag_file.read_text().splitlines())
    assert lines <= DAG_FILE_LINES, f"{dag_file.name}: {lines} lines; move the work into orchestration/"
    assert "orchestration" in {m.split(".")[0] for m in _imports(dag_file)}


def test_the_closure_finds_a_lazy_import(tmp_path: Path) -> None:
    module = tmp_path / "dag.py"
    module.write_text("def task():\n    from stack.run import run_pipeline\n")
    assert "simshop.delivery" in closure(module)  # make run's own code does use the simulator
