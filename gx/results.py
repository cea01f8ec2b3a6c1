"""Expectation outcomes: GX validation results as one flat row per expectation, kept in the warehouse.

`outcomes_from_validation` reads the JSON form of a suite's validation result (no GX import needed);
`persist_outcomes` writes the rows to `monitoring.gx_results`, replacing those of the same run and
checkpoint, so a rerun of a task leaves one set of rows.

GX reports an expectation that raised (missing column, SQL error) as `success=False` with
`exception_info.raised_exception=True`; here that is `errored=True` (and still `success=False`), kept
apart from a real failure.

An expectation can also raise because the warehouse went away under it (a restart, a terminated
session): `is_connection_lost` tells those apart by what Postgres, libpq, psycopg and SQLAlchemy say
then. Such an outcome is no verdict on the data; the gate (gx/gate.py) never persists it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

log = logging.getLogger(__name__)

SCHEMA, TABLE = "monitoring", "gx_results"
EXAMPLES = 5  # unexpected values quoted in `details`
# SQL checks: their observed value is the number of rows the query returned (the project's one-query
# check, gx/query_check.py's ExpectQueryToReturnNoRows as GX names it, and GX's own for results
# recorded before it)
SQL_CHECKS = ("expect_query_to_return_no_rows", "unexpected_rows_expectation")
_DETAILS_MAX = 500
_SUMMARY_KEYS = ("element_count", "unexpected_percent", "missing_count")

# What the server, libpq, psycopg (2 and 3) and SQLAlchemy say when the connection is lost or the server
# is stopping or starting; Postgres' own wording, so an HTTP "connection refused" is not taken for it
_CONNECTION_LOST = re.compile(
    r"server closed the connection unexpectedly"
    r"|terminating connection (due to|because of) [\w -]*\w"  # a stop, pg_terminate_backend, a crash
    r"|the database system is (shutting down|starting up|not yet accepting connections|in recovery mode)"
    r"|connection to server (at|on) .*?failed: .*?"
    r"(connection refused|timeout expired|connection timed out|no such file or directory)"
    r"|could not connect to server"
    r"|no connection to the server"
    r"|connection already closed"
    r"|the connection is (closed|lost)"
    r"|could not (receive data from|send data to) server"
    r"|ssl connection has been closed unexpectedly"
    r"|lost synchronization with server"
    r"|consuming input failed",
    re.IGNORECASE,
)
# SQLSTATE classes and codes of a lost connection: 08 connection exception; 57P01 admin shutdown (a fast
# or smart stop, pg_terminate_backend), 57P02 crash shutdown, 57P03 cannot connect now (starting, stopping)
_LOST_SQLSTATES = ("08", "57P01", "57P02", "57P03")

_DDL = """
create table if not exists {table} (
    run_id            text        not null,
    checkpoint        text        not null,
    suite             text        not null,
    relation          text        not null,
    expectation_type  text        not null,
    column_name       text,
    dimension         text        not null,
    severity          text        not null,
    success           boolean     not null,
    errored           boolean     not null,
    observed_value    jsonb,
    unexpected_count  bigint,
    details           text,
    validated_at      timestamptz not null default now(),
    check (not (success and errored))
)
"""
_INDEX = "create index if not exists gx_results_run_checkpoint_idx on {table} (run_id, checkpoint)"
_COLUMNS = (
    "run_id", "checkpoint", "suite", "relation", "expectation_type", "column_name", "dimension",
    "severity", "success", "errored", "observed_value", "unexpected_count", "details",
)  # fmt: skip


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict. `errored` means it raised; then `success` is False too."""

    suite: str
    relation: str
    expectation_type: str
    column: str | None
    dimension: str
    severity: str
    success: bool
    errored: bool
    observed_value: Any  # JSON-able
    unexpected_count: int | None
    details: str


def _exception_message(info: Any) -> str | None:
    """The message of what an expectation raised, or None when it did not raise.

    GX gives either one `{"raised_exception", "exception_message", ...}` dict, or, when a metric the
    expectation depends on failed, a dict of those keyed by the metric's id.
    """
    if not isinstance(info, dict) or not info:
        return None
    if "raised_exception" in info:
        if not info.get("raised_exception"):
            return None
        return str(info.get("exception_message") or "raised an exception")
    messages = [m for m in (_exception_message(v) for v in info.values()) if m]
    return "; ".join(dict.fromkeys(messages)) or None


def connection_lost_reason(text: str) -> str | None:
    """The words of `text` that say the database connection was lost (e.g. "server closed the
    connection unexpectedly"), or None when it says nothing of the kind."""
    found = _CONNECTION_LOST.search(text)
    return " ".join(found.group(0).split())[:160] if found else None


def is_connection_lost(error: BaseException | str | None) -> bool:
    """Whether `error` (an exception, or the message of one) says the database connection was lost or
    refused while the server stops or starts; an exception's causes are looked at too (SQLAlchemy
    wraps the driver's error, GX wraps SQLAlchemy's)."""
    if error is None:
        return False
    if isinstance(error, str):
        return connection_lost_reason(error) is not None
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionError) or getattr(current, "connection_invalidated", False):
            return True
        sqlstate = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)  # psycopg 3, 2
        if isinstance(sqlstate, str) and sqlstate.startswith(_LOST_SQLSTATES):
            return True
        if _CONNECTION_LOST.search(str(current)):
            return True
        pending += [current.__cause__, current.__context__, getattr(current, "orig", None)]
    return False


