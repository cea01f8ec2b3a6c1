"""A raw layer as if nothing was ever loaded: what tests start from (one helper, not one per module)."""

from __future__ import annotations

import psycopg
from psycopg import sql

from extract import ddl
from extract.contract import FIELDS

DBT_SCHEMAS = ("staging", "intermediate", "marts", "marts_build", "snapshots")

TABLES = (*FIELDS, "load_rejects", "load_ledger", "api_watermarks")


def drop_schemas(url: str, schemas: tuple[str, ...] = DBT_SCHEMAS) -> None:
    """Drop `schemas` and all they hold (by default what dbt builds)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))


def reset_raw(url: str) -> str:
    """Drop the raw tables, the ledger, the rejects and the API watermarks (the loaders recreate them),
    and forget that this process created them (DAG tasks under dag.test() run in this process too).
    What dbt built goes too: incremental models remember the batch ids of the raw layer they read."""
    with psycopg.connect(url, autocommit=True) as conn:
        names = sql.SQL(", ").join(sql.Identifier("raw", t) for t in TABLES)
        conn.execute(sql.SQL("drop table if exists {} cascade").format(names))
    drop_schemas(url)
    ddl._ready.clear()
    return url
