"""The whole ELT DAG on a real Postgres with `dag.test()`, collecting a two-day inbox: the marts hold what
the files imply, a file re-sent later into the first day's folder is collected by the next run, a run
with nothing new succeeds and says so, and the inbox is never written."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from simshop.sample import write_days
from tests.inbox_runs import inbox_state, run_elt
from tests.raw_layer import reset_raw
from tests.warehouse import table_checksums

DAY1, DAY2 = date(2026, 11, 19), date(2026, 11, 20)
REVENUE = {"paid", "shipped", "delivered"}
ROOT = Path(__file__).resolve().parents[2]


def _rows(inbox: Path, entity: str) -> list[dict[str, str]]:
    rows = []
    for path in sorted((inbox / entity).glob("*/*.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            rows += list(csv.DictReader(fh))
    return rows


def implied(inbox: Path) -> tuple[dict[str, tuple[str, Decimal]], dict[str, tuple[int, Decimal]]]:
    """What the files imply, by the contract's rules alone: order_id -> (latest status, total), and per
    order day (orders, net revenue). An order naming a customer or product never sent is held back."""
    latest: dict[str, dict[str, str]] = {}
    for order in _rows(inbox, "orders"):
        if order["order_id"] not in latest or order["updated_at"] > latest[order["order_id"]]["updated_at"]:
            latest[order["order_id"]] = order
    items = {(i["order_id"], i["line_number"]): i for i in _rows(inbox, "order_items")}
    customers = {c["customer_id"] for c in _rows(inbox, "customers")}
    products = {p["product_id"] for p in _rows(inbox, "products")}
    held = {i["order_id"] for i in items.values() if i["product_id"] not in products}
    held |= {o["order_id"] for o in latest.values() if o["customer_id"] not in customers}
    subtotal: dict[str, Decimal] = defaultdict(Decimal)
    for item in items.values():
        subtotal[item["order_id"]] += int(item["quantity"]) * Decimal(item["unit_price"])
    orders = {
        o["order_id"]: (
            o["status"],
            subtotal[o["order_id"]] - Decimal(o["discount_amount"]) + Decimal(o["shipping_amount"]),
        )
        for o in latest.values()
        if o["order_id"] in subtotal and o["order_id"] not in held
    }
    days: dict[str, list] = defaultdict(lambda: [0, Decimal(0)])
    for order_id, (status, total) in orders.items():
        day = days[latest[order_id]["ordered_at"][:10]]
        day[0] += 1
        day[1] += total if status in REVENUE else 0
    return orders, {d: (n, revenue) for d, (n, revenue) in days.items()}


def _marts(url: str) -> tuple[dict, dict]:
    with psycopg.connect(url) as conn:
        orders = conn.execute("select order_id, status, order_total from marts.fct_orders").fetchall()
        days = conn.execute(
            "select order_date::text, order_count, net_revenue from marts.rpt_daily_revenue"
        ).fetchall()
    return {o: (s, t) for o, s, t in orders}, {d: (n, r) for d, n, r in days}


def _report(platform, run) -> dict:
    from monitoring.run_report import report_name

    return json.loads(
        (platform.state / "reports" / "elt_ecommerce" / f"{report_name(run.run_id)}.json").read_text()
    )


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("shop") / "inbox"
    write_days(folder, DAY1, 2)
    return folder


@pytest.fixture(scope="module")
def delivered(inbox: Path) -> dict:
    return inbox_state(inbox)


@pytest.fixture(scope="module")
def dag_run(airflow_db: str, platform, inbox: Path, delivered: dict):
    reset_raw(platform.warehouse_url)
    return run_elt(inbox, datetime(2026, 11, 21, 6, tzinfo=UTC))


def test_run_succeeds_and_reports_what_it_collected_per_day_folder(dag_run, platform) -> None:
    assert dag_run.state == "success"
    collected = _report(platform, dag_run)["collected"]
    assert not collected["is_nothing_new"] and collected["files_new"] == 10
    assert {(r["day_folder"], r["entity"]) for r in collected["per_day"]} == {
        (day.isoformat(), entity)
        for day in (DAY1, DAY2)
        for entity in ("customers", "products", "orders", "order_items", "sessions")
    }


def test_raw_tables_hold_every_delivered_row(dag_run, platform, inbox) -> None:
    with psycopg.connect(platform.warehouse_url) as conn:
        for entity in ("customers", "products", "orders", "order_items", "sessions"):
            (count,) = conn.execute(f"select count(*) from raw.{entity}").fetchone()  # noqa: S608
            assert count == len(_rows(inbox, entity)), entity


def test_the_marts_hold_what_the_files_imply(dag_run, platform, inbox) -> None:
    orders, days = implied(inbox)
    assert _marts(platform.warehouse_url) == (orders, days)
    assert len(orders) > 30 and {DAY1.isoformat(), DAY2.isoformat()} <= set(days)


def test_quality_results_recorded(dag_run, platform) -> None:
    with psycopg.connect(platform.warehouse_url) as conn:
        gx = conn.execute(
            "select checkpoint, count(*), bool_and(success) from monitoring.gx_results"
            " where run_id = %s group by 1",
            [dag_run.run_id],
        ).fetchall()
        dbt = conn.execute(
            "select count(distinct name) filter (where resource_type = 'model'),"
            " bool_and(status in ('success', 'pass', 'no-op'))"  # an exposure is a no-op node
            " from monitoring.dbt_results where airflow_run_id = %s",
            [dag_run.run_id],
        ).fetchone()
        not_ok = conn.execute(
            "select name, status, message from monitoring.dbt_results"
            " where airflow_run_id = %s and status not in ('success', 'pass', 'no-op')",
            [dag_run.run_id],
        ).fetchall()
    assert {checkpoint for checkpoint, _, _ in gx} == {"raw_landed", "marts_publish"}
    assert all(ok for _, _, ok in gx), gx
    assert dbt == (len(_manifest_models()), True), not_ok


def _manifest_models() -> set[str]:
    manifest = json.loads((ROOT / "dbt_project/target/manifest.json").read_text())
    return {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}


def test_cosmos_runs_one_task_per_model_and_updates_an_asset_per_model(dag_run, airflow_db) -> None:
    models = _manifest_models()
    with psycopg.connect(airflow_db) as conn:
        tasks = {
            task_id
            for (task_id,) in conn.execute(
                "select task_id from task_instance where run_id = %s and state = 'success'", [dag_run.run_id]
            )
        }
        assets = {
            uri.rsplit("/", 1)[-1]
            for (uri,) in conn.execute(
                "select a.uri from asset_event e join asset a on a.id = e.asset_id"
                " where e.source_run_id = %s",
                [dag_run.run_id],
            )
        }
    assert {"transform.dbt_producer_watcher"} | {f"transform.{m}.run" for m in models} <= tasks
    assert {f"transform.{m}.test" for m in models} <= tasks
    assert models <= assets, sorted(models - assets)


def test_report_written(dag_run, platform) -> None:
    from monitoring.run_report import report_name

    folder = platform.state / "reports" / "elt_ecommerce"
    data = _report(platform, dag_run)
    assert (folder / f"{report_name(dag_run.run_id)}.html").read_text().startswith("<!doctype html>")
    assert {"raw", "staging", "marts"} == {t["schema"] for t in data["tables"]}
    assert data["checks"]["dbt_failed"] == 0 and data["checks"]["gx_failed"] == 0


def test_each_load_updated_its_raw_asset(dag_run, platform) -> None:
    """One Asset event per raw table (Cosmos adds one per dbt model, named by their postgres:// URI)."""
    with psycopg.connect(platform.airflow_db_url) as conn:
        names = conn.execute(
            "select a.name from asset_event e join asset a on a.id = e.asset_id where e.source_run_id = %s",
            [dag_run.run_id],
        ).fetchall()
    assert sorted(n for (n,) in names if n.startswith("raw.")) == sorted(
        f"raw.{e}" for e in ("customers", "products", "orders", "order_items", "sessions")
    )


def _dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags")).get_dag(dag_id)


def test_data_quality_checks_raw_and_the_published_marts(dag_run, platform) -> None:
    run = _dag("data_quality").test()
    assert run.state == "success"
    with psycopg.connect(platform.warehouse_url) as conn:
        found = conn.execute(
            "select checkpoint, count(distinct suite), bool_and(success), min(relation)"
            " from monitoring.gx_results where run_id = %s group by 1 order by 1",
            [run.run_id],
        ).fetchall()
    assert found == [
        ("marts_published", 6, True, "marts.dim_customers"),
        ("raw_history", 5, True, "raw.customers"),
    ]


@pytest.fixture(scope="module")
def late_run(dag_run, platform, inbox: Path):
    """The shop re-sends into the first day's folder: a later version of a paid order (now cancelled) and
    a new order with its items."""
    orders, _ = implied(inbox)
    paid = next(
        o
        for o in _rows(inbox, "orders")
        if o["ordered_at"].startswith(str(DAY1)) and orders.get(o["order_id"], ("",))[0] in REVENUE
    )
    later = {**paid, "status": "cancelled", "updated_at": "2026-11-21T08:00:00Z"}
    new = {**paid, "order_id": "O-LATE-1", "status": "paid", "updated_at": "2026-11-19T23:00:00Z"}
    folder = inbox / "orders" / DAY1.isoformat()
    with (folder / "orders-resent.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(paid))
        writer.writeheader()
        writer.writerows([later, new])
    items = inbox / "order_items" / DAY1.isoformat() / "order_items-resent.csv"
    product = _rows(inbox, "products")[0]["product_id"]
    items.write_text(f"order_id,line_number,product_id,quantity,unit_price\nO-LATE-1,1,{product},2,12.50\n")
    before = _marts(platform.warehouse_url)
    return run_elt(inbox, datetime(2026, 11, 21, 7, tzinfo=UTC)), paid, before


def test_a_file_resent_into_an_old_day_folder_is_collected_and_changes_the_marts(
    late_run, platform, inbox
) -> None:
    run, paid, before = late_run
    assert run.state == "success"
    collected = _report(platform, run)["collected"]
    assert [(r["day_folder"], r["entity"], r["files"]) for r in collected["per_day"]] == [
        (DAY1.isoformat(), "order_items", 1),
        (DAY1.isoformat(), "orders", 1),
    ]
    orders, days = implied(inbox)
    assert _marts(platform.warehouse_url) == (orders, days) != before
    late_total = Decimal("25.00") - Decimal(paid["discount_amount"]) + Decimal(paid["shipping_amount"])
    assert orders[paid["order_id"]][0] == "cancelled" and orders["O-LATE-1"] == ("paid", late_total)
    assert days[str(DAY1)] != before[1][str(DAY1)]


@pytest.fixture(scope="module")
def idle_run(late_run, platform, inbox: Path):
    published = table_checksums(platform.warehouse_url, "marts")
    return run_elt(inbox, datetime(2026, 11, 21, 8, tzinfo=UTC)), published


def test_a_run_with_nothing_new_succeeds_and_says_so(idle_run, platform) -> None:
    run, published = idle_run
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success"
    assert states["skip_if_nothing_new"] == "success" and states["build_report"] == "success"
    assert states["validate_raw"] == states["publish_marts"] == "skipped"
    assert states["transform.dbt_producer_watcher"] == "skipped"
    collected = _report(platform, run)["collected"]
    assert collected["is_nothing_new"] and collected["files_new"] == 0 and collected["files_seen"] == 12
    with psycopg.connect(platform.warehouse_url) as conn:
        row = conn.execute(
            "select is_nothing_new, files_new, rows_loaded from monitoring.collections where run_id = %s",
            [run.run_id],
        ).fetchone()
    assert row == (True, 0, 0)
    assert table_checksums(platform.warehouse_url, "marts") == published


def test_the_inbox_is_never_written(idle_run, inbox: Path, delivered: dict) -> None:
    now = inbox_state(inbox)
    assert {path: now[path] for path in delivered} == delivered
    assert sorted(set(now) - set(delivered)) == [
        f"order_items/{DAY1}/order_items-resent.csv",
        f"orders/{DAY1}/orders-resent.csv",
    ]  # the test's own re-sent files, nothing else


def test_a_blocking_failure_stops_the_run_and_leaves_the_published_marts_untouched(
    idle_run, platform, inbox
) -> None:
    """A later day's export carries orders without an id: the raw gate fails the run before dbt and
    before publish; what consumers read stays byte for byte what the last good run published."""
    url = platform.warehouse_url
    published = table_checksums(url, "marts")
    broken = inbox / "orders" / (DAY2 + timedelta(days=1)).isoformat() / "broken.csv"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text(
        "order_id,customer_id,status,ordered_at,updated_at,shipping_amount,discount_amount,payment_method\n"
        + ",C-1,paid,2026-11-21T10:00:00Z,2026-11-21T10:00:00Z,0,0,card\n" * 3
    )
    try:
        run = run_elt(inbox, datetime(2026, 11, 21, 9, tzinfo=UTC))
        states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    finally:
        with psycopg.connect(url) as conn:
            conn.execute("delete from raw.orders where order_id is null")
    assert run.state == "failed"
    assert states["validate_raw"] == "failed"
    assert states["publish_marts"] == "upstream_failed" and states["build_report"] == "upstream_failed"
    assert table_checksums(url, "marts") == published
    with psycopg.connect(url) as conn:
        reason = conn.execute(
            "select suite, expectation_type, column_name, unexpected_count from monitoring.gx_results"
            " where run_id = %s and not success and severity = 'blocking'",
            [run.run_id],
        ).fetchall()
    assert ("raw__orders", "expect_column_values_to_not_be_null", "order_id", 3) in reason
