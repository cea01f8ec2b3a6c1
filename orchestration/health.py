"""The work behind the health_check DAG's tasks that is more than a call: each function runs inside its task.

The checks themselves are in monitoring/health.py; this module says what they look at here (the sites
the API server serves, the state folder, the dbt manifest) and turns a failed check into a failed run.
"""

from __future__ import annotations

from orchestration.connections import airflow_api, warehouse_url
from orchestration.paths import DBT_MANIFEST, state_dir

# the checks, in the order record_health receives their results
CHECKS = ("check_database", "check_airflow", "check_docs", "check_disk", "summarize_checks")


def check_database(expected_roles: list[str]) -> dict:
    """The warehouse is reachable and the roles exist."""
    from monitoring import health

    return health.as_dict(health.database(warehouse_url(), expected_roles))


def check_airflow() -> dict:
    """Every Airflow component is healthy, from the API server's health endpoint."""
    from monitoring import health

    return health.as_dict(health.airflow(airflow_api()))


def check_docs(extra_sites: dict[str, str]) -> dict:
    """The dbt docs, the GX data docs and the monitoring report served by the API server's /shop routes,
    and `extra_sites` (name -> URL or path; the same name replaces one of them)."""
    from monitoring import health

    api = airflow_api()
    sites = {
        "dbt_docs": f"{api.base_url}/shop/dbt-docs/index.html",
        "gx_data_docs": f"{api.base_url}/shop/data-docs/index.html",
        "monitoring_report": f"{api.base_url}/shop/report",
        **extra_sites,
    }
    return health.as_dict(health.docs(api, sites))


def check_disk(min_free_gb: float) -> dict:
    """Free space for the state folder and the database under it."""
    from monitoring import health

    return health.as_dict(health.disk([state_dir(), state_dir() / "postgres"], min_free_gb))


def summarize_checks() -> dict:
    """dbt tests and GX suites with their latest results."""
    from monitoring import health

    return health.as_dict(health.summary(warehouse_url(), DBT_MANIFEST))


def record_health(results: list[dict | None], run_id: str) -> list[dict]:
    """Store every check in monitoring.health_checks (a check whose task failed counts as failed), then
    fail the task when any failed, so the run shows it in the Airflow UI and the monitoring DAG alerts."""
    from airflow.sdk.exceptions import AirflowFailException

    from monitoring import health

    checks = [
        health.Check(**r) if r else health.Check(name, False, "the check itself failed: see its task log")
        for name, r in zip(CHECKS, results, strict=True)
    ]
    failed = health.record(warehouse_url(), run_id, checks)
    if failed:
        raise AirflowFailException("; ".join(f"{c.name}: {c.detail}" for c in failed))
    return [health.as_dict(c) for c in checks]
