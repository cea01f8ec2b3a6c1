"""Test helpers for the warehouse: run the real dbt CLI against a test database, replay generated days.

(Not named `dbt_*.py`: dbt's plugin discovery imports such files.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg import sql

from extract.contract import ENTITY_ORDER, FIELDS
from extract.load import load_folder
from monitoring.freshness import profile_env

ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT = ROOT / "dbt_project"


def dbt(url: str, *args: str, target: Path, check: bool = True) -> list[dict]:
    """Run `dbt <args>` on the project against `url` (artefacts in `target`); its run results. Fails with
    dbt's output when dbt fails, unless `check` is False (a run expected to fail: read its results)."""
    cmd = [
        str(Path(sys.executable).with_name("dbt")),
        *args,
        "--project-dir", str(DBT_PROJECT),
        "--profiles-dir", str(DBT_PROJECT),
        "--target-path", str(target),
        "--log-path", str(target / "logs"),
    ]  # fmt: skip
    done = subprocess.run(cmd, env=profile_env(url), capture_output=True, text=True, cwd=DBT_PROJECT)
    failed = f"dbt {' '.join(args)} failed:\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}"
    assert done.returncode == 0 or not check, failed
    results = target / "run_results.json"
    return json.loads(results.read_text())["results"] if results.exists() else []


def load_day(url: str, landing: Path, day: str, load_time: datetime) -> None:
    """Load one generated day as the daily run would, its rows stamped with the day's load time (the
    generator's ground truth assumes day D is loaded at D+1 00:00Z; a replay happens later)."""
    with psycopg.connect(url) as conn:
        has_ledger = conn.execute("select to_regclass('raw.load_ledger') is not null").fetchone()[0]
        query = "select coalesce(max(batch_id), 0) from raw.load_ledger" if has_ledger else "select 0"
        (before,) = conn.execute(query).fetchone()
    for entity in ENTITY_ORDER:
        load_folder(url, entity, landing / entity / day)
    with psycopg.connect(url) as conn:
        for entity in FIELDS:
            conn.execute(
                sql.SQL("update {} set _loaded_at = %s where _batch_id > %s").format(
                    sql.Identifier("raw", entity)
                ),
                (load_time, before),
            )


def table_checksums(url: str, schema: str) -> dict[str, str]:
    """md5 of every row of every table of `schema`, in order, by table name: equal means byte-identical."""
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "select table_name from information_schema.tables where table_schema = %s"
            " and table_type = 'BASE TABLE' order by 1",
            [schema],
        ).fetchall()
        return {
            name: conn.execute(
                sql.SQL(
                    "select md5(coalesce(string_agg(t::text, ',' order by t::text), '')) from {} t"
                ).format(sql.Identifier(schema, name))
            ).fetchone()[0]
            for (name,) in tables
        }
