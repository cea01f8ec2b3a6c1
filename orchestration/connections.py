"""The warehouse, the shop API and the inbox as Airflow sees them, from Airflow connections and Variables.

Connections come from `AIRFLOW_CONN_*` variables or the secrets backend, never from code.
`warehouse_url()` is for tasks (Task SDK); `server_warehouse_url()` for code in Airflow's API server
(the monitoring plugin), which resolves connections through the server's own secrets backends.
Airflow is imported inside the functions: `stack/` reads the connection ids without it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

WAREHOUSE_CONN_ID = "warehouse"  # as warehouse_transformer: builds, gates, publishes, monitors
LOADER_CONN_ID = "warehouse_loader"  # the extract tasks: writes raw only
READER_CONN_ID = "warehouse_reader"  # the status endpoint (and pgAdmin): reads marts and monitoring only
AIRFLOW_API_CONN_ID = "airflow_api"
# elt_ecommerce's start date: its logical date only labels a run (what a run loads is what is new in the
# inbox), so any date from this one up to now may be given to `make run DATE=…`
ELT_START_DATE = datetime(2024, 1, 1, tzinfo=UTC)
WEBHOOK_CONN_ID = "alert_webhook"
SHOP_API_CONN_ID = "shop_api"  # elt_ecommerce with source=api: host, port, password = the bearer token


def url_of(conn) -> str:
    """libpq URL of an Airflow Postgres connection object."""
    login, password = quote(conn.login or "", safe=""), quote(conn.password or "", safe="")
    return f"postgresql://{login}:{password}@{conn.host}:{conn.port or 5432}/{conn.schema}"


def warehouse_url(conn_id: str = WAREHOUSE_CONN_ID) -> str:
    """libpq URL of the warehouse, from Airflow connection `conn_id` (inside a running task)."""
    from airflow.sdk import BaseHook

    return url_of(BaseHook.get_connection(conn_id))


def server_warehouse_url(conn_id: str = READER_CONN_ID) -> str:
    """libpq URL of the warehouse, from Airflow connection `conn_id` (inside Airflow's API server)."""
    from airflow.models.connection import Connection

    return url_of(Connection.get_connection_from_secrets(conn_id))


def airflow_api(conn_id: str = AIRFLOW_API_CONN_ID):
    """The REST API client of the monitoring account, from Airflow connection `conn_id` (http: host, port,
    login, password), inside a running task."""
    from airflow.sdk import BaseHook

    from monitoring.airflow_api import AirflowApi

    conn = BaseHook.get_connection(conn_id)
    return AirflowApi(f"{conn.schema or 'http'}://{conn.host}:{conn.port or 8080}", conn.login, conn.password)


def shop_api(conn_id: str = SHOP_API_CONN_ID) -> tuple[str, str]:
    """(base URL, token) of the shop API, from Airflow connection `conn_id` (inside a running task)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException as missing:
        raise AirflowFailException(
            f"source=api needs the Airflow connection {conn_id!r} (e.g. AIRFLOW_CONN_SHOP_API):"
            " host, port, and the API token as password"
        ) from missing
    return f"{conn.schema or 'http'}://{conn.host}:{conn.port or 80}", conn.password or ""


def optional_connection(conn_id: str):
    """Airflow connection `conn_id`, or None when it is not defined (inside a running task)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


INBOX_VARIABLE = "shop_inbox"  # Airflow Variable (AIRFLOW_VAR_SHOP_INBOX): a folder or s3://bucket/prefix
INBOX_CONN_ID = "shop_inbox"  # an object-store inbox's credentials (e.g. AIRFLOW_CONN_SHOP_INBOX)
SETTLE_VARIABLE = "shop_inbox_settle_seconds"  # a local file younger than this is still being written


def inbox():
    """The shop's inbox, from Airflow Variable `shop_inbox` (inside a running task): a `Path` for a folder,
    an `ObjectStoragePath` with connection `shop_inbox` (when defined) for a URL such as s3://bucket/prefix."""
    from pathlib import Path

    from airflow.sdk import ObjectStoragePath, Variable
    from airflow.sdk.exceptions import AirflowFailException

    where = Variable.get(INBOX_VARIABLE, default=None)
    if not where:
        raise AirflowFailException(
            f"no inbox: set the Airflow Variable {INBOX_VARIABLE!r} (e.g. AIRFLOW_VAR_SHOP_INBOX, which"
            " `make run INBOX=…` and `make up` set from .env's INBOX) to a folder or s3://bucket/prefix"
        )
    if "://" not in where:
        return Path(where).expanduser()
    conn_id = INBOX_CONN_ID if optional_connection(INBOX_CONN_ID) is not None else None
    return ObjectStoragePath(where, conn_id=conn_id)


def settle_seconds() -> float:
    from airflow.sdk import Variable

    from extract.inbox import SETTLE_SECONDS

    return float(Variable.get(SETTLE_VARIABLE, default=SETTLE_SECONDS))
