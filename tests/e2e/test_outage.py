"""Postgres restarts in the middle of `elt_ecommerce` (an outage is not bad data): the run still succeeds,
each task the outage hit is retried, nothing is loaded twice, the published marts hold what the files imply,
and no quality verdict is recorded for what was only an outage.

The whole throwaway cluster is restarted (`Cluster.stop()` then `start()`, a fast shutdown: what
`pg_ctl restart` or a by-hand restart does), not only the warehouse's sessions terminated: the outage
then also drops the connections of Airflow's metadata database, which lives in the same cluster, as in
the incident. The restarts happen inside the tasks, at points the test chooses, because `dag.test()`
runs the tasks in this process: the test patches the functions where each task talks to the warehouse.
`dag.test()` itself survives its metadata database restarting while a task runs (its pooled connections
are pre-pinged), but not while the database is still down when a task ends (it cannot record the
task's state then), so each outage is over before the task it hit ends:

- load_orders: restarted after the second file's rows are copied, before its transaction commits (the
  first file is already committed): the retry must skip the first file and load the second once;
- validate_marts: stopped while GX computes its metrics, started 3 s later: the expectations error
  with "connection refused"; the gate must not call that a data failure, and Airflow retries it;
- publish_marts: restarted inside the swap's transaction, before the commit: the retry publishes once;
- build_report: stopped while the report reads the warehouse, started 1 s later.

The retry delay is 2 s here (30 s in the DAG): `dag.test()` waits it out like a scheduler would.

Then what `make run` says (stack/run.py): after a retried outage, a line per task; and, through its own
loop (`airflow dags test` in a subprocess) with Postgres down until after validate_marts gave up, that
the connection was lost and Airflow could not go on, in plain words, with no traceback.
"""

from __future__ import annotations

import csv
import os
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from simshop.sample import write_days
from tests.raw_layer import drop_schemas, reset_raw

DAY1 = date(2026, 11, 19)
ROOT = Path(__file__).resolve().parents[2]
ENTITIES = ("customers", "products", "orders", "order_items", "sessions")
HIT = ("load_orders", "validate_marts", "publish_marts", "build_report")
RETRY_DELAY = timedelta(seconds=2)
# what differs between two runs of the same files: the ledger's batch ids (a rolled-back load uses one
# up), load and build times
VOLATILE = ("%batch_id", "\\_%", "dbt\\_%", "%loaded_at")


def _run(inbox: Path, logical_date: datetime, monkeypatch: pytest.MonkeyPatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("AIRFLOW_VAR_SHOP_INBOX", str(inbox))
    monkeypatch.setenv("AIRFLOW_VAR_SHOP_INBOX_SETTLE_SECONDS", "0")
    dag = DagBag(dag_folder=str(ROOT / "dags")).get_dag("elt_ecommerce")
    for task in dag.tasks:
        task.retry_delay = RETRY_DELAY
    return dag.test(logical_date=logical_date)


def _fresh_warehouse(url: str) -> None:
    """Nothing loaded, built or published: both runs start from the same place."""
    reset_raw(url)
    drop_schemas(url, ("marts_build",))


def _file_rows(inbox: Path, entity: str) -> int:
    total = 0
    for path in (inbox / entity).glob("*/*.csv"):
        with path.open(newline="", encoding="utf-8") as fh:
            total += sum(1 for _ in csv.DictReader(fh))
    return total


def _raw_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            entity: conn.execute(
                sql.SQL("select count(*) from {}").format(sql.Identifier("raw", entity))
            ).fetchone()[0]
            for entity in ENTITIES
        }


def _published(url: str) -> dict[str, list[tuple]]:
    """Every published mart's rows, sorted, without the columns that differ between two runs."""
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
            " and table_type = 'BASE TABLE' order by 1"
        ).fetchall()
        content = {}
        for (table,) in tables:
            columns = conn.execute(
                "select column_name from information_schema.columns where table_schema = 'marts'"
                " and table_name = %s and not column_name like any(%s) order by ordinal_position",
                [table, list(VOLATILE)],
            ).fetchall()
            query = sql.SQL("select {} from {}").format(
                sql.SQL(", ").join(sql.Identifier(c) for (c,) in columns), sql.Identifier("marts", table)
            )
            content[table] = sorted(conn.execute(query).fetchall(), key=repr)
    return content


def _gx_results(url: str, run_id: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select checkpoint, count(*), count(*) filter (where not success),"
            " count(*) filter (where errored) from monitoring.gx_results where run_id = %s"
            " group by 1 order by 1",
            [run_id],
        ).fetchall()


