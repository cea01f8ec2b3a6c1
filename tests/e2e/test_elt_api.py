"""`elt_ecommerce` with source=api under `dag.test()`: the load tasks extract a real shop API on loopback
(with HTTP faults), the rest of the pipeline runs on what they landed."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from extract.contract import FIELDS
from simshop.api_faults import Faults
from simshop.api_server import ShopApiServer
from simshop.api_store import RecordStore
from simshop.sample import build_day
from tests.raw_layer import reset_raw

DAY = date(2026, 11, 18)
TOKEN = "e2e-api-token-5b2d"


@pytest.fixture(scope="module")
def shop_day() -> dict[str, list[dict]]:
    return build_day(DAY)


@pytest.fixture(scope="module")
def api_run(airflow_db: str, platform, shop_day):
    from airflow.dag_processing.dagbag import DagBag

    reset_raw(platform.warehouse_url)
    pairs = [(entity, record) for entity, records in shop_day.items() for record in records]
    store = RecordStore.from_records(
        pairs, sent_at=datetime.combine(DAY + timedelta(days=1), datetime.min.time(), UTC)
    )
    faults = Faults(script=("429", "500", "503"), retry_after=(0, 0))  # the first three answers fail
    with ShopApiServer(store, TOKEN, faults=faults) as server:
        host, port = server.url.removeprefix("http://").split(":")
        connection = {"conn_type": "http", "host": host, "port": int(port), "password": TOKEN}
        os.environ["AIRFLOW_CONN_SHOP_API"] = json.dumps(connection)
        try:
            dag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags")).get_dag(
                "elt_ecommerce"
            )
            logical = datetime.combine(DAY, datetime.min.time(), UTC)
            yield dag.test(logical_date=logical, run_conf={"source": "api"}), server
        finally:
            del os.environ["AIRFLOW_CONN_SHOP_API"]


def test_run_succeeds_after_retrying_the_api_faults(api_run) -> None:
    run, server = api_run
    assert run.state == "success"
    assert {"429", "500", "503"} <= set(server.stats), server.stats


def test_raw_tables_hold_every_record_the_api_sent_once(api_run, platform, shop_day) -> None:
    with psycopg.connect(platform.warehouse_url) as conn:
        for entity, records in shop_day.items():
            query = sql.SQL("select count(*) from {}").format(sql.Identifier("raw", entity))
            assert conn.execute(query).fetchone()[0] == len(records), entity
        kinds = conn.execute("select distinct source_kind from raw.load_ledger").fetchall()
        watermarks = conn.execute("select count(*) from raw.api_watermarks").fetchone()[0]
    assert kinds == [("api",)] and watermarks == len(FIELDS)


def test_marts_built_from_the_api_data(api_run, platform, shop_day) -> None:
    with psycopg.connect(platform.warehouse_url) as conn:
        (orders,) = conn.execute("select count(*) from marts.fct_orders").fetchone()
    assert orders == len({o["order_id"] for o in shop_day["orders"]})
