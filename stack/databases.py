"""Roles, databases and schemas the project needs, created idempotently with an admin connection.

Two databases: Airflow's metadata (`airflow`, owned by role `airflow`) and the warehouse (`warehouse`,
owned by role `warehouse`, with schemas raw, staging, marts, marts_build and monitoring).

One role per use of the warehouse, each with only what that use needs; no service uses the owner:
- `warehouse` owns the database and administers it (setup, migrations, tests); it is a member of the
  loader and the transformer, so it can read and reset what they own;
- `warehouse_loader` (the extract tasks) may only create and write tables in `raw`, and owns them;
- `warehouse_transformer` (dbt, the GX gates, publish, the report, monitoring) reads `raw` and owns what
  it builds: `staging`, `marts`, `marts_build`, `monitoring` (and the schemas dbt creates); it may not
  write `raw`;
- `warehouse_reader` (pgAdmin, the status endpoint) may only read the published `marts` and
  `monitoring`: not raw, not staging, not the unpublished build. The publish swap hands its grants on.
Nobody else may connect: CONNECT is revoked from PUBLIC on both databases. Objects the owner created in
these schemas before the roles existed (an older install) are handed to the role that owns the schema.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

import psycopg
from psycopg import sql

AIRFLOW_DB = "airflow"
WAREHOUSE_DB = "warehouse"
WAREHOUSE_SCHEMAS = ("raw", "staging", "marts", "marts_build", "monitoring")
LOADER_ROLE = "warehouse_loader"
TRANSFORMER_ROLE = "warehouse_transformer"
READER_ROLE = "warehouse_reader"
LOADED_SCHEMA = "raw"
BUILT_SCHEMAS = ("staging", "marts", "marts_build", "monitoring")
DBT_SCHEMAS = ("intermediate", "snapshots", "dbt_test__audit")  # created by dbt itself, when they exist
READ_SCHEMAS = ("marts", "monitoring")


@dataclass(frozen=True)
class Database:
    name: str
    owner: str
    password: str


def databases_of(settings: Mapping[str, str]) -> list[Database]:
    """Airflow's database and the warehouse, each with its owner role and the owner's password (from
    `.env`'s settings, or the environment of the compose one-shot)."""
    return [
        Database(AIRFLOW_DB, "airflow", settings["AIRFLOW_DB_PASSWORD"]),
        Database(WAREHOUSE_DB, "warehouse", settings["WAREHOUSE_DB_PASSWORD"]),
    ]


def use_roles_of(settings: Mapping[str, str]) -> dict[str, str]:
    """The warehouse's least-privilege login roles and their passwords."""
    return {
        LOADER_ROLE: settings["WAREHOUSE_LOADER_PASSWORD"],
        TRANSFORMER_ROLE: settings["WAREHOUSE_TRANSFORMER_PASSWORD"],
        READER_ROLE: settings["WAREHOUSE_READER_PASSWORD"],
    }


def url_of(db: Database, host: str, port: int) -> str:
    return f"postgresql://{quote(db.owner)}:{quote(db.password, safe='')}@{host}:{port}/{db.name}"


def ensure_all(admin_url: str, settings: Mapping[str, str], host: str, port: int) -> None:
    """Everything the project needs in a Postgres, idempotently: the databases and their owners, the
    use roles, the warehouse's schemas and grants. `make run` and `make up` run it on their Postgres;
    the compose platform runs it once, from its `databases-init` service (`python -m stack.databases`)."""
    databases = databases_of(settings)
    ensure_databases(admin_url, databases)
    ensure_use_roles(admin_url, databases[1], use_roles_of(settings))
    ensure_schemas(url_of(databases[1], host, port))


NEEDED = (
    "PG_SUPERUSER",
    "PG_SUPERUSER_PASSWORD",
    "AIRFLOW_DB_PASSWORD",
    "WAREHOUSE_DB_PASSWORD",
    "WAREHOUSE_LOADER_PASSWORD",
    "WAREHOUSE_TRANSFORMER_PASSWORD",
    "WAREHOUSE_READER_PASSWORD",
)


def main(environ: Mapping[str, str] = os.environ) -> int:
    """`python -m stack.databases`: `ensure_all` on the Postgres at PGHOST:PGPORT (default postgres:5432)
    as PG_SUPERUSER / PG_SUPERUSER_PASSWORD, with the passwords of `.env`'s names in the environment."""
    host, port = environ.get("PGHOST", "postgres"), int(environ.get("PGPORT", "5432"))
    missing = [name for name in NEEDED if not environ.get(name)]
    if missing:
        print(f"missing from the environment: {', '.join(missing)}", file=sys.stderr)
        return 2
    user, password = quote(environ["PG_SUPERUSER"]), quote(environ["PG_SUPERUSER_PASSWORD"], safe="")
    ensure_all(f"postgresql://{user}:{password}@{host}:{port}/postgres", environ, host, port)
    print(f"databases {AIRFLOW_DB} and {WAREHOUSE_DB}, their roles, schemas and grants are in place")
    return 0


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
    """Create the use roles (`passwords`: role -> password), let them connect to the warehouse, make its
    owner a member of the loader and the transformer, and let the transformer create schemas (dbt's,
    and the build schema of a first publication)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for role, password in passwords.items():
            _ensure_role(conn, role, password)
            conn.execute(
                sql.SQL("grant connect on database {} to {}").format(
                    sql.Identifier(warehouse.name), sql.Identifier(role)
                )
            )
        for role in (LOADER_ROLE, TRANSFORMER_ROLE):
            if role in passwords:
                conn.execute(
                    sql.SQL("grant {} to {}").format(sql.Identifier(role), sql.Identifier(warehouse.owner))
                )
        if TRANSFORMER_ROLE in passwords:  # dbt's incremental models and unit tests use temporary tables
            conn.execute(
                sql.SQL("grant create, temporary on database {} to {}").format(
                    sql.Identifier(warehouse.name), sql.Identifier(TRANSFORMER_ROLE)
                )
            )


# Settings of the warehouse database, for every session that connects to it. JIT off: it compiled for
# up to 1.9 s of a 3.5 s incremental query and never paid back on these models (bench/incremental_bench.py).
# random_page_cost 1.1 (the default 4 prices a disk head's seek; SSDs and a cached warehouse do not pay
# it): at 1M orders the day's int_orders_priced hashed all 2.2M order items and scanned all customers
# to price 28k orders, 2.5-3.5 s; probing the indexes instead takes 1.5 s (docs/benchmarks.md, run 6).
WAREHOUSE_SETTINGS = {"jit": "off", "random_page_cost": "1.1"}


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
        roles = {r for (r,) in conn.execute("select rolname from pg_roles where rolname = any(%s)", [_USE])}
        if LOADER_ROLE in roles:
            _grant_loader(conn)
        if TRANSFORMER_ROLE in roles:
            _grant_transformer(conn)
        if READER_ROLE in roles:
            _grant_reader(conn, TRANSFORMER_ROLE in roles)


_USE = [LOADER_ROLE, TRANSFORMER_ROLE, READER_ROLE]


def _run(conn: psycopg.Connection, template: str, **names: str) -> None:
    conn.execute(sql.SQL(template).format(**{k: sql.Identifier(v) for k, v in names.items()}))


_ALTER = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "S": "sequence"}


def _hand_over(conn: psycopg.Connection, schema: str, role: str) -> None:
    """Give `role` the relations and functions of `schema` the connecting role owns (sequences owned by
    a table follow it), so the role's DDL may alter what an older install, or someone by hand, created
    there (dbt's on-run-start replaces its functions, for one)."""
    owned = conn.execute(
        "select c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = %s and c.relkind = any(%s) and c.relowner = current_user::regrole"
        " and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype in ('a', 'i'))",
        [schema, list(_ALTER)],
    ).fetchall()
    for name, kind in owned:
        conn.execute(
            sql.SQL("alter " + _ALTER[kind] + " {} owner to {}").format(
                sql.Identifier(schema, name), sql.Identifier(role)
            )
        )
    functions = conn.execute(
        "select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
        " where n.nspname = %s and p.proowner = current_user::regrole",
        [schema],
    ).fetchall()
    for (signature,) in functions:  # regprocedure text: a qualified, quoted name with its argument types
        conn.execute(sql.SQL("alter function " + signature + " owner to {}").format(sql.Identifier(role)))


def _grant_loader(conn: psycopg.Connection) -> None:
    """The loader creates and writes tables in raw and owns them."""
    _run(conn, "grant usage, create on schema {schema} to {role}", schema=LOADED_SCHEMA, role=LOADER_ROLE)
    _hand_over(conn, LOADED_SCHEMA, LOADER_ROLE)


def _grant_transformer(conn: psycopg.Connection) -> None:
    """The transformer reads raw (what the loader creates later too) and owns the schemas it builds."""
    names = {"schema": LOADED_SCHEMA, "role": TRANSFORMER_ROLE, "loader": LOADER_ROLE}
    _run(conn, "grant usage on schema {schema} to {role}", **names)
    _run(conn, "grant select on all tables in schema {schema} to {role}", **names)
    _run(conn, "alter default privileges in schema {schema} grant select on tables to {role}", **names)
    _run(
        conn,
        "alter default privileges for role {loader} in schema {schema} grant select on tables to {role}",
        **names,
    )
    present = {
        n
        for (n,) in conn.execute(
            "select nspname from pg_namespace where nspname = any(%s)", [list(DBT_SCHEMAS)]
        )
    }
    for schema in (*BUILT_SCHEMAS, *sorted(present)):
        _run(conn, "alter schema {schema} owner to {role}", schema=schema, role=TRANSFORMER_ROLE)
        _hand_over(conn, schema, TRANSFORMER_ROLE)


def _grant_reader(conn: psycopg.Connection, transformer: bool) -> None:
    """The reader reads the published marts and the monitoring history; tables created later in
    monitoring too (default privileges). `marts` is replaced at each publication: the swap re-grants."""
    for schema in READ_SCHEMAS:
        names = {"schema": schema, "role": READER_ROLE, "builder": TRANSFORMER_ROLE}
        _run(conn, "grant usage on schema {schema} to {role}", **names)
        _run(conn, "grant select on all tables in schema {schema} to {role}", **names)
        _run(conn, "alter default privileges in schema {schema} grant select on tables to {role}", **names)
        if transformer:
            _run(conn, "alter default privileges for role {builder} in schema {schema}"
                       " grant select on tables to {role}", **names)  # fmt: skip


def reset_warehouse(warehouse_url: str) -> None:
    """Drop every schema of the warehouse (raw, staging, marts, monitoring, dbt's) and create the empty
    ones again: for another shop's data (`make reset`). Airflow's database is not touched."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        schemas = conn.execute(
            "select nspname from pg_namespace where nspname !~ '^pg_'"
            " and nspname not in ('information_schema', 'public')"
        ).fetchall()
        for (schema,) in schemas:
            conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(schema)))
    ensure_schemas(warehouse_url)


if __name__ == "__main__":
    sys.exit(main())
