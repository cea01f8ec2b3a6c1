"""Each end-to-end module runs the DAG on a raw layer of its own: what an earlier module landed is gone."""

from __future__ import annotations

import psycopg
from psycopg import sql

from extract import ddl
from extract.contract import FIELDS


def reset_raw(url: str) -> None:
    """Drop the raw tables, the ledger, the rejects and the API watermarks (the loaders recreate them)."""
    tables = [*FIELDS, "load_rejects", "load_ledger", "api_watermarks"]
    with psycopg.connect(url, autocommit=True) as conn:
        names = sql.SQL(", ").join(sql.Identifier("raw", t) for t in tables)
        conn.execute(sql.SQL("drop table if exists {} cascade").format(names))
    ddl._ready.clear()  # the DAG's tasks run in this process under dag.test()
