"""The `monitoring` schema's tables: what the monitoring DAG collects, keeping history.

Created idempotently by `ensure(conn)` at the start of every collection and by the ELT's report
(`collections`: what each ELT run collected from the shop); the ELT's other tables, `dbt_results`,
`gx_results` and `publications`, are created by the steps that write them.
"""

from __future__ import annotations

import psycopg

DDL = """
create schema if not exists monitoring;
create table if not exists monitoring.airflow_dag_runs (
    dag_id        text not null,
    run_id        text not null,
    run_type      text,
    state         text,
    logical_date  timestamptz,
    start_date    timestamptz,
    end_date      timestamptz,
    duration_s    double precision,
    collected_at  timestamptz not null default now(),
    primary key (dag_id, run_id)
);
create table if not exists monitoring.airflow_task_instances (
    dag_id        text not null,
    run_id        text not null,
    task_id       text not null,
    map_index     integer not null default -1,
    state         text,
    try_number    integer,
    duration_s    double precision,
    start_date    timestamptz,
    end_date      timestamptz,
    operator      text,
    collected_at  timestamptz not null default now(),
    primary key (dag_id, run_id, task_id, map_index)
);
create table if not exists monitoring.source_freshness (
    checked_at     timestamptz not null,
    run_id         text,
    source         text not null,
    table_name     text not null,
    status         text not null,
    max_loaded_at  timestamptz,
    age_s          double precision,
    warn_after_s   double precision,
    error_after_s  double precision,
    primary key (checked_at, source, table_name)
);
create table if not exists monitoring.db_health (
    collected_at        timestamptz primary key default now(),
    run_id              text,
    database_bytes      bigint,
    connections         integer,
    max_connections     integer,
    active_queries      integer,
    idle_in_transaction integer,
    cache_hit_ratio     double precision,
    deadlocks           bigint,
    dead_tuples         bigint,
    long_queries        jsonb not null default '[]',
    slowest_statements  jsonb
);
create table if not exists monitoring.table_stats (
    collected_at      timestamptz not null,
    schema_name       text not null,
    table_name        text not null,
    total_bytes       bigint,
    live_tuples       bigint,
    dead_tuples       bigint,
    last_autovacuum   timestamptz,
    last_autoanalyze  timestamptz,
    primary key (collected_at, schema_name, table_name)
);
create table if not exists monitoring.mart_volumes (
    mart         text not null,
    day          date not null,
    row_count    bigint not null,
    revenue      numeric(14, 2),
    null_counts  jsonb not null default '{}',
    measured_at  timestamptz not null default now(),
    primary key (mart, day)
);
create table if not exists monitoring.drift_events (
    drift_id     bigint generated always as identity primary key,
    day          date not null unique,
    breaches     jsonb not null,
    threshold    double precision not null,
    window_days  integer not null,
    run_id       text,
    detected_at  timestamptz not null default now()
);
create table if not exists monitoring.incidents (
    incident_id   bigint generated always as identity primary key,
    key           text not null,
    kind          text not null,
    summary       text not null,
    details       jsonb not null default '{}',
    opened_at     timestamptz not null default now(),
    last_seen_at  timestamptz not null default now(),
    resolved_at   timestamptz
);
create unique index if not exists incidents_one_open_per_key
    on monitoring.incidents (key) where resolved_at is null;
create table if not exists monitoring.alerts (
    alert_id     bigint generated always as identity primary key,
    incident_id  bigint not null references monitoring.incidents (incident_id),
    event        text not null check (event in ('opened', 'resolved')),
    channel      text not null,
    delivered    boolean not null,
    detail       text,
    sent_at      timestamptz not null default now()
);
create table if not exists monitoring.status (
    generated_at  timestamptz primary key default now(),
    run_id        text,
    overall       text not null,
    body          jsonb not null
);
create table if not exists monitoring.collections (
    run_id          text primary key,
    collected_at    timestamptz not null default now(),
    source          text not null,
    inbox           text,
    files_new       integer not null,
    files_seen      integer not null,
    files_waiting   integer not null,
    files_ignored   integer not null,
    rows_loaded     bigint not null,
    rows_rejected   bigint not null,
    is_nothing_new  boolean not null,
    per_day         jsonb not null
);
create table if not exists monitoring.health_checks (
    checked_at  timestamptz not null,
    run_id      text,
    name        text not null,
    ok          boolean not null,
    detail      text,
    primary key (checked_at, name)
);
"""


def ensure(conn: psycopg.Connection) -> None:
    """Create whatever of the schema is missing (a no-op when it all exists). Parallel tasks call it
    at once: an advisory lock serialises them (concurrent `create ... if not exists` can collide)."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('monitoring.schema'))")
        conn.execute(DDL)


def exists(conn: psycopg.Connection, relation: str) -> bool:
    """Whether `relation` ("schema.name") exists (tables another step creates may not yet)."""
    return conn.execute("select to_regclass(%s) is not null", [relation]).fetchone()[0]
