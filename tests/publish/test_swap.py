"""Publishing swaps the audited build in atomically, copies nothing, and a retry does not swap back."""

from __future__ import annotations

import psycopg
import pytest

from publish import BUILD_SCHEMA, PUBLISHED_SCHEMA
from publish.swap import publish_marts


def _setup(url: str, published: int | None, build: int | None) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for schema, value in ((PUBLISHED_SCHEMA, published), (BUILD_SCHEMA, build)):
            conn.execute(f"drop schema if exists {schema} cascade")
            if value is not None:
                conn.execute(f"create schema {schema}")
                conn.execute(f"create table {schema}.fct_orders as select {value} as version")
        conn.execute("drop table if exists monitoring.publications")


def _version(url: str, schema: str) -> int | None:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"select version from {schema}.fct_orders").fetchone()  # noqa: S608
        return row[0] if row else None


def _oid(url: str, schema: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("select %s::regclass::oid", [f"{schema}.fct_orders"]).fetchone()[0]


def test_publish_swaps_the_schemas_without_copying(warehouse_url: str) -> None:
    _setup(warehouse_url, published=1, build=2)
    build_table = _oid(warehouse_url, BUILD_SCHEMA)

    publication = publish_marts(warehouse_url, "run-2")

    assert publication.relations == ("fct_orders",)
    assert (_version(warehouse_url, PUBLISHED_SCHEMA), _version(warehouse_url, BUILD_SCHEMA)) == (2, 1)
    assert _oid(warehouse_url, PUBLISHED_SCHEMA) == build_table  # the same table, renamed: no copy
    # a retried task of the same run must not swap back
    publish_marts(warehouse_url, "run-2")
    assert _version(warehouse_url, PUBLISHED_SCHEMA) == 2
    with psycopg.connect(warehouse_url) as conn:
        runs = conn.execute("select run_id from monitoring.publications").fetchall()
    assert runs == [("run-2",)]


def test_readers_see_the_old_marts_until_the_publish_commits(warehouse_url: str) -> None:
    _setup(warehouse_url, published=1, build=2)
    with psycopg.connect(warehouse_url) as reader:
        reader.execute("begin isolation level repeatable read")
        assert reader.execute("select version from marts.fct_orders").fetchone() == (1,)
        publish_marts(warehouse_url, "run-3")  # does not wait for the reader's snapshot to end
        reader.execute("commit")
        assert reader.execute("select version from marts.fct_orders").fetchone() == (2,)


def test_first_publish_creates_an_empty_build_schema(warehouse_url: str) -> None:
    _setup(warehouse_url, published=None, build=5)
    publish_marts(warehouse_url, "first")
    assert _version(warehouse_url, PUBLISHED_SCHEMA) == 5
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("select to_regnamespace(%s) is not null", [BUILD_SCHEMA]).fetchone() == (True,)


def test_nothing_to_publish_is_an_error_and_changes_nothing(warehouse_url: str) -> None:
    _setup(warehouse_url, published=1, build=None)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(f"create schema {BUILD_SCHEMA}")
    with pytest.raises(RuntimeError, match="nothing to publish"):
        publish_marts(warehouse_url, "empty")
    assert _version(warehouse_url, PUBLISHED_SCHEMA) == 1
