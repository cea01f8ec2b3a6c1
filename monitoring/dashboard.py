"""The monitoring report: one self-contained HTML page (inline CSS and SVG, no script, no CDN) and the
status as JSON, written to `<reports>/monitoring/index.html` and `status.json` by each monitoring run.

Charts: rows and revenue per day, ELT run durations, failed tasks per day, check pass rate over time,
rejects by reason. Tables: open incidents, recent alerts, latest runs, freshness, database health,
largest tables, drift events.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import psycopg
from psycopg.rows import dict_row, tuple_row

from monitoring import charts
from monitoring.incidents import ELT_DAG
from monitoring.run_report import html_table

DAYS = 60


def _series(conn: psycopg.Connection, query: str, params: list | None = None) -> list[tuple[str, float]]:
    with conn.cursor(row_factory=tuple_row) as cur:
        rows = cur.execute(query, params or []).fetchall()
    return [(str(label), float(value or 0)) for label, value in rows]


def _charts(conn: psycopg.Connection) -> list[str]:
    with conn.cursor(row_factory=tuple_row) as cur:
        has = set(
            cur.execute(
                "select to_regclass('monitoring.gx_results')::text, to_regclass('raw.load_rejects')::text"
            ).fetchone()
        )
    per_day = "select to_char(day, 'MM-DD'), {} from monitoring.mart_volumes where mart = %s order by day"
    out = [
        charts.line(
            "Orders per day (fct_orders)", _series(conn, per_day.format("row_count"), ["fct_orders"])
        ),
        charts.line(
            "Net revenue per day (rpt_daily_revenue)",
            _series(conn, per_day.format("revenue"), ["rpt_daily_revenue"]),
            unit=" €",
            color="#1a7f37",
        ),
        charts.bars(
            f"{ELT_DAG} run duration (s)",
            _series(
                conn,
                "select to_char(coalesce(logical_date, start_date), 'MM-DD HH24:MI'), duration_s from"
                " (select * from monitoring.airflow_dag_runs where dag_id = %s and duration_s is not null"
                " order by start_date desc limit 30) r order by start_date",
                [ELT_DAG],
            ),
            unit=" s",
        ),
        charts.bars(
            "Failed task instances per day (all DAGs)",
            _series(
                conn,
                "select to_char(coalesce(end_date, start_date), 'MM-DD'), count(*) from"
                " monitoring.airflow_task_instances where state = 'failed' group by 1 order by 1",
            ),
            color="#cf222e",
        ),
    ]
    if "monitoring.gx_results" in has:
        out.append(
            charts.line(
                "GX expectations passed per validation (%)",
                _series(
                    conn,
                    "select to_char(min(validated_at), 'MM-DD HH24:MI'),"
                    " 100.0 * avg(success::int) from monitoring.gx_results group by run_id, checkpoint"
                    " order by min(validated_at) desc limit 40",
                )[::-1],
                unit=" %",
                color="#9a6700",
            )
        )
    if "raw.load_rejects" in has:
        out.append(
            charts.bars(
                "Rejected rows by reason",
                _series(
                    conn, "select reason, count(*) from raw.load_rejects group by 1 order by 2 desc limit 12"
                ),
                color="#bc4c00",
            )
        )
    return out


def _tables(conn: psycopg.Connection) -> str:
    sections = [
        (
            "Open incidents",
            "select kind, summary, opened_at, last_seen_at from monitoring.incidents"
            " where resolved_at is null order by opened_at",
        ),
        (
            "Recent alerts",
            "select a.sent_at, a.event, a.channel, a.delivered, i.summary from monitoring.alerts a"
            " join monitoring.incidents i using (incident_id) order by a.sent_at desc limit 20",
        ),
        (
            "What the ELT runs collected from the shop",
            "select collected_at, run_id, case when is_nothing_new then 'nothing new' else 'new data' end"
            " as outcome, files_new, files_seen, files_waiting, files_ignored, rows_loaded, rows_rejected"
            " from monitoring.collections order by collected_at desc limit 10",
        ),
        (
            "Latest DAG runs",
            "select dag_id, run_id, state, start_date, round(duration_s::numeric, 1) as seconds"
            " from monitoring.airflow_dag_runs order by start_date desc nulls last limit 15",
        ),
        (
            "Source freshness (dbt)",
            "select source, table_name, status, round(age_s::numeric / 3600, 1) as"
            " age_hours from monitoring.source_freshness where checked_at ="
            " (select max(checked_at) from monitoring.source_freshness) order by table_name",
        ),
        (
            "Database health",
            "select collected_at, pg_size_pretty(database_bytes) as size, connections,"
            " max_connections, active_queries, idle_in_transaction, round(cache_hit_ratio::numeric, 4) as"
            " cache_hit_ratio, deadlocks, dead_tuples, jsonb_array_length(long_queries) as long_queries,"
            " slowest_statements is not null as has_pg_stat_statements from monitoring.db_health"
            " order by collected_at desc limit 1",
        ),
        (
            "Largest tables",
            "select schema_name, table_name, pg_size_pretty(total_bytes) as size, live_tuples,"
            " dead_tuples, last_autovacuum from monitoring.table_stats where collected_at ="
            " (select max(collected_at) from monitoring.table_stats) order by total_bytes desc limit 12",
        ),
        (
            "Drift events",
            "select day, breaches, threshold, window_days, detected_at from monitoring.drift_events"
            " order by day desc limit 10",
        ),
    ]
    parts = []
    for title, query in sections:
        cur = conn.execute(query)
        rows = cur.fetchall()
        columns = [c.name for c in cur.description]
        parts.append(
            f"<h2>{html.escape(title)}</h2>" + (html_table(rows, columns) if rows else "<p>none</p>")
        )
    return "".join(parts)


_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1250px; }
.grid { display: flex; flex-wrap: wrap; gap: 1rem; } figure.chart { margin: 0; }
figcaption { font-weight: 600; margin-bottom: .25rem; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } .good { color: #17702b; } .bad { color: #b00020; font-weight: 600; }
.badge { display: inline-block; padding: .2rem .7rem; border-radius: 1rem; color: #fff; font-weight: 600; }
.healthy { background: #1a7f37; } .degraded { background: #9a6700; } .failing { background: #cf222e; }
"""


