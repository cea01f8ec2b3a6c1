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
Wiring only: the work is in monitoring/ and orchestration/monitor.py.
"""

from __future__ import annotations

from airflow.sdk import DAG, AssetAny, AssetOrTimeSchedule, CronTriggerTimetable, Metadata, Param, chain, task

from orchestration import monitor
from orchestration.assets import DRIFT, MART_ASSETS
from orchestration.connections import airflow_api, warehouse_url
from orchestration.defaults import START_DATE, default_args


@task
def collect_airflow_runs() -> dict:
    from monitoring.airflow_api import collect_runs

    return collect_runs(warehouse_url(), airflow_api())


@task
def check_source_freshness(run_id: str | None = None) -> dict:
    return monitor.check_source_freshness(run_id)


@task
def collect_database_health(run_id: str | None = None) -> dict:
    return monitor.collect_database_health(run_id)


@task
def measure_volumes() -> int:
    from monitoring.volumes import measure

    return measure(warehouse_url())


@task
def detect_drift(run_id: str | None = None, params: dict | None = None) -> list[dict]:
    threshold, window_days = float(params["anomaly_threshold"]), int(params["anomaly_window_days"])
    return monitor.detect_drift(threshold, window_days, run_id)


@task(outlets=[DRIFT])
def record_drift(events: list[dict]):
    """Update the Asset `monitoring.drift` (extra: the days and breaches) only when a day newly drifted."""
    from airflow.sdk.exceptions import AirflowSkipException

    if not events:
        raise AirflowSkipException("no new drift")
    yield Metadata(DRIFT, {"days": [e["day"] for e in events], "events": events})


@task(trigger_rule="all_done")
def evaluate_alerts() -> dict:
    """Open, keep or resolve incidents from what was collected (even when a collector failed)."""
    return monitor.evaluate_alerts()


@task(trigger_rule="all_done")
def publish_status(run_id: str | None = None) -> dict:
    return monitor.publish_status(run_id)


with DAG(
    dag_id="monitoring",
    description="Runs, dbt, GX, loads, database health, volumes and drift → alerts, status, report",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 * * * *", timezone="UTC"), assets=AssetAny(*MART_ASSETS)
    ),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    tags=["monitoring"],
    default_args=default_args(retries=1),
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