class Outages:
    """Restarts the cluster at the points the module's docstring lists, once each."""

    def __init__(self, cluster) -> None:
        self.cluster = cluster
        self.fired: list[str] = []
        self._starting: threading.Thread | None = None
        self._in_marts_audit = False

    def restart(self, where: str) -> None:
        self.fired.append(where)
        self.cluster.stop()
        self.cluster.start()

    def stop_for(self, where: str, seconds: float) -> None:
        """Stop now, start again in `seconds` (in the background); `back()` waits for it."""
        self.fired.append(where)
        self.cluster.stop()
        self._starting = threading.Thread(target=lambda: (time.sleep(seconds), self.cluster.start()))
        self._starting.start()

    def back(self) -> None:
        if self._starting is not None:
            self._starting.join()
            self._starting = None

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from great_expectations.execution_engine.sqlalchemy_execution_engine import (
            SqlAlchemyExecutionEngine,
        )

        import extract.load
        import gx.checkpoints
        import monitoring.run_report
        import publish.swap

        copy_file, orders_copied = extract.load._copy_file, []

        def copy_then_restart(conn, entity, *args, **kwargs):
            copied = copy_file(conn, entity, *args, **kwargs)
            if entity == "orders":
                orders_copied.append(1)
                if len(orders_copied) == 2:  # the first file committed, this one's commit is next
                    self.restart("load_orders")
            return copied

        run_checkpoint = gx.checkpoints.run_checkpoint

        def audited(name, *args, **kwargs):
            self._in_marts_audit = name == "marts_publish" and "validate_marts" not in self.fired
            try:
                return run_checkpoint(name, *args, **kwargs)
            finally:
                self._in_marts_audit = False
                self.back()

        resolve = SqlAlchemyExecutionEngine.resolve_metric_bundle

        def resolve_while_down(engine, *args, **kwargs):
            if self._in_marts_audit and "validate_marts" not in self.fired:
                self.stop_for("validate_marts", 3.0)
            return resolve(engine, *args, **kwargs)

        hand_over = publish.swap._hand_over

        def hand_over_then_restart(conn, readers):
            hand_over(conn, readers)
            if "publish_marts" not in self.fired:
                self.restart("publish_marts")

        collect = monitoring.run_report.collect

        def collect_while_down(*args, **kwargs):
            if "build_report" not in self.fired:
                self.stop_for("build_report", 1.0)
            try:
                return collect(*args, **kwargs)
            finally:
                self.back()

        monkeypatch.setattr(extract.load, "_copy_file", copy_then_restart)
        monkeypatch.setattr(gx.checkpoints, "run_checkpoint", audited)
        monkeypatch.setattr(SqlAlchemyExecutionEngine, "resolve_metric_bundle", resolve_while_down)
        monkeypatch.setattr(publish.swap, "_hand_over", hand_over_then_restart)
        monkeypatch.setattr(monitoring.run_report, "collect", collect_while_down)


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("shop") / "inbox"
    write_days(folder, DAY1, 2)  # two files per entity: an outage can hit between them
    return folder


@pytest.fixture(scope="module")
def outage_run(airflow_db: str, platform, inbox: Path) -> tuple:
    _fresh_warehouse(platform.warehouse_url)
    outages = Outages(platform.cluster)
    started = time.monotonic()
    with pytest.MonkeyPatch.context() as monkeypatch:
        outages.install(monkeypatch)
        run = _run(inbox, datetime(2026, 11, 21, 7, tzinfo=UTC), monkeypatch)
        outages.back()
    return run, outages.fired, time.monotonic() - started


def _tries(run) -> dict[str, tuple[str, int]]:
    return {ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances()}


def test_the_run_succeeds_and_each_task_the_outage_hit_was_retried(outage_run) -> None:
    run, fired, _ = outage_run
    assert sorted(fired) == sorted(HIT)  # every outage happened
    tries = _tries(run)
    assert run.state == "success", tries
    assert {task: tries[task] for task in HIT} == {task: ("success", 2) for task in HIT}
    assert all(state == "success" for task, (state, _) in tries.items() if task not in HIT), tries


def test_nothing_was_loaded_twice(outage_run, platform, inbox: Path) -> None:
    counts = _raw_counts(platform.warehouse_url)
    assert counts == {entity: _file_rows(inbox, entity) for entity in ENTITIES}
    with psycopg.connect(platform.warehouse_url) as conn:
        ledger = conn.execute(
            "select status, count(*), count(distinct source) from raw.load_ledger group by 1"
        )
        # one ledger entry per file: the retry skipped the file that had committed
        assert ledger.fetchall() == [("loaded", 10, 10)]


def test_the_published_marts_hold_what_the_files_imply(outage_run, platform, inbox: Path) -> None:
    """As a run with no outage: the marts equal what the files imply (tests/e2e/test_elt_ecommerce.py)."""
    from tests.e2e.test_elt_ecommerce import _marts, implied

    run, _, _ = outage_run
    assert _marts(platform.warehouse_url) == implied(inbox)
    assert sum(len(rows) for rows in _published(platform.warehouse_url).values()) > 100
    with psycopg.connect(platform.warehouse_url) as conn:
        (publications,) = conn.execute(
            "select count(*) from monitoring.publications where run_id = %s", [run.run_id]
        ).fetchone()
    assert publications == 1


