"""monitoring.gx_results: created on first use, one row per expectation, a rerun replaces its rows."""

from __future__ import annotations

import psycopg

from gx.results import ExpectationOutcome, persist_outcomes


def _outcome(column: str, success: bool = True, errored: bool = False, **kw) -> ExpectationOutcome:
    fields = {
        "suite": "fct_orders", "relation": "marts.fct_orders",
        "expectation_type": "expect_column_values_to_not_be_null", "column": column,
        "dimension": "completeness", "severity": "blocking", "success": success, "errored": errored,
        "observed_value": {"element_count": 3, "unexpected_percent": 0.0}, "unexpected_count": 0,
        "details": "",
    } | kw  # fmt: skip
    return ExpectationOutcome(**fields)


def _rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select run_id, checkpoint, column_name, success, errored, observed_value, unexpected_count,"
            " details, validated_at is not null from monitoring.gx_results"
            " order by run_id, checkpoint, column_name"
        ).fetchall()


def test_persist_creates_the_table_and_replaces_a_rerun(warehouse_url: str) -> None:
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("drop table if exists monitoring.gx_results")
    ok = {"element_count": 3, "unexpected_percent": 0.0}
    persist_outcomes(warehouse_url, "r1", "marts_publish", [_outcome("order_id"), _outcome("order_total")])
    persist_outcomes(warehouse_url, "r1", "raw_landed", [_outcome("order_id", suite="raw__orders")])
    # rerun of r1/marts_publish: one failed, one errored (given as a SQLAlchemy URL, as GX takes it)
    rerun = [
        _outcome("order_id", success=False, unexpected_count=2, details="e.g. None ×2"),
        _outcome("order_total", success=False, errored=True, observed_value=None, unexpected_count=None,
                 details='column "order_total" does not exist'),
    ]  # fmt: skip
    sqlalchemy_url = warehouse_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    persist_outcomes(sqlalchemy_url, "r1", "marts_publish", rerun)

    missing = 'column "order_total" does not exist'
    assert _rows(warehouse_url) == [
        ("r1", "marts_publish", "order_id", False, False, ok, 2, "e.g. None ×2", True),
        ("r1", "marts_publish", "order_total", False, True, None, None, missing, True),
        ("r1", "raw_landed", "order_id", True, False, ok, 0, "", True),
    ]  # fmt: skip


def test_persist_nothing_clears_the_run(warehouse_url: str) -> None:
    persist_outcomes(warehouse_url, "r2", "raw_landed", [_outcome("order_id")])
    persist_outcomes(warehouse_url, "r2", "raw_landed", [])
    assert [r for r in _rows(warehouse_url) if r[0] == "r2"] == []
