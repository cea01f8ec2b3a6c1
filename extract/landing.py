"""`python -m extract load INBOX`: land everything new in an inbox (a folder or `s3://bucket/prefix`), as the
DAG's load tasks do; the library call is `load_landing`.

Entities load in dependency order (customers and products before what names them), day folders in order,
files in name order; each file is its own transaction (extract/load.py), so an interrupted run resumes
where it stopped: what the ledger recorded is not collected again (extract/inbox.py).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from extract.contract import ENTITY_ORDER, FIELDS
from extract.inbox import SETTLE_SECONDS, Scan, collect, record_ignored, scan
from extract.load import BatchResult, analyze_loaded

ENV_PREFIXES = ("WAREHOUSE_LOADER", "WAREHOUSE")  # the loader's role first: it alone writes raw.*


def warehouse_url_from_env() -> str | None:
    """The warehouse's libpq URL for loading: `WAREHOUSE_LOADER_URL` or `WAREHOUSE_URL`, else the
    WAREHOUSE_LOADER_* (or WAREHOUSE_*) variables that `python -m stack env` exports."""
    for prefix in ENV_PREFIXES:
        if os.environ.get(f"{prefix}_URL"):
            return os.environ[f"{prefix}_URL"]
    for prefix in ENV_PREFIXES:
        keys = [f"{prefix}_{k}" for k in ("HOST", "PORT", "USER", "PASSWORD", "DB")]
        if all(os.environ.get(k) for k in keys):
            from psycopg.conninfo import make_conninfo

            host, port, user, password, db = (os.environ[k] for k in keys)
            return make_conninfo(host=host, port=port, user=user, password=password, dbname=db)
    return None


def open_inbox(where: str | Path) -> Any:
    """A local folder as a Path; a URL (`s3://bucket/prefix`, …) as a universal_pathlib UPath, whose
    credentials come from the usual variables of its store (for S3: AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL…)."""
    text = str(where)
    if "://" not in text:
        return Path(text).expanduser()
    from upath import UPath

    return UPath(text)


def land(
    conninfo: str,
    inbox: Any,
    entities: Iterable[str] = ENTITY_ORDER,
    days: set[str] | None = None,
    progress: bool = True,
    *,
    settle_seconds: float = SETTLE_SECONDS,
    run_id: str | None = None,
) -> tuple[Scan, list[BatchResult]]:
    """Land every new file of the inbox (of `days` only, when given); a progress bar counts files and rows.
    Returns what the scan found (its `new`: the files this call took) and each file's result."""
    from tqdm import tqdm

    for entity in entities:
        if entity not in FIELDS:
            raise ValueError(f"unknown entity {entity!r}; known: {', '.join(FIELDS)}")
    found = scan(conninfo, inbox, entities, settle_seconds=settle_seconds)
    record_ignored(conninfo, found, run_id)
    found.new = [f for f in found.new if days is None or f.day in days]
    results: list[BatchResult] = []
    with tqdm(found.new, unit="file", disable=not progress, desc="loading") as bar:
        for f in bar:
            results += collect(conninfo, inbox, [f], run_id)
            bar.set_postfix(
                rows=sum(r.rows_loaded for r in results), rejected=sum(r.rows_rejected for r in results)
            )
    analyze_loaded(conninfo, results)
    return found, results


def load_landing(conninfo: str, inbox: Any, *args: Any, **options: Any) -> list[BatchResult]:
    """`land`'s results only."""
    return land(conninfo, inbox, *args, **options)[1]


def summarise(results: list[BatchResult], found: Scan | None = None) -> str:
    status = Counter(r.status for r in results)
    lines = [
        f"{len(results)} new files: {status['loaded']} loaded, {status['duplicate']} duplicates of files"
        f" already loaded, {status['rejected']} rejected whole, {status['changed']} changed while loading"
        " (left for the next run)",
        f"rows: {sum(r.rows_read for r in results):,} read = {sum(r.rows_loaded for r in results):,} loaded"
        f" + {sum(r.rows_rejected for r in results):,} rejected (raw.load_rejects)",
    ]
    lines += [f"rejected file: {r.error}" for r in results if r.status == "rejected"]
    if found is not None:
        lines.insert(0, f"{found.inbox}: {len(found.new)} new files, {found.seen} seen before")
        lines += [f"waiting (still being written?): {f.relative}" for f in found.waiting]
        lines += [f"ignored: {where}: {why}" for where, why in found.ignored]
    if not results:
        lines.insert(1, "nothing new in the inbox")
    return "\n".join(lines)


def cli(args) -> int:
    """`python -m extract load INBOX [--entity E …] [--day D …] [--url URL] [--no-progress]`."""
    url = args.url or warehouse_url_from_env()
    if not url:
        print('no warehouse: pass --url, set WAREHOUSE_LOADER_URL, or eval "$(python -m stack env)"')
        return 2
    import psycopg

    try:
        found, results = land(
            url,
            open_inbox(args.inbox),
            args.entity or ENTITY_ORDER,
            set(args.day) if args.day else None,
            not args.no_progress,
            settle_seconds=args.settle_seconds,
        )
    except psycopg.OperationalError as err:
        print(f"error: the warehouse cannot be reached: {str(err).strip().splitlines()[-1]}")
        return 1
    except OSError as err:  # the inbox itself: missing, not ours to list, a store that refuses us
        print(f"error: cannot read the inbox: {err}")
        return 2
    print(summarise(results, found))
    return 0


def add_arguments(parser) -> None:
    parser.add_argument(
        "inbox", help="the inbox: a folder or s3://bucket/prefix (<entity>/<YYYY-MM-DD>/<files>)"
    )
    parser.add_argument(
        "--entity", action="append", choices=ENTITY_ORDER, help="only this entity (repeatable)"
    )
    parser.add_argument("--day", action="append", help="only this day folder, YYYY-MM-DD (repeatable)")
    parser.add_argument(
        "--url", help="warehouse libpq URL (default: WAREHOUSE_LOADER_URL or the stack's env)"
    )
    parser.add_argument(
        "--settle-seconds", type=float, default=SETTLE_SECONDS,
        help="a local file modified more recently than this is still being written (default %(default)s)",
    )  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