def test_the_outage_left_no_quality_verdict(outage_run, platform) -> None:
    """The gate that errored on the outage recorded nothing; its retry recorded the clean verdict (as many
    outcomes as the checkpoints hold: no row twice)."""
    run, _, _ = outage_run
    found = _gx_results(platform.warehouse_url, run.run_id)
    assert [(checkpoint, n) for checkpoint, n, *_ in found] == [("marts_publish", 36), ("raw_landed", 40)]
    assert all(failed == errored == 0 for _, _, failed, errored in found), found


# -- what `make run` says (stack/run.py) --------------------------------------------------------------

_STARTED = "[info     ] [DAG TEST] starting task_id=validate_marts map_index=-1 [airflow.sdk.definitions.dag]"
_ENDED = "[info     ] [DAG TEST] end task task_id=validate_marts map_index=-1 [airflow.sdk.definitions.dag]"
_STATE = (
    "[info     ] Task instance state updated    [...] loc=task_instances.py:485 new_state={} rows_affected=1"
)
_LOG = [  # an `airflow dags test` log, cut down: validate_marts lost its connection, was retried, passed
    _STARTED,
    '[error    ] An SQL execution Exception occurred.  OperationalError: "(psycopg2.OperationalError)'
    " server closed the connection unexpectedly",
    "gx.gate.WarehouseUnavailable: checkpoint 'marts_publish': the warehouse connection was lost (...)",
    _STATE.format("up_for_retry"),
    _ENDED,
    _STARTED,
    _STATE.format("success"),
    _ENDED,
]


def test_make_run_says_which_task_lost_the_connection_and_that_airflow_retried_it(tmp_path, capsys) -> None:
    from stack.run import _print_outages

    log = tmp_path / "run.log"
    log.write_text("\n".join(f"2026-11-30T19:00:05.1Z {line}" for line in _LOG))
    assert _print_outages(log) is False
    said = capsys.readouterr().out
    assert said.strip() == (
        "↻ the database connection was lost during validate_marts (server closed the connection"
        " unexpectedly); Airflow retried it"
    )


def test_make_run_reports_an_outage_airflow_could_not_outlast_in_plain_words(
    outage_run, airflow_db: str, platform, inbox: Path, capsys
) -> None:
    """`make run`'s own loop: `airflow dags test` in a subprocess, its metadata polled from the same
    Postgres. Postgres goes down as validate_marts starts and comes back only after the gate gave up (its
    log says WarehouseUnavailable) and a little more: `airflow dags test` cannot record the task's state
    then, and stops. `make run` waits for Postgres, says what happened in a few lines with no traceback,
    and the published marts stay as they were."""
    from stack.run import DAG_ID, _print_errors, _run_dag

    url = platform.warehouse_url
    write_days(inbox, DAY1 + timedelta(days=2), 1)  # something new to load, build, audit
    published = _published(url)
    variables = {**os.environ, "AIRFLOW_VAR_SHOP_INBOX": str(inbox)}
    variables["AIRFLOW_VAR_SHOP_INBOX_SETTLE_SECONDS"] = "0"
    logical = datetime(2026, 11, 21, 8, tzinfo=UTC)
    log = platform.state / "logs" / f"{DAG_ID}-{logical:%Y%m%dT%H%M%S}.log"  # where _run_dag writes it
    finished = threading.Event()

    def gate_gave_up() -> bool:
        return log.exists() and "gx.gate.WarehouseUnavailable" in log.read_text(errors="replace")

    def down_during_validate_marts() -> None:
        while not finished.is_set():
            try:
                with psycopg.connect(airflow_db) as conn:
                    running = conn.execute(
                        "select 1 from task_instance where dag_id = %s and task_id = 'validate_marts'"
                        " and state = 'running'",
                        [DAG_ID],
                    ).fetchone()
            except psycopg.Error:
                running = None
            if running:  # GX is building its context or already querying
                time.sleep(0.5)
                platform.cluster.stop()
                deadline = time.monotonic() + 120
                while not gate_gave_up() and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(3.0)  # the task ends, and cannot say how
                platform.cluster.start()
                return
            time.sleep(0.3)

    restarter = threading.Thread(target=down_during_validate_marts)
    restarter.start()
    try:
        ok, log, run_id = _run_dag(platform, variables, logical)
        _print_errors(log)
    finally:
        finished.set()
        restarter.join()
        platform.cluster.start()
    said = capsys.readouterr().out
    with psycopg.connect(airflow_db) as conn:  # `airflow dags test` left it running: not ours to keep
        conn.execute("update dag_run set state = 'failed' where run_id = %s and state = 'running'", [run_id])
    assert not ok
    assert "Postgres is not answering" in said  # the poll lost its connection and kept waiting
    assert "✗ the database connection was lost during validate_marts" in said, said
    assert "An outage, not bad data" in said
    assert "Traceback" not in said and "psycopg" not in said and "Error" not in said, said
    assert _published(url) == published  # the audit never finished: nothing was published
