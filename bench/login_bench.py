"""Airflow's login, two auth managers: what the FAB auth manager costs against the Simple one.

    .venv/bin/python bench/login_bench.py [--rounds 3] [--logins 20]

Baseline, named "simple": Airflow's Simple auth manager (plaintext passwords in a JSON file; Airflow
documents it as for development only). Against it, "fab": the FAB auth manager the platform runs
(hashed passwords and roles in the metadata database, stack/airflow_logins.py). For each, in rotating
rounds, the API server alone is started on a throwaway Postgres of the script's own (fresh credentials,
never the developer's `.env` or `.state`; the metadata database migrated and the FAB logins made first,
as `make up` does) and measured:
- start: seconds from spawn until `POST /auth/token` gives the operator a token (the login usable);
- login: median wall time of one `POST /auth/token` (FAB checks a scrypt hash: CPU by design);
- memory: proportional set size (PSS) of the API server's process tree after the logins, idle.
Prints figures and FAB ÷ simple ratios; never fails on a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402

from stack import builds  # noqa: E402
from stack.airflow_logins import AUTH_MANAGER, LOGINS  # noqa: E402
from stack.environment import Environment  # noqa: E402
from stack.settings import Settings, free_port  # noqa: E402

SIMPLE = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
IDLE_SECONDS = 3  # after the logins, before the memory is measured


def variants(env: dict[str, str], passwords: dict[str, str], folder: Path) -> dict[str, dict[str, str]]:
    """The environment of each auth manager (the Simple one reads a passwords file written here)."""
    file = folder / "simple-passwords.json"
    file.write_text(json.dumps(passwords))
    file.chmod(0o600)
    simple = {
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "operator:admin,monitor:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(file),
    }
    return {"simple": {**env, **simple}, "fab": {**env, "AIRFLOW__CORE__AUTH_MANAGER": AUTH_MANAGER}}


def pss_mb(root: psutil.Process) -> float:
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total / 2**20


def measure(env: dict[str, str], password: str, logins: int, log: Path) -> dict[str, float]:
    """Start an API server with `env`, time its first token and `logins` more, measure it, stop it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    airflow = str(Path(sys.executable).with_name("airflow"))
    cmd = [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)]
    body = {"username": "operator", "password": password}
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the API server exited ({proc.returncode}); see {log}")
            try:
                if httpx.post(f"{base}/auth/token", json=body, timeout=10).status_code == 201:
                    break
            except httpx.HTTPError:
                pass
            if time.perf_counter() - started > 180:
                raise RuntimeError(f"no token after 180 s; see {log}")
            time.sleep(0.2)
        start = time.perf_counter() - started
        each = []
        with httpx.Client(base_url=base, timeout=10) as client:
            for _ in range(logins):
                t = time.perf_counter()
                client.post("/auth/token", json=body).raise_for_status()
                each.append(time.perf_counter() - t)
        time.sleep(IDLE_SECONDS)
        return {"start": start, "login": statistics.median(each), "memory": pss_mb(psutil.Process(proc.pid))}
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each starting both (rotating order)")
    parser.add_argument("--logins", type=int, default=20, help="token requests timed per start")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, base: dict[str, str], passwords: dict[str, str], work: Path) -> None:
    """The benchmark proper: `base` is the environment of a platform whose metadata database is migrated
    and holds the FAB logins with `passwords` (login -> password); files and logs go under `work`."""
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{args.rounds} rounds, rotating order; {args.logins} logins timed per start\n")
    found: dict[str, list[dict[str, float]]] = {"simple": [], "fab": []}
    envs = variants(base, passwords, work)
    names = list(envs)
    for round_ in range(args.rounds):
        for name in names[round_ % 2 :] + names[: round_ % 2]:
            got = measure(envs[name], passwords["operator"], args.logins, work / f"{name}.log")
            found[name].append(got)
            print(
                f"  round {round_ + 1} {name:<6} start {got['start']:5.1f} s   "
                f"login {got['login'] * 1000:6.1f} ms   memory {got['memory']:5.0f} MB",
                flush=True,
            )
    med = {name: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for name, runs in found.items()}
    print("\nmedians            simple      fab   fab ÷ simple")
    for key, unit, scale in (("start", "s", 1), ("login", "ms", 1000), ("memory", "MB", 1)):
        s, f = med["simple"][key] * scale, med["fab"][key] * scale
        print(f"  {key + ' (' + unit + ')':<14} {s:9.1f} {f:8.1f}   {f / s:6.2f} ×")


def main(argv: list[str] | None = None) -> None:
    """`run` on a throwaway Postgres and state folder of its own, migrated, with fresh logins."""
    args = parse_args(argv)
    state = Path(tempfile.mkdtemp(prefix="shop-login-bench-"))
    state.chmod(0o755)  # the server may run as another OS user when run as root
    env = Environment.load(settings=Settings.generate(), state=state, throwaway=True)
    try:
        env.start_postgres()
        base = {**os.environ, **env.variables()}
        builds.airflow_migrate(base, env.state)
        builds.airflow_logins(base, env.state, env.settings)
        passwords = {name: env.settings[key] for name, (_, key) in LOGINS.items()}
        run(args, base, passwords, state)
    finally:
        env.stop_postgres()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