def _collected(status: dict) -> str:
    collected = status.get("last_collection")
    text = collected["summary"] if collected else "No ELT run has collected from the shop yet."
    return f'<p id="last-collection">Last collection: {html.escape(text)}</p>'


def render(conn: psycopg.Connection, status: dict) -> str:
    overall = status["overall"]
    last = status.get("last_elt_run")
    run = f"{html.escape(last['run_id'])} ({last['state']})" if last else "none collected yet"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>shop-warehouse monitoring'
        f"</title><style>{_CSS}</style></head><body><h1>shop-warehouse monitoring</h1>"
        f'<p><span class="badge {overall}" id="overall">{overall}</span> generated {status["generated_at"]}'
        f" · last {ELT_DAG} run: {run}</p>{_collected(status)}"
        f'<div class="grid">{"".join(_charts(conn))}</div>{_tables(conn)}'
        f"<h2>Status (JSON)</h2><pre>{html.escape(json.dumps(status, indent=2, default=str))}</pre>"
        "</body></html>"
    )


def write(url: str, status: dict, out_dir: Path) -> Path:
    """Render the report and write it with `status.json` into `out_dir`; the HTML path."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        page = render(conn, status)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "status.json").write_text(json.dumps(status, indent=2, default=str), encoding="utf-8")
    target = out_dir / "index.html"
    target.with_suffix(".tmp").write_text(page, encoding="utf-8")
    target.with_suffix(".tmp").replace(target)  # readers never see half a page
    return target
