"""The deep check's dbt tests: every generic and singular test of staging and intermediate, over every row.

A day's `dbt build` tests the rows it changed (dbt_project/macros/test_scope.sql); this runs the same
tests with `test_all_rows: true`, so a value changed in old history outside the loader is caught here.
The marts are left to GX's `marts_published` (the same DAG): after a publication `marts_build`, where dbt
would test, holds the build before the published one. `--indirect-selection cautious` keeps out the tests
that also read a mart. dbt's on-run-end hook records each test's verdict in monitoring.dbt_results.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from monitoring.freshness import DBT_PROJECT, profile_env

SELECTED = ("path:models/staging", "path:models/intermediate")


@dataclass(frozen=True)
class ModelTestRun:
    passed: bool
    summary: str  # dbt's closing lines: counts, and each failing test with its failing rows


def run_every_row(url: str) -> ModelTestRun:
    """Run the staging and intermediate tests over every row of the warehouse at `url`."""
    with tempfile.TemporaryDirectory(prefix="dbt-deep-tests-") as tmp:
        cmd = [
            str(Path(sys.executable).with_name("dbt")), "--no-use-colors", "test",
            "--select", *SELECTED, "--indirect-selection", "cautious",
            "--vars", "{test_all_rows: true}",
            "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT),
            "--target-path", tmp, "--log-path", str(Path(tmp) / "logs"),
        ]  # fmt: skip
        done = subprocess.run(cmd, env=profile_env(url), capture_output=True, text=True, cwd=DBT_PROJECT)
    lines = done.stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if "Finished running" in line), max(len(lines) - 40, 0))
    summary = "\n".join(lines[start:])[-6000:] or done.stderr[-3000:]
    return ModelTestRun(passed=done.returncode == 0, summary=summary)
