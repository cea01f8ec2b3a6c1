"""`python -m extract` (and the simulated shop's `python -m simshop`) as a user runs them: real processes,
a real warehouse, the API on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from extract.contract import FIELDS
from extract.watermark import fingerprint
from simshop.generator import GeneratorConfig, iter_days
from tests.raw_layer import reset_raw

ROOT = Path(__file__).resolve().parents[2]
DAY = ["--seed", "5", "--start", "2026-04-06", "--days", "2", "--orders-per-day", "40"]


def _cli(
    *args: str, env: dict[str, str] | None = None, module: str = "extract"
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def env(warehouse_url: str) -> dict[str, str]:
    reset_raw(warehouse_url)
    return {
        **os.environ,
        "WAREHOUSE_LOADER_URL": warehouse_url,
        "WAREHOUSE_URL": warehouse_url,
        "SHOP_API_TOKEN": "cli-test-token-77",
    }


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            e: conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier("raw", e))).fetchone()[0]
            for e in FIELDS
        }


def test_help_lists_the_commands() -> None:
    assert all(command in _cli("--help").stdout for command in ("load", "extract"))
    assert all(
        command in _cli("--help", module="simshop").stdout for command in ("generate", "deliver", "serve")
    )


def test_generate_then_load_a_folder(env: dict[str, str], tmp_path: Path) -> None:
    generated = _cli(
        "generate", "--out", str(tmp_path), *DAY, "--fault-rate", "0.05", env=env, module="simshop"
    )
    assert generated.returncode == 0, generated.stderr
    assert "orders/s" in generated.stdout and "%|" in generated.stderr  # the summary and a progress bar
    manifest = json.loads((tmp_path / "_manifest.json").read_text())

    loaded = _cli("load", str(tmp_path), env=env)  # files written moments ago: it waits until they settle
    assert loaded.returncode == 0, loaded.stderr
    expected = manifest["load"]
    assert f"{expected['files']} new files, 0 seen before" in loaded.stdout
    assert f"{expected['files_rejected']} rejected whole" in loaded.stdout
    assert f"{expected['rows_rejected']:,} rejected" in loaded.stdout
    assert "rejected file:" in loaded.stdout and "header" in loaded.stdout  # says which file and why
    assert _counts(env["WAREHOUSE_URL"]) == manifest["totals"]["records"]

    again = _cli("load", str(tmp_path), "--no-progress", env=env)
    assert f"0 new files, {expected['files']} seen before" in again.stdout
    assert "nothing new in the inbox" in again.stdout
    assert _counts(env["WAREHOUSE_URL"]) == manifest["totals"]["records"]


def test_load_without_a_warehouse_says_how_to_get_one(tmp_path: Path) -> None:
    bare = {k: v for k, v in os.environ.items() if not k.startswith("WAREHOUSE")}
    result = _cli("load", str(tmp_path), env=bare)
    assert result.returncode == 2 and "WAREHOUSE_LOADER_URL" in result.stdout


def _served() -> dict[str, int]:
    """Record versions (exact copies once) that `serve` with DAY holds, per entity."""
    config = GeneratorConfig(seed=5, start=date(2026, 4, 6), days=2, orders_per_day=40)
    versions: dict[str, set[str]] = {e: set() for e in FIELDS}
    for day in iter_days(config):
        for entity, records in day.records.items():
            versions[entity] |= {fingerprint(r) for r in records}
    return {e: len(v) for e, v in versions.items()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_with_http_faults_then_extract_everything_once(env: dict[str, str]) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simshop",
            "serve",
            "--port",
            str(port),
            *DAY,
            "--http-faults",
            "0.1",
            "--slow-seconds",
            "0.3",
            "--no-progress",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/v1/orders", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "the API did not start"
                time.sleep(0.2)
        base = f"http://127.0.0.1:{port}"
        options = ["--page-size", "100", "--timeout", "0.2", "--max-retries", "12", "--no-progress"]
        first = _cli("extract", "--base-url", base, *options, env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "retries" in first.stdout
        counts = _counts(env["WAREHOUSE_URL"])
        assert counts == _served(), "every record version the API holds, once, despite the faults"
        again = _cli("extract", "--base-url", base, "--no-progress", env=env)
        assert again.returncode == 0 and _counts(env["WAREHOUSE_URL"]) == counts  # nothing new, nothing twice
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a slow answer still in flight on a loaded machine
            server.kill()
            server.wait(timeout=10)
    assert "Authorization" not in server.stdout.read() + first.stdout + first.stderr  # no token in the logs
