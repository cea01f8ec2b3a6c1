"""Database health, from Postgres' statistics views, into `monitoring.db_health` and `monitoring.table_stats`.

One snapshot per collection: size, connections, cache hit ratio, deadlocks, dead tuples, queries running
longer than a minute, and the slowest statements when the `pg_stat_statements` extension is installed
in the warehouse database (it needs `shared_preload_libraries`; absent, the column stays null).
"""

from __future__ import annotations

import logging

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from monitoring import schema

log = logging.getLogger(__name__)
LONG_QUERY_SECONDS = 60

_HEALTH = """
select pg_database_size(current_database()) as database_bytes,
       (select count(*) from pg_stat_activity) as connections,
       current_setting('max_connections')::int as max_connections,
       (select count(*) from pg_stat_activity where state = 'active' and pid <> pg_backend_pid())
           as active_queries,
       (select count(*) from pg_stat_activity where state like 'idle in transaction%%')
           as idle_in_transaction,
       d.blks_hit::float / nullif(d.blks_hit + d.blks_read, 0) as cache_hit_ratio,
       d.deadlocks,
       (select coalesce(sum(n_dead_tup), 0) from pg_stat_user_tables) as dead_tuples
from pg_stat_database d where d.datname = current_database()
"""
_LONG = """
select pid, usename as role, state, round(extract(epoch from now() - query_start)::numeric, 1)::float
       as seconds, left(query, 300) as query
from pg_stat_activity
where state <> 'idle' and pid <> pg_backend_pid() and now() - query_start > make_interval(secs => %s)
order by query_start limit 20
"""
_STATEMENTS = """
select left(query, 300) as query, calls, round(total_exec_time::numeric, 1)::float as total_ms,
       round(mean_exec_time::numeric, 2)::float as mean_ms, rows
from pg_stat_statements order by total_exec_time desc limit 10
"""
_TABLES = """
insert into monitoring.table_stats
select %s, schemaname, relname, pg_total_relation_size(relid), n_live_tup, n_dead_tup,
       last_autovacuum, last_autoanalyze
from pg_stat_user_tables
"""


def _statements(conn: psycopg.Connection) -> list[dict] | None:
    installed = conn.execute("select 1 from pg_extension where extname = 'pg_stat_statements'").fetchone()
    if not installed:
        return None
    try:
        with conn.transaction():
            return conn.execute(_STATEMENTS).fetchall()
    except psycopg.Error as missing:  # installed but not preloaded
        log.info("pg_stat_statements unavailable: %s", missing)
        return None


_INSERT = """
insert into monitoring.db_health (run_id, database_bytes, connections, max_connections, active_queries,
    idle_in_transaction, cache_hit_ratio, deadlocks, dead_tuples, long_queries, slowest_statements)
values (%(run_id)s, %(database_bytes)s, %(connections)s, %(max_connections)s, %(active_queries)s,
    %(idle_in_transaction)s, %(cache_hit_ratio)s, %(deadlocks)s, %(dead_tuples)s, %(long)s, %(slowest)s)
returning collected_at
"""


def collect_health(url: str, run_id: str | None = None) -> dict:
    """Snapshot the database's health and every user table's size and vacuum state; the snapshot."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        schema.ensure(conn)
        health = conn.execute(_HEALTH).fetchone()
        health["long_queries"] = conn.execute(_LONG, [LONG_QUERY_SECONDS]).fetchall()
        health["slowest_statements"] = slowest = _statements(conn)
        values = {
            **health,
            "run_id": run_id,
            "long": Jsonb(health["long_queries"]),
            "slowest": Jsonb(slowest) if slowest is not None else None,
        }
        with conn.transaction():
            collected_at = conn.execute(_INSERT, values).fetchone()["collected_at"]
            conn.execute(_TABLES, [collected_at])
    log.info("database health: %s", {k: v for k, v in health.items() if k != "slowest_statements"})
    return health
