"""The weekly health check: each check returns a `Check` (name, ok, detail); `record` stores them in
`monitoring.health_checks` and says which failed.

- database: the warehouse answers, the expected roles exist, and this role reads `monitoring`;
- airflow: the API server's `/api/v2/monitor/health` reports every component healthy;
- docs: each docs site answers (an http URL, fetched with the monitoring account's token) or is built
  (a file path);
- disk: free space where the platform keeps its state and its database;
- summary: the warehouse's dbt tests (from the manifest, and the latest results) and GX suites (latest
  validation per checkpoint).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import psycopg

from extract.contract import FIELDS
from monitoring import schema
from monitoring.airflow_api import AirflowApi
from publish import MARTS

COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def database(url: str, roles: list[str]) -> Check:
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            found = {
                r for (r,) in conn.execute("select rolname from pg_roles where rolname = any(%s)", [roles])
            }
            reads = conn.execute("select has_schema_privilege('monitoring', 'usage')").fetchone()[0]
            (version,) = conn.execute("select current_setting('server_version')").fetchone()
    except psycopg.Error as down:
        return Check("database", False, f"warehouse unreachable: {down}".strip())
    missing = sorted(set(roles) - found)
    ok = not missing and reads
    detail = f"Postgres {version}; roles present: {sorted(found)}" + (
        f"; MISSING: {missing}" if missing else ""
    )
    return Check("database", ok, detail + ("" if reads else "; cannot use schema monitoring"))


def airflow(api: AirflowApi) -> Check:
    try:
        report = httpx.get(f"{api.base_url}/api/v2/monitor/health", timeout=api.timeout).json()
    except (httpx.HTTPError, ValueError) as down:
        return Check("airflow", False, f"API server unreachable at {api.base_url}: {down}")
    states = {part: (report.get(part) or {}).get("status", "absent") for part in COMPONENTS}
    bad = {part: state for part, state in states.items() if state != "healthy"}
    return Check("airflow", not bad, json.dumps(states))


def docs(api: AirflowApi, sites: dict[str, str]) -> Check:
    results, client = {}, None
    for name, where in sites.items():
        if where.startswith(("http://", "https://")):
            try:
                client = client or api.client()
                code = client.get(where).status_code
            except (httpx.HTTPError, RuntimeError) as down:
                code = f"unreachable ({down})"
            results[name] = "served" if code == 200 else f"HTTP {code} at {where}"
        else:
            results[name] = "built" if Path(where).is_file() else f"not built: {where} missing"
    if client:
        client.close()
    return Check("docs", all(v in ("served", "built") for v in results.values()), json.dumps(results))


def disk(paths: list[Path], min_free_gb: float) -> Check:
    seen, low = {}, []
    for path in paths:
        usage = shutil.disk_usage(path if path.exists() else path.parent)
        free_gb = usage.free / 1e9
        seen[str(path)] = f"{free_gb:.1f} GB free of {usage.total / 1e9:.0f} GB"
        if free_gb < min_free_gb:
            low.append(str(path))
    return Check("disk", not low, json.dumps(seen) + (f"; below {min_free_gb} GB: {low}" if low else ""))


_DBT_TESTS = """
select count(*) filter (where status = 'pass'), count(*) filter (where status in ('fail', 'error'))
from (select distinct on (unique_id) status from monitoring.dbt_results
      where resource_type in ('test', 'unit_test') order by unique_id, recorded_at desc) latest
"""
_GX_LATEST = """
with latest as (select distinct on (checkpoint) checkpoint, run_id from monitoring.gx_results
                order by checkpoint, validated_at desc)
select checkpoint, count(*) filter (where success), count(*),
       count(*) filter (where not success and severity = 'blocking')
from monitoring.gx_results join latest using (checkpoint, run_id) group by 1 order by 1
"""


def summary(url: str, manifest: Path) -> Check:
    parsed = json.loads(manifest.read_text()) if manifest.exists() else {}
    tests = sum(1 for n in parsed.get("nodes", {}).values() if n["resource_type"] == "test")
    unit = len(parsed.get("unit_tests", {}))
    with psycopg.connect(url) as conn:
        schema.ensure(conn)
        dbt = conn.execute(_DBT_TESTS).fetchone() if schema.exists(conn, "monitoring.dbt_results") else (0, 0)
        gx = conn.execute(_GX_LATEST).fetchall() if schema.exists(conn, "monitoring.gx_results") else []
    suites = len(FIELDS) + len(MARTS)
    gx_text = "; ".join(f"{cp} {ok}/{n} passed" for cp, ok, n, _ in gx) or "no validation yet"
    detail = (
        f"dbt: {tests} data tests and {unit} unit tests in the manifest, latest results {dbt[0]} passed,"
        f" {dbt[1]} failed; GX: {suites} suites, {gx_text}"
    )
    return Check("summary", dbt[1] == 0 and not any(blocking for *_, blocking in gx), detail)


def record(url: str, run_id: str | None, checks: list[Check]) -> list[Check]:
    """Store the checks (one timestamp for the lot); the failed ones."""
    with psycopg.connect(url) as conn:
        schema.ensure(conn)
        (now,) = conn.execute("select now()").fetchone()
        with conn.cursor() as cur:
            cur.executemany(
                "insert into monitoring.health_checks values (%s, %s, %s, %s, %s)",
                [(now, run_id, c.name, c.ok, c.detail) for c in checks],
            )
    return [c for c in checks if not c.ok]


def as_dict(check: Check) -> dict:
    return asdict(check)
