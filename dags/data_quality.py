"""Airflow DAG `data_quality`: the GX suites on the raw layer and on the published marts, on their Assets.

Scheduled on the Assets of the relations it checks: a run starts when all five raw tables were loaded
(`raw.<entity>`, updated by elt_ecommerce's loads) or when new marts were published (`marts.<mart>`,
updated by publish_marts); it can also be triggered by hand (param `freshness_hours` for replays of
old data). Unlike elt_ecommerce's gates it stops nothing: it records one row per expectation per run
in monitoring.gx_results and fails its task when a blocking expectation fails, for the monitoring
DAG and the Airflow UI to show. Each check is its own task, so its own process (GX contexts are not
thread-safe). Wiring only: the work is in gx/.
"""

from __future__ import annotations

from airflow.sdk import DAG, AssetAll, AssetAny, Param, task

from orchestration.assets import MART_ASSETS, RAW_ASSETS
from orchestration.defaults import START_DATE, default_args
from orchestration.gates import run_gate


@task
def check_raw(run_id: str | None = None, params: dict | None = None) -> dict:
    """GX checkpoint `raw_landed` on the raw tables."""
    return run_gate("raw_landed", run_id, freshness_hours=float(params["freshness_hours"]))


@task
def check_marts(run_id: str | None = None, params: dict | None = None) -> dict:
    """GX checkpoint `marts_published` on the published marts (what consumers read)."""
    return run_gate("marts_published", run_id, freshness_hours=float(params["freshness_hours"]))


with DAG(
    dag_id="data_quality",
    description="GX suites on raw and on the published marts, when either changes",
    schedule=AssetAny(AssetAll(*RAW_ASSETS), AssetAll(*MART_ASSETS)),
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
