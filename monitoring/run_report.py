"""The run report: what the run collected, rows per table, dbt node results and GX results, as HTML and JSON.

Reads the warehouse: what the run collected per day folder from the load ledger (`raw.load_ledger`, by the
run's id) and the scan of the inbox (passed in: new files, files seen before, files still being written,
what is not an export); table sizes from the catalog; dbt results recorded by the project's on-run-end
hook (`monitoring.dbt_results`); GX results recorded by the gates (`monitoring.gx_results`). Writes
`<out>/<dag_id>/<run id>.{html,json}` and `latest.{html,json}` beside them, and one row per run in
`monitoring.collections`, so monitoring shows a run that found nothing new as such.
"""

from __future__ import annotations

import html
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from monitoring import schema

SCHEMAS = ("raw", "staging", "marts")


def _table_rows(conn: psycopg.Connection) -> list[dict]:
    relations = conn.execute(
        "select table_schema, table_name, table_type from information_schema.tables"
        " where table_schema = any(%s) order by table_schema, table_name",
        [list(SCHEMAS)],
    ).fetchall()
    rows = []
    for rel in relations:
        query = sql.SQL("select count(*) as n from {}").format(
            sql.Identifier(rel["table_schema"], rel["table_name"])
        )
        count = conn.execute(query).fetchone()["n"]
        kind = "view" if rel["table_type"] == "VIEW" else "table"
        rows.append({"schema": rel["table_schema"], "table": rel["table_name"], "kind": kind, "rows": count})
    return rows


def _results(conn: psycopg.Connection, table: str, run_id: str, columns: str, order: str) -> list[dict]:
    exists = conn.execute("select to_regclass(%s) is not null as ok", [f"monitoring.{table}"]).fetchone()
    if not exists["ok"]:
        return []
    if table == "dbt_results":  # a rerun or retry of the same DAG run appends: its latest result counts
        query = sql.SQL(
            "select {cols} from (select distinct on (unique_id) * from monitoring.dbt_results"
            " where airflow_run_id = %s order by unique_id, recorded_at desc) latest order by {order}"
        ).format(cols=sql.SQL(columns), order=sql.SQL(order))
    else:
        query = sql.SQL("select {cols} from {table} where run_id = %s order by {order}").format(
            cols=sql.SQL(columns), table=sql.Identifier("monitoring", table), order=sql.SQL(order)
        )
    return conn.execute(query, [run_id]).fetchall()


def _per_day(conn: psycopg.Connection, run_id: str) -> list[dict]:
    if not conn.execute("select to_regclass('raw.load_ledger') is not null as ok").fetchone()["ok"]:
        return []
    return conn.execute(
        "select coalesce(day_folder, '') as day_folder, entity, count(*) as files,"
        " count(*) filter (where status = 'loaded') as loaded,"
        " count(*) filter (where status = 'duplicate') as duplicates,"
        " count(*) filter (where status = 'rejected') as rejected_whole,"
        " coalesce(sum(rows_loaded), 0)::bigint as rows_loaded,"
        " coalesce(sum(rows_rejected), 0)::bigint as rows_rejected"
        " from raw.load_ledger where run_id = %s group by 1, 2 order by 1, 2",
        [run_id],
    ).fetchall()


def collection(conn: psycopg.Connection, run_id: str, found: dict | None, loads: list[dict]) -> dict:
    """What the run collected: per day folder and entity from the ledger, plus the scan's counts; saved in
    monitoring.collections."""
    found = found or {}
    per_day = _per_day(conn, run_id)
    files = found.get("source", "files") == "files"  # the ledger counts every attempt of a retried load
    rows_loaded = (
        sum(d["rows_loaded"] for d in per_day) if files else sum(x.get("rows_loaded", 0) for x in loads)
    )
    rows_rejected = (
        sum(d["rows_rejected"] for d in per_day) if files else sum(x.get("rows_rejected", 0) for x in loads)
    )
    summary = {
        "source": found.get("source", "files"),
        "inbox": found.get("inbox"),
        "files_new": len(found.get("new", [])),
        "files_seen": found.get("seen", 0),
        "files_waiting": len(found.get("waiting", [])),
        "files_ignored": len(found.get("ignored", [])),
        "rows_loaded": rows_loaded,
        "rows_rejected": rows_rejected,
        "is_nothing_new": rows_loaded == 0,
    }
    schema.ensure(conn)
    conn.execute(
        "insert into monitoring.collections (run_id, source, inbox, files_new, files_seen, files_waiting,"
        " files_ignored, rows_loaded, rows_rejected, is_nothing_new, per_day) values (%(run_id)s,"
        " %(source)s, %(inbox)s, %(files_new)s, %(files_seen)s, %(files_waiting)s, %(files_ignored)s,"
        " %(rows_loaded)s, %(rows_rejected)s, %(is_nothing_new)s, %(per_day)s) on conflict (run_id) do update"
        " set collected_at = now(), files_new = excluded.files_new, files_seen = excluded.files_seen,"
        " files_waiting = excluded.files_waiting, files_ignored = excluded.files_ignored,"
        " rows_loaded = excluded.rows_loaded, rows_rejected = excluded.rows_rejected,"
        " is_nothing_new = excluded.is_nothing_new, per_day = excluded.per_day",
        summary | {"run_id": run_id, "per_day": Jsonb(per_day)},
    )
    waiting = [f"{f['folder']}/{f['day']}/{f['name']}" for f in found.get("waiting", [])]
    ignored = [{"path": where, "reason": why} for where, why in found.get("ignored", [])]
    return summary | {"per_day": per_day, "waiting": waiting, "ignored": ignored}


