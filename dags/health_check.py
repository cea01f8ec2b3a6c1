"""Airflow DAG `health_check`: weekly (and by hand), is the platform whole?

One task per check, each recording nothing itself: database (reachable, expected roles), airflow (every
component healthy, from the API server's health endpoint), docs (the dbt docs, the GX data docs and the
monitoring report served by the API server's /shop routes), disk (free space for the state and the
database), summary (dbt tests and GX suites with their latest results). record_health stores them all in
monitoring.health_checks and fails the run when any failed, so the failure shows in the Airflow UI and
the monitoring DAG alerts on it.
Wiring only: the work is in monitoring/health.py.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, Param, task

ROOT = Path(__file__).resolve().parents[1]
CHECKS = ("check_database", "check_airflow", "check_docs", "check_disk", "summarize_checks")


def _url() -> str:
    from stack.connections import warehouse_url

    return warehouse_url()


def _state() -> Path:
    return Path(os.environ.get("SHOP_STATE_DIR", ROOT / ".state"))


@task
def check_database(params: dict | None = None) -> dict:
    from monitoring import health

    return health.as_dict(health.database(_url(), list(params["expected_roles"])))


@task
def check_airflow() -> dict:
    from monitoring import health
    from stack.connections import airflow_api

    return health.as_dict(health.airflow(airflow_api()))


@task
def check_docs(params: dict | None = None) -> dict:
    from monitoring import health
    from stack.connections import airflow_api

    api = airflow_api()
    sites = {
        "dbt_docs": f"{api.base_url}/shop/dbt-docs/index.html",
        "gx_data_docs": f"{api.base_url}/shop/data-docs/index.html",
        "monitoring_report": f"{api.base_url}/shop/report",
        **params["docs_sites"],
    }
    return health.as_dict(health.docs(api, sites))


@task
def check_disk(params: dict | None = None) -> dict:
    from monitoring import health

    paths = [_state(), _state() / "postgres"]
    return health.as_dict(health.disk(paths, float(params["min_free_gb"])))


@task
def summarize_checks() -> dict:
    from monitoring import health

    return health.as_dict(health.summary(_url(), ROOT / "dbt_project" / "target" / "manifest.json"))


@task(trigger_rule="all_done")
def record_health(results: list[dict | None], run_id: str | None = None) -> list[dict]:
    from airflow.sdk.exceptions import AirflowFailException

    from monitoring import health

    checks = [
        health.Check(**r) if r else health.Check(name, False, "the check itself failed: see its task log")
        for name, r in zip(CHECKS, results, strict=True)
    ]
    failed = health.record(_url(), run_id, checks)
    if failed:
        raise AirflowFailException("; ".join(f"{c.name}: {c.detail}" for c in failed))
    return [health.as_dict(c) for c in checks]


with DAG(
    dag_id="health_check",
    description="Weekly: database and roles, Airflow components, docs sites, disk, tests and suites",
    schedule="@weekly",
    start_date=datetime(2026, 11, 1),
    catchup=False,
    max_active_runs=1,
    tags=["monitoring"],
    default_args={"owner": "data-platform", "retries": 1, "retry_delay": timedelta(seconds=30)},
    doc_md=__doc__,
    params={
        "expected_roles": Param(
            ["airflow", "warehouse", "warehouse_loader", "warehouse_transformer", "warehouse_reader"],
            type="array",
            description="roles that must exist",
        ),
        "min_free_gb": Param(2.0, type="number", minimum=0, description="free disk space below this fails"),
        "docs_sites": Param({}, type="object", description="extra or replaced sites: name -> URL or path"),
    },
):
    results = [
        check_database(),
        check_airflow(),
        check_docs(),
        check_disk(),
        summarize_checks(),
    ]
    record_health(results)
