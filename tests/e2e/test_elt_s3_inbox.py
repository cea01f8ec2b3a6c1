"""The shop's inbox in an object store: `elt_ecommerce` under `dag.test()` collects `s3://…` through
Airflow's ObjectStoragePath and the connection `shop_inbox`, from an S3-compatible server on 127.0.0.1
(moto's server mode), and never writes there."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest

from simshop.sample import write_days
from tests.e2e.test_elt_ecommerce import _marts, implied
from tests.inbox_runs import run_elt
from tests.raw_layer import reset_raw

BUCKET, PREFIX = "shop-inbox", "exports"
URL = f"s3://{BUCKET}/{PREFIX}"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def s3():
    """An S3-compatible server on 127.0.0.1 and a client of it; the Airflow connection `shop_inbox`."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    keys = {"aws_access_key_id": "inbox-test", "aws_secret_access_key": "inbox-test-secret"}
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **keys)
    client.create_bucket(Bucket=BUCKET)
    connection = {
        "conn_type": "aws",
        "login": keys["aws_access_key_id"],
        "password": keys["aws_secret_access_key"],
        "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
    }
    os.environ["AIRFLOW_CONN_SHOP_INBOX"] = json.dumps(connection)
    try:
        yield client, endpoint, keys
    finally:
        del os.environ["AIRFLOW_CONN_SHOP_INBOX"]
        server.stop()


def _objects(client) -> dict[str, tuple[str, int, datetime]]:
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/")
    return {o["Key"]: (o["ETag"], o["Size"], o["LastModified"]) for o in listed.get("Contents", [])}


@pytest.fixture(scope="module")
def delivered(s3, tmp_path_factory) -> tuple[Path, dict]:
    """Two days of exports put into the bucket (a local copy kept to compute what they imply)."""
    client, _, _ = s3
    local = tmp_path_factory.mktemp("s3-shop") / "inbox"
    for path in write_days(local, date(2026, 11, 19), 2):
        client.upload_file(str(path), BUCKET, f"{PREFIX}/{path.relative_to(local).as_posix()}")
    client.put_object(Bucket=BUCKET, Key=f"{PREFIX}/orders/", Body=b"")  # a console's empty "folder"
    return local, _objects(client)


@pytest.fixture(scope="module")
def s3_runs(airflow_db: str, platform, delivered):
    reset_raw(platform.warehouse_url)
    first = run_elt(URL, datetime(2026, 11, 22, 6, tzinfo=UTC))
    second = run_elt(URL, datetime(2026, 11, 22, 7, tzinfo=UTC))
    return first, second


def test_the_marts_hold_what_the_objects_imply(s3_runs, platform, delivered) -> None:
    first, _ = s3_runs
    local, _ = delivered
    assert first.state == "success"
    assert _marts(platform.warehouse_url) == implied(local)
    with psycopg.connect(platform.warehouse_url) as conn:
        sources = {s for (s,) in conn.execute("select source from raw.load_ledger where status = 'loaded'")}
    assert sources == {f"{URL}/{p.relative_to(local).as_posix()}" for p in local.rglob("*.csv")}


def test_a_second_run_finds_nothing_new_and_the_bucket_is_untouched(s3_runs, s3, platform, delivered) -> None:
    _, second = s3_runs
    client, _, _ = s3
    assert second.state == "success"
    with psycopg.connect(platform.warehouse_url) as conn:
        row = conn.execute(
            "select is_nothing_new, files_seen, inbox from monitoring.collections where run_id = %s",
            [second.run_id],
        ).fetchone()
    assert row == (True, 10, URL)
    assert _objects(client) == delivered[1]


def test_the_cli_reads_the_same_bucket_with_the_usual_s3_variables(s3_runs, s3, platform) -> None:
    """`python -m extract load s3://…` (universal_pathlib and s3fs, no Airflow): the files are the same
    ones, so nothing is new."""
    _, endpoint, keys = s3
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": keys["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": keys["aws_secret_access_key"],
        "WAREHOUSE_LOADER_URL": platform.warehouse_url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "extract", "load", URL, "--no-progress"],
        env=env, capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{URL}: 0 new files, 10 seen before" in done.stdout
    assert "nothing new in the inbox" in done.stdout
