"""Land source data in `raw.*` with COPY: one file (or API page) is one transaction, all visible or none.

Raw rows keep the source's values as sent (every contract field is text; typing is dbt's job), unknown
extra fields in `_extra`, and lineage: `_batch_id` (its source, hash and timings in the ledger), `_line` (the
position, see extract/readers.py), `_loaded_at`. Rows that cannot be read go to `raw.load_rejects` with
their raw content and reason; the rest of the file loads. `raw.load_ledger` records every batch: rows
read = loaded + rejected.

A file whose content hash was already loaded for the entity is not loaded again: the same file again is
skipped; the same content under another name (a re-sent copy) is recorded as a `duplicate` of the batch that
loaded it, with no rows. The file is read once for its hash and (a CSV) its encoding (streams.scan), then
once more by one of two paths, one result:
- fast: a clean CSV whose header holds only contract fields streams its bytes straight into COPY (Postgres
  parses the CSV; `_line` and `_batch_id` come from column defaults set for the batch) while CopyCheck
  proves that COPY reads the records the careful reader would;
- careful: anything else (JSON, extra fields, or a CSV that COPY refuses: a wrong field count, bad bytes) is
  read in Python into COPY text, a block of rows at a time (extract/readers.py), each bad row rejected with
  its reason. A CSV is retried this way, in the same transaction, when the fast path fails.
A thread's connection is kept for its next load for a few seconds (a connection costs ~10 ms).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from extract import ddl
from extract.contract import FIELDS
from extract.copy_check import CopyCheck
from extract.csv_files import CsvLayout
from extract.readers import check_file, copy_text, file_format, records_text
from extract.records import CopyText, FileRejected, Row, clean, dump
from extract.streams import compression_notes, open_binary, scan

log = logging.getLogger(__name__)

__all__ = [
    "BatchResult",
    "FileChanged",
    "FileRejected",
    "Origin",
    "file_hash",
    "load_file",
    "load_folder",
    "load_records",
]

CHUNK = 1 << 20
UNREADABLE = "unreadable"  # the content hash of a file that could not be read
SOURCE_SUFFIXES = (".csv", ".json", ".ndjson", ".jsonl")


class FileChanged(RuntimeError):
    """The file changed while it was being loaded (still being written): nothing of it was committed."""


@dataclass(frozen=True)
class Origin:
    """Where a file comes from, as the ledger records it: its location (a path or a URL), its day folder,
    and how it looked when it was collected (size, modification time, the object store's version)."""

    source: str
    day_folder: str | None = None
    size: int | None = None
    modified: datetime | None = None
    version: str | None = None
    run_id: str | None = None

    def columns(self) -> dict[str, Any]:
        return {
            "day_folder": self.day_folder,
            "size_bytes": self.size,
            "modified_at": self.modified,
            "source_version": self.version,
            "run_id": self.run_id,
        }


@dataclass(frozen=True)
class BatchResult:
    entity: str
    source: str
    batch_id: int | None
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    # loaded | skipped (this file's content is already loaded) | duplicate (the same content under another
    # name: recorded, no rows) | rejected (the whole file) | changed (it changed while loading: not loaded)
    status: str
    path: str | None = None  # fast | careful
    error: str | None = None
    day_folder: str | None = None

    @property
    def skipped(self) -> bool:
        return self.status == "skipped"


def file_hash(path: Path) -> str:
    return scan(path, encoding=False)[0]


def _scan(path: Path) -> tuple[str, tuple[str, list[str]] | None]:
    """The file's content hash and its encoding: one read of the file (streams.scan)."""
    try:
        file_format(path)
    except FileRejected:
        return scan(path, encoding=False)  # check_file says why
    return scan(path)


REUSE_SECONDS = 10.0  # how long a connection waits for this thread's next load before it is closed
_idle: dict[tuple[int, int, str], tuple[psycopg.Connection, float]] = {}


@contextmanager
def _transaction(conninfo: str) -> Iterator[psycopg.Connection]:
    """A connection in a transaction: committed when the block ends, rolled back (and closed) when it
    raises, as `with psycopg.connect(...)` does; but kept open for the same thread's next load when that
    comes within REUSE_SECONDS (a new connection costs a SCRAM handshake, ~10 ms a file). Never shared
    between threads or with a forked process."""
    key = (os.getpid(), threading.get_ident(), conninfo)
    conn = _reuse(key) or psycopg.connect(conninfo)
    try:
        yield conn
        conn.commit()
    except BaseException:
        conn.close()  # (an open transaction is rolled back by the server)
        raise
    now = time.monotonic()
    for other, (_, since) in list(_idle.items()):  # connections no load took back in time
        if other[0] == key[0] and now - since > REUSE_SECONDS and (entry := _idle.pop(other, None)):
            entry[0].close()
    _idle[key] = (conn, now)


def _reuse(key: tuple[int, int, str]) -> psycopg.Connection | None:
    conn, since = _idle.pop(key, (None, 0.0))
    if conn is None:
        return None
    if conn.closed or time.monotonic() - since > REUSE_SECONDS:
        conn.close()
        return None
    try:
        conn.execute("select 1")  # (the server may have closed it: then a new one)
    except psycopg.OperationalError:
        conn.close()
        return None
    return conn


def _insert_ledger(conn: psycopg.Connection, values: Mapping[str, Any]) -> int:
    columns = [k for k, v in values.items() if v is not None]
    (batch_id,) = conn.execute(
        sql.SQL("insert into raw.load_ledger ({}) values ({}) returning batch_id").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        ),
        [values[k] for k in columns],
    ).fetchone()
    return batch_id


