"""The documentation sites `make up` serves: the dbt docs and the GX data docs.

Both are static sites, served behind the Airflow login by the project's plugin (monitoring/plugin.py at
`/shop/dbt-docs/` and `/shop/data-docs/`). Built here when missing or out of date, so a warm `make up`
builds nothing:
- dbt docs: `dbt docs generate` into `<state>/dbt-docs` (its own target path: the manifest Cosmos
  renders the DAG from is never rewritten under a running dag-processor), again when the dbt project
  changed or the site is missing. The catalog holds what the warehouse had then; every ELT run
  rebuilds the relations, not the docs, so `make up` after a change of models shows the new columns.
- GX data docs: every checkpoint run rebuilds them; before the first run, the suites alone.
"""

from __future__ import annotations

import os
from pathlib import Path

from stack import builds
from stack.settings import ROOT, state_dir

DBT_DOCS_FILES = ("index.html", "manifest.json", "catalog.json")


def dbt_docs_dir(state: Path | None = None) -> Path:
    return (state or state_dir()) / "dbt-docs"


def gx_docs_index() -> Path:
    """gx.checkpoints' site, spelled out here: importing it imports GX (~6 s), on every `make up`."""
    return ROOT / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def build_dbt_docs(env: dict[str, str], state: Path) -> bool:
    """`dbt docs generate` when the dbt project changed or the site is incomplete. True if it ran."""
    target = dbt_docs_dir(state)
    marker = target / ".docs-source-hash"
    current = builds.dbt_project_hash()
    complete = all((target / name).is_file() for name in DBT_DOCS_FILES)
    if complete and marker.is_file() and marker.read_text() == current:
        return False
    cmd = [
        builds.bin_path("dbt"),
        "docs",
        "generate",
        "--project-dir",
        str(builds.DBT_PROJECT),
        "--profiles-dir",
        str(builds.DBT_PROJECT),
        "--target-path",
        str(target),
        "--log-path",
        str(state / "logs" / "dbt"),
    ]
    builds.run_logged(cmd, env, state / "logs" / "dbt-docs.log")
    marker.write_text(current)
    return True


def build_gx_docs(warehouse_url: str) -> bool:
    """The GX data docs site when none was built yet (suites only until a checkpoint runs). True if built."""
    if gx_docs_index().is_file():
        return False
    from gx.checkpoints import build_site

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    build_site(warehouse_url)
    return True
