"""Load a whole landing folder (`<landing>/<entity>/<YYYY-MM-DD>/<file>`), as the CLI and backfills do.

Entities load in dependency order (customers and products before what names them), days in order, files
in name order; each file is its own transaction (extract/load.py), so an interrupted run resumes where
it stopped: files already loaded are skipped by their content hash.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from extract.contract import FIELDS
from extract.load import BatchResult, load_file, source_files

ENTITY_ORDER = ("customers", "products", "orders", "order_items", "sessions")


def warehouse_url_from_env() -> str | None:
    """The warehouse's libpq URL from `WAREHOUSE_URL`, else from the WAREHOUSE_* variables that
    `python -m stack env` exports (and dbt's profile reads)."""
    if os.environ.get("WAREHOUSE_URL"):
        return os.environ["WAREHOUSE_URL"]
    keys = ("WAREHOUSE_HOST", "WAREHOUSE_PORT", "WAREHOUSE_USER", "WAREHOUSE_PASSWORD", "WAREHOUSE_DB")
    if not all(os.environ.get(k) for k in keys):
        return None
    from psycopg.conninfo import make_conninfo

    host, port, user, password, db = (os.environ[k] for k in keys)
    return make_conninfo(host=host, port=port, user=user, password=password, dbname=db)


def landing_files(landing: Path, entities: Iterable[str] = ENTITY_ORDER, days: set[str] | None = None):
    """(entity, path) for every source file under `landing`, in load order."""
    for entity in entities:
        if entity not in FIELDS:
            raise ValueError(f"unknown entity {entity!r}; known: {', '.join(FIELDS)}")
        root = landing / entity
        folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        for folder in folders:
            if days is None or folder.name in days:
                for path in source_files(folder):
                    yield entity, path


def load_landing(
    conninfo: str,
    landing: Path,
    entities: Iterable[str] = ENTITY_ORDER,
    days: set[str] | None = None,
    progress: bool = True,
) -> list[BatchResult]:
    """Load every source file under `landing`; a progress bar counts files and rows."""
    from tqdm import tqdm

    files = list(landing_files(landing, entities, days))
    results: list[BatchResult] = []
    with tqdm(files, unit="file", disable=not progress, desc="loading") as bar:
        for entity, path in bar:
            result = load_file(conninfo, entity, path)
            results.append(result)
            bar.set_postfix(
                rows=sum(r.rows_loaded for r in results), rejected=sum(r.rows_rejected for r in results)
            )
    return results


def summarise(results: list[BatchResult]) -> str:
    status = Counter(r.status for r in results)
    lines = [
        f"{len(results)} files: {status['loaded']} loaded, {status['skipped']} skipped (already loaded),"
        f" {status['rejected']} rejected whole",
        f"rows: {sum(r.rows_read for r in results):,} read = {sum(r.rows_loaded for r in results):,} loaded"
        f" + {sum(r.rows_rejected for r in results):,} rejected (raw.load_rejects)",
    ]
    lines += [f"rejected file: {r.error}" for r in results if r.status == "rejected"]
    return "\n".join(lines)


def cli(args) -> int:
    """`python -m extract load LANDING [--entity E …] [--day D …] [--url URL] [--no-progress]`."""
    url = args.url or warehouse_url_from_env()
    if not url:
        print('no warehouse: pass --url, set WAREHOUSE_URL, or eval "$(python -m stack env)"')
        return 2
    results = load_landing(
        url,
        Path(args.landing),
        args.entity or ENTITY_ORDER,
        set(args.day) if args.day else None,
        not args.no_progress,
    )
    print(summarise(results))
    return 0


def add_arguments(parser) -> None:
    parser.add_argument("landing", help="landing folder: <landing>/<entity>/<YYYY-MM-DD>/<files>")
    parser.add_argument(
        "--entity", action="append", choices=ENTITY_ORDER, help="only this entity (repeatable)"
    )
    parser.add_argument("--day", action="append", help="only this day, YYYY-MM-DD (repeatable)")
    parser.add_argument("--url", help="warehouse libpq URL (default: WAREHOUSE_URL or the stack's env)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
