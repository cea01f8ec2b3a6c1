"""dbt source freshness: `dbt source freshness` against the warehouse, its verdicts into
`monitoring.source_freshness` (the thresholds are the sources' own, in `_shop__sources.yml`)."""

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


def _run_dbt(url: str, out: Path) -> dict:
    cmd = [
        str(Path(sys.executable).with_name("dbt")), "source", "freshness",
        "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT),
        "--target-path", str(out), "--log-path", str(out / "logs"), "--output", str(out / "sources.json"),
    ]  # fmt: skip
    done = subprocess.run(cmd, env=profile_env(url), capture_output=True, text=True, cwd=DBT_PROJECT)
    sources = out / "sources.json"
    if not sources.exists():  # a stale source exits 1 with results; no file means dbt itself failed
        raise RuntimeError(f"dbt source freshness failed ({done.returncode}):\n{done.stdout[-3000:]}")
    return json.loads(sources.read_text())


def check(url: str, run_id: str | None = None) -> list[dict]:
    """Run dbt's freshness check and record one row per source table; the rows."""
    with tempfile.TemporaryDirectory(prefix="dbt-freshness-") as tmp:
        report = _run_dbt(url, Path(tmp))
    checked_at = datetime.now(UTC)
    rows = []
    for result in report["results"]:
        _, _, source, table = result["unique_id"].split(".", 3)
        criteria = result.get("criteria") or {}
        rows.append(
            {
                "checked_at": checked_at,
                "run_id": run_id,
                "source": source,
                "table_name": table,
                "status": result["status"],
                "max_loaded_at": result.get("max_loaded_at"),
                "age_s": result.get("max_loaded_at_time_ago_in_s"),
                "warn_after_s": _seconds(criteria.get("warn_after")),
                "error_after_s": _seconds(criteria.get("error_after")),
            }
        )
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
