"""Checkpoints on a real, throwaway warehouse: clean data passes, crafted bad batches fail, and what
raised is reported as errored, apart from what failed, down to monitoring.gx_results.

GX takes ~7 s to import (once per session); a checkpoint run after that takes well under a second.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
import pytest
from psycopg import sql

from gx.checkpoints import CONTEXT_DIR, run_checkpoint
from gx.results import ExpectationOutcome, persist_outcomes

RAW_COLUMNS = """
    order_id text, customer_id text, status text, ordered_at text, updated_at text,
    shipping_amount text, discount_amount text, payment_method text,
    _batch_id bigint not null, _source text not null, _line integer not null"""
LOADED_AT = "_loaded_at timestamptz not null default now()"
FCT_COLUMNS = """
    order_id text, customer_id text, status text, ordered_at timestamptz, order_date date,
    items_subtotal numeric(12,2), discount_amount numeric(12,2), shipping_amount numeric(12,2),
    order_total numeric(12,2), item_count integer"""
FCT_LOADED_AT = "loaded_at timestamptz not null default now()"

SHORT = {
    "expect_column_values_to_not_be_null": "not_null",
    "expect_column_values_to_be_unique": "unique",
    "expect_column_values_to_be_in_set": "in_set",
    "unexpected_rows_expectation": "sql",
}


def _load(url: str, schema: str, table: str, columns: str, rows: Sequence[tuple], age: str = "0") -> None:
    """(Re)create `schema.table` with `rows`; its load time is `age` before the database clock."""
    relation = sql.Identifier(schema, table)
    with psycopg.connect(url) as conn:
        conn.execute(sql.SQL("drop table if exists {}").format(relation))
        conn.execute(sql.SQL("create table {} ({})").format(relation, sql.SQL(columns)))
        if rows:
            values = sql.SQL(", ").join(sql.Placeholder() * len(rows[0]))
            with conn.cursor() as cur:
                cur.executemany(sql.SQL("insert into {} values ({})").format(relation, values), rows)
        time_column = "_loaded_at" if schema == "raw" else "loaded_at"
        if "loaded_at timestamptz" in columns:
            conn.execute(
                sql.SQL("update {} set {} = now() - %s::interval").format(
                    relation, sql.Identifier(time_column)
                ),
                [age],
            )


def _raw(url: str, rows: Sequence[tuple], age: str = "0") -> None:
    lineage = [(*row, 7, "orders/2026-11-20/orders.csv", line) for line, row in enumerate(rows, start=2)]
    _load(url, "raw", "orders", f"{RAW_COLUMNS}, {LOADED_AT}", lineage, age)


def _fct(url: str, rows: Sequence[tuple], with_loaded_at: bool = True, age: str = "0") -> None:
    columns = f"{FCT_COLUMNS}, {FCT_LOADED_AT}" if with_loaded_at else FCT_COLUMNS
    _load(url, "marts", "fct_orders", columns, rows, age)


def _verdicts(outcomes: list[ExpectationOutcome]) -> dict[str, str]:
    def verdict(o: ExpectationOutcome) -> str:
        return "errored" if o.errored else "pass" if o.success else "fail"

    return {f"{SHORT[o.expectation_type]}:{o.column or o.dimension}": verdict(o) for o in outcomes}


def _order(order_id: str | None, status: str = "paid", ordered_at: str | None = "2026-11-20T10:00:00Z"):
    return (order_id, "C1", status, ordered_at, "2026-11-20T10:05:00Z", "4.90", "0.00", "card")


def _fct_row(order_id: str, subtotal: str, discount: str, shipping: str, total: str, status: str = "paid"):
    return (
        order_id,
        "C1",
        status,
        "2026-11-20 10:00:00+00",
        "2026-11-20",
        subtotal,
        discount,
        shipping,
        total,
        1,
    )


def _gx_files() -> dict[str, bytes]:
    """Everything in gx/ that is committed: GX must not add to it or rewrite it."""
    return {
        str(p.relative_to(CONTEXT_DIR)): p.read_bytes()
        for p in CONTEXT_DIR.rglob("*")
        if p.is_file() and not {"uncommitted", "__pycache__"} & set(p.relative_to(CONTEXT_DIR).parts)
    }


ALL_RAW_PASS = {
    "not_null:order_id": "pass",
    "not_null:customer_id": "pass",
    "not_null:ordered_at": "pass",
    "sql:consistency": "pass",
    "sql:freshness": "pass",
}
ALL_FCT_PASS = {
    "not_null:order_id": "pass",
    "unique:order_id": "pass",
    "not_null:order_total": "pass",
    "sql:consistency": "pass",
    "in_set:status": "pass",
    "sql:freshness": "pass",
}


def test_raw_landed_passes_on_clean_data_and_reruns(
    warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # raw keeps source values as sent: re-sent orders and odd case/blanks in status are fine here
    _raw(warehouse_url, [_order("O1", "placed"), _order("O2", " Shipped "), _order("O1", "PAID")])
    # the URL passed in wins over an environment variable of the same name
    monkeypatch.setenv("GX_WAREHOUSE_URL", "postgresql+psycopg2://nobody@127.0.0.1:1/nowhere")
    committed = _gx_files()

    first = run_checkpoint("raw_landed", warehouse_url)
    second = run_checkpoint("raw_landed", warehouse_url)  # everything is add_or_update: reruns work

    assert _verdicts(first) == ALL_RAW_PASS
    assert first == second
    assert {(o.suite, o.relation) for o in first} == {("raw__orders", "raw.orders")}
    assert _gx_files() == committed
    assert (CONTEXT_DIR / "uncommitted/data_docs/local_site/index.html").is_file()
    assert list((CONTEXT_DIR / "uncommitted/expectations").glob("raw__orders.json"))


def test_raw_landed_fails_on_a_bad_batch(warehouse_url: str) -> None:
    rows = [_order("O1"), _order(None), _order("O3", ordered_at=None), _order("O4", status="lost")]
    _raw(warehouse_url, rows, age="3 days")

    outcomes = run_checkpoint("raw_landed", warehouse_url)

    assert _verdicts(outcomes) == ALL_RAW_PASS | {
        "not_null:order_id": "fail",
        "not_null:ordered_at": "fail",
        "sql:consistency": "fail",
        "sql:freshness": "fail",
    }
    by_check = {f"{SHORT[o.expectation_type]}:{o.column or o.dimension}": o for o in outcomes}
    assert by_check["sql:consistency"].severity == "warning"  # a status the contract lacks only warns
    assert by_check["sql:consistency"].unexpected_count == 1
    assert by_check["sql:freshness"].severity == "blocking"
    assert by_check["not_null:order_id"].unexpected_count == 1


def test_raw_landed_is_stale_when_nothing_landed(warehouse_url: str) -> None:
    _raw(warehouse_url, [])
    assert _verdicts(run_checkpoint("raw_landed", warehouse_url)) == ALL_RAW_PASS | {"sql:freshness": "fail"}


def test_marts_publish_passes_on_clean_data(warehouse_url: str) -> None:
    _fct(
        warehouse_url,
        [_fct_row("O1", "20.00", "5.00", "4.90", "19.90"), _fct_row("O2", "10.00", "0", "0", "10")],
    )
    assert _verdicts(run_checkpoint("marts_publish", warehouse_url)) == ALL_FCT_PASS


def test_marts_publish_fails_on_a_bad_batch(warehouse_url: str) -> None:
    _fct(
        warehouse_url,
        [
            _fct_row("O1", "20.00", "5.00", "4.90", "19.90"),
            _fct_row("O1", "20.00", "5.00", "4.90", "19.90"),  # duplicate order
            _fct_row("O2", "10.00", "0.00", "4.90", "10.00"),  # total misses the shipping
            _fct_row("O3", "10.00", "0.00", "0.00", "10.00", status="lost"),
        ],
        age="3 days",
    )
    outcomes = run_checkpoint("marts_publish", warehouse_url)

    assert _verdicts(outcomes) == ALL_FCT_PASS | {
        "unique:order_id": "fail",
        "sql:consistency": "fail",
        "in_set:status": "fail",
        "sql:freshness": "fail",
    }
    failed = {o.expectation_type: o for o in outcomes if not o.success}
    assert failed["expect_column_values_to_be_unique"].details == "e.g. 'O1' ×2"
    assert failed["expect_column_values_to_be_in_set"].severity == "warning"


def test_errored_is_kept_apart_from_failed_down_to_the_results_table(warehouse_url: str) -> None:
    # no loaded_at column: the freshness query raises; the wrong total is a plain failure
    _fct(warehouse_url, [_fct_row("O1", "20.00", "5.00", "4.90", "99.00")], with_loaded_at=False)
    outcomes = run_checkpoint("marts_publish", warehouse_url)

    assert _verdicts(outcomes) == ALL_FCT_PASS | {"sql:consistency": "fail", "sql:freshness": "errored"}
    errored = next(o for o in outcomes if o.errored)
    assert errored.success is False and "loaded_at" in errored.details

    persist_outcomes(warehouse_url, "manual__1", "marts_publish", outcomes)
    with psycopg.connect(warehouse_url) as conn:
        rows = conn.execute(
            "select dimension, success, errored, unexpected_count, observed_value"
            " from monitoring.gx_results where run_id = 'manual__1' and not success order by dimension"
        ).fetchall()
    assert rows == [("consistency", False, False, 1, 1), ("freshness", False, True, None, None)]


def test_unknown_checkpoint(warehouse_url: str) -> None:
    with pytest.raises(KeyError, match="raw_landed"):
        run_checkpoint("nope", warehouse_url)
