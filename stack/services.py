"""Airflow as services: api-server, scheduler, dag-processor and triggerer, on 127.0.0.1.

`AirflowServices(variables, state).start()` spawns the four processes (each in its own process group,
with a pidfile under `.state/run/` so `make down` stops them), waits until the API server answers and
the scheduler and triggerer report healthy, and `stop()` ends them. Tasks run in the LocalExecutor's
workers and reach the API server's execution API; deferred sensors wait in the triggerer.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from stack import processes

SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")
# The scheduler and the triggerer would each start a log server on every interface ([::] or 0.0.0.0,
# ports 8793/8794; Airflow 3.3 has no setting for its address). Here every process shares one machine
# and one log folder, which the API server reads directly: no log server is started.
ARGS = {"scheduler": ("--skip-serve-logs",), "triggerer": ("--skip-serve-logs",)}
# Parts of the health report that must be healthy, with their heartbeat key. Right after a restart the
# report can still say "healthy" from the previous processes' heartbeats: ready means a heartbeat of
# this start.
HEARTBEATS = {
    "metadatabase": None,
    "scheduler": "latest_scheduler_heartbeat",
    "triggerer": "latest_triggerer_heartbeat",
    "dag_processor": "latest_dag_processor_heartbeat",
}


class ServiceFailed(RuntimeError):
    pass


@dataclass
class AirflowServices:
    variables: dict[str, str]
    state: Path
    port: int = 0  # default: the environment's AIRFLOW__API__PORT (generated per install into .env)
    started_at: datetime | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.port = self.port or int(self.variables["AIRFLOW__API__PORT"])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """`variables` plus what the services and their task workers need to find each other."""
        return {
            **self.variables,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
        }

    def _log(self, name: str) -> Path:
        return self.state / "logs" / f"airflow-{name}.log"

    def start(self, timeout: float = 180.0) -> None:
        airflow = str(Path(sys.executable).with_name("airflow"))
        env = self.environment()
        self.started_at = datetime.now(UTC)
        procs = {}
        for name in SERVICES:
            args = [name, *ARGS.get(name, ())]
            if name == "api-server":
                args += ["--host", "127.0.0.1", "--port", str(self.port)]
            procs[name] = processes.spawn(f"airflow-{name}", [airflow, *args], env, self._log(name))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    self.stop()
                    log = self._log(name)
                    raise ServiceFailed(f"airflow {name} exited with {proc.returncode}; see {log}")
            if self.healthy():
                return
            time.sleep(1.0)
        self.stop()
        logs = self.state / "logs"
        raise ServiceFailed(f"Airflow not healthy after {timeout:.0f}s; see {logs}/airflow-*.log")

    def health(self) -> dict:
        # bandit B310 (schemes): a loopback http URL built here
        with urllib.request.urlopen(f"{self.base_url}/api/v2/monitor/health", timeout=5) as resp:  # nosec B310
            return json.load(resp)

    def healthy(self) -> bool:
        """Every part healthy, with a heartbeat since `start()` (when this object started them)."""
        try:
            report = self.health()
        except (urllib.error.URLError, OSError, ValueError):
            return False
        for part, beat_key in HEARTBEATS.items():
            found = report.get(part) or {}
            if found.get("status") != "healthy":
                return False
            if beat_key and self.started_at:
                beat = found.get(beat_key)
                if not beat or datetime.fromisoformat(beat) < self.started_at:
                    return False
        return True

    def stop(self) -> None:
        """SIGTERM all four at once (each takes seconds to drain), then wait for each, SIGKILL if stuck."""
        processes.stop_together(
            {
                name: pid
                for name, pid in processes.running().items()
                if name.startswith("airflow-") and name.removeprefix("airflow-") in SERVICES
            }
        )
