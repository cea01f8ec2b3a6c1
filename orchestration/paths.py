"""Where the project and its state are, wherever Airflow runs it (natively or in the image)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT = ROOT / "dbt_project"
DBT_MANIFEST = DBT_PROJECT / "target" / "manifest.json"  # what Cosmos renders the transform from


def state_dir() -> Path:
    """The state folder: `SHOP_STATE_DIR`, else `.state` in the project (reports, dbt docs, Cosmos' cache)."""
    return Path(os.environ.get("SHOP_STATE_DIR", ROOT / ".state"))
