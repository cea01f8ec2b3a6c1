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

Wiring only: the work lives in `extract/`, `dbt_project/`, `gx/`, `publish/` and `monitoring/`, called
from `orchestration/`. Heavy imports happen inside the tasks; nothing here touches a database or the
network at parse time.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param, chain, task
from cosmos import DbtTaskGroup

from orchestration import cosmos_wiring, elt
from orchestration.assets import ENTITIES, MART_ASSETS, raw_asset
from orchestration.connections import ELT_START_DATE
from orchestration.defaults import default_args
from orchestration.gates import run_gate


@task
def scan_inbox(params: dict | None = None, run_id: str | None = None) -> dict:
    """List the inbox: the exports the ledger has not seen, files still being written, what is not an
    export. Reads only; loads nothing."""
    return elt.scan_inbox(params.get("source", "files"), run_id)


@task
def load_entity(entity: str, found: dict, run_id: str | None = None) -> dict:
    """Load the entity's new inbox files (or, with source=api, its changes in the shop API) into
    raw.<entity>: one file (one page), one transaction."""
    return elt.load_entity(entity, found, run_id)


@task.short_circuit(ignore_downstream_trigger_rules=False)
def skip_if_nothing_new(found: dict, loads: list[dict]) -> bool:
    """Go on to the gates and the build only when this run's loads brought rows; else skip them (the
    published marts stand) and let build_report say that nothing new came."""
    return elt.anything_new(found)


@task
def validate_raw(run_id: str | None = None) -> dict:
    """GX checkpoint `raw_landed`: a blocking failure stops the run before dbt."""
    return run_gate("raw_landed", run_id)


@task
def validate_marts(run_id: str | None = None) -> dict:
    """GX checkpoint `marts_publish` over the marts dbt just built in `marts_build` (the audit)."""
    return run_gate("marts_publish", run_id)


@task(outlets=MART_ASSETS)
def publish_marts(run_id: str | None = None) -> dict:
    """Swap the audited build in as the published `marts`, atomically (publish/swap.py)."""
    return elt.publish_marts(run_id)


@task(trigger_rule="none_failed")
def build_report(found: dict, loads: list[dict], run_id: str | None = None, ds: str | None = None) -> str:
    """What this run collected per day folder, rows per table, dbt and GX results, as HTML + JSON under
    .state/reports (also when nothing new came: it says so), and a row in monitoring.collections."""
    return elt.build_report("elt_ecommerce", found, loads, run_id, ds)


with DAG(
    dag_id="elt_ecommerce",
    description="Shop exports → raw → dbt staging/marts → GX gates → report",
    schedule="@daily",
    start_date=ELT_START_DATE,
    catchup=False,
    max_active_runs=1,
    tags=["elt", "ecommerce", "dbt", "gx"],
    default_args=default_args(retries=2),
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
    transform = DbtTaskGroup(group_id="transform", **cosmos_wiring.configs())
    cosmos_wiring.producer_first(transform)  # and without retries: see there
    new = skip_if_nothing_new(found, list(loads.values()))
    report = build_report(found, list(loads.values()))
    chain(new, validate_raw(), transform, validate_marts(), publish_marts(), report)
