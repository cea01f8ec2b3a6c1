"""Drift: a generated volume drop, really loaded, built and published, is found once and only once.

Ten generated days (the generator's `volume_drop` takes 70% of the last day's orders) go through the
real loader, `dbt build` and the publish swap; monitoring measures the published marts per day and
judges the latest days against the median of the seven before.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg
import pytest

from extract.contract import FIELDS
from monitoring import alerts, freshness, incidents, volumes
from publish.swap import publish_marts
from simshop.generator import GeneratorConfig, order_counts
from simshop.writers import add_config_arguments, config_from, write_landing
from tests.monitoring.platform import WebhookReceiver
from tests.ui import guarded
from tests.warehouse import dbt, load_day

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
ENTITIES = tuple(FIELDS)
START, DAYS = date(2026, 4, 6), 10
DROP_DAY = START + timedelta(days=DAYS - 1)
CONFIG = GeneratorConfig(seed=11, start=START, days=DAYS, orders_per_day=150, volume_drop=(DROP_DAY, 0.7))


def test_the_generator_drops_only_that_day() -> None:
    normal, dropped = order_counts(replace(CONFIG, volume_drop=None)), order_counts(CONFIG)
    assert dropped[:-1] == normal[:-1]
    assert dropped[-1] == round(normal[-1] * 0.3)


def test_the_cli_option_sets_the_drop() -> None:
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    args = parser.parse_args(["--volume-drop", "2026-04-15:0.7"])
    assert config_from(args).volume_drop == (date(2026, 4, 15), 0.7)
    with pytest.raises(SystemExit):
        parser.parse_args(["--volume-drop", "tomorrow"])


@pytest.fixture(scope="module")
def published(warehouse_url: str, tmp_path_factory) -> str:
    landing = tmp_path_factory.mktemp("drift-landing")
    write_landing(CONFIG, landing, progress=False)
    for i in range(DAYS):
        day = START + timedelta(days=i)
        load_day(
            warehouse_url, landing, day.isoformat(), datetime.combine(day + timedelta(days=1), time(), UTC)
        )
    dbt(warehouse_url, "build", "--exclude", "resource_type:test", target=tmp_path_factory.mktemp("dbt"))
    publish_marts(warehouse_url, "drift-test")
    return warehouse_url


def test_volumes_are_measured_per_mart_and_day(published: str) -> None:
    assert volumes.measure(published) > 0
    with psycopg.connect(published) as conn:
        rows = dict(
            conn.execute(
                "select mart, count(distinct day) from monitoring.mart_volumes group by mart"
            ).fetchall()
        )
        orders = conn.execute(
            "select sum(row_count) = (select count(*) from marts.fct_orders),"
            " sum(revenue) = (select sum(net_revenue) from marts.fct_orders)"
            " from monitoring.mart_volumes where mart = 'fct_orders'"
        ).fetchone()
    assert set(rows) == set(volumes.MARTS)
    assert rows["fct_orders"] >= DAYS
    assert orders == (True, True)


def test_the_drop_is_detected_exactly_once(published: str) -> None:
    volumes.measure(published)
    first = volumes.detect_drift(published, threshold=0.5, window=7, run_id="first")
    again = volumes.detect_drift(published, threshold=0.5, window=7, run_id="second")
    assert [event["day"] for event in first] == [DROP_DAY]
    metrics = {b["metric"]: b["deviation"] for b in first[0]["breaches"]}
    assert metrics["fct_orders.rows"] < -0.5
    assert "rpt_daily_revenue.revenue" in metrics
    assert again == []
    with psycopg.connect(published) as conn:
        assert conn.execute("select count(*) from monitoring.drift_events").fetchone() == (1,)
        problems = incidents.current_problems(conn)
    assert [p.key for p in problems if p.kind == "drift"] == [f"drift:{DROP_DAY}"]


def test_a_wider_threshold_sees_no_drift(published: str) -> None:
    with psycopg.connect(published) as conn:
        series = volumes.series(conn)
    assert volumes.breaches(series, DROP_DAY, threshold=0.9, window=7) == []
    normal_day = DROP_DAY - timedelta(days=1)
    assert volumes.breaches(series, normal_day, threshold=0.5, window=7) == []


def test_drift_and_stale_sources_alert_once_each(published: str) -> None:
    """The generated days were loaded months ago (their load time is the day after each): dbt's freshness
    check finds every source stale. With the drift, that is six incidents: six messages, then none."""
    volumes.measure(published)
    volumes.detect_drift(published, threshold=0.5, window=7)
    stale = freshness.check(published, "freshness-test")
    assert {row["status"] for row in stale} == {"error"} and len(stale) == 5
    with WebhookReceiver() as receiver:
        channel = alerts.webhook_channel(receiver.url)
        first = alerts.evaluate(published, [channel])
        second = alerts.evaluate(published, [channel])
        texts = [body["text"] for body in receiver.bodies]
    assert sorted(first["opened"]) == sorted(
        [f"drift:{DROP_DAY}"] + [f"freshness:shop.{t}" for t in ENTITIES]
    )
    assert second["opened"] == [] and second["resolved"] == []
    assert len(texts) == 6 and all("PROBLEM" in text for text in texts)
    assert any("fct_orders.rows -7" in text or "fct_orders.rows -6" in text for text in texts)


def test_the_monitoring_dag_updates_the_drift_asset_once(
    published: str, airflow_db: str, monkeypatch
) -> None:
    """`monitoring` under dag.test() against this module's warehouse (the REST API collection is marked
    done: no API server runs here): a new drift updates the Asset `monitoring.drift`; a rerun does not."""
    from airflow.dag_processing.dagbag import DagBag

    parts = urlsplit(published)
    conn = {
        "conn_type": "postgres",
        "host": parts.hostname,
        "port": parts.port,
        "login": unquote(parts.username),
        "password": unquote(parts.password),
        "schema": parts.path.lstrip("/"),
    }
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps(conn))
    with psycopg.connect(published) as wh:
        wh.execute("delete from monitoring.drift_events")
    dag = DagBag(dag_folder=str(DAGS)).get_dag("monitoring")
    started = datetime.now(UTC)
    runs = [dag.test(mark_success_pattern="collect_airflow_runs") for _ in range(2)]
    states = [{ti.task_id: ti.state for ti in run.get_task_instances()} for run in runs]
    assert [run.state for run in runs] == ["success", "success"]
    assert states[0]["record_drift"] == "success" and states[1]["record_drift"] == "skipped"
    with psycopg.connect(airflow_db) as meta:
        events = meta.execute(
            "select e.extra from asset_event e join asset a on a.id = e.asset_id"
            " where a.name = 'monitoring.drift' and e.timestamp >= %s",
            [started],
        ).fetchall()
    assert [extra["days"] for (extra,) in events] == [[str(DROP_DAY)]]


def test_the_report_shows_the_drift_offline(published: str, platform, browser) -> None:
    """The report the DAG run above wrote, opened from disk in Chromium with the network off: the drop
    shows in the orders chart, the drift and the stale sources are listed, the status is degraded."""
    page_path = platform.state / "reports" / "monitoring" / "index.html"
    ui = guarded(browser, ("file://",), offline=True)
    page = ui.page
    page.goto(page_path.as_uri())
    assert page.locator("#overall").inner_text() == "degraded"
    assert str(DROP_DAY) in page.locator("h2:has-text('Drift events') + table").inner_text()
    freshness_table = page.locator("h2:has-text('Source freshness') + table").inner_text()
    assert freshness_table.count("error") == 5
    ui.screenshot("monitoring-report-drift.png", full_page=True)
    assert ui.close() == []
