"""Where the local platform keeps its state, and the per-install secrets in `.env`.

Everything the project generates lives under `.state/` in the checkout (ignored by git). Credentials are
generated on first use into `.env` (ignored); `.env.example` documents every key.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from orchestration import paths

ROOT = Path(__file__).resolve().parents[1]
ENV_FILE = ROOT / ".env"
DEFAULT_PG_PORT = 54329
DEFAULT_API_PORT = 8080
DEFAULT_PGADMIN_PORT = 5050
DEFAULT_REDIS_PORT = 56379
# Ports looked up free on first run, then fixed in `.env`.
_PORTS = {
    "PG_PORT": DEFAULT_PG_PORT,
    "AIRFLOW_API_PORT": DEFAULT_API_PORT,
    "PGADMIN_PORT": DEFAULT_PGADMIN_PORT,
    "REDIS_PORT": DEFAULT_REDIS_PORT,
}

# Keys generated on first run. Role names are fixed, passwords are random per install.
_GENERATED = {
    "PG_SUPERUSER": lambda: "shop_admin",
    "PG_SUPERUSER_PASSWORD": lambda: secrets.token_urlsafe(24),
    "AIRFLOW_DB_PASSWORD": lambda: secrets.token_urlsafe(24),
    "WAREHOUSE_DB_PASSWORD": lambda: secrets.token_urlsafe(24),
    # Least-privilege warehouse roles (stack/databases.py): `warehouse_loader` writes raw only (the extract
    # tasks), `warehouse_transformer` reads raw and builds the rest (dbt, gates, publish, monitoring),
    # `warehouse_reader` reads the published marts and monitoring only (pgAdmin, the status endpoint).
    "WAREHOUSE_LOADER_PASSWORD": lambda: secrets.token_urlsafe(24),
    "WAREHOUSE_TRANSFORMER_PASSWORD": lambda: secrets.token_urlsafe(24),
    "WAREHOUSE_READER_PASSWORD": lambda: secrets.token_urlsafe(24),
    "AIRFLOW_JWT_SECRET": lambda: secrets.token_urlsafe(32),
    # Airflow UI/API logins: `operator` (admin role, for people) and `monitor` (viewer role, the account
    # the monitoring DAG reads the REST API with).
    "AIRFLOW_OPERATOR_PASSWORD": lambda: secrets.token_urlsafe(18),
    "AIRFLOW_MONITOR_PASSWORD": lambda: secrets.token_urlsafe(18),
    # pgAdmin's login (server mode: it wants an e-mail address as the user name).
    "PGADMIN_EMAIL": lambda: "operator@example.com",
    "PGADMIN_PASSWORD": lambda: secrets.token_urlsafe(18),
    # Redis, the Celery broker of `make up CELERY=1`.
    "REDIS_PASSWORD": lambda: secrets.token_urlsafe(24),
}


def state_dir() -> Path:
    return paths.state_dir().resolve()


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def in_use(port: int) -> bool:
    """Something listens on 127.0.0.1:`port`."""
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port(preferred: int | None = None) -> int:
    """`preferred` when nothing listens on it, else the next free port above it (or any free port)."""
    candidates = range(preferred, preferred + 100) if preferred else [0]
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError(f"no free TCP port on 127.0.0.1 in {preferred}..{preferred + 99}")


def ensure_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    """Read `.env`, adding any missing generated key (first run writes them all). Returns its values."""
    values = read_env_file(path)
    missing = {key: make() for key, make in _GENERATED.items() if key not in values}
    for key, preferred in _PORTS.items():
        if key not in values:
            missing[key] = str(free_port(preferred))
    if missing:
        header = (
            ""
            if path.exists()
            else (
                "# Generated per install by `python -m stack` (make run / make up). Never commit this file.\n"
                "# See .env.example for what each key means.\n"
            )
        )
        with path.open("a") as fh:
            fh.write(header + "".join(f"{key}={value}\n" for key, value in missing.items()))
        path.chmod(0o600)
        values.update(missing)
    return values


# Keys that may be set in the process environment as well as in `.env` (none is generated).
OPTIONAL = (
    "EXTERNAL_POSTGRES_URL",
    "INBOX",
    "INBOX_SETTLE_SECONDS",
    "AIRFLOW_CONN_SHOP_INBOX",
    "GX_KEEP_RUNS",
)


@dataclass(frozen=True)
class Settings:
    """Resolved configuration: `.env` values overridden by the process environment."""

    values: dict[str, str]

    @classmethod
    def load(cls) -> Settings:
        values = ensure_env_file()
        values.update({k: v for k, v in os.environ.items() if k in values or k in OPTIONAL})
        return cls(values)

    @classmethod
    def generate(cls) -> Settings:
        """Fresh credentials and a free port, never written to disk (throwaway clusters for tests)."""
        values = {key: make() for key, make in _GENERATED.items()}
        values.update({key: str(free_port()) for key in _PORTS})
        return cls(values)

    def __getitem__(self, key: str) -> str:
        return self.values[key]

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(key, default)
