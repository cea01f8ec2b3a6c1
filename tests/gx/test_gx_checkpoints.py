"""The suites on a real warehouse: generated clean days loaded by the real loader and built by real dbt.

Every suite passes on the clean build and fails on a crafted bad batch of its own; what raised is
reported as errored, apart from what failed; a warning is recorded and does not block; a blocking
failure stops the gate with each failure and examples listed, and leaves the published marts as
they were (write-audit-publish).
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import psycopg
import pytest

from extract.contract import ENTITY_ORDER, FIELDS
from extract.load import load_folder
from gx.checkpoints import CONTEXT_DIR, run_checkpoint
from gx.gate import QualityGateFailed, run_gate
from gx.results import ExpectationOutcome
from gx.scope import staged_through, unaudited_since
from gx.suites import MART_SUITES, RAW_SUITES
from gx.suites_marts import WATERMARKS
from publish.swap import publish_marts
from simshop.generator import GeneratorConfig
from simshop.writers import write_landing
from tests.warehouse import dbt, table_checksums

CONFIG = GeneratorConfig(seed=11, start=date(2026, 3, 2), days=2, orders_per_day=120, fault_rate=0.0)
STRAY = 10**12  # a batch id above every real one: pending, whatever staging has read

# suite -> (statement that breaks it, statement that mends it, the expectation that must fail)
SABOTAGE: dict[str, tuple[str, str, str]] = {
    **{
        f"raw__{entity}": (
            # a pending batch the ledger never heard of, its key missing
            f"insert into raw.{entity} (_batch_id, _line) values ({STRAY}, 1), ({STRAY}, 2)",  # noqa: S608
            f"delete from raw.{entity} where _batch_id = {STRAY}",  # noqa: S608
            "expect_column_values_to_not_be_null",
        )
        for entity in FIELDS
    },
    "fct_orders": (
        "update marts_build.fct_orders set order_total = order_total + 1"
        " where order_id = (select min(order_id) from marts_build.fct_orders)",
        "update marts_build.fct_orders set order_total = order_total - 1"
        " where order_id = (select min(order_id) from marts_build.fct_orders)",
        "expect_query_to_return_no_rows",
    ),
    "fct_order_items": (
        "update marts_build.fct_order_items set quantity = -quantity"
        " where order_item_id = (select min(order_item_id) from marts_build.fct_order_items)",
        "update marts_build.fct_order_items set quantity = -quantity"
        " where order_item_id = (select min(order_item_id) from marts_build.fct_order_items)",
        "expect_column_values_to_be_between",
    ),
    "rpt_daily_revenue": (
        "update marts_build.rpt_daily_revenue set net_revenue = net_revenue + 100",
        "update marts_build.rpt_daily_revenue set net_revenue = net_revenue - 100",
        "expect_query_to_return_no_rows",
    ),
    "dim_customers": (
        "update marts_build.dim_customers set email = replace(email, '@', '#')",
        "update marts_build.dim_customers set email = replace(email, '#', '@')",
        "expect_column_values_to_match_regex",
    ),
    "dim_products": (
        "update marts_build.dim_products set unit_price = -unit_price",
        "update marts_build.dim_products set unit_price = -unit_price",
        "expect_column_values_to_be_between",
    ),
    "fct_sessions": (
        "update marts_build.fct_sessions set started_at = ended_at, ended_at = started_at",
        "update marts_build.fct_sessions set started_at = ended_at, ended_at = started_at",
        "expect_query_to_return_no_rows",
    ),
}


def _execute(url: str, statement: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(statement)


def _checkpoint_of(suite: str) -> str:
    return "raw_landed" if suite in RAW_SUITES else "marts_publish"


def _failed(outcomes: list[ExpectationOutcome]) -> list[tuple[str, str]]:
    return [(o.suite, o.expectation_type) for o in outcomes if not o.success]


@pytest.fixture(scope="module")
def built(warehouse_url: str, tmp_path_factory) -> str:
    """Two clean generated days, loaded now, built by dbt into marts_build and published once."""
    landing = tmp_path_factory.mktemp("landing")
    write_landing(CONFIG, landing, progress=False)
    for day in sorted(p.name for p in (landing / "orders").iterdir()):
        for entity in ENTITY_ORDER:
            load_folder(warehouse_url, entity, landing / entity / day)
    dbt(warehouse_url, "build", target=tmp_path_factory.mktemp("dbt-target"))
    publish_marts(warehouse_url, "gx-tests-publish")
    dbt(warehouse_url, "build", target=tmp_path_factory.mktemp("dbt-target-2"))  # the build under audit
    return warehouse_url


def test_every_suite_passes_on_clean_data(built: str) -> None:
    outcomes = {
        name: run_checkpoint(name, built)
        for name in ("raw_landed", "raw_history", "marts_publish", "marts_published")
    }

    for name, found in outcomes.items():
        assert [(o.suite, o.expectation_type, o.details) for o in found if not o.success] == [], name
    assert {o.suite for o in outcomes["raw_landed"]} == set(RAW_SUITES)
    assert {o.suite for o in outcomes["raw_history"]} == set(RAW_SUITES)
    assert {o.suite for o in outcomes["marts_publish"]} == set(MART_SUITES)
    assert {o.relation for o in outcomes["marts_publish"]} == {f"marts_build.{m}" for m in MART_SUITES}
    assert {o.relation for o in outcomes["marts_published"]} == {f"marts.{m}" for m in MART_SUITES}
    assert sum(len(v) for v in outcomes.values()) > 80


@pytest.mark.parametrize("suite", sorted(SABOTAGE))
def test_each_suite_fails_on_a_crafted_bad_batch(built: str, suite: str) -> None:
    breaks, mends, expectation = SABOTAGE[suite]
    _execute(built, breaks)
    try:
        outcomes = run_checkpoint(_checkpoint_of(suite), built)
    finally:
        _execute(built, mends)
    failed = _failed(outcomes)
    assert (suite, expectation) in failed
    assert {s for s, _ in failed} == {suite}  # the other suites of the checkpoint still pass
    assert any(o.severity == "blocking" for o in outcomes if o.suite == suite and not o.success)


def test_an_expectation_that_raised_is_errored_not_failed(built: str) -> None:
    _execute(built, "alter table marts_build.fct_sessions rename column ended_at to ended_when")
    try:
        outcomes = run_checkpoint("marts_publish", built)
    finally:
        _execute(built, "alter table marts_build.fct_sessions rename column ended_when to ended_at")
    errored = [o for o in outcomes if o.errored]
    assert [(o.suite, o.expectation_type) for o in errored] == [
        ("fct_sessions", "expect_query_to_return_no_rows")
    ]
    assert errored[0].success is False and "ended_at" in errored[0].details
    assert all(o.success for o in outcomes if not o.errored)


def _load_orders(url: str, folder: Path, rows: list[dict[str, str]]) -> None:
    path = folder / "orders" / "late.csv"
    path.parent.mkdir(parents=True)
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=FIELDS["orders"])
        writer.writeheader()
        writer.writerows(rows)
    assert [r.rows_loaded for r in load_folder(url, "orders", path.parent)] == [len(rows)]


def test_a_warning_is_recorded_and_does_not_block(built: str, tmp_path: Path) -> None:
    order = {"order_id": "O-LOST", "customer_id": "C-NOBODY", "status": "teleported",
             "ordered_at": "2026-03-03T10:00:00Z", "updated_at": "2026-03-03T10:00:00Z",
             "shipping_amount": "0", "discount_amount": "0", "payment_method": "card"}  # fmt: skip
    _load_orders(built, tmp_path, [order])
    try:
        summary = run_gate("raw_landed", built, "run-warning")
    finally:
        _execute(built, "delete from raw.orders where order_id = 'O-LOST'")
        _execute(built, "delete from raw.load_ledger where source like '%late.csv'")
    assert summary["blocking"] == 0 and summary["failed"] == 2  # unknown status, unknown customer
    with psycopg.connect(built) as conn:
        recorded = conn.execute(
            "select suite, severity, dimension from monitoring.gx_results"
            " where run_id = 'run-warning' and not success order by expectation_type, details"
        ).fetchall()
    assert recorded == [("raw__orders", "warning", "consistency")] * 2


def test_a_blocking_failure_stops_the_gate_and_leaves_the_published_marts_untouched(built: str) -> None:
    published = table_checksums(built, "marts")
    breaks, mends, _ = SABOTAGE["fct_orders"]
    _execute(built, breaks)
    try:
        with pytest.raises(QualityGateFailed) as failed:
            run_gate("marts_publish", built, "run-blocking")
        # the failed build stays inspectable where it was built
        assert table_checksums(built, "marts_build") != table_checksums(built, "marts")
    finally:
        _execute(built, mends)
    message = str(failed.value)
    listed = message.count("\n  - FAILED [blocking/")
    assert f"{listed} blocking expectation(s)" in message
    assert "FAILED [blocking/consistency] fct_orders: expect_query_to_return_no_rows" in message
    assert "order_total = items_subtotal - discount_amount + shipping_amount; e.g. order_id=" in message
    assert table_checksums(built, "marts") == published
    with psycopg.connect(built) as conn:
        (recorded,) = conn.execute(
            "select count(*) from monitoring.gx_results where run_id = 'run-blocking' and not success"
        ).fetchone()
    assert recorded == listed >= 1  # recorded before the gate stopped


def test_the_daily_gate_reads_the_days_batches_and_the_deep_check_every_batch(
    built: str, tmp_path: Path
) -> None:
    """Staging has read every batch, so nothing is pending. A bad row planted in old history passes the
    daily gate (it is not what the next build reads) and fails the deep check; a bad row in a newly
    loaded batch fails the daily gate."""
    with psycopg.connect(built) as conn:
        landed = dict(conn.execute("select entity, max(batch_id) from raw.load_ledger group by 1").fetchall())
        (oldest,) = conn.execute("select min(_batch_id) from raw.orders").fetchone()
    assert staged_through(built) == landed

    _execute(built, f"insert into raw.orders (_batch_id, _line) values ({oldest}, 99999)")  # noqa: S608
    order = {"order_id": "O-NEW", "customer_id": "C-NOBODY", "status": "teleported",
             "ordered_at": "2026-03-04T10:00:00Z", "updated_at": "2026-03-04T10:00:00Z",
             "shipping_amount": "0", "discount_amount": "0", "payment_method": "card"}  # fmt: skip
    _load_orders(built, tmp_path, [order])
    try:
        daily = _failed(run_checkpoint("raw_landed", built))
        deep = _failed(run_checkpoint("raw_history", built))
    finally:
        _execute(built, f"delete from raw.orders where _batch_id = {oldest} and _line = 99999")  # noqa: S608
        _execute(built, "delete from raw.orders where order_id = 'O-NEW'")
        _execute(built, "delete from raw.load_ledger where source like '%late.csv'")
    old_history = [("raw__orders", "expect_column_values_to_not_be_null")]  # the planted row's key
    days_batch = [("raw__orders", "expect_query_to_return_no_rows")] * 2  # its status, its customer
    assert sorted(daily) == days_batch
    assert set(old_history) <= set(deep) and set(days_batch) <= set(deep)


def test_the_committed_context_is_not_rewritten(built: str) -> None:
    committed = {p: p.read_bytes() for p in CONTEXT_DIR.glob("*.yml")}
    run_checkpoint("marts_published", built)
    assert {p: p.read_bytes() for p in CONTEXT_DIR.glob("*.yml")} == committed


def test_unknown_checkpoint() -> None:
    with pytest.raises(KeyError, match="raw_landed"):
        run_checkpoint("nope", "postgresql://nobody@127.0.0.1:1/none")


def test_the_marts_audit_reads_what_the_build_wrote_and_the_deep_check_every_row(
    built: str, tmp_path: Path
) -> None:
    """After a publication, a re-sent order makes the next build an incremental one that rewrites that
    order. The audit reads the rows no audit has passed: a bad value in the rewritten order fails it, one
    planted in an old order does not; the deep check of the published marts reads every row and fails on
    one planted there. (Last in the module: it publishes, and leaves the build one day on.)"""
    publish_marts(built, "gx-tests-publish-2")  # marts_build now holds the first build, one behind
    with psycopg.connect(built) as conn:
        rows = conn.execute(
            f"select distinct on (order_id) {', '.join(FIELDS['orders'])} from raw.orders"  # noqa: S608
            " where order_id in (select order_id from marts.fct_orders order by order_id limit 2)"
            " order by order_id, updated_at desc"
        ).fetchall()
    resent, old = (dict(zip(FIELDS["orders"], row, strict=True)) for row in rows)
    resent |= {"status": "delivered", "updated_at": "2026-03-05T10:00:00Z"}
    _load_orders(built, tmp_path, [resent])
    dbt(built, "build", target=tmp_path / "dbt-target")
    marks = unaudited_since(built, WATERMARKS, "marts_build", "marts")
    assert marks["fct_orders"] is not None and marks["fct_sessions"] is not None

    def total_of(order: dict, schema: str, change: str) -> str:
        return (
            f"update {schema}.fct_orders set order_total = order_total {change}"  # noqa: S608
            f" where order_id = '{order['order_id']}'"
        )

    total_check = ("fct_orders", "expect_query_to_return_no_rows")
    _execute(built, total_of(resent, "marts_build", "+ 1"))
    try:
        changed_row = _failed(run_checkpoint("marts_publish", built))
    finally:
        _execute(built, total_of(resent, "marts_build", "- 1"))
    _execute(built, total_of(old, "marts_build", "+ 1"))
    _execute(built, total_of(old, "marts", "+ 1"))
    try:
        old_row = _failed(run_checkpoint("marts_publish", built))
        deep = _failed(run_checkpoint("marts_published", built))
    finally:
        _execute(built, total_of(old, "marts_build", "- 1"))
        _execute(built, total_of(old, "marts", "- 1"))
    assert total_check in changed_row
    assert old_row == []
    assert total_check in deep
