"""Roles, databases and schemas the project needs, created idempotently with an admin connection.

Two databases: Airflow's metadata (`airflow`, owned by role `airflow`) and the warehouse (`warehouse`,
owned by role `warehouse`, with schemas raw, staging, marts, marts_build and monitoring).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

WAREHOUSE_SCHEMAS = ("raw", "staging", "marts", "marts_build", "monitoring")


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
    """Create (or update the passwords of) each owner role and create each missing database."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for db in databases:
            if manage_roles:
                _ensure_role(conn, db.owner, db.password)
            _ensure_database(conn, db)


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
