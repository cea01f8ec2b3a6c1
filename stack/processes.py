"""Processes the project starts in the background: pidfiles under `.state/run/`, `down` and `status`.

Each background process runs in its own process group, so stopping it stops its children too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from stack.settings import ENV_FILE, state_dir


def pid_dir() -> Path:
    return state_dir() / "run"


def spawn(name: str, cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start `cmd` in a new process group, output to `log`, with a pidfile named `name`. Its environment
    names the state folder (SHOP_STATE_DIR), which is how `down` recognises a stray one."""
    log.parent.mkdir(parents=True, exist_ok=True)
    pid_dir().mkdir(parents=True, exist_ok=True)
    env = {**env, "SHOP_STATE_DIR": str(state_dir())}
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    # written whole or not at all: a reader in another thread (`make up` starts services side by side)
    # must never see an empty pidfile, which `running()` would take for a dead process and delete
    partial = pid_dir() / f".{name}.pid.tmp"
    partial.write_text(str(proc.pid))
    os.replace(partial, pid_dir() / f"{name}.pid")
    return proc


def forget(name: str) -> None:
    (pid_dir() / f"{name}.pid").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:  # a child of this process that exited is a zombie until reaped: reap it, it is gone
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(pid: int, timeout: float = 20.0) -> None:
    """SIGTERM the process group led by `pid`, then SIGKILL what is left after `timeout`."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.2)


def stop_together(procs: dict[str, int]) -> None:
    """SIGTERM every group of `procs` (name -> pid) at once (each may take seconds to drain), then wait
    for each, SIGKILL if stuck, and forget its pidfile."""
    for pid in procs.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    for name, pid in procs.items():
        stop_group(pid)
        forget(name)


def running() -> dict[str, int]:
    found = {}
    for pidfile in sorted(pid_dir().glob("*.pid")) if pid_dir().exists() else []:
        try:
            pid = int(pidfile.read_text().strip() or 0)
        except (FileNotFoundError, ValueError):  # removed meanwhile, or not a pidfile of ours
            continue
        if pid and _alive(pid):
            found[pidfile.stem] = pid
        else:
            pidfile.unlink(missing_ok=True)
    return found


# What the project starts in the background, as each process names itself (Airflow's API server renames
# itself `airflow api_server -- …`).
_OURS = ("airflow", "pgadmin4", "valkey-server", "redis-server")


def strays() -> dict[int, str]:
    """Process-group leaders the project started (their environment names this state folder) that no
    pidfile lists any more: left by a `make up` killed mid-way, or a pidfile overwritten."""
    import psutil

    listed, state = set(running().values()), str(state_dir())
    found = {}
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            if proc.pid in listed or os.getsid(proc.pid) != proc.pid or not any(n in cmdline for n in _OURS):
                continue
            if proc.environ().get("SHOP_STATE_DIR") == state:
                found[proc.pid] = cmdline[:80]
        except (psutil.Error, OSError):  # gone, or another user's
            continue
    return found


def down() -> int:
    """Stop every background process the project started (and any stray of it), then Postgres."""
    for name, pid in running().items():
        stop_group(pid)
        forget(name)
        print(f"stopped {name} (pid {pid})")
    for pid, cmdline in strays().items():
        stop_group(pid)
        print(f"stopped a stray process of this project: {cmdline} (pid {pid})")
    if not ENV_FILE.exists():
        print("nothing to stop: no .env, so the project never started here")
        return 0
    from stack.environment import Environment

    env = Environment.load()
    if env.stop_postgres():
        print(f"stopped Postgres on 127.0.0.1:{env.port}")
    else:
        print("Postgres was not running" if env.cluster else "external Postgres: left alone")
    return 0


def status(env=None) -> int:
    """What runs: Postgres and every process with a pidfile (`env`: an Environment, default `.env`'s)."""
    if env is None and not ENV_FILE.exists():
        print("not set up yet: run `make run` or `make up`")
        return 0
    from stack.environment import Environment

    env = env or Environment.load()
    if env.cluster:
        state = "running" if env.cluster.running() else "stopped"
        bins = env.cluster.binaries() if env.cluster.initialised else None
        origin = f" ({bins.source}: {bins.bindir})" if bins else ""
        print(f"postgres   {state} on 127.0.0.1:{env.port}{origin}, data in {env.cluster.data}")
    else:
        print(f"postgres   external at {env.host}:{env.port}")
    for name, pid in running().items():
        print(f"{name:<10} running (pid {pid})")
    return 0
