"""Airflow's DAG runs and task instances, read through the REST API v2 into `monitoring.airflow_*`.

Airflow 3 tasks cannot use the metadata ORM: the monitoring DAG reads the API as a dedicated read-only
account (`viewer` role) whose token it gets from `POST /auth/token`. Runs updated since the last
collection (minus an hour of overlap; a week on the first run) are upserted with their task instances;
a finished run's start and duration are its tasks' (first start to last end).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import psycopg

from monitoring import schema

log = logging.getLogger(__name__)
PAGE = 100


@dataclass(frozen=True)
class AirflowApi:
    base_url: str
    username: str
    password: str
    timeout: float = 10.0

    def client(self) -> httpx.Client:
        """An HTTP client carrying a fresh token of the monitoring account."""
        answer = httpx.post(
            f"{self.base_url}/auth/token",
            json={"username": self.username, "password": self.password},
            timeout=self.timeout,
        )
        if answer.status_code >= 400:
            raise RuntimeError(
                f"Airflow at {self.base_url} refused a token for {self.username!r}:"
                f" HTTP {answer.status_code} {answer.text[:200]}"
            )
        token = answer.json()["access_token"]
        return httpx.Client(
            base_url=f"{self.base_url}/api/v2",
            headers={"Authorization": f"Bearer {token}"},
            timeout=self.timeout,
        )


def _pages(client: httpx.Client, path: str, key: str, params: dict) -> list[dict]:
    found: list[dict] = []
    while True:
        answer = client.get(path, params={**params, "limit": PAGE, "offset": len(found)})
        answer.raise_for_status()
        body = answer.json()
        found.extend(body[key])
        if not body[key] or len(found) >= body["total_entries"]:
            return found


def _since(conn: psycopg.Connection) -> datetime:
    (last,) = conn.execute("select max(collected_at) from monitoring.airflow_dag_runs").fetchone()
    return (last - timedelta(hours=1)) if last else datetime.now(UTC) - timedelta(days=7)


_RUN_SQL = """
insert into monitoring.airflow_dag_runs
    (dag_id, run_id, run_type, state, logical_date, start_date, end_date, duration_s, collected_at)
values (%(dag_id)s, %(dag_run_id)s, %(run_type)s, %(state)s, %(logical_date)s, %(start_date)s,
        %(end_date)s, %(duration)s, now())
on conflict (dag_id, run_id) do update set
    state = excluded.state, start_date = excluded.start_date, end_date = excluded.end_date,
    duration_s = excluded.duration_s, collected_at = now()
"""
_TI_SQL = """
insert into monitoring.airflow_task_instances
    (dag_id, run_id, task_id, map_index, state, try_number, duration_s, start_date, end_date, operator,
     collected_at)
values (%(dag_id)s, %(dag_run_id)s, %(task_id)s, %(map_index)s, %(state)s, %(try_number)s, %(duration)s,
        %(start_date)s, %(end_date)s, %(operator)s, now())
on conflict (dag_id, run_id, task_id, map_index) do update set
    state = excluded.state, try_number = excluded.try_number, duration_s = excluded.duration_s,
    start_date = excluded.start_date, end_date = excluded.end_date, collected_at = now()
"""


def _time_from_tasks(runs: list[dict], tasks: list[dict]) -> None:
    """A run's start and duration from its tasks: first task start to last task end. (A run made by
    `airflow dags test` for a past date reports that date as its start, so its own duration is days.)"""
    spans: dict[tuple[str, str], list[datetime]] = {}
    for ti in tasks:
        if ti["start_date"] and ti["end_date"]:
            key = (ti["dag_id"], ti["dag_run_id"])
            span = [datetime.fromisoformat(ti["start_date"]), datetime.fromisoformat(ti["end_date"])]
            old = spans.setdefault(key, span)
            spans[key] = [min(old[0], span[0]), max(old[1], span[1])]
    for run in runs:
        span = spans.get((run["dag_id"], run["dag_run_id"]))
        if span and run["state"] in ("success", "failed"):
            run["start_date"], run["duration"] = span[0].isoformat(), (span[1] - span[0]).total_seconds()


def collect_runs(url: str, api: AirflowApi) -> dict[str, int]:
    """Upsert the DAG runs updated since the last collection and their task instances; counts."""
    with psycopg.connect(url) as conn:
        schema.ensure(conn)
        since = _since(conn)
        with api.client() as client:
            runs = _pages(client, "/dags/~/dagRuns", "dag_runs", {"updated_at_gte": since.isoformat()})
            tasks = []
            for run in runs:
                path = f"/dags/{run['dag_id']}/dagRuns/{quote(run['dag_run_id'], safe='')}/taskInstances"
                tasks.extend(_pages(client, path, "task_instances", {}))
        _time_from_tasks(runs, tasks)
        with conn.transaction(), conn.cursor() as cur:
            if runs:
                cur.executemany(_RUN_SQL, runs)
            if tasks:
                cur.executemany(_TI_SQL, tasks)
    log.info("collected %d DAG runs and %d task instances updated since %s", len(runs), len(tasks), since)
    return {"dag_runs": len(runs), "task_instances": len(tasks)}
