"""One warehouse role per use, each with only what that use needs (stack/databases.py), on a real Postgres.

The loader writes raw and nothing else; the transformer reads raw, may not write it, and builds and
publishes the rest; the reader reads the published marts and monitoring and nothing else, also after a
publish swap; what an older install's owner created is handed over; nobody else may connect.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import psycopg
import pytest
from psycopg import errors, sql

from extract import ddl
from publish import BUILD_SCHEMA, PUBLISHED_SCHEMA
from publish.swap import publish_marts
from stack.databases import (
    LOADER_ROLE,
    NEEDED,
    READER_ROLE,
    TRANSFORMER_ROLE,
    WAREHOUSE_DB,
    WAREHOUSE_SETTINGS,
    Database,
    databases_of,
    ensure_schemas,
    ensure_use_roles,
    url_of,
    use_roles_of,
)
from stack.environment import Environment
from stack.settings import ROOT


@pytest.fixture(scope="module")
def urls(platform: Environment, warehouse_url: str) -> dict[str, str]:
    """The module's warehouse as its owner and each use role."""
    name = psycopg.conninfo.conninfo_to_dict(warehouse_url)["dbname"]
    ensure_use_roles(platform.admin_url, Database(name, platform.warehouse.owner, ""), platform.use_roles)
    ensure_schemas(warehouse_url)
    as_role = {role: platform.url(Database(name, role, pw)) for role, pw in platform.use_roles.items()}
    return {
        "owner": warehouse_url,
        "loader": as_role[LOADER_ROLE],
        "transformer": as_role[TRANSFORMER_ROLE],
        "reader": as_role[READER_ROLE],
    }


def test_every_role_plans_with_the_warehouse_settings(urls: dict[str, str]) -> None:
    """The database's own settings (WAREHOUSE_SETTINGS), for each role's sessions: no JIT, SSD page costs."""
    for role, url in urls.items():
        with psycopg.connect(url) as conn:
            settings = {
                n: conn.execute(sql.SQL("show {}").format(sql.Identifier(n))).fetchone()[0]
                for n in WAREHOUSE_SETTINGS
            }
        assert settings == WAREHOUSE_SETTINGS, role


