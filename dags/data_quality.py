"""Airflow DAG `data_quality`: the deep check, the GX suites over all of raw and the published marts, and
dbt's staging and intermediate tests over every row, weekly.

The daily gates in elt_ecommerce read what the day brings (`raw_landed`: the batches the next dbt build
reads) and the build under audit; this DAG checks everything: every raw batch ever landed (`raw_history`),
dbt's tests of staging and intermediate over every row (`test_all_rows`; a day's build tests the rows it
changed), and the published marts (`marts_published`), on its own schedule (weekly) and by hand (Trigger;
param `freshness_hours` for replays of old data), never in a day's path. It stops nothing: it records one
row per expectation (monitoring.gx_results) or dbt test (monitoring.dbt_results) per run and fails a task
when a blocking expectation or a test fails, for the monitoring DAG and the Airflow UI to show. Each check
is its own task, so its own process (GX contexts are not thread-safe). Wiring only: the work is in gx/ and
monitoring/model_tests.py.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param, task

from orchestration.defaults import START_DATE, default_args
from orchestration.gates import run_gate

SCHEDULE = "0 3 * * 0"  # Sundays 03:00 UTC: weekly, away from the shop's daily deliveries


@task
def check_raw(run_id: str | None = None, params: dict | None = None) -> dict:
    """GX checkpoint `raw_history`: the raw suites over every batch ever landed."""
    return run_gate("raw_history", run_id, freshness_hours=float(params["freshness_hours"]))


@task
def test_models() -> str:
    """dbt's tests of staging and intermediate over every row (monitoring/model_tests.py)."""
    from airflow.sdk.exceptions import AirflowFailException

    from monitoring.model_tests import run_every_row
    from orchestration.connections import warehouse_url

    run = run_every_row(warehouse_url())
    if not run.passed:
        raise AirflowFailException(f"dbt tests over every row failed:\n{run.summary}")
    return run.summary


@task
def check_marts(run_id: str | None = None, params: dict | None = None) -> dict:
    """GX checkpoint `marts_published` on the published marts (what consumers read)."""
    return run_gate("marts_published", run_id, freshness_hours=float(params["freshness_hours"]))


with DAG(
    dag_id="data_quality",
    description="The deep check: all of raw, every row's dbt tests, the published marts; weekly, on demand",
    schedule=SCHEDULE,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    tags=["gx", "quality"],
    default_args=default_args(retries=1),
    doc_md=__doc__,
    params={
        "freshness_hours": Param(
            26.0, type="number", exclusiveMinimum=0, description="how old the newest row may be"
        )
    },
):
    check_raw()
    test_models()
    check_marts()
