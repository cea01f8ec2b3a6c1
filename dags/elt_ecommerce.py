"""Airflow DAG `elt_ecommerce`: land the shop's day, load raw, gate, transform, audit, publish, report.

land_files → load_<entity> (parallel; each updates the Asset raw.<entity>) → validate_raw (GX
`raw_landed`) → transform (Cosmos WATCHER: one producer task runs `dbt build` into `marts_build`; a
task per model, seed and snapshot reports its result and its tests' and updates its Asset) →
validate_marts (GX `marts_publish` audits the unpublished build) → publish_marts (one transaction
swaps it with the published `marts`; updates the Assets marts.<mart>) → build_report.

Write-audit-publish: a blocking failure in either gate fails the run before publish_marts, so
consumers keep reading the last published marts, and the failed build stays in `marts_build`.

Param `source`: `files` (default) loads the logical date's folder of the landing area; `api` extracts
each entity from the shop's REST API (Airflow connection `shop_api`: host, port, password = the bearer
token) from its watermark in raw.api_watermarks, whatever the logical date.

Wiring only: the work lives in `extract/`, `dbt_project/`, `gx/` and `monitoring/`. Heavy imports
happen inside the tasks; nothing here touches a database or the network at parse time.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, Asset, BaseHook, Param, chain, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior
from cosmos.profiles import PostgresUserPasswordProfileMapping

from publish import MARTS

ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT = ROOT / "dbt_project"
WAREHOUSE_CONN_ID = "warehouse"  # the transformer role: dbt, the gates, publish, the report
LOADER_CONN_ID = "warehouse_loader"  # least privilege for the loads: raw only
SHOP_API_CONN_ID = "shop_api"
ENTITIES = ("customers", "products", "orders", "order_items", "sessions")


def _state_dir() -> Path:
    return Path(os.environ.get("SHOP_STATE_DIR", ROOT / ".state"))


def _warehouse_url(conn_id: str = WAREHOUSE_CONN_ID) -> str:
    from stack.connections import warehouse_url

    return warehouse_url(conn_id)


def _shop_api() -> tuple[str, str]:
    """(base URL, token) of the shop API, from Airflow connection `shop_api`."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(SHOP_API_CONN_ID)
    except AirflowNotFoundException as missing:
        raise AirflowFailException(
            f"source=api needs the Airflow connection {SHOP_API_CONN_ID!r} (e.g. AIRFLOW_CONN_SHOP_API):"
            " host, port, and the API token as password"
        ) from missing
    return f"{conn.schema or 'http'}://{conn.host}:{conn.port or 80}", conn.password or ""


@task
def land_files(ds: str | None = None, params: dict | None = None) -> str:
    """Write the day's shop export (a small deterministic sample) into the landing folder (files only)."""
    from datetime import date

    from extract.sample import write_day

    landing = _state_dir() / "landing"
    if params.get("source", "files") == "files":
        write_day(landing, date.fromisoformat(ds))
    return str(landing)


def raw_asset(entity: str) -> Asset:
    """The Airflow Asset of a raw table: DAGs downstream of the load can be scheduled on it."""
    return Asset(f"raw.{entity}")


@task
def load_entity(entity: str, landing: str, ds: str | None = None, params: dict | None = None) -> dict:
    """COPY the day's files of one entity into raw.<entity>: one file, one transaction; unreadable rows go
    to raw.load_rejects, an unreadable file is recorded as rejected and the other files still load.
    With source=api: the API's changes since the entity's watermark, one page, one transaction."""
    import logging
    from dataclasses import asdict

    from extract.load import load_folder

    if params.get("source", "files") == "api":
        from extract.api import extract_entity

        base_url, token = _shop_api()
        result = extract_entity(_warehouse_url(LOADER_CONN_ID), base_url, token, entity)
        return {
            "entity": entity,
            "source": "api",
            "rows_read": result.fetched,
            "rows_loaded": result.loaded,
            "rows_rejected": result.rejected,
            "pages": result.pages,
            "retries": result.retries,
            "watermark": str(result.watermark),
        }

    results = load_folder(_warehouse_url(LOADER_CONN_ID), entity, Path(landing) / entity / ds)
    for result in results:
        if result.status == "rejected":
            logging.getLogger(__name__).warning("file rejected: %s", result.error)
    totals = {k: sum(getattr(r, k) for r in results) for k in ("rows_read", "rows_loaded", "rows_rejected")}
    return {"entity": entity, **totals, "batches": [asdict(r) for r in results]}


