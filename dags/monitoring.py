"""Airflow DAG `monitoring`: collect runs, dbt, GX, loads, database health and volumes; alert; report.

Hourly, and whenever new marts are published (the Assets `marts.<mart>` that elt_ecommerce's
publish_marts updates). Everything lands in the warehouse's `monitoring` schema, keeping history:

- collect_airflow_runs: DAG runs and task instances through the REST API v2, as the read-only `monitor`
  account (connection `airflow_api`; Airflow 3 tasks cannot use the metadata ORM);
- check_source_freshness: `dbt source freshness`, per source table;
- collect_database_health: size, connections, cache hits, deadlocks, dead tuples, long queries, slowest
  statements (with pg_stat_statements);
- measure_volumes → detect_drift: rows, revenue and nulls per mart and day against a trailing window
  (params `anomaly_threshold`, `anomaly_window_days`); record_drift updates the Asset
  `monitoring.drift` only when a day newly drifted, for a downstream DAG to schedule on;
- evaluate_alerts: one alert per incident (ELT failure, blocking check, stale source, drift) and one when
  it resolves, by e-mail (SmtpNotifier; Variable `shop_alert_emails`) and webhook (connection
  `alert_webhook`, extra `url`), each optional;
- publish_status: the status (monitoring.status, served by `/shop/status`) and the report (`/shop/report`).

dbt per-node results (monitoring.dbt_results, by the project's on-run-end hook) and GX results
(monitoring.gx_results, by the gates) are written where they happen; this DAG reads them.
Wiring only: the work is in monitoring/.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import (
    DAG,
    Asset,
    AssetAny,
    AssetOrTimeSchedule,
    CronTriggerTimetable,
    Metadata,
    Param,
    chain,
    task,
)

from publish import MARTS

ROOT = Path(__file__).resolve().parents[1]
DRIFT = Asset("monitoring.drift")


def _url() -> str:
    from stack.connections import warehouse_url

    return warehouse_url()


@task
def collect_airflow_runs() -> dict:
    from monitoring.airflow_api import collect_runs
    from stack.connections import airflow_api

    return collect_runs(_url(), airflow_api())


@task
def check_source_freshness(run_id: str | None = None) -> dict:
    from collections import Counter

    from monitoring.freshness import check

    return dict(Counter(row["status"] for row in check(_url(), run_id)))


@task
def collect_database_health(run_id: str | None = None) -> dict:
    from monitoring.database import collect_health

    health = collect_health(_url(), run_id)
    return {k: health[k] for k in ("database_bytes", "connections", "cache_hit_ratio", "deadlocks")}


@task
def measure_volumes() -> int:
    from monitoring.volumes import measure

    return measure(_url())


@task
def detect_drift(run_id: str | None = None, params: dict | None = None) -> list[dict]:
    from monitoring.volumes import detect_drift as detect

    found = detect(_url(), float(params["anomaly_threshold"]), int(params["anomaly_window_days"]), run_id)
    return [{"day": str(e["day"]), "breaches": e["breaches"]} for e in found]


@task(outlets=[DRIFT])
def record_drift(events: list[dict]):
    """Update the Asset `monitoring.drift` (extra: the days and breaches) only when a day newly drifted."""
    from airflow.sdk.exceptions import AirflowSkipException

    if not events:
        raise AirflowSkipException("no new drift")
    yield Metadata(DRIFT, {"days": [e["day"] for e in events], "events": events})


def _channels() -> list:
    from airflow.sdk import Variable

    from monitoring.alerts import email_channel, webhook_channel
    from stack.connections import WEBHOOK_CONN_ID, optional_connection

    channels = []
    emails = [a.strip() for a in Variable.get("shop_alert_emails", default="").split(",") if a.strip()]
    if emails:
        channels.append(email_channel(emails))
    hook = optional_connection(WEBHOOK_CONN_ID)
    if hook is not None:
        url = hook.extra_dejson.get("url") or f"{hook.schema or 'https'}://{hook.host}:{hook.port or 443}/"
        channels.append(webhook_channel(url))
    return channels


def _report_url() -> str | None:
    base = os.environ.get("AIRFLOW__API__BASE_URL")
    return f"{base.rstrip('/')}/shop/report" if base else None


@task(trigger_rule="all_done")
def evaluate_alerts() -> dict:
    """Open, keep or resolve incidents from what was collected (even when a collector failed)."""
    from monitoring.alerts import evaluate

    return evaluate(_url(), _channels(), _report_url())


@task(trigger_rule="all_done")
def publish_status(run_id: str | None = None) -> dict:
    from monitoring import dashboard, status

    current = status.record(_url(), run_id)
    state = Path(os.environ.get("SHOP_STATE_DIR", ROOT / ".state"))
    page = dashboard.write(_url(), current, state / "reports" / "monitoring")
    return {"overall": current["overall"], "report": str(page)}


with DAG(
    dag_id="monitoring",
    description="Runs, dbt, GX, loads, database health, volumes and drift → alerts, status, report",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 * * * *", timezone="UTC"),
        assets=AssetAny(*(Asset(f"marts.{mart}") for mart in MARTS)),
    ),
    start_date=datetime(2026, 11, 1),
    catchup=False,
    max_active_runs=1,
    tags=["monitoring"],
    default_args={"owner": "data-platform", "retries": 1, "retry_delay": timedelta(seconds=30)},
    doc_md=__doc__,
    params={
        "anomaly_threshold": Param(
            0.5,
            type="number",
            exclusiveMinimum=0,
            description="relative distance from the median that drifts",
        ),
        "anomaly_window_days": Param(7, type="integer", minimum=3, description="trailing days of the median"),
    },
):
    collectors = [collect_airflow_runs(), check_source_freshness(), collect_database_health()]
    volumes = measure_volumes()
    drift = detect_drift()
    chain(volumes, drift)
    record_drift(drift)
    alerts = evaluate_alerts()
    chain([*collectors, drift], alerts, publish_status())
