"""The whole ELT DAG on a real Postgres with `dag.test()`: what lands in the marts is what the files imply."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tests.raw_layer import reset_raw
from tests.warehouse import table_checksums

DAY = "2026-11-20"
REVENUE = {"paid", "shipped", "delivered"}


def _read(landing: Path, entity: str) -> list[dict[str, str]]:
    with (landing / entity / DAY / f"{entity}.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _expected_totals(landing: Path) -> dict[str, tuple[str, Decimal]]:
    """order_id -> (status, total) by the contract's rule, computed from the landed files alone."""
    subtotal: dict[str, Decimal] = defaultdict(Decimal)
    for item in _read(landing, "order_items"):
        subtotal[item["order_id"]] += int(item["quantity"]) * Decimal(item["unit_price"])
    return {
        o["order_id"]: (
            o["status"],
            subtotal[o["order_id"]] - Decimal(o["discount_amount"]) + Decimal(o["shipping_amount"]),
        )
        for o in _read(landing, "orders")
        if o["order_id"] in subtotal
    }


@pytest.fixture(scope="module")
def dag_run(airflow_db: str, platform):
    from airflow.dag_processing.dagbag import DagBag

    reset_raw(platform.warehouse_url)
    dag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags")).get_dag("elt_ecommerce")
    return dag.test(logical_date=datetime.fromisoformat(DAY).replace(tzinfo=UTC))


def test_run_succeeds(dag_run) -> None:
    assert dag_run.state == "success"


def test_raw_tables_hold_every_landed_row(dag_run, platform) -> None:
    landing = platform.state / "landing"
    with psycopg.connect(platform.warehouse_url) as conn:
        for entity in ("customers", "products", "orders", "order_items", "sessions"):
            (count,) = conn.execute(f"select count(*) from raw.{entity}").fetchone()  # noqa: S608
            assert count == len(_read(landing, entity)), entity


def test_fct_orders_totals_follow_the_contract(dag_run, platform) -> None:
    expected = _expected_totals(platform.state / "landing")
    with psycopg.connect(platform.warehouse_url) as conn:
        rows = conn.execute("select order_id, status, order_total from marts.fct_orders").fetchall()
    assert {order_id: (status, total) for order_id, status, total in rows} == expected
    assert len(rows) == 20


def test_daily_revenue_counts_paid_shipped_delivered(dag_run, platform) -> None:
    expected = _expected_totals(platform.state / "landing")
    revenue = sum((total for status, total in expected.values() if status in REVENUE), Decimal("0"))
    with psycopg.connect(platform.warehouse_url) as conn:
        rows = conn.execute(
            "select order_date::text, order_count, net_revenue from marts.rpt_daily_revenue"
        ).fetchall()
    assert rows == [(DAY, len(expected), revenue)]


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
    manifest = json.loads(
        (Path(__file__).resolve().parents[2] / "dbt_project/target/manifest.json").read_text()
    )
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
    report = platform.state / "reports" / "elt_ecommerce"
    data = json.loads((report / f"{DAY}.json").read_text())
    assert (report / f"{DAY}.html").read_text().startswith("<!doctype html>")
    assert {"raw", "staging", "marts"} == {t["schema"] for t in data["tables"]}
    assert data["checks"]["dbt_failed"] == 0 and data["checks"]["gx_failed"] == 0
    fct = next(t for t in data["tables"] if t["table"] == "fct_orders")
    assert fct["rows"] == 20


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

    return DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags")).get_dag(dag_id)


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
        ("raw_landed", 5, True, "raw.customers"),
    ]


def test_a_blocking_failure_stops_the_run_and_leaves_the_published_marts_untouched(dag_run, platform) -> None:
    """A later day's export carries orders without an id: the raw gate fails the run before dbt and
    before publish; what consumers read stays byte for byte what the last good run published."""
    url, later = platform.warehouse_url, "2026-11-21"
    published = table_checksums(url, "marts")
    broken = platform.state / "landing" / "orders" / later / "broken.csv"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text(
        "order_id,customer_id,status,ordered_at,updated_at,shipping_amount,discount_amount,payment_method\n"
        + ",C-1,paid,2026-11-21T10:00:00Z,2026-11-21T10:00:00Z,0,0,card\n" * 3
    )
    try:
        run = _dag("elt_ecommerce").test(logical_date=datetime.fromisoformat(later).replace(tzinfo=UTC))
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
