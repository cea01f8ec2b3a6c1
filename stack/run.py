"""`make run`: Postgres up, Airflow migrated, dbt manifest built, `elt_ecommerce` run end to end.

With no inbox given (`INBOX` in .env or `make run INBOX=…`), the simulated shop first delivers what is due
into its demo inbox (a week, then a day per run) and the run ends with a reconciliation of the published
marts against the shop's ground truth. With an inbox, only the user's exports are read.

The DAG runs with `airflow dags test` (Airflow runs every task of one DAG run in this one process,
against the project's metadata database). Its logs go to a file; the terminal shows one line per
step and per task, polled from Airflow's metadata database, then a summary from the run's report.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg

from gx.results import connection_lost_reason
from monitoring.run_report import report_name
from orchestration.connections import ELT_START_DATE
from stack import builds, processes, summary
from stack.databases import reset_warehouse
from stack.environment import Environment

DAG_ID = "elt_ecommerce"
_TERMINAL = {"success", "failed", "upstream_failed", "skipped", "removed"}
_MARK = {"success": "✓", "skipped": "·", "up_for_retry": "↻"}
_ERROR_KEYS = ("ERROR", "Error:", "Exception:", "FAILED [", "ERRORED [")
_DB_DOWN = (psycopg.OperationalError, psycopg.InterfaceError)  # Postgres restarting: Airflow's DB too
_DB_WAIT = 120.0  # seconds to wait for Postgres after the run, to read how the run ended


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
            [DAG_ID, run[0], [*_TERMINAL, "up_for_retry"]],
        ).fetchall()
    for task_id, state, seconds in tis:
        if seen.get(task_id) != state:
            seen[task_id] = state
            took = f"{seconds:5.1f}s" if seconds is not None else ""
            print(f"      {_MARK.get(state, '✗')} {task_id:<48} {state:<16} {took}", flush=True)
    return run[1]


def _run_dag(env: Environment, variables: dict[str, str], logical: datetime) -> tuple[bool, Path, str | None]:
    """Run elt_ecommerce with `airflow dags test`; (succeeded with every task run, log, run id)."""
    log = env.state / "logs" / f"{DAG_ID}-{logical:%Y%m%dT%H%M%S}.log"
    after = _latest_run_pk(env.airflow_db_url)
    cmd = [str(Path(sys.executable).with_name("airflow")), "dags", "test", DAG_ID, logical.isoformat()]
    proc = processes.spawn("dags-test", cmd, variables, log)
    seen: dict[str, str] = {}
    down = False
    try:
        while proc.poll() is None:
            time.sleep(1.0)
            try:
                _poll_tasks(env.airflow_db_url, after, seen)
                down = False
            except _DB_DOWN:  # Airflow's metadata DB is in the same Postgres: the run may well go on
                if not down:
                    print("      … Postgres is not answering (restarting?); waiting for the run", flush=True)
                down = True
    except KeyboardInterrupt:
        processes.stop_group(proc.pid)
        raise
    finally:
        processes.forget("dags-test")
    state, run_id = _final_state(env.airflow_db_url, after, seen)
    ran = seen.get("scan_inbox") == "success"  # a run whose tasks never ran did nothing: not a success
    return proc.returncode == 0 and state == "success" and ran, log, run_id


def _final_state(airflow_db: str, after_pk: int, seen: dict[str, str]) -> tuple[str | None, str | None]:
    """(the run's state, its run id), waiting up to _DB_WAIT for Postgres if it is restarting."""
    deadline = time.monotonic() + _DB_WAIT
    while True:
        try:
            state = _poll_tasks(airflow_db, after_pk, seen)
            with psycopg.connect(airflow_db) as conn:
                row = conn.execute(
                    "select run_id from dag_run where dag_id = %s and id > %s order by id desc limit 1",
                    [DAG_ID, after_pk],
                ).fetchone()
            return state, row[0] if row else None
        except _DB_DOWN:
            if time.monotonic() > deadline:
                print("      Postgres is still not answering: cannot read how the run ended", flush=True)
                return None, None
            time.sleep(2.0)


def _connection_losses(log: Path) -> list[tuple[str, str, str | None]]:
    """(task id, what the log said, the state the attempt ended in) for each attempt of a task during which
    the database connection was lost, from its `[DAG TEST] starting task_id=…` to its end; a loss outside
    any task is under "the run". The state is None when Airflow could not record one (it was down too)."""
    losses: list[tuple[str, str, str | None]] = []
    task, reason, state = "the run", None, None
    for line in log.read_text(errors="replace").splitlines():
        if "[DAG TEST] starting task_id=" in line or "[DAG TEST] end task task_id=" in line:
            if reason:
                losses.append((task, reason, state))
            starting = "starting task_id=" in line
            task = line.split("task_id=", 1)[1].split()[0] if starting else "the run"
            reason, state = None, None
        elif "Task instance state updated" in line and "new_state=" in line:
            state = line.split("new_state=", 1)[1].split()[0]
        elif not reason:
            reason = connection_lost_reason(line)
    if reason:
        losses.append((task, reason, state))
    return losses


def _print_outages(log: Path) -> bool:
    """Each lost database connection in a sentence, and what to do when it made the run fail (an outage
    is not a data problem, and needs no traceback); True when it did."""
    fatal = False
    for task, reason, state in _connection_losses(log):
        what = f"the database connection was lost during {task} ({reason})"
        if state == "up_for_retry":
            print(f"      ↻ {what}; Airflow retried it", flush=True)
        elif state == "success":
            print(f"      ↻ {what}; it reconnected and went on", flush=True)
        else:
            fatal = True
            gave_up = "no retries were left" if state == "failed" else "Airflow could not go on"
            print(f"      ✗ {what}; Postgres was not back in time and {gave_up}", flush=True)
    if fatal:
        print(
            "      An outage, not bad data. Check that Postgres runs (`make up` starts it), then `make run`"
            " again:\n      what committed stays, files already loaded are not loaded twice, and a half-done"
            " run publishes nothing."
        )
    return fatal


def _print_errors(log: Path, limit: int = 20) -> None:
    """The log's error lines (task failures, exceptions, failed expectations), de-duplicated; a run that
    failed because Postgres went away says only that, in plain words (the rest is its echo)."""
    if _print_outages(log):
        return
    seen: list[str] = []
    for line in log.read_text(errors="replace").splitlines():
        text = line.strip()
        if any(key in text for key in _ERROR_KEYS) and text not in seen:
            seen.append(text)
    for text in seen[:limit]:
        print(f"      {text[:220]}")


def check_date(day: date | None, now: datetime) -> datetime:
    """The run's logical date: now, or the given day at this time of day (a label: the inbox decides what
    loads). Raises ValueError, with the reason, for a day Airflow would not run."""
    if day is None:
        return now
    if day < ELT_START_DATE.date():
        raise ValueError(
            f"{day} is before {DAG_ID}'s start date, {ELT_START_DATE.date()}: Airflow would run nothing"
        )
    if day > now.date():
        raise ValueError(f"{day} is in the future (today is {now.date()}, UTC)")
    return datetime.combine(day, now.timetz())


def _inbox_mode(env: Environment, inbox: str | None) -> tuple[str, bool]:
    """(the inbox this run reads, whether it is the demo's)."""
    if inbox:
        return (inbox if "://" in inbox else str(Path(inbox).expanduser().resolve())), False
    if env.settings.get("INBOX"):
        return env.inbox, False
    return str(env.demo_home / "inbox"), True


def run_pipeline(day: date | None = None, inbox: str | None = None) -> int:
    started = time.monotonic()
    try:
        logical = check_date(day, datetime.now(UTC).replace(microsecond=0))
    except ValueError as refused:
        print(f"make run: {refused}. Give DATE=YYYY-MM-DD from {ELT_START_DATE.date()} to today, or none.")
        return 2
    env = Environment.load()
    where, demo = _inbox_mode(env, inbox)
    if "://" not in where and not demo and not Path(where).is_dir():
        print(f"make run: the inbox {where} is not a folder (expected <inbox>/<entity>/<YYYY-MM-DD>/<files>)")
        return 2
    print(f"elt_ecommerce, collecting from {where}", flush=True)
    _step("environment", f"{sys.prefix} · secrets in .env · state in {env.state}")

    _, took = _timed(env.start_postgres)
    if env.cluster:
        bins = env.cluster.binaries()
        place = f"Postgres {bins.version} ({bins.source}) on 127.0.0.1:{env.port}"
    else:
        place = f"external Postgres at {env.host}:{env.port}"
    _step("postgres", f"{place} · databases airflow, warehouse ({took:.1f}s)")
    other = summary.other_inbox(env.warehouse_url, where)
    demo_inbox = str(env.demo_home / "inbox")
    if other == demo_inbox and not demo:  # made-up data never mixes with a shop's own: it goes
        reset_warehouse(env.warehouse_url)
        _step("warehouse", "held only the demo shop's data: emptied, to keep your exports apart")
    elif other:
        print(
            f"\nmake run: the warehouse already holds data collected from {other}, not from {where}."
            "\nOne warehouse, one shop: `make reset` empties the warehouse (raw, staging, marts, monitoring;"
            " Airflow and .env stay), then run again."
        )
        return 2

    variables = {**os.environ, **env.variables(), "AIRFLOW_VAR_SHOP_INBOX": where}
    if demo:
        from simshop.delivery import deliver

        delivery, took = _timed(deliver, env.demo_home)
        _step("demo shop", f"{delivery.note} ({took:.1f}s)")
        # the simulated shop renames each finished file into place: nothing there is ever half-written
        variables["AIRFLOW_VAR_SHOP_INBOX_SETTLE_SECONDS"] = "0"
    ran, took = _timed(builds.airflow_migrate, variables, env.state)
    _step("airflow db", f"migrated ({took:.1f}s)" if ran else "up to date")
    ran, took = _timed(builds.airflow_logins, variables, env.state, env.settings)
    _step("airflow logins", f"operator, monitor set from .env ({took:.1f}s)" if ran else "up to date")
    ran, took = _timed(builds.dbt_manifest, variables, env.state)
    _step("dbt manifest", f"built with `dbt parse` ({took:.1f}s)" if ran else "up to date")

    held_before = summary.held_orders(env.warehouse_url)
    _step(
        "elt_ecommerce", f"running with `airflow dags test` (logical date {logical.isoformat()}) …", mark="▸"
    )
    (ok, log, run_id), took = _timed(_run_dag, env, variables, logical)
    if not ok:
        _step("elt_ecommerce", f"FAILED after {took:.0f}s; the full log: {log}", mark="✗")
        _print_errors(log)
        return 1
    _step("elt_ecommerce", f"succeeded in {took:.0f}s · log: {log}")
    _print_outages(log)
    report = env.state / "reports" / DAG_ID / f"{report_name(run_id)}.json"
    summary.print_run(env.warehouse_url, report, held_before)
    if demo:
        from simshop.delivery import truth
        from simshop.truth import reconcile

        summary.print_reconciliation(reconcile(env.warehouse_url, truth(env.demo_home), where))
    print(f"\nDone in {time.monotonic() - started:.0f}s. Postgres keeps running: `make down` stops it.")
    return 0
