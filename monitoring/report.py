"""The run report: rows per table, dbt node results and GX results of one DAG run, as HTML and JSON.

Reads only the warehouse: table sizes from the catalog, dbt results recorded by the project's
on-run-end hook (`monitoring.dbt_results`), GX results recorded by the gates (`monitoring.gx_results`).
Writes `<out>/<dag_id>/<logical date>.{html,json}` and `latest.{html,json}` beside them.
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


def collect(conninfo: str, run_id: str) -> dict:
    with psycopg.connect(conninfo, row_factory=dict_row) as conn:
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
    return {"tables": tables, "dbt": dbt, "gx": gx, "checks": checks}


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


def write_report(conninfo: str, dag_id: str, run_id: str, logical_date: str, out_dir: Path) -> Path:
    """Collect, render and write the report; returns the HTML path."""
    report = collect(conninfo, run_id)
    report["meta"] = {
        "dag_id": dag_id,
        "run_id": run_id,
        "logical_date": logical_date,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    folder = out_dir / dag_id
    folder.mkdir(parents=True, exist_ok=True)
    html_path, json_path = folder / f"{logical_date}.html", folder / f"{logical_date}.json"
    html_path.write_text(render_html(report), encoding="utf-8")
    json_path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    shutil.copyfile(html_path, folder / "latest.html")
    shutil.copyfile(json_path, folder / "latest.json")
    return html_path
