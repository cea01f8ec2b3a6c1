"""The warehouse on generated data, checked against the generator's ground truth (`_manifest.json`).

Generated days are loaded by the real loader and built by the real dbt CLI in two runs, as two daily
runs would: days 1..N-1, then day N (incremental), each build published (write-audit-publish: the
marts are read where consumers read them). Then, to the cent: net revenue and order counts per
day equal the manifest's; the quarantine holds exactly the injected rule-breaking faults, rule by rule
and entity by entity; orders whose customer came a day late were held by the first run and released by
the second.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from extract.contract import FIELDS
from extract.load import load_folder
from monitoring.model_tests import run_every_row
from publish.swap import publish_marts
from simshop.generator import GeneratorConfig
from simshop.truth import RULE_OF_FAULT  # generator fault kind -> the quarantine rule that must catch it
from simshop.writers import write_landing
from tests.warehouse import dbt, load_day

CONFIG = GeneratorConfig(seed=7, start=date(2026, 3, 2), days=5, orders_per_day=300, fault_rate=0.04)


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
    publish_marts(warehouse_url, "first")
    held_first = _held(warehouse_url)
    load_day(warehouse_url, landing, days[-1]["date"], datetime.fromisoformat(days[-1]["load_time"]))
    second = dbt(warehouse_url, "build", target=target)
    publish_marts(warehouse_url, "second")
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


# Lineage columns (batch_id, input_batch_id, also inside a quarantined record) name the newest batch
# a row was computed from, and former_customer_ids the customers an order named before, so they
# legitimately differ between an incremental run and a full refresh.
ROW = sql.SQL(
    "((to_jsonb(r) - 'batch_id' - 'input_batch_id' - 'former_customer_ids' - 'record')"
    " || jsonb_build_object('record', (to_jsonb(r) -> 'record') - 'batch_id' - 'input_batch_id'))"
)
FINGERPRINT = (
    "select count(*), md5(coalesce(string_agg({row}::text, ',' order by {row}::text), '')) from {rel} as r"
)


def _fingerprints(url: str) -> dict[str, tuple[int, str]]:
    """(rows, md5 of every row but its lineage, in order) of each relation dbt builds, by schema.name."""
    with psycopg.connect(url) as conn:
        relations = conn.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema in ('staging', 'intermediate', 'marts') order by 1, 2"
        ).fetchall()
        return {
            f"{schema}.{name}": conn.execute(
                sql.SQL(FINGERPRINT).format(row=ROW, rel=sql.Identifier(schema, name))
            ).fetchone()
            for schema, name in relations
        }


def _write_csv(folder: Path, entity: str, row: dict[str, str]) -> Path:
    path = folder / entity / f"{entity}-late.csv"
    path.parent.mkdir(parents=True)
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=FIELDS[entity])
        writer.writeheader()
        writer.writerow(row)
    return path.parent


def _break_a_customer_and_a_product(url: str, folder: Path) -> tuple[str, str]:
    """Load a later version of one customer (malformed e-mail) and one product (price 0), each of
    another customer's valid orders; their ids."""
    with psycopg.connect(url) as conn:
        (customer,) = conn.execute("select min(customer_id) from marts.fct_orders").fetchone()
        (product,) = conn.execute(
            "select min(product_id) from marts.fct_order_items where customer_id <> %s", [customer]
        ).fetchone()
    later = {"created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-03-09T00:00:00Z"}
    customer_row = {"customer_id": customer, "email": "no-at-sign.example", "first_name": "Ada",
                    "last_name": "Late", "country": "DE", "city": "Berlin", **later}  # fmt: skip
    product_row = {"product_id": product, "sku": "SKU-LATE", "name": "Late", "category": "kitchen",
                   "unit_price": "0", "is_active": "true", **later}  # fmt: skip
    for entity, row in (("customers", customer_row), ("products", product_row)):
        results = load_folder(url, entity, _write_csv(folder, entity, row))
        assert [r.rows_loaded for r in results] == [1]
    return customer, product


def _move_an_order(url: str, folder: Path, avoid: str) -> tuple[str, str]:
    """Load a later version of the only valid order of one customer that names another valid customer
    instead (neither of them `avoid`); (the customer it left, the one it joined)."""
    with psycopg.connect(url) as conn:
        order_id, left, joined = conn.execute(
            "select min(fct.order_id), fct.customer_id,"
            "  (select min(customer_id) from marts.dim_customers where order_count > 0"
            "   and customer_id not in (fct.customer_id, %(avoid)s))"
            " from marts.fct_orders as fct join marts.dim_customers using (customer_id)"
            " where dim_customers.order_count = 1 and fct.customer_id <> %(avoid)s"
            " group by fct.customer_id order by 2 limit 1",
            {"avoid": avoid},
        ).fetchone()
        columns = [c for c in FIELDS["orders"] if c != "customer_id"]
        values = conn.execute(
            sql.SQL("select {} from staging.stg_shop__orders where order_id = %s").format(
                sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in columns)
            ),
            [order_id],
        ).fetchone()
    later = {"customer_id": joined, "updated_at": "2026-03-09T00:00:00Z"}
    row = {**dict(zip(columns, values, strict=True)), **later}
    results = load_folder(url, "orders", _write_csv(folder, "orders", row))
    assert [r.rows_loaded for r in results] == [1]
    return left, joined


