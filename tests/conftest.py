"""The test session's platform: a real, throwaway Postgres started by the same code as `make run`.

It runs before collection (`pytest_configure`), so Airflow, imported later by the tests, reads the
throwaway cluster's settings. Nothing of the developer's own `.env` or `.state/` is used or touched.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from stack.databases import Database, ensure_schemas
from stack.environment import Environment
from stack.settings import Settings

_PLATFORM: dict[str, object] = {}


def pytest_configure(config: pytest.Config) -> None:
    state = Path(tempfile.mkdtemp(prefix="shop-test-"))
    state.chmod(0o755)  # the server may run as another OS user when the tests run as root
    env = Environment.load(settings=Settings.generate(), state=state, throwaway=True)
    env.start_postgres()
    os.environ.update(env.variables())
    _PLATFORM.update(env=env, state=state)


def pytest_unconfigure(config: pytest.Config) -> None:
    env = _PLATFORM.get("env")
    if isinstance(env, Environment):
        if "airflow.settings" in sys.modules:  # close Airflow's pooled connections before the server goes
            sys.modules["airflow.settings"].dispose_orm()
        env.stop_postgres()
        shutil.rmtree(_PLATFORM["state"], ignore_errors=True)


@pytest.fixture(scope="session")
def platform() -> Environment:
    return _PLATFORM["env"]  # type: ignore[return-value]


@pytest.fixture(scope="module")
def warehouse_url(platform: Environment, request: pytest.FixtureRequest) -> str:
    """libpq URL of an empty warehouse database of the test module's own (schemas raw, staging, marts,
    monitoring exist). The DAG tests use `platform.warehouse_url`, the database Airflow's connection names."""
    name = "wh_" + re.sub(r"\W", "_", request.module.__name__.rsplit(".", 1)[-1])[:40]
    owner = platform.warehouse
    with psycopg.connect(platform.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("create database {} owner {}").format(sql.Identifier(name), sql.Identifier(owner.owner))
        )
    url = platform.url(Database(name, owner.owner, owner.password))
    ensure_schemas(url)
    return url


@pytest.fixture(scope="session")
def dbt_manifest(platform: Environment) -> Path:
    """dbt_project/target/manifest.json, (re)built when the dbt project changed, as `make run` does."""
    from stack import builds

    builds.dbt_manifest(dict(os.environ), platform.state)
    return builds.MANIFEST


@pytest.fixture(scope="session")
def airflow_db(platform: Environment, dbt_manifest: Path) -> str:
    """Airflow's metadata database, migrated."""
    from stack import builds

    builds.airflow_migrate(dict(os.environ), platform.state)
    builds.airflow_logins(dict(os.environ), platform.state, platform.settings)
    return platform.airflow_db_url


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (the system's, see stack/browser.py) driven by Playwright; skips without one."""
    from stack.browser import LAUNCH_ARGS, find_chromium

    executable = find_chromium()
    if executable is None:
        pytest.skip("no Chromium on this machine (`python -m stack browser` says how to install one)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS, headless=True)
        yield chromium
        chromium.close()
