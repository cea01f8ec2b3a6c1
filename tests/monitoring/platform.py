"""Test helpers for the monitoring story: a local SMTP sink, a webhook receiver, and the REST API v2.

Nothing here stands in for a part of the platform: the sink and the receiver are the far ends that the
real SmtpNotifier and the real webhook channel deliver to.
"""

from __future__ import annotations

import json
import threading
import time
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from aiosmtpd.controller import Controller

from stack.settings import free_port


class SmtpSink:
    """An SMTP server on 127.0.0.1 keeping every message's subject."""

    def __init__(self) -> None:
        self.subjects: list[str] = []
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope) -> str:
        self.subjects.append(str(message_from_bytes(envelope.content)["Subject"]))
        return "250 OK"

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 keeping every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/alerts"

    def __enter__(self) -> WebhookReceiver:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


class Api:
    """The Airflow REST API v2 as one login."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        token = httpx.post(f"{base_url}/auth/token", json={"username": username, "password": password})
        token.raise_for_status()
        self.base_url, self.token = base_url, token.json()["access_token"]
        self.client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )

    def get(self, path: str, **params) -> httpx.Response:
        return self.client.get(path, params=params)

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while self.get(f"/api/v2/dags/{dag_id}").status_code != 200:
            assert time.monotonic() < deadline, f"{dag_id} never parsed by the dag-processor"
            time.sleep(1)

    def unpause(self, dag_id: str) -> None:
        self.client.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        answer = self.client.post(
            f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}}
        )
        answer.raise_for_status()
        return answer.json()["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        answer = self.get(f"/api/v2/dags/{dag_id}/dagRuns", limit=100, order_by="run_after")
        answer.raise_for_status()
        return answer.json()["dag_runs"]

    def settle(self, dag_id: str, until, timeout: float = 300) -> list[dict]:
        """Wait until no run of `dag_id` is queued or running and `until(runs)` holds; the runs."""
        deadline = time.monotonic() + timeout
        while True:
            runs = self.runs(dag_id)
            if until(runs) and not any(r["state"] in ("queued", "running") for r in runs):
                return runs
            assert time.monotonic() < deadline, f"{dag_id} runs did not settle: {runs}"
            time.sleep(2)
