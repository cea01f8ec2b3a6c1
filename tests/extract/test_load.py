"""The COPY loader on a real Postgres: lineage, header matching, one transaction per file, idempotent."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
import pytest

from extract.load import load_file, load_folder, load_records
from simshop.sample import build_day, write_day
from tests.raw_layer import reset_raw


@pytest.fixture
def clean_raw(warehouse_url: str):
    yield reset_raw(warehouse_url)


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(f"select count(*) from {table}").fetchone()[0]  # noqa: S608


def test_sample_day_is_deterministic() -> None:
    assert build_day(date(2026, 11, 20)) == build_day(date(2026, 11, 20))
    assert build_day(date(2026, 11, 20)) != build_day(date(2026, 11, 21))


def test_load_twice_is_idempotent(clean_raw: str, tmp_path: Path) -> None:
    write_day(tmp_path, date(2026, 11, 20))
    n = len(build_day(date(2026, 11, 20))["orders"])
    folder = tmp_path / "orders" / "2026-11-20"
    first = load_folder(clean_raw, "orders", folder)
    with psycopg.connect(clean_raw) as conn:
        before = conn.execute("select * from raw.orders order by _line").fetchall()
    second = load_folder(clean_raw, "orders", folder)
    assert [(r.rows_loaded, r.status, r.path) for r in first] == [(n, "loaded", "fast")]
    assert [r.status for r in second] == ["skipped"]
    with psycopg.connect(clean_raw) as conn:
        after = conn.execute("select * from raw.orders order by _line").fetchall()
        ledger = conn.execute(
            "select rows_read, rows_loaded, rows_rejected, status from raw.load_ledger"
        ).fetchall()
        lineage = conn.execute(
            "select min(_line), max(_line), count(distinct _batch_id) from raw.orders"
        ).fetchone()
    assert after == before
    assert ledger == [(n, n, 0, "loaded")]
    assert lineage == (1, n, 1)  # positions are record ordinals after the header


def _analyzed(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        found = conn.execute(
            "select analyze_count from pg_stat_user_tables where relid = to_regclass(%s)", [table]
        ).fetchone()
    return found[0] if found else 0


def test_a_load_refreshes_the_statistics_of_the_tables_it_landed_rows_in(
    clean_raw: str, tmp_path: Path
) -> None:
    """The next run reads "batches after N", beyond the old histogram: ANALYZE after each load, once per
    entity (not per file), and not when nothing landed."""
    for day in (date(2026, 11, 20), date(2026, 11, 21)):
        write_day(tmp_path, day)
    load_folder(clean_raw, "orders", tmp_path / "orders" / "2026-11-20")
    before = _analyzed(clean_raw, "raw.orders")
    load_folder(clean_raw, "orders", tmp_path / "orders" / "2026-11-21")
    assert _analyzed(clean_raw, "raw.orders") == before + 1
    load_folder(clean_raw, "orders", tmp_path / "orders" / "2026-11-21")  # skipped: nothing new
    assert _analyzed(clean_raw, "raw.orders") == before + 1


def test_header_matched_case_insensitively_extras_kept(clean_raw: str, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    header = "\ufeff Customer_ID ,EMAIL,first_name,last_name,country,city,created_at,updated_at,loyalty_tier"
    row = "C1, Ada@Example.com ,Ada,Lovelace,de,Berlin,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z,gold"
    path.write_text(f"{header}\n{row}\n", encoding="utf-8")
    result = load_file(clean_raw, "customers", path)
    assert (result.rows_loaded, result.path) == (1, "careful")  # an extra field takes the careful path
    with psycopg.connect(clean_raw) as conn:
        row = conn.execute("select customer_id, email, _extra, _line from raw.customers").fetchone()
    assert row == ("C1", " Ada@Example.com ", {"loyalty_tier": "gold"}, 1)  # values kept as sent


def test_api_page_loaded_once_and_watermark_in_the_same_transaction(clean_raw: str) -> None:
    page = [{"order_id": "O1", "customer_id": "C1", "status": "paid", "shipping_amount": 4.9, "gift": True}]

    def advance(conn: psycopg.Connection) -> None:
        conn.execute("create table if not exists raw.test_marks (n int)")
        conn.execute("insert into raw.test_marks values (1)")

    first = load_records(clean_raw, "orders", page, "api:orders?page=1", in_transaction=advance)
    again = load_records(clean_raw, "orders", page, "api:orders?page=1")
    assert (first.status, first.rows_loaded, again.status) == ("loaded", 1, "skipped")
    with psycopg.connect(clean_raw) as conn:
        row = conn.execute("select order_id, shipping_amount, _extra, _line from raw.orders").fetchone()
        assert conn.execute("select count(*) from raw.test_marks").fetchone() == (1,)
    assert row == ("O1", "4.9", {"gift": True}, 1)


def test_a_raw_table_from_before_the_ledger_held_the_source_still_loads(
    clean_raw: str, tmp_path: Path
) -> None:
    """Upgrade path: raw.orders made with a `_source not null` column and a view on it (as dbt's staging
    views are) keeps both; new rows leave `_source` empty and carry their source through the ledger."""
    from extract.contract import FIELDS

    columns = ", ".join(f"{f} text" for f in FIELDS["orders"])
    with psycopg.connect(clean_raw, autocommit=True) as conn:
        conn.execute(
            f"create table raw.orders ({columns}, _extra jsonb, _batch_id bigint not null,"
            " _source text not null default current_setting('extract.source'), _line integer not null,"
            " _loaded_at timestamptz not null default now())"
        )
        conn.execute("create or replace view raw.old_orders as select * from raw.orders")
    write_day(tmp_path, date(2026, 11, 20))
    results = load_folder(clean_raw, "orders", tmp_path / "orders" / "2026-11-20")
    assert [(r.status, r.rows_loaded) for r in results] == [
        ("loaded", len(build_day(date(2026, 11, 20))["orders"]))
    ]
    with psycopg.connect(clean_raw, autocommit=True) as conn:
        sources = conn.execute(
            "select distinct o._source, l.source from raw.old_orders o"
            " join raw.load_ledger l on l.batch_id = o._batch_id"
        ).fetchall()
        conn.execute("drop view raw.old_orders")
    assert sources == [(None, str(tmp_path / "orders" / "2026-11-20" / "orders.csv"))]