def collect(conninfo: str, run_id: str, found: dict | None = None, loads: list[dict] | None = None) -> dict:
    with psycopg.connect(conninfo, row_factory=dict_row) as conn:
        collected = collection(conn, run_id, found, loads or [])
        tables = _table_rows(conn)
        dbt = _results(
            conn,
            "dbt_results",
            run_id,
            "resource_type, name, status, round(execution_time::numeric, 2)::float as seconds,"
            " rows_affected, failures, message",
            "recorded_at, resource_type, name",
        )
        gx = _results(
            conn,
            "gx_results",
            run_id,
            "checkpoint, suite, expectation_type, column_name, dimension, severity, success, errored,"
            " observed_value, unexpected_count, details",
            "checkpoint, suite, expectation_type, column_name",
        )
    checks = {
        "dbt_passed": sum(1 for r in dbt if r["status"] in ("success", "pass")),
        "dbt_failed": sum(1 for r in dbt if r["status"] in ("error", "fail")),
        "dbt_warned": sum(1 for r in dbt if r["status"] == "warn"),
        "gx_passed": sum(1 for r in gx if r["success"]),
        "gx_failed": sum(1 for r in gx if not r["success"] and not r["errored"]),
        "gx_errored": sum(1 for r in gx if r["errored"]),
    }
    return {"collected": collected, "tables": tables, "dbt": dbt, "gx": gx, "checks": checks}


def html_table(rows: list[dict], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c)
            css = ""
            if c in ("status", "success"):
                bad = value in ("error", "fail", False)
                css = ' class="bad"' if bad else ' class="good"'
            text = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
            cells.append(f"<td{css}>{html.escape('' if value is None else text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def collected_line(collected: dict) -> str:
    """One sentence: what the run collected, or plainly that nothing new came."""
    where = collected.get("inbox") or "the shop API"
    if collected["is_nothing_new"]:
        return (
            f"Nothing new in {where}: {collected['files_new']} new files, no rows loaded"
            f" ({collected['files_seen']} files seen before); the published marts stand."
        )
    return (
        f"{collected['files_new']} new files from {where} ({collected['files_seen']} seen before):"
        f" {collected['rows_loaded']:,} rows loaded, {collected['rows_rejected']:,} rejected."
    )


def _collected_html(collected: dict) -> str:
    columns = ["day_folder", "entity", "files", "loaded", "duplicates", "rejected_whole", "rows_loaded",
               "rows_rejected"]  # fmt: skip
    parts = [f"<p><strong>{html.escape(collected_line(collected))}</strong></p>"]
    if collected["per_day"]:
        parts.append(html_table(collected["per_day"], columns))
    if collected["waiting"]:
        parts.append("<p>Still being written, left for the next run:</p>")
        parts.append(html_table([{"path": p} for p in collected["waiting"]], ["path"]))
    if collected["ignored"]:
        parts.append("<p>Not exports, ignored:</p>" + html_table(collected["ignored"], ["path", "reason"]))
    return "".join(parts)


def render_html(report: dict) -> str:
    meta, checks = report["meta"], report["checks"]
    title = f"{meta['dag_id']} · {meta['logical_date']}"
    summary = (
        f"dbt: {checks['dbt_passed']} passed, {checks['dbt_failed']} failed, {checks['dbt_warned']} warned · "
        f"GX: {checks['gx_passed']} passed, {checks['gx_failed']} failed, {checks['gx_errored']} errored"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; margin: .5rem 0 1.5rem; }}
th, td {{ border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; vertical-align: top; }}
th {{ background: #f3f3f3; }} .good {{ color: #17702b; }} .bad {{ color: #b00020; font-weight: 600; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Run <code>{html.escape(meta["run_id"])}</code>, generated {html.escape(meta["generated_at"])}.</p>
<p><strong>{html.escape(summary)}</strong></p>
<h2>Collected from the shop</h2>{_collected_html(report["collected"])}
<h2>Rows per table</h2>{html_table(report["tables"], ["schema", "table", "kind", "rows"])}
<h2>dbt results</h2>{
        html_table(
            report["dbt"],
            ["resource_type", "name", "status", "seconds", "rows_affected", "failures", "message"],
        )
    }
<h2>Great Expectations results</h2>{
        html_table(
            report["gx"],
            [
                "checkpoint",
                "suite",
                "expectation_type",
                "column_name",
                "dimension",
                "severity",
                "success",
                "errored",
                "observed_value",
                "unexpected_count",
            ],
        )
    }
</body></html>
"""


def report_name(run_id: str) -> str:
    """The report's file stem for a run id (`manual__2026-11-30T10:00:00+00:00` → safe on every OS)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)


def write_report(
    conninfo: str,
    dag_id: str,
    run_id: str,
    logical_date: str,
    out_dir: Path,
    found: dict | None = None,
    loads: list[dict] | None = None,
) -> Path:
    """Collect, render and write the report; returns the HTML path."""
    report = collect(conninfo, run_id, found, loads)
    report["meta"] = {
        "dag_id": dag_id,
        "run_id": run_id,
        "logical_date": logical_date,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    folder = out_dir / dag_id
    folder.mkdir(parents=True, exist_ok=True)
    html_path, json_path = folder / f"{report_name(run_id)}.html", folder / f"{report_name(run_id)}.json"
    html_path.write_text(render_html(report), encoding="utf-8")
    json_path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    shutil.copyfile(html_path, folder / "latest.html")
    shutil.copyfile(json_path, folder / "latest.json")
    return html_path
