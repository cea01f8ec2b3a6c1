"""Roles, databases and schemas the project needs, created idempotently with an admin connection.

Two databases: Airflow's metadata (`airflow`, owned by role `airflow`) and the warehouse (`warehouse`,
owned by role `warehouse`, with schemas raw, staging, marts, marts_build and monitoring).

One role per use of the warehouse, each with only what that use needs:
- `warehouse` owns the database: dbt builds, GX gates, publish swaps, monitoring writes its history;
- `warehouse_loader` (the extract tasks) may only create and write tables in `raw`; it owns them, and
  `warehouse` is a member of it, so the build reads raw and tests may reset it;
- `warehouse_reader` (pgAdmin, the status endpoint, reports) may only read the published `marts` and
  `monitoring`: not raw, not staging, not the unpublished build. The publish swap hands its grants on.
Nobody else may connect: CONNECT is revoked from PUBLIC on both databases.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

WAREHOUSE_SCHEMAS = ("raw", "staging", "marts", "marts_build", "monitoring")
LOADER_ROLE = "warehouse_loader"
READER_ROLE = "warehouse_reader"
LOADED_SCHEMA = "raw"
READ_SCHEMAS = ("marts", "monitoring")


@dataclass(frozen=True)
class Database:
    name: str
    owner: str
    password: str


def _ensure_role(conn: psycopg.Connection, role: str, password: str) -> None:
    exists = conn.execute("select 1 from pg_roles where rolname = %s", [role]).fetchone()
    verb = "alter" if exists else "create"
    conn.execute(
        sql.SQL(verb + " role {} login password {}").format(sql.Identifier(role), sql.Literal(password))
    )


def _ensure_database(conn: psycopg.Connection, db: Database) -> None:
    if not conn.execute("select 1 from pg_database where datname = %s", [db.name]).fetchone():
        conn.execute(
            sql.SQL("create database {} owner {}").format(sql.Identifier(db.name), sql.Identifier(db.owner))
        )


def ensure_databases(admin_url: str, databases: list[Database], manage_roles: bool = True) -> None:
    """Create (or update the passwords of) each owner role and create each missing database; only its
    owner (and roles granted CONNECT later) may connect to it."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for db in databases:
            if manage_roles:
                _ensure_role(conn, db.owner, db.password)
            _ensure_database(conn, db)
            conn.execute(sql.SQL("revoke all on database {} from public").format(sql.Identifier(db.name)))


def ensure_use_roles(admin_url: str, warehouse: Database, passwords: dict[str, str]) -> None:
    """Create the loader and reader login roles (`passwords`: role -> password), let them connect to the
    warehouse, and make its owner a member of the loader (it reads and administers what the loader owns)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for role, password in passwords.items():
            _ensure_role(conn, role, password)
            conn.execute(
                sql.SQL("grant connect on database {} to {}").format(
                    sql.Identifier(warehouse.name), sql.Identifier(role)
                )
            )
        if LOADER_ROLE in passwords:
            conn.execute(
                sql.SQL("grant {} to {}").format(sql.Identifier(LOADER_ROLE), sql.Identifier(warehouse.owner))
            )


# Settings of the warehouse database, for every session that connects to it. JIT off: it compiled for
# up to 1.9 s of a 3.5 s incremental query and never paid back on these models (bench/incremental_bench.py).
WAREHOUSE_SETTINGS = {"jit": "off"}


def ensure_schemas(warehouse_url: str, schemas: tuple[str, ...] = WAREHOUSE_SCHEMAS) -> None:
    """Create the warehouse schemas, owned by the connecting role, and apply WAREHOUSE_SETTINGS."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        database = sql.Identifier(conn.info.dbname)
        for name, value in WAREHOUSE_SETTINGS.items():
            conn.execute(
                sql.SQL("alter database {} set {} = {}").format(
                    database, sql.Identifier(name), sql.Literal(value)
                )
            )
        for schema in schemas:
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
        roles = {r for (r,) in conn.execute("select rolname from pg_roles where rolname in (%s, %s)", _USE)}
        if LOADER_ROLE in roles:
            _grant_loader(conn)
        if READER_ROLE in roles:
            _grant_reader(conn)


_USE = (LOADER_ROLE, READER_ROLE)


def _run(conn: psycopg.Connection, template: str, **names: str) -> None:
    conn.execute(sql.SQL(template).format(**{k: sql.Identifier(v) for k, v in names.items()}))


def _grant_loader(conn: psycopg.Connection) -> None:
    """The loader creates and writes tables in raw and owns them: what the owner created there before
    these roles existed (or creates there by hand) is handed over, so the loader's DDL may alter it."""
    names = {"schema": LOADED_SCHEMA, "role": LOADER_ROLE}
    _run(conn, "grant usage, create on schema {schema} to {role}", **names)
    owned = conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = %s and c.relkind in ('r', 'p', 'S', 'v')"
        " and c.relowner = current_user::regrole and not exists"  # owned sequences follow their table
        " (select 1 from pg_depend d where d.objid = c.oid and d.deptype in ('a', 'i'))",
        [LOADED_SCHEMA],
    ).fetchall()
    for (name,) in owned:
        conn.execute(
            sql.SQL("alter table {} owner to {}").format(
                sql.Identifier(LOADED_SCHEMA, name), sql.Identifier(LOADER_ROLE)
            )
        )


def _grant_reader(conn: psycopg.Connection) -> None:
    """The reader reads the published marts and the monitoring history; tables the owner creates later
    in monitoring too (default privileges). `marts` is replaced at each publication: the swap re-grants."""
    for schema in READ_SCHEMAS:
        names = {"schema": schema, "role": READER_ROLE}
        _run(conn, "grant usage on schema {schema} to {role}", **names)
        _run(conn, "grant select on all tables in schema {schema} to {role}", **names)
        _run(conn, "alter default privileges in schema {schema} grant select on tables to {role}", **names)
