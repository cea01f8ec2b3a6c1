"""A throwaway warehouse for a benchmark: its own Postgres (fresh credentials) in a temporary folder.

The benches' `main` runs their `run` in it; the smoke tests (tests/bench) call `run` on the test session's
Postgres instead.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from stack.environment import Environment
from stack.settings import Settings


@contextmanager
def throwaway_warehouse(
    prefix: str, *, keep: bool = False, log_slow_ms: int | None = None
) -> Iterator[tuple[str, Path]]:
    """(the warehouse's URL, a work folder) on a Postgres started for the block, after printing the
    machine and the Postgres version; stopped and removed afterwards, unless `keep` (to look at plans).
    `log_slow_ms`: Postgres logs every statement that runs longer (`log_min_duration_statement`), with
    its plan and each node's actual rows and time (contrib's auto_explain)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    work.chmod(0o755)
    env = Environment.load(settings=Settings.generate(), state=work / "state", throwaway=False)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    try:
        env.start_postgres()
        bins = env.cluster.binaries() if env.cluster else None
        print(f"postgres: {bins.version if bins else 'external'}", flush=True)
        if log_slow_ms is not None:
            _log_slow(env, log_slow_ms)
        yield env.warehouse_url, work
    finally:
        if keep:
            print(f"\nkept: {work}, warehouse {env.warehouse_url}")
            print(f"stop with: pg_ctl -D {work}/state/postgres/data stop")
        else:
            env.stop_postgres()
            shutil.rmtree(work, ignore_errors=True)


def _log_slow(env: Environment, ms: int) -> None:
    """Log statements over `ms` milliseconds to the cluster's log, with their analysed plans, for the
    sessions opened from now on (auto_explain is loaded per session: no restart)."""
    settings = {
        "log_min_duration_statement": int(ms),
        "session_preload_libraries": "'auto_explain'",
        "auto_explain.log_min_duration": int(ms),
        "auto_explain.log_analyze": "on",
        "auto_explain.log_nested_statements": "on",  # the statements dbt's macros run in DO blocks too
    }
    with psycopg.connect(env.admin_url, autocommit=True) as conn:
        conn.execute("load 'auto_explain'")  # its settings exist once it is loaded
        for name, value in settings.items():  # names and values are this function's own, no input
            conn.execute(f"alter system set {name} = {value}")
        conn.execute("select pg_reload_conf()")
    where = env.cluster.logfile if env.cluster else "the server's log"
    print(f"statements over {int(ms)} ms are logged with their plans to {where}", flush=True)
