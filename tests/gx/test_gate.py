"""The gate the DAG calls: blocking failures stop it with each one listed; warnings are recorded only."""

from __future__ import annotations

import psycopg
import pytest

from gx.gate import QualityGateFailed, run_gate

RAW_ORDERS = """
create table raw.orders (
    order_id text, customer_id text, status text, ordered_at text, updated_at text,
    shipping_amount text, discount_amount text, payment_method text,
    _batch_id bigint not null default 1, _source text not null default 'test',
    _line integer not null default 2, _extra jsonb, _loaded_at timestamptz not null default now()
)"""


def _land(url: str, rows: list[tuple[str | None, str]]) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("drop table if exists raw.orders")
        conn.execute(RAW_ORDERS)
        for order_id, status in rows:
            conn.execute(
                "insert into raw.orders (order_id, customer_id, status, ordered_at)"
                " values (%s, 'C1', %s, %s)",
                [order_id, status, "2026-11-20T10:00:00Z"],
            )


def _recorded(url: str, run_id: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select severity, success from monitoring.gx_results where run_id = %s and not success"
            " order by severity",
            [run_id],
        ).fetchall()


def test_warning_is_recorded_not_fatal(warehouse_url: str) -> None:
    _land(warehouse_url, [("O1", "paid"), ("O2", "teleported")])
    summary = run_gate("raw_landed", warehouse_url, "run-warning")
    assert summary == {
        "checkpoint": "raw_landed",
        "evaluated": 5,
        "passed": 4,
        "failed": 1,
        "errored": 0,
        "blocking": 0,
    }
    assert _recorded(warehouse_url, "run-warning") == [("warning", False)]


def test_blocking_failure_stops_with_each_failure_listed(warehouse_url: str) -> None:
    _land(warehouse_url, [("O1", "paid"), (None, "paid")])
    with pytest.raises(QualityGateFailed) as failed:
        run_gate("raw_landed", warehouse_url, "run-blocking")
    message = str(failed.value)
    assert "1 blocking expectation(s)" in message
    assert (
        "FAILED [blocking/completeness] raw__orders: expect_column_values_to_not_be_null(order_id)" in message
    )
    assert _recorded(warehouse_url, "run-blocking") == [("blocking", False)]  # recorded before stopping
