"""One-time steps that later runs reuse: Airflow's metadata schema, its logins and the dbt manifest.

Each is redone only when its input changed (Airflow and FAB versions and database; the logins' passwords
in `.env`; the dbt project's files), so a second `make run` skips them.
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
    versions = f"{version('apache-airflow')} fab {version('apache-airflow-providers-fab')}"
    stamp = f"{versions} {env['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN'].rsplit('@', 1)[-1]}"
    if marker.exists() and marker.read_text() == stamp:
        return False
    run_logged([bin_path("airflow"), "db", "migrate"], env, state / "logs" / "airflow-migrate.log")
    marker.write_text(stamp)
    return True


def airflow_logins(env: dict[str, str], state: Path, settings: dict[str, str]) -> bool:
    """The FAB logins made or reset from `.env` (stack/airflow_logins.py), unless the same passwords
    were applied to this migrated database already. True if it ran. Run after `airflow_migrate`."""
    from stack.airflow_logins import LOGINS

    marker = state / "airflow" / ".logins"
    passwords = {key: settings[key] for _, key in LOGINS.values()}
    wanted = {**passwords, "migrated": (state / "airflow" / ".migrated").read_text()}
    stamp = hashlib.sha256(repr(sorted(wanted.items())).encode()).hexdigest()
    if marker.exists() and marker.read_text() == stamp:
        return False
    log = state / "logs" / "airflow-logins.log"
    run_logged([sys.executable, "-m", "stack.airflow_logins"], {**env, **passwords}, log)
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
