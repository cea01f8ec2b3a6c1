"""The work behind the monitoring DAG's tasks that is more than a call: each function runs inside its task.

The collectors and checks themselves are in monitoring/; this module picks their summaries for XCom,
finds the alert channels (Airflow Variable `shop_alert_emails`, connection `alert_webhook`) and where the
report goes.
"""

from __future__ import annotations

import os

from orchestration.connections import WEBHOOK_CONN_ID, optional_connection, warehouse_url
from orchestration.paths import state_dir


def check_source_freshness(run_id: str) -> dict:
    """`dbt source freshness` per source table, recorded; returns how many tables per status."""
    from collections import Counter

    from monitoring.freshness import check

    return dict(Counter(row["status"] for row in check(warehouse_url(), run_id)))


def collect_database_health(run_id: str) -> dict:
    """The database's health, recorded; returns its headline figures."""
    from monitoring.database import collect_health

    health = collect_health(warehouse_url(), run_id)
    return {k: health[k] for k in ("database_bytes", "connections", "cache_hit_ratio", "deadlocks")}


def detect_drift(threshold: float, window_days: int, run_id: str) -> list[dict]:
    """The days that newly drifted, with their breaches."""
    from monitoring.volumes import detect_drift as detect

    found = detect(warehouse_url(), threshold, window_days, run_id)
    return [{"day": str(e["day"]), "breaches": e["breaches"]} for e in found]


def channels() -> list:
    """The alert channels that are set up: e-mail (Variable `shop_alert_emails`, comma-separated) and the
    webhook (connection `alert_webhook`, extra `url`), each optional."""
    from airflow.sdk import Variable

    from monitoring.alerts import email_channel, webhook_channel

    found = []
    emails = [a.strip() for a in Variable.get("shop_alert_emails", default="").split(",") if a.strip()]
    if emails:
        found.append(email_channel(emails))
    hook = optional_connection(WEBHOOK_CONN_ID)
    if hook is not None:
        url = hook.extra_dejson.get("url") or f"{hook.schema or 'https'}://{hook.host}:{hook.port or 443}/"
        found.append(webhook_channel(url))
    return found


def report_url() -> str | None:
    """The monitoring report's address for people (alerts link to it), when Airflow's base URL is set."""
    base = os.environ.get("AIRFLOW__API__BASE_URL")
    return f"{base.rstrip('/')}/shop/report" if base else None


def evaluate_alerts() -> dict:
    """Open, keep or resolve incidents from what was collected, and send their alerts."""
    from monitoring.alerts import evaluate

    return evaluate(warehouse_url(), channels(), report_url())


def publish_status(run_id: str) -> dict:
    """Record the status (monitoring.status) and write the report under <state>/reports/monitoring."""
    from monitoring import dashboard, status

    current = status.record(warehouse_url(), run_id)
    page = dashboard.write(warehouse_url(), current, state_dir() / "reports" / "monitoring")
    return {"overall": current["overall"], "report": str(page)}
