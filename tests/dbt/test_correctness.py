"""The warehouse on generated data, checked against the generator's ground truth (`_manifest.json`).

Generated days are loaded by the real loader and built by the real dbt CLI in two runs, as two daily
runs would: days 1..N-1, then day N (incremental). Then, to the cent: net revenue and order counts per
day equal the manifest's; the quarantine holds exactly the injected rule-breaking faults, rule by rule
and entity by entity; orders whose customer came a day late were held by the first run and released by
the second.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from extract.generator import GeneratorConfig
from extract.writers import write_landing
from tests.warehouse import dbt, load_day

CONFIG = GeneratorConfig(seed=7, start=date(2026, 3, 2), days=5, orders_per_day=300, fault_rate=0.04)
# generator fault kind -> the quarantine rule that must catch it
RULE_OF_FAULT = {
    "missing_value": "missing_value",
    "malformed_email": "malformed_email",
    "nonpositive_price": "nonpositive_unit_price",
    "nonpositive_quantity": "nonpositive_quantity",
    "negative_amount": "negative_amount",
    "future_timestamp": "future_timestamp",
    "ended_before_started": "ended_before_started",
    "no_items": "no_items",
}


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("landing")
    write_landing(CONFIG, folder, progress=False)
    return folder


@pytest.fixture(scope="module")
def manifest(landing: Path) -> dict:
    return json.loads((landing / "_manifest.json").read_text())


def _query(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def _held(url: str) -> set[str]:
    rows = _query(url, "select record_key from marts.rpt_quarantined_records where disposition = 'held'")
    return {key for (key,) in rows}


@pytest.fixture(scope="module")
def builds(warehouse_url: str, landing: Path, manifest: dict, tmp_path_factory) -> dict:
    target = tmp_path_factory.mktemp("dbt-target")
    days = manifest["days"]
    for day in days[:-1]:
        load_day(warehouse_url, landing, day["date"], datetime.fromisoformat(day["load_time"]))
    first = dbt(warehouse_url, "build", target=target)
    held_first = _held(warehouse_url)
    load_day(warehouse_url, landing, days[-1]["date"], datetime.fromisoformat(days[-1]["load_time"]))
    second = dbt(warehouse_url, "build", target=target)
    return {"first": first, "second": second, "held_first": held_first}


def test_both_builds_pass_every_dbt_test(builds) -> None:
    for run in ("first", "second"):
        statuses = Counter(r["status"] for r in builds[run])
        assert set(statuses) <= {"success", "pass", "warn", "no-op"}, (run, statuses)
        assert statuses["pass"] > 50, (run, statuses)


def test_daily_revenue_and_orders_equal_the_ground_truth(builds, warehouse_url, manifest) -> None:
    rows = _query(
        warehouse_url,
        "select order_date, order_count, revenue_order_count, net_revenue from marts.rpt_daily_revenue",
    )
    reported = {d.isoformat(): (n, r, revenue) for d, n, r, revenue in rows}
    expected = {
        day["date"]: (day["clean_orders"], day["revenue_orders"], Decimal(day["net_revenue"]))
        for day in manifest["days"]
    }
    assert reported == expected
    (total,) = _query(warehouse_url, "select sum(net_revenue) from marts.fct_orders")[0]
    assert total == Decimal(manifest["totals"]["net_revenue"])
    (orders,) = _query(warehouse_url, "select count(*) from marts.fct_orders")[0]
    assert orders == manifest["totals"]["clean_orders"]


def test_quarantine_holds_exactly_the_injected_faults(builds, warehouse_url, manifest) -> None:
    rows = _query(
        warehouse_url,
        "select entity, rule_name, count(*) from marts.rpt_quarantined_records"
        " where disposition = 'quarantined' group by 1, 2",
    )
    found = {(entity, rule): n for entity, rule, n in rows}
    expected = {
        (entity, RULE_OF_FAULT[kind]): n
        for kind, fault in manifest["faults"].items()
        if fault["breaks_rule"]
        for entity, n in fault["by_entity"].items()
    }
    assert sum(expected.values()) > 100  # the dataset really is dirty
    # every rule-breaking fault is caught, rule by rule and entity by entity, and nothing else is, except
    # the orders an invalid line keeps out (rejected_item: one per order with a faulty line)
    extra = {key: n for key, n in found.items() if key not in expected}
    assert {key: found.get(key, 0) for key in expected} == expected
    assert set(extra) <= {("orders", "rejected_item")}
    bad_lines = _query(
        warehouse_url,
        "select count(distinct record->>'order_id') from marts.rpt_quarantined_records"
        " where entity = 'order_items'",
    )[0][0]
    assert extra.get(("orders", "rejected_item"), 0) == bad_lines


def test_late_customers_orders_are_held_then_released(builds, warehouse_url, manifest) -> None:
    held_first = builds["held_first"]
    late_on_day = manifest["days"][-2]["faults"].get("late_customer", 0)
    assert 0 < len(held_first) <= late_on_day
    with psycopg.connect(warehouse_url) as conn:
        released = {
            order_id
            for (order_id,) in conn.execute(
                "select order_id from marts.fct_orders where order_id = any(%s)", (sorted(held_first),)
            )
        }
    assert released == held_first
    # the last day's late customers never arrive: their orders stay held, and visible
    assert len(_held(warehouse_url)) <= manifest["days"][-1]["faults"].get("late_customer", 0)


def test_the_second_run_was_incremental(builds, warehouse_url, manifest) -> None:
    """The second run staged exactly the orders of the last day's batches, not the whole history."""
    models = {
        r["unique_id"].split(".")[-1]: r for r in builds["second"] if r["unique_id"].startswith("model.")
    }
    staged = models["stg_shop__orders"]["adapter_response"]["rows_affected"]
    with psycopg.connect(warehouse_url) as conn:
        (new_keys,) = conn.execute(
            "select count(distinct trim(order_id)) from raw.orders where _loaded_at = %s",
            (datetime.fromisoformat(manifest["days"][-1]["load_time"]),),
        ).fetchone()
        (all_keys,) = conn.execute("select count(*) from staging.stg_shop__orders").fetchone()
    assert staged == new_keys < all_keys


def test_docs_generate_and_every_built_column_is_documented(builds, warehouse_url, tmp_path_factory) -> None:
    """`dbt docs generate` works, and the catalog's columns (what the database holds) are exactly the
    documented ones, for every model."""
    target = tmp_path_factory.mktemp("dbt-docs")
    dbt(warehouse_url, "docs", "generate", target=target)
    catalog = json.loads((target / "catalog.json").read_text())["nodes"]
    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    models = {uid: n for uid, n in nodes.items() if n["resource_type"] == "model"}
    assert set(models) <= set(catalog)
    mismatched = {
        n["name"]: sorted(set(catalog[uid]["columns"]) ^ set(n["columns"]))
        for uid, n in models.items()
        if set(catalog[uid]["columns"]) != set(n["columns"])
    }
    assert mismatched == {}
    assert (target / "index.html").exists()
