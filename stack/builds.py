"""One-time steps that later runs reuse: Airflow's metadata schema and the dbt manifest.

Each is redone only when its input changed (Airflow version and database; the dbt project's files),
so a second `make run` skips them.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from stack.settings import ROOT

DBT_PROJECT = ROOT / "dbt_project"
MANIFEST = DBT_PROJECT / "target" / "manifest.json"
_DBT_IGNORED = {"target", "logs", "dbt_packages"}


def bin_path(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def run_logged(cmd: list[str], env: dict[str, str], log: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as fh:
        result = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
    if result.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-30:])
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}); see {log}\n{tail}")


def airflow_migrate(env: dict[str, str], state: Path) -> bool:
    """`airflow db migrate` unless this Airflow version already migrated this database. True if it ran."""
    from importlib.metadata import version

    marker = state / "airflow" / ".migrated"
    stamp = f"{version('apache-airflow')} {env['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN'].rsplit('@', 1)[-1]}"
    if marker.exists() and marker.read_text() == stamp:
        return False
    run_logged([bin_path("airflow"), "db", "migrate"], env, state / "logs" / "airflow-migrate.log")
    marker.write_text(stamp)
    return True


def dbt_project_hash(project: Path = DBT_PROJECT) -> str:
    digest = hashlib.sha256()
    for path in sorted(project.rglob("*")):
        rel = path.relative_to(project)
        if path.is_file() and rel.parts[0] not in _DBT_IGNORED:
            digest.update(rel.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def dbt_manifest(env: dict[str, str], state: Path) -> bool:
    """Build dbt_project/target/manifest.json with `dbt parse` when the project changed. True if built.

    Cosmos renders the DAG from this file (LoadMode.DBT_MANIFEST), so Airflow never runs dbt to parse.
    """
    marker = MANIFEST.with_name(".manifest-source-hash")
    current = dbt_project_hash()
    if MANIFEST.exists() and marker.exists() and marker.read_text() == current:
        return False
    cmd = [
        bin_path("dbt"),
        "parse",
        "--project-dir",
        str(DBT_PROJECT),
        "--profiles-dir",
        str(DBT_PROJECT),
        "--log-path",
        str(state / "logs" / "dbt"),
    ]
    run_logged(cmd, env, state / "logs" / "dbt-parse.log")
    marker.write_text(current)
    return True
