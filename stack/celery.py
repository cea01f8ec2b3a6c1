"""Airflow's CeleryExecutor on one machine: the variables that select it, and its workers.

`celery_variables()` turns the platform's variables into the Celery mode's: the CeleryExecutor, Redis
(stack/redis.py) as the broker, and Airflow's metadata database as Celery's result backend.
`start_workers(variables, state)` spawns `airflow celery worker` processes (each its own Celery node
name, `worker<N>@<host>`, and a pidfile so `make down` stops it) and waits until each answers a Celery
ping over the broker; `stop_workers()` ends them. `variables` must be what the Airflow services run
with (`AirflowServices.environment()`): the workers' tasks reach the API server's execution API.

No worker starts a log server (`--skip-serve-logs`: it would listen on every interface, port 8793);
the workers write task logs into the one log folder that the API server reads, as the services do.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from stack import processes

PREFIX = "airflow-worker-"


class WorkerFailed(RuntimeError):
    pass


def result_backend(sql_alchemy_conn: str) -> str:
    """Celery's database result backend on the same Postgres database, through psycopg 3 (the
    project's driver, and the provider's own choice for a Postgres backend): `db+postgresql+psycopg://`."""
    scheme, sep, rest = sql_alchemy_conn.partition("://")
    if not sep or not scheme.startswith("postgresql"):
        raise ValueError(f"not a Postgres SQLAlchemy URL: {scheme}://…")
    return f"db+postgresql+psycopg://{rest}"


def celery_variables(
    base_variables: dict[str, str], redis_url: str, result_backend_sql_url: str | None = None
) -> dict[str, str]:
    """`base_variables` with the CeleryExecutor selected. The result backend defaults to Airflow's
    metadata database (`AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`); Celery adds its two tables there."""
    sql_url = result_backend_sql_url or base_variables["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    return {
        **base_variables,
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": redis_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": result_backend(sql_url),
        # Celery's Redis transport redelivers a task unacknowledged for this long: a day, the provider's
        # default, said here so each worker does not warn that it is unset.
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "86400",
    }


def node_name(n: int) -> str:
    """The Celery node name of worker `n`, as the worker expands `worker<n>@%h`."""
    from celery.utils.nodenames import host_format

    return host_format(f"worker{n}@%h")


def _log(state: Path, n: int) -> Path:
    return state / "logs" / f"{PREFIX}{n}.log"


def start_workers(
    variables: dict[str, str], state: Path, count: int = 2, concurrency: int = 2, timeout: float = 120.0
) -> list[str]:
    """Spawn `count` Celery workers of `concurrency` task slots each (not those already running); wait
    until all answer a ping. Returns their pidfile names (`airflow-worker-<N>`)."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    running = processes.running()
    procs = {}
    for n in range(1, count + 1):
        if f"{PREFIX}{n}" in running:
            continue
        cmd = [airflow, "celery", "worker", "--celery-hostname", f"worker{n}@%h"]
        cmd += ["--concurrency", str(concurrency), "--skip-serve-logs"]
        procs[n] = processes.spawn(f"{PREFIX}{n}", cmd, variables, _log(state, n))
    names = {node_name(n) for n in range(1, count + 1)}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for n, proc in procs.items():
            if proc.poll() is not None:
                stop_workers()
                raise WorkerFailed(f"Celery worker {n} exited with {proc.returncode}; see {_log(state, n)}")
        if names <= set(ping(variables["AIRFLOW__CELERY__BROKER_URL"])):
            return [f"{PREFIX}{n}" for n in range(1, count + 1)]
    stop_workers()
    raise WorkerFailed(
        f"Celery workers not answering after {timeout:.0f}s; see {state / 'logs'}/{PREFIX}*.log"
    )


def ping(broker_url: str, timeout: float = 1.0) -> list[str]:
    """Node names of the Celery workers that answer a ping through the broker within `timeout`."""
    from celery import Celery
    from kombu.exceptions import OperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError

    app = Celery(broker=broker_url)
    try:
        return [name for reply in app.control.ping(timeout=timeout) for name in reply]
    # the broker is not answering, or dropped the connection (seen right after a restart of Redis, when
    # redis-py's error came through kombu unwrapped)
    except (OperationalError, RedisConnectionError, OSError):
        time.sleep(timeout)
        return []
    finally:
        app.close()


def stop_workers() -> None:
    """SIGTERM every worker at once (Celery's warm shutdown: running tasks finish), then wait for
    each, SIGKILL if stuck."""
    processes.stop_together({n: pid for n, pid in processes.running().items() if n.startswith(PREFIX)})
