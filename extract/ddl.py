"""The raw layer's tables: one per entity (contract fields as text + lineage), the load ledger, the rejects.

Created on first use by the loaders, idempotently, serialised with an advisory lock (parallel loads of
different entities may race on DDL). Lineage defaults let the fast path COPY a file's bytes unchanged:
`_batch_id` comes from a setting made for the batch, `_line` from a sequence reset per batch, `_loaded_at`
from the transaction's clock. A row's source (file path or API URL) is its batch's, in raw.load_ledger:
`raw.<entity> r join raw.load_ledger l on l.batch_id = r._batch_id`. It is not repeated on every row: a
path per row made raw rows up to twice as wide and the load ~25% slower (bench/load_bench.py).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from extract.contract import FIELDS

LEDGER = """
create table if not exists raw.load_ledger (
    batch_id      bigint generated always as identity primary key,
    entity        text not null,
    source        text not null,
    content_hash  text not null,
    rows_read     integer,
    rows_loaded   integer,
    status        text not null,
    started_at    timestamptz not null default clock_timestamp(),
    finished_at   timestamptz,
    duration_ms   integer
);
alter table raw.load_ledger
    add column if not exists source_kind text not null default 'file',
    add column if not exists rows_rejected integer,
    add column if not exists load_path text,
    add column if not exists error text,
    -- where an inbox file came from and how it looked when it was collected (the next run skips it
    -- when it still looks the same), which run collected it, and the batch a re-sent copy repeats
    add column if not exists day_folder text,
    add column if not exists size_bytes bigint,
    add column if not exists modified_at timestamptz,
    add column if not exists source_version text,
    add column if not exists run_id text,
    add column if not exists duplicate_of bigint,
    -- how the file was read: its encoding, delimiter, decisions on ambiguous headers
    add column if not exists notes text;
create index if not exists load_ledger_entity_hash on raw.load_ledger (entity, content_hash);
create index if not exists load_ledger_source on raw.load_ledger (source);
create index if not exists load_ledger_run on raw.load_ledger (run_id);
create table if not exists raw.load_ignored (
    source         text not null,
    reason         text not null,
    first_seen_at  timestamptz not null default clock_timestamp(),
    last_seen_at   timestamptz not null default clock_timestamp(),
    run_id         text,
    primary key (source, reason)
);
create table if not exists raw.load_rejects (
    reject_id    bigint generated always as identity primary key,
    batch_id     bigint not null references raw.load_ledger (batch_id),
    entity       text not null,
    source       text not null,
    position     integer,
    raw_content  text,
    reason       text not null,
    rejected_at  timestamptz not null default clock_timestamp()
);
"""

_ready: set[tuple[str, str]] = set()


def line_sequence(entity: str) -> str:
    return f"raw.{entity}__line"


def _entity_ddl(entity: str) -> list[sql.Composable]:
    table = sql.Identifier("raw", entity)
    sequence = sql.Identifier("raw", f"{entity}__line")
    columns = [sql.SQL("{} text").format(sql.Identifier(f)) for f in FIELDS[entity]]
    columns.append(sql.SQL("_extra jsonb"))
    return [
        # `_line` on the fast path: nextval per row, reset per batch under the entity's load lock (one
        # loading session at a time), so a session cache is safe and spares a shared-buffer lock per row
        sql.SQL("create sequence if not exists {} cache 1000").format(sequence),
        sql.SQL("alter sequence {} cache 1000").format(sequence),
        sql.SQL(
            "create table if not exists {} ({}, _batch_id bigint not null,"
            " _line integer not null, _loaded_at timestamptz not null default now())"
        ).format(table, sql.SQL(", ").join(columns)),
        # dbt's incremental models read "batches after the last one seen": a BRIN index (a few pages
        # for millions of append-only rows, no measurable cost to COPY) finds them without a full scan
        sql.SQL("create index if not exists {} on {} using brin (_batch_id)").format(
            sql.Identifier(f"{entity}__batch_brin"), table
        ),
        sql.SQL(
            "alter table {} alter column _batch_id set default current_setting('extract.batch_id')::bigint,"
            " alter column _line set default nextval({})"
        ).format(table, sql.Literal(line_sequence(entity))),
        # tables made before the source moved to the ledger keep their `_source` column (views built on
        # them depend on it), filled no more
        sql.SQL(
            "do $$ begin if exists (select from information_schema.columns where table_schema = 'raw'"
            " and table_name = {name} and column_name = '_source') then execute format("
            "'alter table raw.%I alter column _source drop not null, alter column _source drop default',"
            " {name}); end if; end $$"
        ).format(name=sql.Literal(entity)),
    ]


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create schema raw when missing. Checked first: Postgres asks for CREATE on the database even for
    `create schema if not exists` of a schema that exists, and the loader role has no such right."""
    if conn.execute("select to_regnamespace('raw') is null").fetchone()[0]:
        conn.execute("create schema raw")


def ensure_ledger(conninfo: str) -> None:
    """Create (or bring up to date) schema raw, the ledger and the rejects table; once per process."""
    if (conninfo, "") in _ready:
        return
    with psycopg.connect(conninfo) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('extract.raw_ddl'))")
        ensure_schema(conn)
        conn.execute(LEDGER)
    _ready.add((conninfo, ""))


def ensure_raw(conninfo: str, entity: str) -> None:
    """Create (or bring up to date) raw.<entity>, the ledger and the rejects table; once per process."""
    if (conninfo, entity) in _ready:
        return
    with psycopg.connect(conninfo) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('extract.raw_ddl'))")
        ensure_schema(conn)
        conn.execute(LEDGER)
        for statement in _entity_ddl(entity):
            conn.execute(statement)
    _ready.add((conninfo, entity))


def refresh_statistics(conninfo: str, entity: str) -> None:
    """ANALYZE raw.<entity> after a run landed rows in it (the loader owns the raw tables).

    Everything downstream reads "the batches after N" (the daily gate, dbt's staging models), and N is
    the newest batch the table had before this run: beyond its statistics' histogram, where the planner
    guesses a handful of rows (`_batch_id` has a BRIN index, which gives the planner no actual maximum).
    With a day's 31k rows estimated at 290, the daily gate's known-ids check chose a nested loop at 1M
    orders: 153 s, against 69 s for validating every batch. Autovacuum analyzes only after 10 % of a
    table changed. ANALYZE reads a fixed sample (30,000 rows), so it costs about the same whatever the
    history (bench/scale_bench.py).
    """
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("analyze {}").format(sql.Identifier("raw", entity)))
