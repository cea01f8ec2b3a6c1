"""Land source files in `raw.*` with COPY: one file is one transaction, recorded in `raw.load_ledger`.

Raw rows keep the source's values as sent (every contract field is text; typing is dbt's job), unknown
extra fields in `_extra`, and lineage: batch, source file, line, load time. A file whose content hash
was already loaded for the entity is skipped, so a rerun leaves the raw tables as they were.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from extract.contract import FIELDS, normalise_field

log = logging.getLogger(__name__)

LEDGER_DDL = """
create table if not exists raw.load_ledger (
    batch_id      bigint generated always as identity primary key,
    entity        text not null,
    source        text not null,
    content_hash  text not null,
    rows_read     integer,
    rows_loaded   integer,
    status        text not null,
    started_at    timestamptz not null default now(),
    finished_at   timestamptz,
    duration_ms   integer
)
"""


class FileRejected(ValueError):
    """The file cannot be read as the entity at all (e.g. its header names none of the key fields)."""


@dataclass(frozen=True)
class BatchResult:
    entity: str
    source: str
    batch_id: int | None
    rows_read: int
    rows_loaded: int
    skipped: bool


def ensure_raw_table(conn: psycopg.Connection, entity: str) -> None:
    """Create raw.<entity> and the ledger if missing (serialised: parallel loads may race on DDL)."""
    conn.execute("select pg_advisory_xact_lock(hashtext('extract.raw_ddl'))")
    columns = [sql.SQL("{} text").format(sql.Identifier(f)) for f in FIELDS[entity]]
    columns += [
        sql.SQL("_batch_id bigint not null"),
        sql.SQL("_source text not null"),
        sql.SQL("_line integer not null"),
        sql.SQL("_extra jsonb"),
        sql.SQL("_loaded_at timestamptz not null default now()"),
    ]
    conn.execute(
        sql.SQL("create table if not exists {} ({})").format(
            sql.Identifier("raw", entity), sql.SQL(", ").join(columns)
        )
    )
    conn.execute(LEDGER_DDL)


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_csv(path: Path, entity: str) -> Iterator[tuple]:
    """Yield (line, *contract fields, extra-json) per record; header matched case-insensitively."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = [normalise_field(name) for name in next(reader, [])]
        fields = FIELDS[entity]
        if fields[0] not in header:
            raise FileRejected(f"{path}: header {header!r} has no {fields[0]!r} field of {entity}")
        positions = {name: i for i, name in enumerate(header)}
        extras = [name for name in header if name not in fields]
        for record in reader:
            values = [record[positions[f]] if f in positions else None for f in fields]
            extra = {name: record[positions[name]] for name in extras}
            yield (
                reader.line_num,
                *(v if v != "" else None for v in values),
                json.dumps(extra) if extra else None,
            )


def load_file(conninfo: str, entity: str, path: Path) -> BatchResult:
    """Load one file into raw.<entity> in a single transaction (all rows visible, or none)."""
    started = time.monotonic()
    digest = file_hash(path)
    with psycopg.connect(conninfo) as conn:
        ensure_raw_table(conn, entity)
        conn.commit()
        already = conn.execute(
            "select batch_id from raw.load_ledger"
            " where entity = %s and content_hash = %s and status = 'loaded'",
            [entity, digest],
        ).fetchone()
        if already:
            log.info("skip %s: content already loaded as batch %s", path, already[0])
            return BatchResult(entity, str(path), already[0], 0, 0, skipped=True)
        (batch_id,) = conn.execute(
            "insert into raw.load_ledger (entity, source, content_hash, status)"
            " values (%s, %s, %s, 'loading') returning batch_id",
            [entity, str(path), digest],
        ).fetchone()
        columns = [*FIELDS[entity], "_extra", "_batch_id", "_source", "_line"]
        copy_sql = sql.SQL("copy {} ({}) from stdin").format(
            sql.Identifier("raw", entity), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        rows = 0
        with conn.cursor() as cur, cur.copy(copy_sql) as copy:
            for line, *values, extra in _read_csv(path, entity):
                copy.write_row((*values, extra, batch_id, str(path), line))
                rows += 1
        conn.execute(
            "update raw.load_ledger set rows_read = %s, rows_loaded = %s, status = 'loaded',"
            " finished_at = now(), duration_ms = %s where batch_id = %s",
            [rows, rows, int((time.monotonic() - started) * 1000), batch_id],
        )
    log.info("loaded %s rows of %s from %s as batch %s", rows, entity, path, batch_id)
    return BatchResult(entity, str(path), batch_id, rows, rows, skipped=False)


def load_folder(conninfo: str, entity: str, folder: Path) -> list[BatchResult]:
    """Load every file of one entity's folder (e.g. `<landing>/orders/2026-11-20/`), in name order."""
    return [load_file(conninfo, entity, path) for path in sorted(folder.glob("*.csv"))]
