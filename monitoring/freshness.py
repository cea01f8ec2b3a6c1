"""dbt source freshness: `dbt source freshness` against the warehouse, its verdicts into
`monitoring.source_freshness` (the thresholds are the sources' own, in `_shop__sources.yml`).

A source table with no row yet is not judged as infinitely old: neither an empty one (dbt dates its
newest row year 1) nor one the loader has not created yet (dbt's runtime error). Its age counts from the
warehouse's first delivery of any source (`raw.load_ledger`), so a table that simply has not landed yet,
in the middle of the first load, is not stale, while a source the shop never sends becomes stale once
the limit has passed since the others started arriving. Before any delivery nothing is awaited yet:
such a table passes with no age."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg

from monitoring import schema

DBT_PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"


def profile_env(url: str) -> dict[str, str]:
    """The process environment with what `dbt_project/profiles.yml` reads, pointed at `url`'s database."""
    parts = urlsplit(url)
    return {
        **os.environ,
        "WAREHOUSE_HOST": parts.hostname or "127.0.0.1",
        "WAREHOUSE_PORT": str(parts.port or 5432),
        "WAREHOUSE_USER": unquote(parts.username or ""),
        "WAREHOUSE_PASSWORD": unquote(parts.password or ""),
        "WAREHOUSE_DB": parts.path.lstrip("/"),
    }


def _run_dbt(url: str, out: Path) -> tuple[dict, dict]:
    """dbt's freshness results and the sources it checked (from the manifest it wrote)."""
    cmd = [
        str(Path(sys.executable).with_name("dbt")), "source", "freshness",
        "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT),
        "--target-path", str(out), "--log-path", str(out / "logs"), "--output", str(out / "sources.json"),
    ]  # fmt: skip
    done = subprocess.run(cmd, env=profile_env(url), capture_output=True, text=True, cwd=DBT_PROJECT)
    sources = out / "sources.json"
    if not sources.exists():  # a stale source exits 1 with results; no file means dbt itself failed
        raise RuntimeError(f"dbt source freshness failed ({done.returncode}):\n{done.stdout[-3000:]}")
    manifest = json.loads((out / "manifest.json").read_text())
    return json.loads(sources.read_text()), manifest["sources"]


def _first_delivery(conn: psycopg.Connection) -> datetime | None:
    """When the warehouse first loaded a batch of any source; None before any (or without a ledger)."""
    if not schema.exists(conn, "raw.load_ledger"):
        return None
    return conn.execute("select min(started_at) from raw.load_ledger where status = 'loaded'").fetchone()[0]


def _nothing_landed(result: dict | None, exists: bool) -> bool:
    """Whether the table has no row yet: dbt leaves a missing table out of its results (a database error)
    and dates an empty one's newest row year 1."""
    if result is None:
        return not exists
    newest = result.get("max_loaded_at")
    return newest is not None and datetime.fromisoformat(newest).year == 1


def _awaited(row: dict, since: datetime | None) -> dict:
    """A table with no row yet, judged on the time since the first delivery (pass, no age, before it)."""
    age = (row["checked_at"] - since).total_seconds() if since is not None else None
    status = "pass"
    if age is not None and row["error_after_s"] is not None and age > row["error_after_s"]:
        status = "error"
    elif age is not None and row["warn_after_s"] is not None and age > row["warn_after_s"]:
        status = "warn"
    return {**row, "status": status, "max_loaded_at": None, "age_s": age}


def check(url: str, run_id: str | None = None) -> list[dict]:
    """Run dbt's freshness check and record one row per source table with a freshness rule; the rows."""
    with tempfile.TemporaryDirectory(prefix="dbt-freshness-") as tmp:
        report, sources = _run_dbt(url, Path(tmp))
    checked_at = datetime.now(UTC)
    with psycopg.connect(url) as conn:
        since = _first_delivery(conn)
        existing = {
            uid for uid, s in sources.items() if schema.exists(conn, f"{s['schema']}.{s['identifier']}")
        }
    results = {result["unique_id"]: result for result in report["results"]}
    rows = []
    for unique_id, source in sources.items():
        rule = source.get("freshness") or {}
        if _seconds(rule.get("warn_after")) is None and _seconds(rule.get("error_after")) is None:
            continue  # no freshness rule: dbt does not check it
        result = results.get(unique_id)
        row = {
            "checked_at": checked_at,
            "run_id": run_id,
            "source": source["source_name"],
            "table_name": source["name"],
            "status": result["status"] if result else "runtime error",
            "max_loaded_at": (result or {}).get("max_loaded_at"),
            "age_s": (result or {}).get("max_loaded_at_time_ago_in_s"),
            "warn_after_s": _seconds(rule.get("warn_after")),
            "error_after_s": _seconds(rule.get("error_after")),
        }
        rows.append(_awaited(row, since) if _nothing_landed(result, unique_id in existing) else row)
    with psycopg.connect(url) as conn:
        schema.ensure(conn)
        with conn.cursor() as cur:
            cur.executemany(
                "insert into monitoring.source_freshness values (%(checked_at)s, %(run_id)s, %(source)s,"
                " %(table_name)s, %(status)s, %(max_loaded_at)s, %(age_s)s, %(warn_after_s)s,"
                " %(error_after_s)s)",
                rows,
            )
    return rows


_PERIOD = {"minute": 60, "hour": 3600, "day": 86400}


def _seconds(rule: dict | None) -> float | None:
    if not rule or rule.get("count") is None:
        return None
    return float(rule["count"]) * _PERIOD[rule["period"]]
