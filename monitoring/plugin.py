"""Airflow plugin: the monitoring report and the status endpoint, served by Airflow's API server.

- `GET /shop/status`: the latest status the monitoring DAG stored (`monitoring.status`, one indexed
  row): overall health, last ELT run, failing checks, stale sources, open incidents, and the status' age.
  It never runs a check or holds a worker: it answers from stored data while DAGs run.
- `GET /shop/report`: the latest monitoring report (`<state>/reports/monitoring/index.html`).
- `GET /shop/data-docs/<page>`: the GX data docs site (`gx/uncommitted/data_docs/local_site`).
- `GET /shop/dbt-docs/<page>`: the dbt docs site (`<state>/dbt-docs`, built by `make up`, stack/doc_sites.py).

All need an Airflow login (the UI's session cookie, or `Authorization: Bearer <token>` from
`POST /auth/token`). The report and both docs sites are linked in the Airflow UI's navigation (external
views, shown in the UI's frame): the report under Browse, the docs sites under Docs, menus every role
sees. Registered through the `airflow.plugins` entry point in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar

import psycopg
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from monitoring import schema, status
from orchestration.paths import ROOT, state_dir

DATA_DOCS = ROOT / "gx" / "uncommitted" / "data_docs" / "local_site"
_bearer = HTTPBearer(auto_error=False)


async def _login(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> object:
    """Airflow's own check (bearer token, else the UI's session cookie; 401/403 otherwise). Imported
    here, not at the top: every task process loads the plugins, and only the API server calls this."""
    from airflow.api_fastapi.core_api.security import get_user

    return await get_user(request, _oauth_token=None, bearer_credentials=credentials)


User = Annotated[object, Depends(_login)]

app = FastAPI(title="shop-warehouse monitoring", docs_url=None, redoc_url=None, openapi_url=None)


def report_dir() -> Path:
    return state_dir() / "reports" / "monitoring"


def _site_file(site: Path, path: str, label: str) -> FileResponse | JSONResponse:
    """A file of a static site, never one outside it."""
    site = site.resolve()
    target = (site / (path or "index.html")).resolve()
    if not target.is_relative_to(site) or not target.is_file():
        return JSONResponse({"error": f"no such {label} page: {path!r}"}, 404)
    return FileResponse(target)


@app.get("/status")
def get_status(user: User) -> JSONResponse:
    from orchestration.connections import server_warehouse_url

    try:
        with psycopg.connect(server_warehouse_url(), connect_timeout=5) as conn:
            body = status.latest(conn) if schema.exists(conn, "monitoring.status") else None
    except psycopg.Error as down:
        return JSONResponse({"overall": "unknown", "error": f"warehouse unreachable: {down}"}, 503)
    if body is None:
        return JSONResponse({"overall": "unknown", "error": "no monitoring run has stored a status yet"}, 503)
    return JSONResponse(body)


@app.get("/report", response_model=None)
def get_report(user: User) -> FileResponse | JSONResponse:
    page = report_dir() / "index.html"
    if not page.exists():
        return JSONResponse({"error": "no monitoring report yet: run the `monitoring` DAG"}, 404)
    return FileResponse(page, media_type="text/html")


@app.get("/data-docs/{path:path}", response_model=None)
def get_data_docs(path: str, user: User) -> FileResponse | JSONResponse:
    """A file of the GX data docs site (offline: its CSS/JS are local copies, gx/docs.py)."""
    return _site_file(DATA_DOCS, path, "data docs")


@app.get("/dbt-docs/{path:path}", response_model=None)
def get_dbt_docs(path: str, user: User) -> FileResponse | JSONResponse:
    """A file of the dbt docs site: index.html, and the manifest and catalog it reads."""
    return _site_file(state_dir() / "dbt-docs", path, "dbt docs")


class ShopPlugin(AirflowPlugin):
    name = "shop_warehouse"
    fastapi_apps: ClassVar[list[dict]] = [
        {"app": app, "url_prefix": "/shop", "name": "shop-warehouse monitoring"}
    ]
    external_views: ClassVar[list[dict]] = [
        {
            "name": "Monitoring report",
            "href": "shop/report",
            "destination": "nav",
            "category": "browse",
            "url_route": "monitoring-report",
        },
        {
            "name": "GX data docs",
            "href": "shop/data-docs/index.html",
            "destination": "nav",
            "category": "docs",
            "url_route": "gx-data-docs",
        },
        {
            "name": "dbt docs",
            "href": "shop/dbt-docs/index.html",
            "destination": "nav",
            "category": "docs",
            "url_route": "dbt-docs",
        },
    ]
