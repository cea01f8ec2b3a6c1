"""Smoke runs of every script in bench/ at a tiny size, so that a refactor breaking a benchmark fails here.

Each bench is split into a core (`run`: what it measures and prints, given a warehouse or a platform, a
folder and its parsed command line) and a `main` that starts a throwaway Postgres of its own. These
tests call the core in-process on the test session's Postgres (conftest.py), which skips the cluster's
start and, for the Airflow benches, the metadata database's migration (`airflow_db`, shared with the
rest of the suite). Each asserts that the run reached its final printed figures, never anything about
a time.

Where a bench repeats for statistics (rounds, logins, parse runs, warm starts) the smoke does it once.
Beyond that, `make test` (the default) leaves out what costs the most and is run for real elsewhere:
- quality_bench: the day's two gates (`raw_landed`, `marts_publish`), each in both variants, not the deep
  check (`raw_history`: the same suites as `raw_landed`, unscoped);
- transform_bench: `--parse-only` (the DAG template rendered and parsed by Airflow and Cosmos), not the
  Airflow services running a DAG of it;
- up_bench: `stack.up.start` is replaced by a stand-in with its signature (mock.create_autospec); the
  platform itself starts for real in tests/stack/test_platform.py.
`BENCH_SMOKE=full` runs those three in full as well (~2 more minutes on a 2-core machine).
"""

from __future__ import annotations

import importlib
import json
import os
import re
from unittest import mock

import psycopg
import pytest
from psycopg import sql

from stack.databases import Database, ensure_schemas

FULL = os.environ.get("BENCH_SMOKE") == "full"


def _bench(name: str):
    """bench/<name>.py as a module (imported here, so an import error fails only its own test)."""
    return importlib.import_module(f"bench.{name}")


