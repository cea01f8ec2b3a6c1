"""Run `elt_ecommerce` under `dag.test()` on an inbox of the test's own, and fingerprint an inbox."""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def inbox_state(folder: Path) -> dict[str, tuple[str, int, int]]:
    """Every file under a local inbox: (sha256, size, modification time in ns): what 'untouched' means."""
    return {
        str(p.relative_to(folder)): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_size,
            p.stat().st_mtime_ns,
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def run_elt(inbox: Path | str, logical_date: datetime, **variables: str):
    """One `elt_ecommerce` run collecting `inbox` (a folder or a URL); every file there is settled (the
    tests write them whole before the run)."""
    from airflow.dag_processing.dagbag import DagBag

    settings = {
        "AIRFLOW_VAR_SHOP_INBOX": str(inbox),
        "AIRFLOW_VAR_SHOP_INBOX_SETTLE_SECONDS": "0",
        **variables,
    }
    saved = {key: os.environ.get(key) for key in settings}
    os.environ.update(settings)
    try:
        dag = DagBag(dag_folder=str(ROOT / "dags")).get_dag("elt_ecommerce")
        return dag.test(logical_date=logical_date)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
