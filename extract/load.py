"""Land source data in `raw.*` with COPY: one file (or API page) is one transaction, all visible or none.

Raw rows keep the source's values as sent (every contract field is text; typing is dbt's job), unknown
extra fields in `_extra`, and lineage: `_batch_id` (its source, hash and timings in the ledger), `_line` (the
position, see extract/readers.py), `_loaded_at`. Rows that cannot be read go to `raw.load_rejects` with
their raw content and reason; the rest of the file loads. `raw.load_ledger` records every batch: rows
read = loaded + rejected.

A file whose content hash was already loaded for the entity is skipped. Two paths, one result:
- fast: a clean CSV whose header holds only contract fields streams its bytes straight into COPY (Postgres
  parses the CSV; `_line` and `_batch_id` come from column defaults set for the batch);
- careful: anything else (JSON, extra fields, or a CSV that COPY refuses: a wrong field count, bad bytes) is
  parsed row by row in Python, each bad row rejected with its reason. A CSV is retried this way, in the same
  transaction, when the fast path fails.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from extract import ddl
from extract.contract import FIELDS
from extract.readers import FileRejected, Row, check_file, object_row, open_binary, read_rows

log = logging.getLogger(__name__)

__all__ = ["BatchResult", "FileRejected", "file_hash", "load_file", "load_folder", "load_records"]

CHUNK = 1 << 20
SOURCE_SUFFIXES = (".csv", ".json", ".ndjson", ".jsonl")


@dataclass(frozen=True)
class BatchResult:
    entity: str
    source: str
    batch_id: int | None
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    status: str  # loaded | skipped (same content already loaded) | rejected (the whole file)
    path: str | None = None  # fast | careful
    error: str | None = None

    @property
    def skipped(self) -> bool:
        return self.status == "skipped"


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _begin_batch(conn: psycopg.Connection, entity: str, source: str, digest: str, kind: str) -> int | None:
    """Lock the entity, return a new batch id, or None when this content is already loaded."""
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", [f"extract.load.{entity}"])
    already = conn.execute(
        "select batch_id from raw.load_ledger where entity = %s and content_hash = %s and status = 'loaded'",
        [entity, digest],
    ).fetchone()
    if already:
        return None
    (batch_id,) = conn.execute(
        "insert into raw.load_ledger (entity, source, source_kind, content_hash, status)"
        " values (%s, %s, %s, %s, 'loading') returning batch_id",
        [entity, source, kind, digest],
    ).fetchone()
    return batch_id


def _finish_batch(
    conn, batch_id: int, read: int, loaded: int, rejected: int, path: str, started: float
) -> None:
    conn.execute(
        "update raw.load_ledger set rows_read = %s, rows_loaded = %s, rows_rejected = %s, status = 'loaded',"
        " load_path = %s, finished_at = clock_timestamp(), duration_ms = %s where batch_id = %s",
        [read, loaded, rejected, path, int((time.monotonic() - started) * 1000), batch_id],
    )


def _copy_fast(conn: psycopg.Connection, entity: str, path: Path, layout, batch_id: int, source: str) -> int:
    """Stream the CSV's bytes into COPY; raises psycopg.DataError when Postgres refuses a row."""
    conn.execute("select set_config('extract.batch_id', %s, true)", [str(batch_id)])
    conn.execute(sql.SQL("select setval({}, 1, false)").format(sql.Literal(ddl.line_sequence(entity))))
    columns = sql.SQL(", ").join(map(sql.Identifier, layout.header))
    copy_sql = sql.SQL(
        "copy {} ({}) from stdin with (format csv, delimiter {}, encoding {}, force_null ({}))"
    ).format(
        sql.Identifier("raw", entity),
        columns,
        sql.Literal(layout.delimiter),
        sql.Literal(layout.pg_encoding),
        columns,
    )
    with conn.cursor() as cur, open_binary(path) as fh:
        fh.read(layout.header_bytes)
        with cur.copy(copy_sql) as copy:
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                copy.write(chunk)
        return cur.rowcount


