"""Incidents: what is wrong now, from the stored monitoring data, opened once and resolved once.

`current_problems(conn)` reads the latest state of each thing watched:
- `elt_failed:<dag>`: the latest finished run of the ELT DAG failed;
- `blocking_check:<checkpoint>`: the latest validation of a GX checkpoint has a blocking failure or error;
- `freshness:<source>.<table>`: dbt's latest freshness check of a source table is past `error_after`;
- `drift:<day>`: the latest day measured has a drift event.

`reconcile(conn, problems)` opens an incident for each new key, touches the ones still open and resolves
those that cleared; it returns the incidents opened and resolved by this call, which the alerts announce
(one message per incident, not one per task or per run).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from monitoring import schema

ELT_DAG = "elt_ecommerce"


@dataclass(frozen=True)
class Problem:
    key: str
    kind: str
    summary: str
    details: dict = field(default_factory=dict)


def _elt(conn: psycopg.Connection) -> list[Problem]:
    run = conn.execute(
        "select run_id, state, logical_date from monitoring.airflow_dag_runs where dag_id = %s"
        " and state in ('success', 'failed') order by coalesce(end_date, start_date) desc limit 1",
        [ELT_DAG],
    ).fetchone()
    if not run or run[1] != "failed":
        return []
    failed = [
        task
        for (task,) in conn.execute(
            "select task_id from monitoring.airflow_task_instances where dag_id = %s and run_id = %s"
            " and state = 'failed' order by end_date",
            [ELT_DAG, run[0]],
        ).fetchall()
    ]
    summary = f"{ELT_DAG} run {run[0]} failed" + (f" at {', '.join(failed)}" if failed else "")
    return [Problem(f"elt_failed:{ELT_DAG}", "elt_failure", summary, {"run_id": run[0], "failed": failed})]


def _checks(conn: psycopg.Connection) -> list[Problem]:
    if not schema.exists(conn, "monitoring.gx_results"):
        return []
    rows = conn.execute(
        "with latest as (select distinct on (checkpoint) checkpoint, run_id from monitoring.gx_results"
        " order by checkpoint, validated_at desc)"
        " select r.checkpoint, r.run_id, r.suite, r.expectation_type, r.column_name, r.errored"
        " from monitoring.gx_results r join latest using (checkpoint, run_id)"
        " where r.severity = 'blocking' and not r.success order by r.checkpoint, r.suite"
    ).fetchall()
    by_checkpoint: dict[str, list] = {}
    for checkpoint, run_id, suite, expectation, column, errored in rows:
        what = f"{suite}: {expectation}" + (f"({column})" if column else "") + (" errored" if errored else "")
        by_checkpoint.setdefault(checkpoint, [run_id]).append(what)
    return [
        Problem(
            f"blocking_check:{checkpoint}",
            "blocking_check",
            f"GX checkpoint {checkpoint}: {len(failures)} blocking expectation(s) failed in run {run_id}",
            {"run_id": run_id, "failures": failures},
        )
        for checkpoint, (run_id, *failures) in by_checkpoint.items()
    ]


def _freshness(conn: psycopg.Connection) -> list[Problem]:
    rows = conn.execute(
        "select source, table_name, status, age_s, error_after_s, max_loaded_at is null and age_s is not null"
        " from monitoring.source_freshness"
        " where checked_at = (select max(checked_at) from monitoring.source_freshness)"
        " and status in ('error', 'runtime error') order by table_name"
    ).fetchall()
    return [
        Problem(
            f"freshness:{source}.{table}",
            "freshness",
            f"source {source}.{table} is stale: "
            + (
                f"no row in the {(age or 0) / 3600:.1f} h since the first delivery"
                if empty
                else f"newest row {(age or 0) / 3600:.1f} h old"
            )
            + f" (limit {(limit or 0) / 3600:.0f} h)",
            {"status": status, "age_s": age, "error_after_s": limit},
        )
        for source, table, status, age, limit, empty in rows
    ]


def _drift(conn: psycopg.Connection) -> list[Problem]:
    row = conn.execute(
        "select e.day, e.breaches from monitoring.drift_events e"
        " where e.day = (select max(day) from monitoring.mart_volumes)"
    ).fetchone()
    if not row:
        return []
    day, found = row
    metrics = ", ".join(f"{b['metric']} {b['deviation']:+.0%}" for b in found)
    return [Problem(f"drift:{day}", "drift", f"volume drift on {day}: {metrics}", {"breaches": found})]


def current_problems(conn: psycopg.Connection) -> list[Problem]:
    return [*_elt(conn), *_checks(conn), *_freshness(conn), *_drift(conn)]


def reconcile(conn: psycopg.Connection, problems: list[Problem]) -> tuple[list[dict], list[dict]]:
    """Open, touch and resolve incidents to match `problems`; (opened, resolved) as incident rows."""
    keys = [p.key for p in problems]
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('monitoring.incidents'))")
        opened = []
        for problem in problems:
            cur.execute(
                "update monitoring.incidents set last_seen_at = now(), details = %s"
                " where key = %s and resolved_at is null",
                [Jsonb(problem.details), problem.key],
            )
            if cur.rowcount:
                continue
            cur.execute(
                "insert into monitoring.incidents (key, kind, summary, details) values (%s, %s, %s, %s)"
                " returning *",
                [problem.key, problem.kind, problem.summary, Jsonb(problem.details)],
            )
            opened.append(cur.fetchone())
        cur.execute(
            "update monitoring.incidents set resolved_at = now() where resolved_at is null"
            " and not (key = any(%s)) returning *",
            [keys],
        )
        resolved = cur.fetchall()
    return opened, resolved
