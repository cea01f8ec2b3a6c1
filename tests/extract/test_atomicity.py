"""A load killed mid-COPY (SIGKILL of the loader) leaves nothing of its batch; a rerun loads it once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from extract.load import load_file
from tests.raw_layer import reset_raw

ROWS = 400_000
HEADER = "order_id,customer_id,status,ordered_at,updated_at,shipping_amount,discount_amount,payment_method"


def _big_file(path: Path, extra_column: bool) -> Path:
    with path.open("w") as fh:
        fh.write(HEADER + (",coupon\n" if extra_column else "\n"))
        tail = ",XMAS\n" if extra_column else "\n"
        for i in range(ROWS):
            fh.write(f"O{i},C{i % 997},paid,2026-11-20T10:00:00Z,2026-11-20T10:05:00Z,4.90,0.00,card{tail}")
    return path


def _copy_running(url: str) -> bool:
    with psycopg.connect(url) as conn:
        return bool(
            conn.execute(
                "select 1 from pg_stat_activity where query ilike 'copy %%raw%%orders%%' and state = 'active'"
            ).fetchone()
        )


@pytest.mark.parametrize("extra_column", [False, True], ids=["fast-path", "careful-path"])
def test_sigkill_mid_copy_leaves_nothing_and_rerun_loads_once(
    warehouse_url: str, tmp_path: Path, extra_column: bool
) -> None:
    reset_raw(warehouse_url)
    path = _big_file(tmp_path / "orders.csv", extra_column)
    code = (
        "import sys; from pathlib import Path; from extract.load import load_file; "
        "load_file(sys.argv[1], 'orders', Path(sys.argv[2]))"
    )
    child = subprocess.Popen([sys.executable, "-c", code, warehouse_url, str(path)])
    try:
        deadline = time.monotonic() + 60
        while not _copy_running(warehouse_url):
            assert child.poll() is None, "the load finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL

    with psycopg.connect(
        warehouse_url, autocommit=True
    ) as conn:  # pg_stat_activity: a fresh snapshot per query
        deadline = time.monotonic() + 30  # the server notices the dead client and rolls back
        while (
            conn.execute(
                "select count(*) from pg_stat_activity where query ilike 'copy %%raw%%' and state = 'active'"
            ).fetchone()[0]
            and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        assert conn.execute("select count(*) from raw.orders").fetchone() == (0,)
        assert conn.execute("select count(*) from raw.load_ledger").fetchone() == (0,)

    result = load_file(warehouse_url, "orders", path)
    again = load_file(warehouse_url, "orders", path)
    assert (result.status, result.rows_loaded, again.status) == ("loaded", ROWS, "skipped")
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("select count(*), count(distinct order_id) from raw.orders").fetchone() == (
            ROWS,
            ROWS,
        )