def _copy_rows(conn: psycopg.Connection, entity: str, rows: Iterable[Row], batch_id: int, source: str):
    """COPY readable rows into raw.<entity> and rejects into raw.load_rejects; returns (loaded, rejected)."""
    fields = FIELDS[entity]
    columns = [*fields, "_extra", "_batch_id", "_line"]
    copy_sql = sql.SQL("copy {} ({}) from stdin").format(
        sql.Identifier("raw", entity), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    rejects: list[Row] = []
    loaded = 0
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        for row in rows:
            if row.rejected:
                rejects.append(row)
                continue
            extra = json.dumps(row.extra, ensure_ascii=False, default=str) if row.extra else None
            copy.write_row((*(row.values.get(f) for f in fields), extra, batch_id, row.position))
            loaded += 1
    if rejects:
        with (
            conn.cursor() as cur,
            cur.copy(
                "copy raw.load_rejects (batch_id, entity, source, position, raw_content, reason) from stdin"
            ) as copy,
        ):
            for row in rejects:
                raw = row.raw.replace("\x00", "\\x00") if row.raw else row.raw
                copy.write_row((batch_id, entity, source, row.position, raw, row.reason))
    return loaded, len(rejects)


def _record_rejected_file(conninfo: str, entity: str, source: str, digest: str, error: str) -> None:
    with psycopg.connect(conninfo) as conn:
        conn.execute(
            "insert into raw.load_ledger (entity, source, source_kind, content_hash, status, rows_read,"
            " rows_loaded, rows_rejected, error, finished_at)"
            " values (%s, %s, 'file', %s, 'rejected', 0, 0, 0, %s, clock_timestamp())",
            [entity, source, digest, error],
        )


def load_file(conninfo: str, entity: str, path: Path) -> BatchResult:
    """Load one file into raw.<entity> in one transaction. A file that cannot be read at all is recorded as
    rejected in the ledger and returned with its error (it never raises for bad content)."""
    started = time.monotonic()
    source, digest = str(path), file_hash(path)
    ddl.ensure_raw(conninfo, entity)
    try:
        layout = check_file(path, entity)
    except FileRejected as err:
        log.warning("file rejected: %s", err)
        _record_rejected_file(conninfo, entity, source, digest, str(err))
        return BatchResult(entity, source, None, 0, 0, 0, "rejected", error=str(err))
    with psycopg.connect(conninfo) as conn:
        batch_id = _begin_batch(conn, entity, source, digest, "file")
        if batch_id is None:
            log.info("skip %s: this content is already loaded", path)
            return BatchResult(entity, source, None, 0, 0, 0, "skipped")
        fast_ok = (
            layout is not None
            and set(layout.header) <= set(FIELDS[entity])
            and len(set(layout.header)) == len(layout.header)
        )
        if fast_ok:
            try:
                with conn.transaction():  # a savepoint: a refused COPY falls back to the careful path
                    loaded = _copy_fast(conn, entity, path, layout, batch_id, source)
                _finish_batch(conn, batch_id, loaded, loaded, 0, "fast", started)
                return BatchResult(entity, source, batch_id, loaded, loaded, 0, "loaded", "fast")
            except (psycopg.DataError, EOFError, OSError, zlib.error) as err:
                log.info("%s: COPY refused it (%s); reading it row by row", path, str(err).splitlines()[0])
        loaded, rejected = _copy_rows(conn, entity, read_rows(path, entity, layout), batch_id, source)
        _finish_batch(conn, batch_id, loaded + rejected, loaded, rejected, "careful", started)
    if rejected:
        log.warning(
            "%s: %s rows loaded, %s rejected (see raw.load_rejects, batch %s)",
            path,
            loaded,
            rejected,
            batch_id,
        )
    return BatchResult(entity, source, batch_id, loaded + rejected, loaded, rejected, "loaded", "careful")


def source_files(folder: Path) -> list[Path]:
    """The source files of one entity's folder, in name order (`x.csv`, `x.json.gz`, …)."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and any(s in SOURCE_SUFFIXES for s in (s.lower() for s in p.suffixes))
    )


def load_folder(conninfo: str, entity: str, folder: Path) -> list[BatchResult]:
    """Load every file of one entity's folder (e.g. `<landing>/orders/2026-11-20/`); a rejected file does
    not stop the others."""
    return [load_file(conninfo, entity, path) for path in source_files(folder)]


def records_hash(entity: str, records: list[Mapping[str, Any]]) -> str:
    canonical = json.dumps([entity, records], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def load_records(
    conninfo: str,
    entity: str,
    records: Iterable[Mapping[str, Any]],
    source: str,
    *,
    in_transaction: Callable[[psycopg.Connection], None] | None = None,
) -> BatchResult:
    """Load one batch of records (e.g. an API page) in one transaction, like a file.

    The same content loaded before is skipped (a page fetched again after a retry adds nothing).
    `in_transaction(conn)` runs inside the same transaction, after the rows (e.g. to advance a watermark),
    so the rows and what it writes commit together or not at all. It also runs for a skipped page.
    """
    started = time.monotonic()
    batch = list(records)
    ddl.ensure_raw(conninfo, entity)
    with psycopg.connect(conninfo) as conn:
        batch_id = _begin_batch(conn, entity, source, records_hash(entity, batch), "api")
        if batch_id is None:
            if in_transaction:
                in_transaction(conn)
            return BatchResult(entity, source, None, 0, 0, 0, "skipped")
        rows = (
            object_row(i, record, entity, json.dumps(record, default=str))
            for i, record in enumerate(batch, 1)
        )
        loaded, rejected = _copy_rows(conn, entity, rows, batch_id, source)
        _finish_batch(conn, batch_id, loaded + rejected, loaded, rejected, "careful", started)
        if in_transaction:
            in_transaction(conn)
    return BatchResult(entity, source, batch_id, loaded + rejected, loaded, rejected, "loaded", "careful")