def _denied(url: str, statement: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute(statement)
        except errors.InsufficientPrivilege:
            return True
    return False


def test_the_loader_writes_raw_and_nothing_else(urls: dict[str, str]) -> None:
    ddl._ready.clear()
    ddl.ensure_raw(urls["loader"], "orders")  # the loaders' own DDL, as the loader
    with psycopg.connect(urls["loader"], autocommit=True) as conn:
        conn.execute(
            "insert into raw.load_ledger (entity, source, content_hash, status)"
            " values ('orders', 'f', 'h', 'ok')"
        )
        owner = conn.execute(
            "select tableowner from pg_tables where schemaname = 'raw' and tablename = 'orders'"
        )
        assert owner.fetchone() == (LOADER_ROLE,)
    for statement in (
        "create table staging.x (id int)",
        "create table marts.x (id int)",
        "create table monitoring.x (id int)",
        "create schema elsewhere",
    ):
        assert _denied(urls["loader"], statement), statement


def test_the_transformer_reads_raw_builds_the_rest_and_never_writes_raw(urls: dict[str, str]) -> None:
    transformer = urls["transformer"]
    with psycopg.connect(transformer, autocommit=True) as conn:
        assert conn.execute("select count(*) from raw.load_ledger").fetchone()[0] >= 1  # loader's, later
        conn.execute("create table staging.t_example as select 1 as id")
        conn.execute("create schema if not exists intermediate")  # dbt creates the schemas it lacks
        conn.execute("create temporary table increment as select 1 as id")  # dbt's incremental models
        conn.execute("drop table staging.t_example")
    for statement in (
        "insert into raw.load_ledger (entity, source, content_hash, status) values ('x', 'f', 'h', 'ok')",
        "delete from raw.load_ledger",
        "create table raw.x (id int)",
        "drop table raw.orders",
    ):
        assert _denied(transformer, statement), statement


def test_what_the_owner_created_is_handed_to_the_role_of_its_schema(urls: dict[str, str]) -> None:
    with psycopg.connect(urls["owner"], autocommit=True) as conn:
        conn.execute("create table raw.legacy (id int)")
        conn.execute("create table staging.legacy (id int)")
    ensure_schemas(urls["owner"])
    with psycopg.connect(urls["loader"], autocommit=True) as conn:
        conn.execute("alter table raw.legacy add column if not exists note text")  # an owner's privilege
        conn.execute("drop table raw.legacy")
    with psycopg.connect(urls["transformer"], autocommit=True) as conn:
        conn.execute("alter table staging.legacy add column if not exists note text")
        conn.execute("drop table staging.legacy")


def test_the_reader_reads_published_marts_and_monitoring_only(urls: dict[str, str]) -> None:
    with psycopg.connect(urls["transformer"], autocommit=True) as conn:
        for schema, version in ((PUBLISHED_SCHEMA, 1), (BUILD_SCHEMA, 2)):
            conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(schema, "fct_orders")))
            conn.execute(
                sql.SQL("create table {} as select {} as version").format(
                    sql.Identifier(schema, "fct_orders"), sql.Literal(version)
                )
            )
        conn.execute("create table if not exists monitoring.example (id int)")  # created after the grants
        conn.execute("create or replace view staging.stg_example as select 1 as id")
    reader = urls["reader"]
    with psycopg.connect(reader) as conn:
        assert conn.execute("select version from marts.fct_orders").fetchone() == (1,)
        conn.execute("select * from monitoring.example")
    for statement in (
        "select * from raw.load_ledger",
        "select * from staging.stg_example",
        "select * from marts_build.fct_orders",
        "insert into marts.fct_orders values (3)",
        "create table marts.mine (id int)",
    ):
        assert _denied(reader, statement), statement

    publish_marts(urls["transformer"], f"run-{secrets.token_hex(4)}")  # the build becomes the published marts

    with psycopg.connect(reader) as conn:
        assert conn.execute("select version from marts.fct_orders").fetchone() == (2,)
    assert _denied(reader, "select * from marts_build.fct_orders")  # the old marts, now the build


def test_nobody_else_connects_to_the_platform_databases(platform: Environment) -> None:
    role, password = f"intruder_{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    with psycopg.connect(platform.admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("create role {} login password {}").format(sql.Identifier(role), sql.Literal(password))
        )
    try:
        for db in platform.databases:
            with pytest.raises(psycopg.OperationalError, match="permission denied"):
                psycopg.connect(platform.url(Database(db.name, role, password))).close()
        for use_role in platform.use_roles:  # the use roles reach the warehouse, not Airflow's metadata
            psycopg.connect(platform.role_url(use_role)).close()
            with pytest.raises(psycopg.OperationalError, match="permission denied"):
                psycopg.connect(
                    platform.url(Database("airflow", use_role, platform.use_roles[use_role]))
                ).close()
    finally:
        with psycopg.connect(platform.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))


def test_the_compose_one_shot_runs_the_setup_make_up_runs(platform: Environment) -> None:
    """docker-compose.yml's `databases-init` runs `python -m stack.databases` (ensure_all, as `make up`):
    on this Postgres, with `.env`'s passwords, it succeeds twice and every role logs in with its own; a
    missing password is named, not a traceback."""
    if platform.cluster is None:
        pytest.skip("an external Postgres: its superuser's password is not in .env")
    env = {**os.environ, "PGHOST": platform.host, "PGPORT": str(platform.port)}
    env |= {name: platform.settings[name] for name in NEEDED}
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "stack.databases"], env=env, cwd=ROOT, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    logins = [*databases_of(platform.settings)]
    logins += [Database(WAREHOUSE_DB, role, pw) for role, pw in use_roles_of(platform.settings).items()]
    for login in logins:
        psycopg.connect(url_of(login, platform.host, platform.port)).close()
    env.pop("WAREHOUSE_READER_PASSWORD")
    done = subprocess.run(
        [sys.executable, "-m", "stack.databases"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 2 and "WAREHOUSE_READER_PASSWORD" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
