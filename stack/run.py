"""`make run`: Postgres up, Airflow migrated, dbt manifest built, `elt_ecommerce` run end to end.

The DAG runs with `airflow dags test` (Airflow runs every task of one DAG run in this one process,
against the project's metadata database). Its logs go to a file; the terminal shows one line per
step and per task, polled from Airflow's metadata database, then a summary from the run's report.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import date
from pathlib import Path

import psycopg

from stack import builds, processes
from stack.environment import Environment

DAG_ID = "elt_ecommerce"
_TERMINAL = {"success", "failed", "upstream_failed", "skipped", "removed"}
_MARK = {"success": "✓", "skipped": "·"}
_ERROR_KEYS = ("ERROR", "Error:", "Exception:", "FAILED [", "ERRORED [")


def _step(label: str, detail: str, mark: str = "✓") -> None:
    print(f"  {mark} {label:<14} {detail}", flush=True)


def _timed(fn, *args):
    started = time.monotonic()
    result = fn(*args)
    return result, time.monotonic() - started


def _latest_run_pk(airflow_db: str) -> int:
    with psycopg.connect(airflow_db) as conn:
        row = conn.execute("select max(id) from dag_run where dag_id = %s", [DAG_ID]).fetchone()
    return row[0] or 0


def _poll_tasks(airflow_db: str, after_pk: int, seen: dict[str, str]) -> str | None:
    """Print each task that reached a terminal state since the last poll; return the run's state."""
    with psycopg.connect(airflow_db) as conn:
        run = conn.execute(
            "select run_id, state from dag_run where dag_id = %s and id > %s order by id desc limit 1",
            [DAG_ID, after_pk],
        ).fetchone()
        if not run:
            return None
        tis = conn.execute(
            "select task_id, state, extract(epoch from end_date - start_date) from task_instance"
            " where dag_id = %s and run_id = %s and state = any(%s) order by end_date",
            [DAG_ID, run[0], list(_TERMINAL)],
        ).fetchall()
    for task_id, state, seconds in tis:
        if seen.get(task_id) != state:
            seen[task_id] = state
            took = f"{seconds:5.1f}s" if seconds is not None else ""
            print(f"      {_MARK.get(state, '✗')} {task_id:<48} {state:<16} {took}", flush=True)
    return run[1]


def _run_dag(env: Environment, variables: dict[str, str], day: date) -> tuple[bool, Path]:
    log = env.state / "logs" / f"{DAG_ID}-{day.isoformat()}-{int(time.time())}.log"
    after = _latest_run_pk(env.airflow_db_url)
    cmd = [str(Path(sys.executable).with_name("airflow")), "dags", "test", DAG_ID, day.isoformat()]
    proc = processes.spawn("dags-test", cmd, variables, log)
    seen: dict[str, str] = {}
    try:
        while proc.poll() is None:
            time.sleep(1.0)
            _poll_tasks(env.airflow_db_url, after, seen)
    except KeyboardInterrupt:
        processes.stop_group(proc.pid)
        raise
    finally:
        processes.forget("dags-test")
    state = _poll_tasks(env.airflow_db_url, after, seen)
    return proc.returncode == 0 and state == "success", log


def _print_errors(log: Path, limit: int = 20) -> None:
    """The log's error lines (task failures, exceptions, failed expectations), de-duplicated."""
    seen: list[str] = []
    for line in log.read_text(errors="replace").splitlines():
        text = line.strip()
        if any(key in text for key in _ERROR_KEYS) and text not in seen:
            seen.append(text)
    for text in seen[:limit]:
        print(f"      {text[:220]}")


def _print_summary(report_json: Path) -> None:
    report = json.loads(report_json.read_text())
    print("\n  Rows per table")
    for row in report["tables"]:
        print(f"    {row['schema'] + '.' + row['table']:<36} {row['kind']:<6} {row['rows']:>8}")
    checks = report["checks"]
    print("\n  Checks")
    print(
        f"    dbt models and tests  {checks['dbt_passed']} passed, {checks['dbt_failed']} failed,"
        f" {checks['dbt_warned']} warned"
    )
    print(
        f"    GX expectations       {checks['gx_passed']} passed, {checks['gx_failed']} failed,"
        f" {checks['gx_errored']} errored"
    )
    print(f"\n  Report: {report_json.with_suffix('.html')}")


def run_pipeline(day: date) -> int:
    started = time.monotonic()
    print(f"elt_ecommerce for {day.isoformat()}", flush=True)
    env = Environment.load()
    _step("environment", f"{sys.prefix} · secrets in .env · state in {env.state}")

    _, took = _timed(env.start_postgres)
    if env.cluster:
        bins = env.cluster.binaries()
        where = f"Postgres {bins.version} ({bins.source}) on 127.0.0.1:{env.port}"
    else:
        where = f"external Postgres at {env.host}:{env.port}"
    _step("postgres", f"{where} · databases airflow, warehouse ({took:.1f}s)")

    variables = {**os.environ, **env.variables()}
    ran, took = _timed(builds.airflow_migrate, variables, env.state)
    _step("airflow db", f"migrated ({took:.1f}s)" if ran else "up to date")
    ran, took = _timed(builds.dbt_manifest, variables, env.state)
    _step("dbt manifest", f"built with `dbt parse` ({took:.1f}s)" if ran else "up to date")

    _step("elt_ecommerce", "running with `airflow dags test` …", mark="▸")
    (ok, log), took = _timed(_run_dag, env, variables, day)
    if not ok:
        _step("elt_ecommerce", f"FAILED after {took:.0f}s; the full log: {log}", mark="✗")
        _print_errors(log)
        return 1
    _step("elt_ecommerce", f"succeeded in {took:.0f}s · log: {log}")
    _print_summary(env.state / "reports" / DAG_ID / f"{day.isoformat()}.json")
    print(f"\nDone in {time.monotonic() - started:.0f}s. Postgres keeps running: `make down` stops it.")
    return 0