def _run_gate(checkpoint: str, run_id: str) -> dict:
    from airflow.sdk.exceptions import AirflowFailException

    from gx.gate import QualityGateFailed, run_gate

    try:
        return run_gate(checkpoint, _warehouse_url(), run_id)
    except QualityGateFailed as failed:
        raise AirflowFailException(str(failed)) from failed


@task
def validate_raw(run_id: str | None = None) -> dict:
    """GX checkpoint `raw_landed`: a blocking failure stops the run before dbt."""
    return _run_gate("raw_landed", run_id)


@task
def validate_marts(run_id: str | None = None) -> dict:
    """GX checkpoint `marts_publish` over the marts dbt just built in `marts_build` (the audit)."""
    return _run_gate("marts_publish", run_id)


def mart_asset(mart: str) -> Asset:
    """The Airflow Asset of a published mart: it changes when publish_marts swaps a new build in."""
    return Asset(f"marts.{mart}")


@task(outlets=[mart_asset(mart) for mart in MARTS])
def publish_marts(run_id: str | None = None) -> dict:
    """Swap the audited build in as the published `marts`, atomically (publish/swap.py)."""
    from publish.swap import publish_marts as publish

    publication = publish(_warehouse_url(), run_id)
    return {"run_id": publication.run_id, "relations": list(publication.relations)}


@task
def build_report(run_id: str | None = None, ds: str | None = None) -> str:
    """Rows per table, dbt results and GX results of this run, as HTML + JSON under .state/reports."""
    from monitoring.report import write_report

    return str(write_report(_warehouse_url(), "elt_ecommerce", run_id, ds, _state_dir() / "reports"))


def producer_first(group: DbtTaskGroup) -> None:
    """Make Cosmos' WATCHER producer the upstream of the group's root sensors, without retries.

    Cosmos starts root sensors beside the producer (they defer to the triggerer until it reports).
    `airflow dags test` (make run, the e2e tests) runs one task at a time with no triggerer, so a root
    sensor picked before the producer would wait forever. Measured under a running scheduler, waiting
    for the producer costs the sensors little: the producer's `dbt build` dominates (README, Transforming).
    A retried producer skips (Cosmos never runs a second `dbt build`) and the skip would pass the run
    with nothing built, so a failing build fails the run; a cleared model task re-runs that model.
    """
    prefix = f"{group.group_id}."
    producer = next(t for t in group.iter_tasks() if t.task_id.endswith("dbt_producer_watcher"))
    producer.retries = 0
    for node_task in list(group.iter_tasks()):
        if node_task is producer or node_task.task_id.endswith("dbt_producer_watcher_done"):
            continue
        if not any(upstream.startswith(prefix) for upstream in node_task.upstream_task_ids):
            producer >> node_task


with DAG(
    dag_id="elt_ecommerce",
    description="Shop exports → raw → dbt staging/marts → GX gates → report",
    schedule="@daily",
    start_date=datetime(2026, 11, 1),
    catchup=False,
    max_active_runs=1,
    tags=["elt", "ecommerce", "dbt", "gx"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(seconds=30)},
    doc_md=__doc__,
    params={
        "source": Param(
            "files", enum=["files", "api"], description="files: the landing folder; api: the shop API"
        )
    },
):
    landing = land_files()
    loads = [
        load_entity.override(task_id=f"load_{entity}", outlets=[raw_asset(entity)])(entity, landing)
        for entity in ENTITIES
    ]
    transform = DbtTaskGroup(
        group_id="transform",
        project_config=ProjectConfig(
            dbt_project_path=DBT_PROJECT,
            manifest_path=DBT_PROJECT / "target" / "manifest.json",
            install_dbt_deps=False,
        ),
        profile_config=ProfileConfig(
            profile_name="shop",
            target_name="airflow",
            profile_mapping=PostgresUserPasswordProfileMapping(
                conn_id=WAREHOUSE_CONN_ID, profile_args={"schema": "staging", "threads": 4}
            ),
        ),
        # chosen by measurement (bench/transform_bench.py): one `dbt build` in a subprocess, not one
        # dbt per task, nor dbt inside the task's process (the producer took 2.3x the CLI that way)
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=str(Path(sys.executable).with_name("dbt")),
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            # the producer's `dbt build` runs every test in dbt's order (a test reading two models
            # after both); each model's tests report in its `.test` task
            test_behavior=TestBehavior.AFTER_EACH,
        ),
    )
    producer_first(transform)
    chain(landing, loads, validate_raw(), transform, validate_marts(), publish_marts(), build_report())
