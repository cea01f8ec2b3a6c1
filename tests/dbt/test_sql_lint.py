"""The dbt project's SQL is sqlfluff-clean under the committed `.sqlfluff` (what `make lint` checks).

sqlfluff's jinja templater renders the models with dbt's builtins and the project's macros, so this needs
neither dbt nor a database: it lints the project's SQL in about ten seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlfluff.core import FluffConfig, Linter

ROOT = Path(__file__).resolve().parents[2]
# what `.sqlfluffignore` leaves to lint: every model and singular test (macros and snapshots: see there)
LINTED = ("models", "tests")


def test_dbt_project_sql_has_no_lint_violation(monkeypatch: pytest.MonkeyPatch) -> None:
    # sqlfluff reads `.sqlfluff` and `.sqlfluffignore` from the working directory down to what it lints
    monkeypatch.chdir(ROOT)
    result = Linter(config=FluffConfig.from_root()).lint_paths(("dbt_project",))
    records = result.as_records()
    violations = [
        f"{record['filepath']}:{v['start_line_no']}:{v['start_line_pos']}: {v['code']} {v['description']}"
        for record in records
        for v in record["violations"]
    ]
    assert violations == []  # a model the templater cannot render shows here too, as TMP
    expected = sorted(
        path.relative_to(ROOT).as_posix()
        for folder in LINTED
        for path in (ROOT / "dbt_project" / folder).rglob("*.sql")
    )
    assert sorted(Path(record["filepath"]).as_posix() for record in records) == expected
