"""The warehouse as DAG tasks see it: a libpq URL built from the Airflow connection `warehouse`.

The connection comes from an `AIRFLOW_CONN_WAREHOUSE` variable or the secrets backend, never from code.
Imported inside tasks (it needs a running task's Airflow context), shared by every DAG.
"""

from __future__ import annotations

from urllib.parse import quote

WAREHOUSE_CONN_ID = "warehouse"


def warehouse_url(conn_id: str = WAREHOUSE_CONN_ID) -> str:
    """libpq URL of the warehouse, from Airflow connection `conn_id`."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    login, password = quote(conn.login or "", safe=""), quote(conn.password or "", safe="")
    return f"postgresql://{login}:{password}@{conn.host}:{conn.port or 5432}/{conn.schema}"
