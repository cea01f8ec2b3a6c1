"""The work behind elt_ecommerce's tasks that is more than a call: each function runs inside its task.

The loads connect as `warehouse_loader` (raw only); publication and the report as `warehouse` (the
transformer). The work itself is in extract/, publish/ and monitoring/, imported inside the functions.
"""

from __future__ import annotations

import logging

from orchestration.connections import LOADER_CONN_ID, inbox, settle_seconds, shop_api, warehouse_url
from orchestration.paths import state_dir

log = logging.getLogger(__name__)


def scan_inbox(source: str, run_id: str) -> dict:
    """List the inbox: the exports the ledger has not seen (in load order), files still being written,
    and what is not an export, with the reason. Reads only; loads nothing. With source=api, nothing to
    list: only the ledger's last batch, after which this run's loads come (retries too)."""
    from extract.inbox import last_batch, record_ignored, scan

    since = last_batch(warehouse_url(LOADER_CONN_ID))
    if source == "api":
        return {"source": "api", "since_batch": since}
    found = scan(warehouse_url(LOADER_CONN_ID), inbox(), settle_seconds=settle_seconds())
    record_ignored(warehouse_url(LOADER_CONN_ID), found, run_id)
    log.info("%s: %s new files, %s seen before", found.inbox, len(found.new), found.seen)
    for f in found.waiting:
        log.warning("waiting for %s: it changed moments ago (still being written?); the next run takes it", f)
    for where, why in found.ignored:
        log.warning("ignored %s: %s", where, why)
    return {"source": "files", "since_batch": since, **found.to_dict()}


def load_entity(entity: str, found: dict, run_id: str) -> dict:
    """COPY the entity's new inbox files into raw.<entity>: one file, one transaction; unreadable rows go
    to raw.load_rejects, an unreadable file is recorded as rejected and the other files still load.
    With source=api: the API's changes since the entity's watermark, one page, one transaction."""
    from dataclasses import asdict

    from extract.inbox import Scan, collect
    from extract.load import analyze_loaded

    if found["source"] == "api":
        from extract.api import extract_entity

        base_url, token = shop_api()
        result = extract_entity(warehouse_url(LOADER_CONN_ID), base_url, token, entity)
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
    loader = warehouse_url(LOADER_CONN_ID)
    results = collect(loader, inbox(), files, run_id)
    analyze_loaded(loader, results)
    for result in results:
        if result.status in ("rejected", "changed"):
            log.warning("file %s: %s", result.status, result.error)
    totals = {k: sum(getattr(r, k) for r in results) for k in ("rows_read", "rows_loaded", "rows_rejected")}
    return {"entity": entity, "source": "files", **totals, "batches": [asdict(r) for r in results]}


def anything_new(found: dict) -> bool:
    """Whether this run's loads brought rows (counted in the ledger after the scan's last batch, so a
    retried load's earlier attempts count too)."""
    from extract.inbox import rows_loaded_since

    rows = rows_loaded_since(warehouse_url(LOADER_CONN_ID), found["since_batch"])
    if not rows:
        log.info("nothing new: no rows loaded; the published marts stand")
    return rows > 0


def publish_marts(run_id: str) -> dict:
    """Swap the audited build in as the published `marts`, atomically (publish/swap.py)."""
    from publish.swap import publish_marts as publish

    publication = publish(warehouse_url(), run_id)
    return {"run_id": publication.run_id, "relations": list(publication.relations)}


def build_report(dag_id: str, found: dict, loads: list[dict], run_id: str, ds: str) -> str:
    """The run's report (HTML + JSON under <state>/reports) and its row in monitoring.collections."""
    from monitoring.run_report import write_report

    return str(write_report(warehouse_url(), dag_id, run_id, ds, state_dir() / "reports", found, loads))