@pytest.fixture
def warehouse(platform, request) -> str:
    """A fresh, empty warehouse database of the test's own (schemas made, as conftest's warehouse_url)."""
    name = "wh_bench_" + re.sub(r"\W", "_", request.node.name)[:40]
    owner = platform.warehouse
    create = sql.SQL("create database {} owner {}").format(sql.Identifier(name), sql.Identifier(owner.owner))
    drop = sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
    with psycopg.connect(platform.admin_url, autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(create)
    url = platform.url(Database(name, owner.owner, owner.password))
    ensure_schemas(url)
    yield url
    with psycopg.connect(platform.admin_url, autocommit=True) as conn:
        conn.execute(drop)


def _figures(out: str, *lines: str) -> None:
    """Each of `lines` starts a line of `out`: the bench printed its figures down to the last."""
    printed = [line.strip() for line in out.splitlines()]
    missing = [line for line in lines if not any(p.startswith(line) for p in printed)]
    assert not missing, f"not printed: {missing}\n--- output ---\n{out[-4000:]}"


def test_load_bench(platform, warehouse, tmp_path, capsys):
    bench = _bench("load_bench")
    args = bench.parse_args(["--orders", "400", "--days", "2", "--rounds", "1", "--to-sql-rows", "100"])
    bench.run(args, warehouse, platform.cluster.binaries().bindir / "psql", tmp_path)
    _figures(
        capsys.readouterr().out,
        "round 1: ",
        "loader (extract.load), clean CSV",
        "loader, dirty mix",
        "pandas to_sql (one run)",
        "loader / psql \\copy, same tables  =",
        "loader / psql \\copy, plain tables =",
        "loader / pandas to_sql             =",
        "dirty / clean, MB/s                =",
        "dirty / clean, rows/s              =",
        "the checks (CopyCheck + whole-file encoding pass):",
        "CopyCheck",
    )


def test_incremental_bench(warehouse, tmp_path, capsys):
    bench = _bench("incremental_bench")
    bench.run(bench.parse_args(["--orders", "400", "--days", "3"]), warehouse, tmp_path)
    _figures(
        capsys.readouterr().out,
        "loaded the last day in",
        "models + snapshot (wall, s)",
        "dbt test (wall, s)",
        "run + test (wall, s)",
        "incremental day ÷ full refresh (models + snapshot):",
    )


def test_quality_bench(warehouse, tmp_path, capsys):
    bench = _bench("quality_bench")
    gates = bench.CHECKPOINTS if FULL else ("raw_landed", "marts_publish")
    args = bench.parse_args(["--orders", "400", "--days", "3", "--checkpoints", ",".join(gates)])
    bench.run(args, warehouse, tmp_path)
    out = capsys.readouterr().out
    _figures(
        out,
        "rows: raw.orders",
        *gates,
        "publish (schema swap)",
        "dbt build of the day",
        "dbt test of the day",
        "the day's gates (",
        "peak RSS of a gate process:",
        "SQL checks, checks alone (GX import aside), one-query ÷ the baseline gx two-query:",
    )
    for gate in gates:  # the last lines: one-query ÷ two-query per gate
        assert re.search(rf"^  {gate} +[\d.]+ s ÷ +[\d.]+ s = [\d.]+$", out, re.MULTILINE), out[-2000:]


def test_scale_bench(warehouse, tmp_path, capsys):
    bench = _bench("scale_bench")
    bench.run(bench.parse_args(["--orders", "400", "--days", "3"]), warehouse, tmp_path)
    _figures(
        capsys.readouterr().out,
        "generate 400 orders, 3 days",
        "load 1 days",
        "raw_landed (everything pending)",
        "dbt seed",
        "dbt build (models, snapshot; full)",
        "dbt test",
        "marts_publish",
        "publish (schema swap)",
        "the day before (warm-up): load",
        "the day before: dbt build",
        "the day before: publish",
        "the day: load",
        "the day: raw_landed",
        "the day: dbt build (incremental)",
        "the day: dbt test",
        "the day: marts_publish",
        "the day: publish",
        "landing to published marts (no generate)",
        "the day, load to publish",
        "rows landed: raw.customers",
        "published marts: fct_orders",
        "peak RSS over the run (getrusage):",
        "database size:",
    )


def test_login_bench(platform, airflow_db, tmp_path, capsys, monkeypatch):
    from stack.airflow_logins import LOGINS

    bench = _bench("login_bench")
    monkeypatch.setattr(bench, "IDLE_SECONDS", 0)
    passwords = {name: platform.settings[key] for name, (_, key) in LOGINS.items()}
    args = bench.parse_args(["--rounds", "1", "--logins", "1"])
    bench.run(args, {**os.environ, **platform.variables()}, passwords, tmp_path)
    _figures(
        capsys.readouterr().out,
        "round 1 simple",
        "round 1 fab",
        "start (s)",
        "login (ms)",
        "memory (MB)",
    )


def _pointed_at(variables: dict[str, str], url: str) -> dict[str, str]:
    """`variables` with dbt's WAREHOUSE_* and Airflow's connection `warehouse` naming `url`'s database."""
    from monitoring.freshness import profile_env
    from orchestration.connections import WAREHOUSE_CONN_ID

    keys = ("WAREHOUSE_HOST", "WAREHOUSE_PORT", "WAREHOUSE_USER", "WAREHOUSE_PASSWORD", "WAREHOUSE_DB")
    dbt = {key: profile_env(url)[key] for key in keys}
    conn = {
        "conn_type": "postgres",
        "host": dbt["WAREHOUSE_HOST"],
        "port": int(dbt["WAREHOUSE_PORT"]),
        "login": dbt["WAREHOUSE_USER"],
        "password": dbt["WAREHOUSE_PASSWORD"],
        "schema": dbt["WAREHOUSE_DB"],
    }
    return {**variables, **dbt, f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}": json.dumps(conn)}


def test_transform_bench(platform, warehouse, tmp_path, capsys, request):
    bench = _bench("transform_bench")
    variables = _pointed_at({**os.environ, **platform.variables()}, warehouse)
    command = ["--orders", "300", "--days", "2", "--modes", "local", "--parse-runs", "1"]
    if FULL:
        command += ["--projects", "1"]
        request.getfixturevalue("airflow_db")
    else:
        command += ["--projects", "shop,1", "--parse-only"]  # no Postgres used, no services started
    args = bench.parse_args(command)
    try:
        bench.run(args, tmp_path, variables, warehouse, platform.airflow_db_url, platform.state)
    finally:
        if FULL:  # the bench's DAG runs, out of later tests' counts
            with psycopg.connect(platform.airflow_db_url) as conn:
                conn.execute("delete from dag_run where dag_id like 'bench\\_%'")
    out = capsys.readouterr().out
    if FULL:
        _figures(out, "Airflow services up on", "1  plain dbt build (CLI, 4 threads)", "1  local")
    _figures(out, "DAG parse, median of 1 fresh processes:", "dags/elt_ecommerce.py", "1 models (local)")


def test_up_bench(platform, capsys, monkeypatch, request):
    from stack import up
    from stack.pgadmin import PgAdmin

    bench = _bench("up_bench")
    monkeypatch.setattr(bench, "IDLE_SECONDS", 0)
    monkeypatch.setenv("AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE", "False")  # no scheduled run meanwhile
    if FULL:
        request.getfixturevalue("airflow_db")
    else:  # stand-ins that refuse any call the real functions would refuse
        start = mock.create_autospec(up.start)
        monkeypatch.setattr(up, "start", start)
        monkeypatch.setattr(PgAdmin, "install", mock.create_autospec(PgAdmin.install, return_value=False))
    try:
        bench.run(bench.parse_args(["--warm", "1"]), platform)
        stopped = not platform.cluster.running()  # it ends with everything stopped, Postgres too
    finally:
        platform.start_postgres()  # the session's, for the tests after this one
    assert stopped
    if not FULL:
        assert [c.kwargs.get("side_by_side", True) for c in start.call_args_list] == [True, True, False]
    _figures(
        capsys.readouterr().out,
        "cold start, until every UI answers:",
        "postgres",
        "whole stack (PSS)",
        "warm start:",
        "baseline 'one after another' (warm):",
        "warm ÷ cold:",
    )
