"""Airflow DAG `elt_ecommerce`: collect what the shop delivered, load raw, gate, transform, audit, publish.

scan_inbox → load_customers, load_products → load_orders, load_order_items, load_sessions (each updates
the Asset raw.<entity>) → skip_if_nothing_new → validate_raw (GX `raw_landed`) → transform (Cosmos
WATCHER: one producer task runs `dbt build` into `marts_build`; a task per model, seed and snapshot
reports its result and its tests' and updates its Asset) →
validate_marts (GX `marts_publish` audits the unpublished build) → publish_marts (one transaction
swaps it with the published `marts`; updates the Assets marts.<mart>) → build_report.

Write-audit-publish: a blocking failure in either gate fails the run before publish_marts, so
consumers keep reading the last published marts, and the failed build stays in `marts_build`.

The inbox (Airflow Variable `shop_inbox`: a folder, or s3://bucket/prefix read through ObjectStoragePath
with connection `shop_inbox`) belongs to the shop and is only read. Each run collects every export the
ledger has not seen, in any day folder (extract/inbox.py); the logical date decides nothing. A run that
finds nothing new skips the gates, the build and the publication, succeeds, and its report says so.

Param `source`: `files` (default) collects the inbox; `api` extracts each entity from the shop's REST API
(Airflow connection `shop_api`: host, port, password = the bearer token) from its watermark in
raw.api_watermarks.

Wiring only: the work lives in `extract/`, `dbt_project/`, `gx/` and `monitoring/`. Heavy imports
happen inside the tasks; nothing here touches a database or the network at parse time.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

from airflow.sdk import DAG, Asset, BaseHook, Param, chain, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior
from cosmos.profiles import PostgresUserPasswordProfileMapping

from publish import MARTS
from stack.connections import ELT_START_DATE

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
def scan_inbox(params: dict | None = None, run_id: str | None = None) -> dict:
    """List the inbox: the exports the ledger has not seen (in load order), files still being written,
    and what is not an export, with the reason. Reads only; loads nothing."""
    import logging

    from extract.inbox import last_batch, record_ignored, scan
    from stack.connections import inbox, settle_seconds

    since = last_batch(_warehouse_url(LOADER_CONN_ID))  # what this run loads comes after it, retries too
    if params.get("source", "files") == "api":
        return {"source": "api", "since_batch": since}
    found = scan(_warehouse_url(LOADER_CONN_ID), inbox(), settle_seconds=settle_seconds())
    record_ignored(_warehouse_url(LOADER_CONN_ID), found, run_id)
    log = logging.getLogger(__name__)
    log.info("%s: %s new files, %s seen before", found.inbox, len(found.new), found.seen)
    for f in found.waiting:
        log.warning("waiting for %s: it changed moments ago (still being written?); the next run takes it", f)
    for where, why in found.ignored:
        log.warning("ignored %s: %s", where, why)
    return {"source": "files", "since_batch": since, **found.to_dict()}


def raw_asset(entity: str) -> Asset:
    """The Airflow Asset of a raw table: DAGs downstream of the load can be scheduled on it."""
    return Asset(f"raw.{entity}")


@task
def load_entity(entity: str, found: dict, run_id: str | None = None) -> dict:
    """COPY the entity's new inbox files into raw.<entity>: one file, one transaction; unreadable rows go
    to raw.load_rejects, an unreadable file is recorded as rejected and the other files still load.
    With source=api: the API's changes since the entity's watermark, one page, one transaction."""
    import logging
    from dataclasses import asdict

    from extract.inbox import Scan, collect
    from stack.connections import inbox

    if found["source"] == "api":
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

    files = Scan.from_dict(found).for_entity(entity)
    results = collect(_warehouse_url(LOADER_CONN_ID), inbox(), files, run_id)
    for result in results:
        if result.status in ("rejected", "changed"):
            logging.getLogger(__name__).warning("file %s: %s", result.status, result.error)
    totals = {k: sum(getattr(r, k) for r in results) for k in ("rows_read", "rows_loaded", "rows_rejected")}
    return {"entity": entity, "source": "files", **totals, "batches": [asdict(r) for r in results]}


@task.short_circuit(ignore_downstream_trigger_rules=False)
def skip_if_nothing_new(found: dict, loads: list[dict]) -> bool:
    """Go on to the gates and the build only when this run's loads brought rows (counted in the ledger, so
    a retried load's earlier attempts count too); else skip them (the published marts stand) and let
    build_report say that nothing new came."""
    import logging

    from extract.inbox import rows_loaded_since

    rows = rows_loaded_since(_warehouse_url(LOADER_CONN_ID), found["since_batch"])
    if not rows:
        logging.getLogger(__name__).info("nothing new: no rows loaded; the published marts stand")
    return rows > 0


def _run_gate(checkpoint: str, run_id: str) -> dict:
    """A blocking failure is a verdict: the task fails without a retry. A lost warehouse connection
    (gx.gate.WarehouseUnavailable: nothing recorded) is not: it propagates and Airflow retries it."""
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


@task(trigger_rule="none_failed")
def build_report(found: dict, loads: list[dict], run_id: str | None = None, ds: str | None = None) -> str:
    """What this run collected per day folder, rows per table, dbt and GX results, as HTML + JSON under
    .state/reports (also when nothing new came: it says so), and a row in monitoring.collections."""
    from monitoring.report import write_report

    return str(
        write_report(_warehouse_url(), "elt_ecommerce", run_id, ds, _state_dir() / "reports", found, loads)
    )


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
    start_date=ELT_START_DATE,
    catchup=False,
    max_active_runs=1,
    tags=["elt", "ecommerce", "dbt", "gx"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(seconds=30)},
    doc_md=__doc__,
    params={
        "source": Param(
            "files", enum=["files", "api"], description="files: the shop's inbox; api: the shop API"
        )
    },
):
    found = scan_inbox()
    loads = {
        entity: load_entity.override(task_id=f"load_{entity}", outlets=[raw_asset(entity)])(entity, found)
        for entity in ENTITIES
    }
    for named in ("customers", "products"):  # what orders, items and sessions name lands first
        loads[named] >> [loads["orders"], loads["order_items"], loads["sessions"]]
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
    new = skip_if_nothing_new(found, list(loads.values()))
    report = build_report(found, list(loads.values()))
    chain(new, validate_raw(), transform, validate_marts(), publish_marts(), report)
