"""pgAdmin 4 on 127.0.0.1, in server mode, with the warehouse preloaded.

pgAdmin pins its own Flask, SQLAlchemy and friends, which clash with Airflow's: it lives in a virtual
environment of its own (`.venv-pgadmin/`, shared by `make up` and the tests), installed from PyPI.
Everything it writes (config, SQLite database, sessions, storage, logs) stays under `data`.

Only pgAdmin's own mechanisms are used: a config file named by `CONFIG_DISTRO_FILE_PATH`, and the
`pgadmin4-cli` commands (`setup-db`, `get-users`, `add-user`/`update-user`, `load-servers`). The server
connects without a prompt through a libpq passfile in the login's storage folder, which is where server
mode resolves a server's `passfile` parameter. Each CLI command starts the whole app (seconds each), so
they run only when the login, the server or the pin changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from stack import processes
from stack.settings import ROOT

log = logging.getLogger(__name__)

PIN = "pgadmin4==9.18"
NAME = "pgadmin"  # the pidfile's name under .state/run, so `make down` stops it
UV = ROOT / ".state" / "bootstrap" / "bin" / "uv"  # bootstrapped by the Makefile
PASSFILE = "pgpass"  # in the user's storage folder; the server refers to it as "/pgpass"
# `pgadmin4-cli` itself (its entry point), reading its arguments from SHOP_PGADMIN_ARGS.
_CLI = (
    "import json, os, sys; sys.argv = ['pgadmin4-cli', *json.loads(os.environ.pop('SHOP_PGADMIN_ARGS'))];"
    " from pgadmin4.setup import main; main()"
)
# pgAdmin sees only these of the caller's variables: no libpq PG* settings, no platform secrets.
_PASS_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ")


class PgAdminFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Server:
    """The connection pgAdmin shows under Servers, preloaded for the login."""

    name: str
    host: str
    port: int
    database: str
    user: str
    password: str


@dataclass
class PgAdmin:
    data: Path
    port: int
    email: str
    password: str
    server: Server
    venv: Path = ROOT / ".venv-pgadmin"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.data / "config_distro.py"

    # -- install ---------------------------------------------------------------------------------
    def install(self) -> bool:
        """Create the venv and install PIN, unless it already holds PIN. True if it installed."""
        marker = self.venv / ".installed"
        if marker.exists() and marker.read_text().strip() == PIN:
            return False
        shutil.rmtree(self.venv, ignore_errors=True)
        python = self.venv / "bin" / "python"
        if UV.exists():
            steps = [
                [str(UV), "venv", "--quiet", "--python", sys.executable, str(self.venv)],
                [str(UV), "pip", "install", "--quiet", "--python", str(python), PIN],
            ]
        else:
            steps = [
                [sys.executable, "-m", "venv", str(self.venv)],
                [str(python), "-m", "pip", "install", "--quiet", PIN],
            ]
        log.info("installing %s into %s", PIN, self.venv)
        for step in steps:
            subprocess.run(step, check=True)
        marker.write_text(PIN + "\n")
        return True

    # -- configure -------------------------------------------------------------------------------
    def configure(self) -> None:
        """Write the config, the server list and the passfile; create or update the login. Idempotent."""
        self.data.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.config_file.write_text(self._config())
        servers = self.data / "servers.json"
        servers.write_text(json.dumps(self._servers(), indent=2))
        self._write_passfile()  # the server's password lives there only: changing it needs no command
        stamp = self.data / ".configured"
        server = {**asdict(self.server), "password": None}
        digest = hashlib.sha256(json.dumps([PIN, self.email, self.password, server]).encode()).hexdigest()
        if stamp.exists() and stamp.read_text() == digest and self._sqlite.exists():
            return
        existed = self._sqlite.exists()
        # setup-db migrates the database to the pinned version, or creates it with the login from these two
        self._cli("setup-db", PGADMIN_SETUP_EMAIL=self.email, PGADMIN_SETUP_PASSWORD=self.password)
        if existed:
            self._sync_login()
        out = self._cli("load-servers", str(servers), "--user", self.email, "--replace")
        if "and 1 Server(s)" not in out:
            raise PgAdminFailed(f"pgadmin4-cli load-servers did not add the server: {out.strip()}")
        stamp.write_text(digest)

    def _sync_login(self) -> None:
        """The login is `email` with `password`; other logins (an earlier e-mail) are deleted."""
        listed = self._cli("get-users", "--auth-source", "internal", "--json")
        users = {user["username"] for user in json.loads(listed)}
        if self.email in users:
            self._cli_json("update-user", self.email, "--password", self.password, "--admin")
        else:  # prints a table either way: load-servers fails ("User not found") if no login came of it
            self._cli("add-user", self.email, self.password, "--admin")
        for other in sorted(users - {self.email}):
            self._cli("delete-user", other, "--auth-source", "internal", "--yes")

    @property
    def _sqlite(self) -> Path:
        return self.data / "pgadmin4.db"

    def _config(self) -> str:
        settings = {
            "SERVER_MODE": True,  # a login, even on 127.0.0.1: other local users must not get in
            "DEFAULT_SERVER": "127.0.0.1",
            "DEFAULT_SERVER_PORT": self.port,
            "DATA_DIR": str(self.data),
            "LOG_FILE": str(self.data / "pgadmin4.log"),
            "SQLITE_PATH": str(self._sqlite),
            "SESSION_DB_PATH": str(self.data / "sessions"),
            "STORAGE_DIR": str(self.data / "storage"),
            "AZURE_CREDENTIAL_CACHE_DIR": str(self.data / "azurecredentialcache"),
            "KERBEROS_CCACHE_DIR": str(self.data / "krbccache"),
            # nothing phones home: no version check, no Gravatar images, no AI assistant
            "UPGRADE_CHECK_ENABLED": False,
            "SHOW_GRAVATAR_IMAGE": False,
            "LLM_ENABLED": False,
            "CHECK_EMAIL_DELIVERABILITY": False,  # no DNS lookup of the login's domain
            # No lockout after 3 wrong passwords: only another pgAdmin administrator could lift it (the
            # CLI cannot), and there is one. The password is random per install and pgAdmin local-only.
            "MAX_LOGIN_ATTEMPTS": 0,
            # this file replaces the package's own config_distro.py: keep its setting
            "HELP_PATH": "../../docs/en_US/_build/html/",
        }
        lines = ["# Written by stack/pgadmin.py (PgAdmin.configure): edits are lost."]
        lines += [f"{key} = {value!r}" for key, value in settings.items()]
        return "\n".join(lines) + "\n"

    def _servers(self) -> dict:
        s = self.server
        return {
            "Servers": {
                "1": {
                    "Name": s.name,
                    "Group": "Servers",
                    "Host": s.host,
                    "Port": s.port,
                    "MaintenanceDB": s.database,
                    "Username": s.user,
                    "DBRestriction": s.database,
                    "ConnectionParameters": {
                        "sslmode": "prefer",
                        "connect_timeout": 10,
                        "passfile": "/pgpass",
                    },
                }
            }
        }

    def _write_passfile(self) -> None:
        """`host:port:*:user:password` in the login's storage folder, named as pgAdmin names it
        (pgadmin/utils/paths.py, preprocess_username)."""
        folder = self.email if not self.email[0].isdigit() else "pga_user_" + self.email
        folder = folder.replace("@", "_").replace("/", "slash").replace("\\", "slash")
        storage = self.data / "storage"
        for path in (storage, storage / folder):
            path.mkdir(exist_ok=True, mode=0o700)
        s = self.server
        fields = [s.host, str(s.port), "*", s.user, s.password]
        line = ":".join(f.replace("\\", "\\\\").replace(":", "\\:") for f in fields)
        passfile = storage / folder / PASSFILE
        passfile.touch(mode=0o600)
        passfile.chmod(0o600)  # libpq ignores a passfile others can read
        passfile.write_text(line + "\n")

    def _env(self, **extra: str) -> dict[str, str]:
        env = {key: os.environ[key] for key in _PASS_ENV if key in os.environ}
        # FLASK_SKIP_DOTENV: Flask must never read a .env of the working directory (the project's secrets)
        return {**env, "CONFIG_DISTRO_FILE_PATH": str(self.config_file), "FLASK_SKIP_DOTENV": "1", **extra}

    def _cli(self, *args: str, **env: str) -> str:
        """`pgadmin4-cli *args`, its arguments passed in the environment: a password in the command line
        would be readable by every local user (`ps`)."""
        cmd = [str(self.venv / "bin" / "python"), "-c", _CLI]
        env = self._env(SHOP_PGADMIN_ARGS=json.dumps(args), **env)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise PgAdminFailed(
                f"pgadmin4-cli {args[0]} failed ({done.returncode}): {done.stdout}{done.stderr}"
            )
        return done.stdout

    def _cli_json(self, *args: str) -> None:
        """A command that prints the user as JSON on success, and a message (exit status 0) otherwise."""
        out = self._cli(*args, "--json")
        try:
            json.loads(out)
        except ValueError:
            raise PgAdminFailed(f"pgadmin4-cli {args[0]}: {out.strip()}") from None

    # -- run -------------------------------------------------------------------------------------
    def start(self, timeout: float = 120.0) -> subprocess.Popen:
        """Spawn pgAdmin (pidfile `pgadmin`, so `make down` stops it) and wait until it answers.

        pgAdmin's own entry point serves with Werkzeug's threaded server through Flask-SocketIO, as
        its desktop runtime does: enough for one local user, and no WSGI server to add to its venv.
        """
        if NAME in processes.running():  # one this checkout started earlier: restart with this config
            self.stop()
        cmd = [str(self.venv / "bin" / "pgadmin4")]
        proc = processes.spawn(NAME, cmd, self._env(), self.data / "server.log")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                processes.forget(NAME)
                raise PgAdminFailed(f"pgAdmin exited with {proc.returncode}; see {self.data / 'server.log'}")
            if self.ready():
                return proc
            time.sleep(0.5)
        self.stop()
        raise PgAdminFailed(f"pgAdmin not answering on {self.url} after {timeout:.0f}s")

    def ready(self) -> bool:
        try:
            # bandit B310 (schemes): a loopback http URL built here
            with urllib.request.urlopen(f"{self.url}/misc/ping", timeout=5) as resp:  # nosec B310
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        pid = processes.running().get(NAME)
        if pid:
            processes.stop_group(pid)
        processes.forget(NAME)
