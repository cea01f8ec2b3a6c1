"""Airflow DAG `health_check`: weekly (and by hand), is the platform whole?

One task per check, each recording nothing itself: database (reachable, expected roles), airflow (every
component healthy, from the API server's health endpoint), docs (the dbt docs, the GX data docs and the
monitoring report served by the API server's /shop routes), disk (free space for the state and the
database), summary (dbt tests and GX suites with their latest results). record_health stores them all in
monitoring.health_checks and fails the run when any failed, so the failure shows in the Airflow UI and
the monitoring DAG alerts on it.
Wiring only: the work is in monitoring/health.py and orchestration/health.py.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param, task

from orchestration import health
from orchestration.defaults import START_DATE, default_args


@task
def check_database(params: dict | None = None) -> dict:
    return health.check_database(list(params["expected_roles"]))


@task
def check_airflow() -> dict:
    return health.check_airflow()


@task
def check_docs(params: dict | None = None) -> dict:
    return health.check_docs(params["docs_sites"])


@task
def check_disk(params: dict | None = None) -> dict:
    return health.check_disk(float(params["min_free_gb"]))


@task
def summarize_checks() -> dict:
    return health.summarize_checks()


@task(trigger_rule="all_done")
def record_health(results: list[dict | None], run_id: str | None = None) -> list[dict]:
    return health.record_health(results, run_id)


with DAG(
    dag_id="health_check",
    description="Weekly: database and roles, Airflow components, docs sites, disk, tests and suites",
    schedule="@weekly",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    tags=["monitoring"],
    default_args=default_args(retries=1),
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
