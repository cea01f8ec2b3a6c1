"""Drift: a generated volume drop, really loaded, built and published, is found once and only once.

Ten generated days (the generator's `volume_drop` takes 70% of the last day's orders) go through the
real loader, `dbt build` and the publish swap; monitoring measures the published marts per day and
judges the latest days against the median of the seven before.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pytest

from extract.generator import GeneratorConfig, order_counts
from extract.writers import add_config_arguments, config_from, write_landing
from monitoring import incidents, volumes
from publish.swap import publish_marts
from tests.warehouse import dbt, load_day

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