def _begin_batch(
    conn: psycopg.Connection, entity: str, origin: Origin, digest: str, kind: str
) -> tuple[int | None, str]:
    """Lock the entity; return (a new batch id, "loading"), or (None, "skipped") when the ledger already
    has this content from this source (looking as it does now), or (a new ledger row, "duplicate") when the
    content was loaded before from another source or before a touch: recorded, with no rows."""
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", [f"extract.load.{entity}"])
    earlier = conn.execute(
        "select batch_id, status, source = %s, source = %s and (%s::bigint is null or"
        " (size_bytes, modified_at) is not distinct from (%s::bigint, %s::timestamptz))"
        " from raw.load_ledger where entity = %s and content_hash = %s"
        " and status in ('loaded', 'rejected', 'duplicate') order by batch_id",
        [origin.source, origin.source, origin.size, origin.size, origin.modified, entity, digest],
    ).fetchall()
    loaded = next((batch for batch, status, *_ in earlier if status == "loaded"), None)
    if any(same for *_, same in earlier) or (loaded is not None and kind != "file"):
        return None, "skipped"  # this very file again, or an API page fetched again: nothing new
    row = {"entity": entity, "source": origin.source, "source_kind": kind, "content_hash": digest}
    if loaded is not None:
        counts = {"rows_read": 0, "rows_loaded": 0, "rows_rejected": 0, "finished_at": datetime.now(UTC)}
        duplicate = row | origin.columns() | counts | {"status": "duplicate", "duplicate_of": loaded}
        return _insert_ledger(conn, duplicate), "duplicate"
    return _insert_ledger(conn, row | origin.columns() | {"status": "loading"}), "loading"


def _finish_batch(
    conn,
    batch_id: int,
    read: int,
    loaded: int,
    rejected: int,
    path: str,
    started: float,
    notes: str | None = None,
) -> None:
    conn.execute(
        "update raw.load_ledger set rows_read = %s, rows_loaded = %s, rows_rejected = %s, status = 'loaded',"
        " load_path = %s, finished_at = clock_timestamp(), duration_ms = %s, notes = %s where batch_id = %s",
        [read, loaded, rejected, path, int((time.monotonic() - started) * 1000), notes, batch_id],
    )


class NotTheSameRecords(Exception):
    """COPY would not read the file as the careful reader does: the fast path does not take it."""


def _copy_fast(
    conn: psycopg.Connection, entity: str, path: Path, layout, batch_id: int, source: str
) -> tuple[int, int]:
    """Stream the CSV's bytes into COPY while checking that COPY reads them as the careful reader does
    (extract/copy_check.py); raises psycopg.DataError when Postgres refuses a row, NotTheSameRecords when
    the file is not simple enough to be sure. Bytes after the gzip data become one reject."""
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
    check = CopyCheck(layout.delimiter, len(layout.header))
    with conn.cursor() as cur, open_binary(path) as fh:
        fh.read(layout.header_bytes)
        with cur.copy(copy_sql) as copy:
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                check.feed(chunk)  # before COPY has it: a file that fails is not sent further
                if not check.ok:
                    raise NotTheSameRecords(check.why)
                copy.write(chunk)
        check.close()
        if not check.ok or check.records != cur.rowcount:
            raise NotTheSameRecords(
                check.why or f"COPY read {cur.rowcount} records, the check {check.records}"
            )
        loaded = cur.rowcount
        trailing = getattr(getattr(fh, "raw", None), "trailing", b"")
    if trailing:
        reject = Row(
            loaded + 1,
            raw=trailing.decode("latin-1"),
            reason=f"{len(trailing)} trailing byte(s) after the gzip data",
        )
        _write_rejects(conn, entity, [reject], batch_id, source)
        return loaded, 1
    return loaded, 0