def test_the_incremental_builds_tests_read_what_it_changed_and_all_rows_on_demand(
    builds, warehouse_url, tmp_path_factory
) -> None:
    """The second build recorded each scoped model's watermark before it ran; its generic tests read the
    rows above it. A bad value planted in old history passes those tests and fails with every row."""
    with psycopg.connect(warehouse_url) as conn:
        scope = dict(conn.execute("select model, after_batch from monitoring.dbt_test_scope").fetchall())
        (newest,) = conn.execute("select max(batch_id) from staging.stg_shop__orders").fetchone()
        (old_order,) = conn.execute(
            "select min(order_id) from staging.stg_shop__orders"
            " where batch_id <= %s and not has_invalid_value",
            [scope["stg_shop__orders"]],
        ).fetchone()
    assert 0 < scope["stg_shop__orders"] < newest
    assert set(scope) >= {"stg_shop__orders", "fct_orders", "int_orders_priced"}

    target = tmp_path_factory.mktemp("dbt-scoped-tests")
    select = ("--select", "stg_shop__orders,test_type:generic")
    with psycopg.connect(warehouse_url) as conn:
        (status,) = conn.execute(
            "select status from staging.stg_shop__orders where order_id = %s", [old_order]
        ).fetchone()
        plant = "update staging.stg_shop__orders set status = %s where order_id = %s"
        conn.execute(plant, ["bartered", old_order])
    try:
        scoped = dbt(warehouse_url, "test", *select, target=target)
        every_row = dbt(
            warehouse_url, "test", *select, "--vars", "{test_all_rows: true}", target=target, check=False
        )
        deep = run_every_row(warehouse_url)  # the weekly deep check's dbt task (dags/data_quality.py)
    finally:
        with psycopg.connect(warehouse_url) as conn:
            conn.execute(plant, [status, old_order])
    tests = [r["status"] for r in scoped if r["unique_id"].startswith("test.")]
    assert tests and set(tests) <= {"pass", "warn"}
    failed = [r["unique_id"] for r in every_row if r["status"] == "fail"]
    assert len(failed) == 1 and "accepted_values_stg_shop__orders_status" in failed[0]
    assert not deep.passed and "accepted_values_stg_shop__orders_status" in deep.summary, deep.summary
    assert "ERROR=1 " in deep.summary and "PASS=0 " not in deep.summary, deep.summary


def test_invalidated_inputs_hold_their_orders_and_increments_equal_a_full_refresh(
    builds, warehouse_url, tmp_path_factory
) -> None:
    """A later, rule-breaking version of a customer or a product takes their orders out of the facts
    (held), and after three incremental runs every model holds what a full refresh over the same raw
    data builds, lineage aside. Runs last in this module: it changes the warehouse."""
    customer, product = _break_a_customer_and_a_product(warehouse_url, tmp_path_factory.mktemp("late"))
    left, joined = _move_an_order(warehouse_url, tmp_path_factory.mktemp("moved"), avoid=customer)
    # write-audit-publish: the build schema holds what was published two runs ago (the first build),
    # so this third build catches up the second and third runs' batches at once
    dbt(warehouse_url, "build", target=tmp_path_factory.mktemp("dbt-third"))
    publish_marts(warehouse_url, "third")
    with psycopg.connect(warehouse_url) as conn:
        states = conn.execute(
            "select distinct priced.order_state, fct.order_id is not null"
            " from intermediate.int_orders_priced as priced"
            " left join marts.fct_orders as fct using (order_id)"
            " where priced.customer_id = %s or priced.order_id in"
            "   (select order_id from staging.stg_shop__order_items where product_id = %s)",
            [customer, product],
        ).fetchall()
    assert set(states) <= {("held", False), ("quarantined", False)} and ("held", False) in states

    with psycopg.connect(warehouse_url) as conn:
        counts = dict(
            conn.execute(
                "select customer_id, order_count from marts.dim_customers where customer_id in (%s, %s)",
                [left, joined],
            ).fetchall()
        )
        versions = conn.execute(
            "select count(*), count(*) filter (where is_current) from marts.dim_customers_history"
            " where customer_id = %s",
            [customer],
        ).fetchone()
    assert counts[left] == 0 and counts[joined] >= 2, counts  # the moved order left its former customer
    assert versions[0] >= 1 and versions[1] == 0, versions  # the broken customer's version was closed

    incremental = _fingerprints(warehouse_url)
    dbt(warehouse_url, "run", "--full-refresh", target=tmp_path_factory.mktemp("dbt-full"))
    publish_marts(warehouse_url, "full-refresh")
    full = _fingerprints(warehouse_url)
    assert len(incremental) > 15
    assert {name: fp for name, fp in incremental.items() if full.get(name) != fp} == {}
