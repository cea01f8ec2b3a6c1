"""Airflow DAG `data_quality`: the deep check, the GX suites over all of raw and the published marts, weekly.

The daily gates in elt_ecommerce read what the day brings (`raw_landed`: the batches the next dbt build
reads) and the build under audit; this DAG checks everything: every raw batch ever landed (`raw_history`)
and the published marts (`marts_published`), on its own schedule (weekly) and by hand (Trigger; param
`freshness_hours` for replays of old data), never in a day's path. It stops nothing: it records one row
per expectation per run in monitoring.gx_results and fails its task when a blocking expectation fails, for
the monitoring DAG and the Airflow UI to show. Each check is its own task, so its own process (GX contexts
are not thread-safe). Wiring only: the work is in gx/.
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
def check_marts(run_id: str | None = None, params: dict | None = None) -> dict:
    """GX checkpoint `marts_published` on the published marts (what consumers read)."""
    return run_gate("marts_published", run_id, freshness_hours=float(params["freshness_hours"]))


with DAG(
    dag_id="data_quality",
    description="The deep check: GX suites over all of raw and the published marts, weekly and on demand",
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
    check_marts()
