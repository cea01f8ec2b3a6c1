"""The local platform's wiring: which Postgres, which URLs, and the environment every process gets.

`EXTERNAL_POSTGRES_URL` (an admin connection: a role with CREATEROLE and CREATEDB) selects a Postgres the
user runs; otherwise the project runs its own cluster under `.state/postgres`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from orchestration.connections import AIRFLOW_API_CONN_ID, LOADER_CONN_ID, READER_CONN_ID, WAREHOUSE_CONN_ID
from stack.airflow_logins import AUTH_MANAGER
from stack.databases import (
    LOADER_ROLE,
    READER_ROLE,
    TRANSFORMER_ROLE,
    Database,
    databases_of,
    ensure_all,
    url_of,
    use_roles_of,
)
from stack.postgres import Cluster
from stack.settings import ROOT, Settings, state_dir


@dataclass
class Environment:
    settings: Settings
    state: Path
    cluster: Cluster | None
    admin_url: str
    host: str
    port: int

    @classmethod
    def load(
        cls, settings: Settings | None = None, state: Path | None = None, throwaway: bool = False
    ) -> Environment:
        settings = settings or Settings.load()
        state = state or state_dir()
        external = settings.get("EXTERNAL_POSTGRES_URL")
        if external:
            parts = urlsplit(external)
            return cls(settings, state, None, external, parts.hostname or "127.0.0.1", parts.port or 5432)
        port = int(settings["PG_PORT"])
        cluster = Cluster(
            state / "postgres",
            port,
            settings["PG_SUPERUSER"],
            settings["PG_SUPERUSER_PASSWORD"],
            throwaway=throwaway,
        )
        return cls(settings, state, cluster, cluster.url(), "127.0.0.1", port)

    # -- databases ------------------------------------------------------------------------------
    @property
    def databases(self) -> list[Database]:
        return databases_of(self.settings)

    def url(self, db: Database, driver: str = "postgresql") -> str:
        return url_of(db, self.host, self.port).replace("postgresql://", f"{driver}://", 1)

    @property
    def warehouse(self) -> Database:
        return self.databases[1]

    @property
    def warehouse_url(self) -> str:
        return self.url(self.warehouse)

    @property
    def use_roles(self) -> dict[str, str]:
        """The warehouse's least-privilege login roles (see stack/databases.py) and their passwords."""
        return use_roles_of(self.settings)

    def role_url(self, role: str) -> str:
        """libpq URL of the warehouse as one of `use_roles`."""
        return self.url(Database(self.warehouse.name, role, self.use_roles[role]))

    @property
    def airflow_db_url(self) -> str:
        return self.url(self.databases[0])

    def start_postgres(self) -> None:
        """Start (initialising on first use) the embedded cluster; create roles, databases, schemas."""
        if self.cluster:
            self.cluster.start()
        ensure_all(self.admin_url, self.settings, self.host, self.port)

    def stop_postgres(self) -> bool:
        return bool(self.cluster and self.cluster.stop())

    # -- the shop's inbox ------------------------------------------------------------------------
    @property
    def demo_home(self) -> Path:
        """The simulated shop's folder (simshop.delivery): its inbox, its ground truth."""
        return self.state / "demo"

    @property
    def inbox(self) -> str:
        """Where the shop delivers: `INBOX` (.env or the environment), a folder or s3://bucket/prefix; by
        default the demo shop's inbox."""
        return self.settings.get("INBOX") or str(self.demo_home / "inbox")

    def inbox_variables(self) -> dict[str, str]:
        found = {"AIRFLOW_VAR_SHOP_INBOX": self.inbox}
        if self.settings.get("INBOX_SETTLE_SECONDS"):
            found["AIRFLOW_VAR_SHOP_INBOX_SETTLE_SECONDS"] = self.settings["INBOX_SETTLE_SECONDS"]
        if self.settings.get("AIRFLOW_CONN_SHOP_INBOX"):
            found["AIRFLOW_CONN_SHOP_INBOX"] = self.settings["AIRFLOW_CONN_SHOP_INBOX"]
        return found

    # -- process environment --------------------------------------------------------------------
    def variables(self) -> dict[str, str]:
        """Environment for Airflow, dbt, GX and the project's own code (on top of os.environ)."""
        wh = self.warehouse
        logins = {
            WAREHOUSE_CONN_ID: TRANSFORMER_ROLE,
            LOADER_CONN_ID: LOADER_ROLE,
            READER_CONN_ID: READER_ROLE,
        }
        passwords = self.use_roles
        warehouse_conns = {
            f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(
                {
                    "conn_type": "postgres",
                    "host": self.host,
                    "port": self.port,
                    "login": login,
                    "password": passwords[login],
                    "schema": wh.name,
                }
            )
            for conn_id, login in logins.items()
        }
        airflow_home = self.state / "airflow"
        api_port = self.settings["AIRFLOW_API_PORT"]
        api = {
            "conn_type": "http",
            "host": "127.0.0.1",
            "port": int(api_port),
            "login": "monitor",
            "password": self.settings["AIRFLOW_MONITOR_PASSWORD"],
        }
        return {
            "SHOP_STATE_DIR": str(self.state),
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.url(self.databases[0], "postgresql+psycopg2"),
            "AIRFLOW__API_AUTH__JWT_SECRET": self.settings["AIRFLOW_JWT_SECRET"],
            "AIRFLOW__API__PORT": api_port,
            # Logins with hashed passwords and roles in the metadata database (stack/airflow_logins.py).
            "AIRFLOW__CORE__AUTH_MANAGER": AUTH_MANAGER,
            "AIRFLOW__COSMOS__CACHE_DIR": str(self.state / "cosmos"),
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",  # no usage pings from a local install
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(airflow_home / "logs"),
            **warehouse_conns,
            f"AIRFLOW_CONN_{AIRFLOW_API_CONN_ID.upper()}": json.dumps(api),
            # dbt_project/profiles.yml reads these (dbt run by hand, `dbt parse`, `dbt docs`).
            "WAREHOUSE_HOST": self.host,
            "WAREHOUSE_PORT": str(self.port),
            "WAREHOUSE_USER": TRANSFORMER_ROLE,  # dbt by hand builds as the DAG's dbt does
            "WAREHOUSE_PASSWORD": self.use_roles[TRANSFORMER_ROLE],
            "WAREHOUSE_DB": wh.name,
            # the extract CLI loads as the loader role, as the DAG's load tasks do
            "WAREHOUSE_LOADER_URL": self.role_url(LOADER_ROLE),
            **self.inbox_variables(),
            "DBT_PROFILES_DIR": str(ROOT / "dbt_project"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
            "GX_ANALYTICS_ENABLED": "False",
            # how many runs of each checkpoint GX's results and data docs keep (gx/history.py)
            **({"GX_KEEP_RUNS": self.settings["GX_KEEP_RUNS"]} if self.settings.get("GX_KEEP_RUNS") else {}),
        }

    def apply(self) -> None:
        """Export `variables()` into this process (before Airflow is imported)."""
        os.environ.update(self.variables())
