"""`make run`'s date: any date a user gives either runs or is refused with the reason, never a traceback
and never a run in which nothing ran."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from orchestration.connections import ELT_START_DATE
from stack.run import check_date

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 30, 18, 12, 20, tzinfo=UTC)


def test_the_logical_date_is_now_or_the_given_day_at_this_time() -> None:
    assert check_date(None, NOW) == NOW
    assert check_date(date(2026, 11, 20), NOW) == datetime(2026, 11, 20, 18, 12, 20, tzinfo=UTC)
    assert check_date(ELT_START_DATE.date(), NOW).date() == ELT_START_DATE.date()


@pytest.mark.parametrize(
    ("day", "reason"),
    [(date(2023, 12, 31), "before elt_ecommerce's start date"), (date(2026, 12, 1), "in the future")],
)
def test_a_day_airflow_would_not_run_is_refused_with_the_reason(day: date, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_date(day, NOW)


@pytest.mark.parametrize("given", ["2023-12-31", "2026-13-01", "yesterday"])
def test_the_command_refuses_without_a_traceback(given: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stack", "run", "--date", given],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    assert given in done.stdout + done.stderr