def _copy_rows(conn: psycopg.Connection, entity: str, rows: CopyText, batch_id: int, source: str):
    """COPY the readable rows into raw.<entity> (blocks of COPY text, see extract/readers.py) and the
    rejects into raw.load_rejects; returns (loaded, rejected)."""
    conn.execute("select set_config('extract.batch_id', %s, true)", [str(batch_id)])  # _batch_id's default
    copy_sql = sql.SQL("copy {} ({}) from stdin with (null {})").format(
        sql.Identifier("raw", entity),
        sql.SQL(", ").join(map(sql.Identifier, rows.columns)),
        sql.Literal(rows.null),
    )
    rejects: list[Row] = []
    loaded = 0
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        for block in rows.blocks:
            if block.rows:
                copy.write(block.data)
            loaded += block.rows
            rejects += block.rejects
    _write_rejects(conn, entity, rejects, batch_id, source)
    return loaded, len(rejects)


def _write_rejects(conn: psycopg.Connection, entity: str, rejects: list[Row], batch_id: int, source: str):
    """Rejected rows, each whole (NUL and invalid Unicode escaped: Postgres text cannot hold them)."""
    if not rejects:
        return
    columns = "batch_id, entity, source, position, raw_content, reason"
    with conn.cursor() as cur, cur.copy(f"copy raw.load_rejects ({columns}) from stdin") as copy:
        for row in rejects:
            raw = clean(row.raw, 1 << 30) if row.raw is not None else None
            copy.write_row((batch_id, entity, source, row.position, raw, clean(row.reason or "", 2000)))


def record_unreadable(conninfo: str, entity: str, origin: Origin, error: str) -> BatchResult:
    """A file that could not be read at all, recorded as rejected with its error (tried again next run)."""
    ddl.ensure_raw(conninfo, entity)
    status = _record_rejected_file(conninfo, entity, origin, UNREADABLE, clean(error))
    return BatchResult(
        entity, origin.source, None, 0, 0, 0, status, error=clean(error), day_folder=origin.day_folder
    )


def _record_rejected_file(conninfo: str, entity: str, origin: Origin, digest: str, error: str) -> str:
    """Record a file rejected whole (unless this very file was recorded before); "rejected" or "skipped"."""
    with psycopg.connect(conninfo) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", [f"extract.load.{entity}"])
        if conn.execute(
            "select 1 from raw.load_ledger where entity = %s and source = %s and content_hash = %s"
            " and (%s::bigint is null or (size_bytes, modified_at) is not distinct from"
            " (%s::bigint, %s::timestamptz))",
            [entity, origin.source, digest, origin.size, origin.size, origin.modified],
        ).fetchone():
            return "skipped"
        row = {"entity": entity, "source": origin.source, "source_kind": "file", "content_hash": digest,
               "status": "rejected", "rows_read": 0, "rows_loaded": 0, "rows_rejected": 0, "error": error,
               "finished_at": datetime.now(UTC)}  # fmt: skip
        _insert_ledger(conn, row | origin.columns())
    return "rejected"