def lost_connection(validation: dict) -> bool:
    """Whether an expectation of a suite's validation result (JSON form) raised because the connection
    was lost: then the validation says nothing about the data."""
    return any(
        is_connection_lost(_exception_message(evr.get("exception_info")))
        for evr in validation.get("results") or []
    )


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line[:_DETAILS_MAX]


def _observed(result: dict) -> Any:
    if "observed_value" in result:
        return result["observed_value"]
    # map expectations (not null, unique, in set) report counts instead of one observed value
    summary = {key: result[key] for key in _SUMMARY_KEYS if key in result}
    return summary or None


def _details(config: dict, result: dict, unexpected_count: int | None, success: bool) -> str:
    if success:
        return ""
    counts = result.get("partial_unexpected_counts") or []
    counts = [c for c in counts if isinstance(c, dict) and "value" in c]
    if counts:
        examples = ", ".join(f"{c['value']!r} ×{c.get('count')}" for c in counts[:EXAMPLES])
        return f"e.g. {examples}"[:_DETAILS_MAX]
    if result.get("partial_unexpected_list"):
        return f"e.g. {result['partial_unexpected_list'][:EXAMPLES]!r}"[:_DETAILS_MAX]
    description = config.get("description")
    if unexpected_count is not None and description:
        text = f"{unexpected_count} unexpected row(s); expected: {description}"
        bad_rows = (result.get("details") or {}).get("unexpected_rows") or []
        if bad_rows and isinstance(bad_rows, list):  # SQL checks: the rows the query returned
            text += "; e.g. " + "; ".join(_row(r) for r in bad_rows[:EXAMPLES])
        return text[:_DETAILS_MAX]
    return description or ""


def _row(row: Any) -> str:
    if isinstance(row, dict):
        return ", ".join(f"{k}={v}" for k, v in row.items())
    return str(row)


def outcome_from_result(suite: str, relation: str, evr: dict) -> ExpectationOutcome:
    """Map one ExpectationValidationResult (its `to_json_dict()` form) to an outcome."""
    config = evr.get("expectation_config") or {}
    kwargs, meta = config.get("kwargs") or {}, config.get("meta") or {}
    result = evr.get("result") or {}
    error = _exception_message(evr.get("exception_info"))
    success = bool(evr.get("success")) and error is None
    unexpected = result.get("unexpected_count")
    if unexpected is None and config.get("type") in SQL_CHECKS:
        unexpected = result.get("observed_value")  # the number of rows the check query returned
    unexpected = int(unexpected) if isinstance(unexpected, int | float) else None
    return ExpectationOutcome(
        suite=suite,
        relation=relation,
        expectation_type=str(config.get("type")),
        column=kwargs.get("column"),
        dimension=meta.get("dimension", "unknown"),
        severity=meta.get("severity", "blocking"),  # an untagged expectation blocks
        success=success,
        errored=error is not None,
        observed_value=None if error else _observed(result),
        unexpected_count=None if error else unexpected,
        details=_first_line(error) if error else _details(config, result, unexpected, success),
    )


def outcomes_from_validation(
    suite: str, relation: str, validation: dict, order: list[str] | None = None
) -> list[ExpectationOutcome]:
    """Outcomes of one suite's validation result (JSON form), in `order` of expectation ids if given.

    GX lists errored expectations first; ordering by the suite keeps the rows stable between runs.
    """
    results = list(validation.get("results") or [])
    if order:
        rank = {expectation_id: i for i, expectation_id in enumerate(order)}
        results.sort(key=lambda evr: rank.get((evr.get("expectation_config") or {}).get("id"), len(rank)))
    return [outcome_from_result(suite, relation, evr) for evr in results]


def libpq_url(url: str) -> str:
    """`postgresql+psycopg2://...` (SQLAlchemy) → `postgresql://...` (libpq); anything else as is."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.startswith(("postgresql+", "postgres+")):
        return f"postgresql://{rest}"
    return url


def persist_outcomes(
    conninfo: str, run_id: str, checkpoint: str, outcomes: Iterable[ExpectationOutcome]
) -> None:
    """Replace the rows of (`run_id`, `checkpoint`) in monitoring.gx_results with `outcomes`.

    Creates the schema and table when missing. `conninfo` is a libpq URL or key=value string (a
    SQLAlchemy `postgresql+driver://` URL is accepted too). One transaction: readers never see a
    half-written run.
    """
    table = sql.Identifier(SCHEMA, TABLE)
    rows = [
        (
            run_id, checkpoint, o.suite, o.relation, o.expectation_type, o.column, o.dimension,
            o.severity, o.success, o.errored,
            None if o.observed_value is None else Jsonb(o.observed_value),
            o.unexpected_count, o.details,
        )
        for o in outcomes
    ]  # fmt: skip
    insert = sql.SQL("insert into {table} ({columns}) values ({values})").format(
        table=table,
        columns=sql.SQL(", ").join(map(sql.Identifier, _COLUMNS)),
        values=sql.SQL(", ").join(sql.Placeholder() * len(_COLUMNS)),
    )
    with psycopg.connect(libpq_url(conninfo)) as conn, conn.cursor() as cur:
        # serialised: two gates finishing together would race on `create ... if not exists`
        cur.execute("select pg_advisory_xact_lock(hashtext('gx.results_ddl'))")
        cur.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(SCHEMA)))
        cur.execute(sql.SQL(_DDL).format(table=table))
        cur.execute(sql.SQL(_INDEX).format(table=table))
        cur.execute(
            sql.SQL("delete from {table} where run_id = %s and checkpoint = %s").format(table=table),
            (run_id, checkpoint),
        )
        cur.executemany(insert, rows)
    log.info("persisted %d GX outcome(s) for %s / %s", len(rows), run_id, checkpoint)
