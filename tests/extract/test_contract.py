"""The order statuses are written once, as dbt vars; extract/contract.py reads them, nothing repeats them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from extract.contract import DBT_PROJECT_FILE, ORDER_STATUSES, REVENUE_STATUSES, dbt_list_var, dbt_str_var

ROOT = Path(__file__).resolve().parents[2]
# Where a second copy would live: the packages and the dbt project (tests keep their own fixture data).
CODE = ("extract", "gx", "monitoring", "orchestration", "publish", "simshop", "stack", "dags", "dbt_project")
SKIPPED = {"target", "dbt_packages", "logs"}
# A list literal of the statuses: YAML `[placed, paid, …]`, Python or SQL `('placed', 'paid', …)`.
COPIES = (
    re.compile(r"\[\s*placed\s*,\s*paid\b"),
    re.compile(r"""['"]placed['"]\s*,\s*['"]paid['"]"""),
    re.compile(r"\[\s*paid\s*,\s*shipped\b"),
    re.compile(r"""['"]paid['"]\s*,\s*['"]shipped['"]"""),
)


def test_statuses_are_the_dbt_vars() -> None:
    variables = yaml.safe_load(DBT_PROJECT_FILE.read_text(encoding="utf-8"))["vars"]
    assert tuple(variables["order_statuses"]) == ORDER_STATUSES
    assert tuple(variables["revenue_statuses"]) == REVENUE_STATUSES
    assert set(REVENUE_STATUSES) < set(ORDER_STATUSES)


def test_no_second_list_of_statuses() -> None:
    copies = [
        f"{path.relative_to(ROOT)}:{text[: m.start()].count(chr(10)) + 1}"
        for folder in CODE
        for path in sorted((ROOT / folder).rglob("*"))
        if path.suffix in {".py", ".sql", ".yml", ".yaml"}
        and path != DBT_PROJECT_FILE
        and not SKIPPED & set(path.relative_to(ROOT).parts)
        for text in [path.read_text(encoding="utf-8")]
        for pattern in COPIES
        for m in pattern.finditer(text)
    ]
    assert copies == [], "use var('order_statuses') / var('revenue_statuses') or extract.contract's tuples"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("vars: {other: [a]}\n", "vars.order_statuses must be a non-empty list of strings, not None"),
        ("vars: {order_statuses: placed}\n", "not 'placed'"),
        ("vars: {order_statuses: []}\n", "not \\[\\]"),
        ("name: shop\n", "vars.order_statuses"),
        ("vars: [unclosed\n", "cannot read the dbt project's vars"),
    ],
)
def test_a_missing_or_malformed_var_says_so(tmp_path: Path, content: str, message: str) -> None:
    project = tmp_path / "dbt_project.yml"
    project.write_text(content, encoding="utf-8")
    with pytest.raises(RuntimeError, match=message):
        dbt_list_var("order_statuses", project)


def test_a_missing_project_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="cannot read the dbt project's vars"):
        dbt_list_var("order_statuses", tmp_path / "dbt_project.yml")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("vars: {email_pattern: ''}\n", "vars.email_pattern must be a non-empty string, not ''"),
        ("vars: {email_pattern: [a]}\n", "not \\['a'\\]"),
        ("name: shop\n", "not None"),
    ],
)
def test_a_missing_or_malformed_string_var_says_so(tmp_path: Path, content: str, message: str) -> None:
    project = tmp_path / "dbt_project.yml"
    project.write_text(content, encoding="utf-8")
    with pytest.raises(RuntimeError, match=message):
        dbt_str_var("email_pattern", project)