def load_file(
    conninfo: str,
    entity: str,
    path: Path,
    origin: Origin | None = None,
    unchanged: Callable[[], bool] | None = None,
) -> BatchResult:
    """Load one file into raw.<entity> in one transaction. A file that cannot be read at all is recorded as
    rejected in the ledger and returned with its error (it never raises for bad content).

    `origin` names the file in the ledger (default: its path); `unchanged()`, asked just before the
    commit, says whether the file still looks as it did when it was collected: when it does not, nothing
    is committed and the result's status is `changed` (the next run collects it again)."""
    started = time.monotonic()
    origin = origin or Origin(clean(str(path)))
    source, day = origin.source, origin.day_folder
    ddl.ensure_raw(conninfo, entity)
    try:
        if path.is_symlink() or not path.is_file():
            raise FileRejected(f"{path}: not a regular file (a symbolic link or a folder): not read")
        digest, found = _scan(path)
    except (OSError, FileRejected) as err:  # not ours to read: recorded, tried again when it changes
        error = clean(
            str(err) if isinstance(err, FileRejected) else f"{path}: cannot be read: {err.strerror or err}"
        )
        error = error.replace(clean(str(path)), source)
        log.warning("file rejected: %s", error)
        status = _record_rejected_file(conninfo, entity, origin, UNREADABLE, error)
        return BatchResult(entity, source, None, 0, 0, 0, status, error=error, day_folder=day)
    try:
        layout = check_file(path, entity, found)
    except FileRejected as err:
        error = clean(str(err)).replace(clean(str(path)), source)
        log.warning("file rejected: %s", error)
        status = _record_rejected_file(conninfo, entity, origin, digest, error)
        return BatchResult(entity, source, None, 0, 0, 0, status, error=error, day_folder=day)
    try:
        with _transaction(conninfo) as conn:
            batch_id, state = _begin_batch(conn, entity, origin, digest, "file")
            if state != "loading":
                log.info("%s %s: this content is already loaded", state, source)
                return BatchResult(entity, source, batch_id, 0, 0, 0, state, day_folder=day)
            loaded, rejected, how = _copy_file(conn, entity, path, layout, batch_id, source)
            notes = "; ".join([*compression_notes(path), *layout.notes]) or None
            _finish_batch(conn, batch_id, loaded + rejected, loaded, rejected, how, started, notes)
            if unchanged is not None and not unchanged():
                raise FileChanged(f"{source} changed while it was being loaded")
    except FileChanged as err:
        log.warning("%s: nothing committed; the next run collects it again", err)
        return BatchResult(entity, source, None, 0, 0, 0, "changed", error=str(err), day_folder=day)
    if rejected:
        log.warning(
            "%s: %s rows loaded, %s rejected (see raw.load_rejects, batch %s)",
            source,
            loaded,
            rejected,
            batch_id,
        )
    return BatchResult(
        entity, source, batch_id, loaded + rejected, loaded, rejected, "loaded", how, None, day
    )


def _copy_file(
    conn: psycopg.Connection, entity: str, path: Path, layout, batch_id: int, source: str
) -> tuple[int, int, str]:
    """COPY the file's rows: the fast path when the CSV allows it, else (or when COPY refuses it) row by
    row. Returns (loaded, rejected, path taken)."""
    fast_ok = (
        isinstance(layout, CsvLayout)
        and layout.pg_encoding is not None
        and not layout.undecodable  # COPY refuses bytes that are not of the encoding
        and len(layout.header) >= 2  # one column: a blank line would be a record for COPY
        and set(layout.header) <= set(FIELDS[entity])
        and len(set(layout.header)) == len(layout.header)
    )
    if fast_ok:
        try:
            with conn.transaction():  # a savepoint: a refused COPY falls back to the careful path
                loaded, rejected = _copy_fast(conn, entity, path, layout, batch_id, source)
            return loaded, rejected, "fast"
        except (psycopg.DataError, NotTheSameRecords, EOFError, OSError, zlib.error) as err:
            log.info("%s: not for COPY (%s); reading it row by row", source, str(err).splitlines()[0])
    loaded, rejected = _copy_rows(conn, entity, copy_text(path, entity, layout), batch_id, source)
    return loaded, rejected, "careful"


def source_files(folder: Path) -> list[Path]:
    """The source files of one entity's folder, in name order (`x.csv`, `x.json.gz`, …)."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file()
        and not p.is_symlink()  # only what was delivered into the folder is read
        and any(s in SOURCE_SUFFIXES for s in (s.lower() for s in p.suffixes))
    )


def load_folder(conninfo: str, entity: str, folder: Path) -> list[BatchResult]:
    """Load every file of one entity's folder (e.g. `<landing>/orders/2026-11-20/`); a rejected file does
    not stop the others."""
    results = [load_file(conninfo, entity, path) for path in source_files(folder)]
    analyze_loaded(conninfo, results)
    return results


def analyze_loaded(conninfo: str, results: Iterable[BatchResult]) -> None:
    """Refresh the statistics of each raw table these results landed rows in (ddl.refresh_statistics):
    once per entity at the end of a run's loading, not per file."""
    for entity in sorted({r.entity for r in results if r.rows_loaded}):
        ddl.refresh_statistics(conninfo, entity)


def records_hash(entity: str, records: list[Mapping[str, Any]]) -> str:
    canonical = json.dumps([entity, records], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


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
    with _transaction(conninfo) as conn:
        batch_id, state = _begin_batch(conn, entity, Origin(source), records_hash(entity, batch), "api")
        if state != "loading":
            if in_transaction:
                in_transaction(conn)
            return BatchResult(entity, source, None, 0, 0, 0, "skipped")
        rows = records_text(entity, batch, map(dump, batch))
        loaded, rejected = _copy_rows(conn, entity, rows, batch_id, source)
        _finish_batch(conn, batch_id, loaded + rejected, loaded, rejected, "careful", started)
        if in_transaction:
            in_transaction(conn)
    return BatchResult(entity, source, batch_id, loaded + rejected, loaded, rejected, "loaded", "careful")
