"""Source freshness before and during the first delivery, then long after it: real `dbt source
freshness`, the real loader, the incidents it opens. A raw table that has not landed yet is awaited
from the warehouse's first delivery, not dated year 1 (which made a monitoring run in the middle of the
first load alert on the tables still to come)."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from extract.load import load_folder
from monitoring import freshness, incidents
from simshop.sample import write_days

DAY = date(2026, 11, 10)
ENTITIES = {"customers", "order_items", "orders", "products", "sessions"}


def _by_table(rows: list[dict]) -> dict[str, dict]:
    assert {row["table_name"] for row in rows} == ENTITIES
    return {row["table_name"]: row for row in rows}


@pytest.fixture(scope="module")
def checks(warehouse_url: str, tmp_path_factory) -> dict[str, dict[str, dict]]:
    """The freshness verdicts before any delivery, just after one entity's first file, and with that
    delivery moved 60 h into the past (past the sources' 50 h limit); the problems of the last."""
    url = warehouse_url
    seen = {"before": _by_table(freshness.check(url, "before"))}
    shop = tmp_path_factory.mktemp("shop")
    write_days(shop, DAY)
    load_folder(url, "orders", shop / "orders" / DAY.isoformat())
    seen["first_load"] = _by_table(freshness.check(url, "first-load"))
    with psycopg.connect(url) as conn:
        conn.execute("update raw.load_ledger set started_at = started_at - interval '60 hours'")
        conn.execute("update raw.orders set _loaded_at = _loaded_at - interval '60 hours'")
    seen["later"] = _by_table(freshness.check(url, "later"))
    with psycopg.connect(url) as conn:
        seen["problems"] = {p.key: p for p in incidents.current_problems(conn)}
    return seen


def test_nothing_is_awaited_before_the_first_delivery(checks) -> None:
    assert {t: (r["status"], r["age_s"], r["max_loaded_at"]) for t, r in checks["before"].items()} == {
        t: ("pass", None, None) for t in ENTITIES
    }


def test_tables_still_to_land_are_awaited_from_the_first_delivery(checks) -> None:
    rows = checks["first_load"]
    assert rows["orders"]["status"] == "pass" and rows["orders"]["max_loaded_at"] is not None
    for table in ENTITIES - {"orders"}:
        row = rows[table]
        assert (row["status"], row["max_loaded_at"]) == ("pass", None), table
        assert 0 <= row["age_s"] < row["warn_after_s"], table


def test_a_source_never_sent_goes_stale_like_an_old_one(checks) -> None:
    rows = checks["later"]
    assert {t: r["status"] for t, r in rows.items()} == {t: "error" for t in ENTITIES}
    assert all(r["age_s"] >= 60 * 3600 for r in rows.values())
    problems = checks["problems"]
    assert {k for k in problems if k.startswith("freshness:")} == {f"freshness:shop.{t}" for t in ENTITIES}
    assert "newest row 60.0 h old (limit 50 h)" in problems["freshness:shop.orders"].summary
    assert "no row in the 60.0 h since the first delivery (limit 50 h)" in (
        problems["freshness:shop.customers"].summary
    )


def test_the_stored_rows_are_the_verdicts(checks, warehouse_url: str) -> None:
    with psycopg.connect(warehouse_url) as conn:
        stored = conn.execute(
            "select run_id, count(*), count(*) filter (where status = 'pass'),"
            " count(max_loaded_at) from monitoring.source_freshness group by run_id order by run_id"
        ).fetchall()
    assert stored == [("before", 5, 5, 0), ("first-load", 5, 5, 1), ("later", 5, 0, 1)]
