"""The platform's status, from stored monitoring data: overall health, last ELT run, failing checks,
stale sources, open incidents. Built by each monitoring run into `monitoring.status` (history kept),
and served as is by the status endpoint (`monitoring/plugin.py`), which only reads the latest row.

overall: `failing` when an ELT run or a blocking check failed, `degraded` when a source is stale (warn
or error), a day drifted or another incident is open, `healthy` otherwise; `unknown` before any run.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb

from monitoring import schema
from monitoring.incidents import ELT_DAG

FAILING_KINDS = {"elt_failure", "blocking_check"}


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _collection(row: dict | None) -> dict | None:
    """The latest ELT run's collection from the shop, with a sentence that says plainly what came."""
    if row is None:
        return None
    from monitoring.run_report import collected_line

    return {**row, "collected_at": _iso(row["collected_at"]), "summary": collected_line(row)}


def build(conn: psycopg.Connection) -> dict:
    """The status as of now, from the monitoring tables (no Airflow, no scan of the marts)."""
    runs = conn.execute(
        "select run_id, state, logical_date, start_date, end_date, duration_s"
        " from monitoring.airflow_dag_runs where dag_id = %s order by coalesce(start_date, logical_date)"
        " desc nulls last limit 1",
        [ELT_DAG],
    ).fetchall()
    open_incidents = conn.execute(
        "select key, kind, summary, opened_at from monitoring.incidents where resolved_at is null"
        " order by opened_at"
    ).fetchall()
    stale = conn.execute(
        "select source || '.' || table_name as source, status, round(age_s::numeric / 3600, 1)::float as"
        " age_hours from monitoring.source_freshness where checked_at ="
        " (select max(checked_at) from monitoring.source_freshness) and status <> 'pass' order by 1"
    ).fetchall()
    failing_checks = [
        {"checkpoint": i["key"].split(":", 1)[1], "summary": i["summary"]}
        for i in open_incidents
        if i["kind"] == "blocking_check"
    ]
    if any(i["kind"] in FAILING_KINDS for i in open_incidents):
        overall = "failing"
    elif open_incidents or stale:
        overall = "degraded"
    else:
        overall = "healthy"
    last = runs[0] if runs else None
    collected = conn.execute(
        "select run_id, collected_at, inbox, files_new, files_seen, files_waiting, files_ignored,"
        " rows_loaded, rows_rejected, is_nothing_new from monitoring.collections"
        " order by collected_at desc limit 1"
    ).fetchone()
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "overall": overall,
        "last_elt_run": {
            "run_id": last["run_id"],
            "state": last["state"],
            "logical_date": _iso(last["logical_date"]),
            "started_at": _iso(last["start_date"]),
            "ended_at": _iso(last["end_date"]),
            "duration_s": last["duration_s"],
        }
        if last
        else None,
        "last_collection": _collection(collected),
        "failing_checks": failing_checks,
        "stale_sources": stale,
        "open_incidents": [{**i, "opened_at": _iso(i["opened_at"])} for i in open_incidents],
    }


def record(url: str, run_id: str | None = None) -> dict:
    """Build the status and store it as the latest row of `monitoring.status`; the status."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        schema.ensure(conn)
        status = build(conn)
        conn.execute(
            "insert into monitoring.status (run_id, overall, body) values (%s, %s, %s)",
            [run_id, status["overall"], Jsonb(status)],
        )
    return status


def latest(conn: psycopg.Connection) -> dict | None:
    """The latest stored status (one indexed row), with its age in seconds; None before the first."""
    with conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute(
            "select body, extract(epoch from now() - generated_at)::float from monitoring.status"
            " order by generated_at desc limit 1"
        ).fetchone()
    if not row:
        return None
    body, age = row
    return {**body, "age_s": round(age, 1)}
