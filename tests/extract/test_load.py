"""The COPY loader on a real Postgres: lineage, header matching, one transaction per file, idempotent."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
import pytest

from extract.load import FileRejected, load_file, load_folder
from extract.sample import build_day, write_day


@pytest.fixture
def clean_raw(warehouse_url: str):
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("drop table if exists raw.customers, raw.orders, raw.load_ledger")
    yield warehouse_url


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(f"select count(*) from {table}").fetchone()[0]  # noqa: S608


def test_sample_day_is_deterministic() -> None:
    assert build_day(date(2026, 11, 20)) == build_day(date(2026, 11, 20))
    assert build_day(date(2026, 11, 20)) != build_day(date(2026, 11, 21))


def test_load_twice_is_idempotent(clean_raw: str, tmp_path: Path) -> None:
    write_day(tmp_path, date(2026, 11, 20))
    folder = tmp_path / "orders" / "2026-11-20"
    first = load_folder(clean_raw, "orders", folder)
    second = load_folder(clean_raw, "orders", folder)
    assert [r.rows_loaded for r in first] == [20] and not first[0].skipped
    assert second[0].skipped and second[0].batch_id == first[0].batch_id
    assert _count(clean_raw, "raw.orders") == 20
    with psycopg.connect(clean_raw) as conn:
        ledger = conn.execute("select rows_read, rows_loaded, status from raw.load_ledger").fetchall()
        lineage = conn.execute(
            "select min(_line), max(_line), count(distinct _batch_id) from raw.orders"
        ).fetchone()
    assert ledger == [(20, 20, "loaded")]
    assert lineage == (2, 21, 1)  # line 1 is the header


def test_header_matched_case_insensitively_extras_kept(clean_raw: str, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    header = "\ufeff Customer_ID ,EMAIL,first_name,last_name,country,city,created_at,updated_at,loyalty_tier"
    row = "C1, Ada@Example.com ,Ada,Lovelace,de,Berlin,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z,gold"
    path.write_text(f"{header}\n{row}\n", encoding="utf-8")
    result = load_file(clean_raw, "customers", path)
    assert result.rows_loaded == 1
    with psycopg.connect(clean_raw) as conn:
        row = conn.execute("select customer_id, email, _extra from raw.customers").fetchone()
    assert row == ("C1", " Ada@Example.com ", {"loyalty_tier": "gold"})  # values kept as sent


def test_file_without_key_field_is_rejected_whole(clean_raw: str, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("foo,bar\n1,2\n", encoding="utf-8")
    with pytest.raises(FileRejected, match="order_id"):
        load_file(clean_raw, "orders", path)
    assert _count(clean_raw, "raw.load_ledger") == 0  # the failed transaction left nothing behind
