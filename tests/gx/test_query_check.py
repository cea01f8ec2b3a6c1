"""The one-query SQL check (gx/query_check.py) on a real Postgres, through GX's own validation.

The check's query calls `nextval` once per row it returns, so the sequence says how many times the
query ran: once per validation (GX's UnexpectedRowsExpectation runs it twice: a count, then the rows).
"""

from __future__ import annotations

import json

import great_expectations as gx_core
import psycopg
import pytest

from gx.checkpoints import sqlalchemy_url
from gx.query_check import SAMPLE, ExpectQueryToReturnNoRows
from gx.results import outcome_from_result

ROWS = 10


@pytest.fixture()
def table(warehouse_url: str) -> str:
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("drop table if exists public.check_me; drop sequence if exists public.query_runs")
        conn.execute("create sequence public.query_runs")
        conn.execute(
            "create table public.check_me as select g as id, g * 1.5 as amount, date '2026-01-01' + g as day"
            " from generate_series(1, %s) as g",
            [ROWS],
        )
    return warehouse_url


def _validate(url: str, query: str) -> dict:
    context = gx_core.get_context(mode="ephemeral")
    source = context.data_sources.add_postgres("wh", connection_string=sqlalchemy_url(url))
    batch = source.add_table_asset("check_me", table_name="check_me", schema_name="public")
    definition = batch.add_batch_definition_whole_table("all")
    check = ExpectQueryToReturnNoRows(unexpected_rows_query=query, description="no row")
    return definition.get_batch().validate(check).to_json_dict()


def _runs(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("select last_value from public.query_runs").fetchone()[0]


def test_bad_rows_are_counted_and_sampled_from_one_run_of_the_query(table: str) -> None:
    query = "select id, amount, day, nextval('public.query_runs') as run from {batch} where id > 2"
    result = _validate(table, query)
    assert result["success"] is False
    assert result["result"]["observed_value"] == ROWS - 2
    examples = result["result"]["details"]["unexpected_rows"]
    assert len(examples) == SAMPLE
    assert {"id", "amount", "day", "run"} == set(examples[0])  # the count column is not an example's
    assert isinstance(examples[0]["day"], str) and isinstance(examples[0]["amount"], str)  # JSON-safe
    assert _runs(table) == ROWS - 2  # every bad row computed once: one execution of the query


def test_no_row_is_a_pass_with_a_zero_count(table: str) -> None:
    result = _validate(table, "select id from {batch} where id < 0")
    assert result["success"] is True
    assert result["result"]["observed_value"] == 0
    assert result["result"]["details"]["unexpected_rows"] == []


def test_a_query_that_fails_is_an_error_not_a_pass(table: str) -> None:
    result = _validate(table, "select no_such_column from {batch}")
    assert result["success"] is False
    assert outcome_from_result("s", "public.check_me", result).errored  # as the gate reports it
    assert "no_such_column" in json.dumps(result["exception_info"])
