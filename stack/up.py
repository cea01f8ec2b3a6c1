"""`make up`: the platform as background services on 127.0.0.1, each UI behind a login.

Postgres; Airflow's api-server, scheduler, dag-processor and triggerer (LocalExecutor, or with
`--celery` the CeleryExecutor with a Redis broker and two workers); pgAdmin 4 in its own virtual
environment; the dbt docs, the GX data docs and the monitoring report, served behind the Airflow login
by the project's plugin (`/shop/…`, linked in the UI's navigation).

Ready means ready: it returns once every part answers as a user would use it, not when processes exist.
Airflow's health endpoint reports the last heartbeats it knows, which right after a restart are the old
processes': ready needs heartbeats of this start (stack/services.py), `elt_ecommerce` parsed and listed
for the operator's login, both docs sites served to that login, and pgAdmin's login page answering.
`make down` stops it all (pidfiles under `.state/run/`); `make status` says what answers, and where.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from stack import builds, doc_sites, processes
from stack.databases import READER_ROLE, WAREHOUSE_DB
from stack.environment import Environment
from stack.pgadmin import PgAdmin, Server
from stack.services import AirflowServices
from stack.settings import ENV_FILE, in_use

DAG_ID = "elt_ecommerce"
WORKERS = 2
PAGES = {"dbt docs": "/shop/dbt-docs/index.html", "GX data docs": "/shop/data-docs/index.html"}


class NotReady(RuntimeError):
    pass


@dataclass(frozen=True)
class Ui:
    name: str
    url: str
    login: str

    def line(self) -> str:
        return f"  {self.name:<18} {self.url:<50} {self.login}"


def pgadmin(env: Environment) -> PgAdmin:
    """pgAdmin with the warehouse preloaded as the read-only role (no password prompt: a passfile)."""
    server = Server("warehouse", env.host, env.port, WAREHOUSE_DB, READER_ROLE, env.use_roles[READER_ROLE])
    s = env.settings
    return PgAdmin(
        env.state / "pgadmin", int(s["PGADMIN_PORT"]), s["PGADMIN_EMAIL"], s["PGADMIN_PASSWORD"], server
    )


def uis(env: Environment) -> list[Ui]:
    s = env.settings
    base = f"http://127.0.0.1:{s['AIRFLOW_API_PORT']}"
    airflow_login = f"operator / {s['AIRFLOW_OPERATOR_PASSWORD']}"
    return [
        Ui("Airflow", f"{base}/", f"{airflow_login}   (viewer: monitor / {s['AIRFLOW_MONITOR_PASSWORD']})"),
        *(Ui(name, base + path, "the Airflow login") for name, path in PAGES.items()),
        Ui("Monitoring report", f"{base}/shop/report", "the Airflow login (after a `monitoring` run)"),
        Ui(
            "pgAdmin",
            f"http://127.0.0.1:{s['PGADMIN_PORT']}/",
            f"{s['PGADMIN_EMAIL']} / {s['PGADMIN_PASSWORD']}",
        ),
    ]


def _operator(base_url: str, password: str) -> httpx.Client:
    token = httpx.post(
        f"{base_url}/auth/token", json={"username": "operator", "password": password}, timeout=10
    )
    token.raise_for_status()
    auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
    return httpx.Client(base_url=base_url, headers=auth, timeout=10)


def wait_until_usable(env: Environment, airflow: AirflowServices, timeout: float = 180.0) -> None:
    """Until the operator sees `elt_ecommerce` and both docs sites through the API server."""
    deadline = time.monotonic() + timeout
    missing = "a token for the operator"
    while time.monotonic() < deadline:
        try:
            with _operator(airflow.base_url, env.settings["AIRFLOW_OPERATOR_PASSWORD"]) as client:
                missing = f"DAG {DAG_ID} (the dag-processor parses it)"
                if client.get(f"/api/v2/dags/{DAG_ID}").status_code == 200:
                    answers = {name: client.get(path).status_code for name, path in PAGES.items()}
                    missing = ", ".join(f"{n} (HTTP {code})" for n, code in answers.items() if code != 200)
                    if not missing:
                        return
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    raise NotReady(f"Airflow answers, but not yet usable after {timeout:.0f}s: {missing}")


def _step(label: str, detail: str) -> None:
    print(f"  ✓ {label:<16} {detail}", flush=True)


def start(env: Environment, celery: bool = False, say=_step, side_by_side: bool = True) -> AirflowServices:
    """Start every part (Postgres too) and wait until each is usable; the Airflow services' handle.
    `side_by_side=False` starts pgAdmin (and workers) after Airflow: the baseline of bench/up_bench.py."""
    env.start_postgres()
    say("postgres", f"127.0.0.1:{env.port} · roles warehouse_loader, warehouse_transformer, warehouse_reader")
    variables = {**os.environ, **env.variables()}
    builds.airflow_migrate(variables, env.state)
    builds.airflow_logins(variables, env.state, env.settings)
    builds.dbt_manifest(variables, env.state)
    built = [
        name
        for name, ran in (
            ("dbt docs", doc_sites.build_dbt_docs(variables, env.state)),
            ("GX data docs", doc_sites.build_gx_docs(env.warehouse_url)),
        )
        if ran
    ]
    say("builds", f"Airflow migrated, dbt manifest; built now: {', '.join(built) or 'nothing (up to date)'}")
    _ports_free(env, celery)
    admin = pgadmin(env)
    admin.install()
    admin.configure()
    if celery:
        variables = _start_celery_broker(env, variables, say)
    airflow = AirflowServices(variables, env.state)
    steps = [airflow.start, admin.start]
    if celery:  # the workers need the broker, not the API server, to start
        from stack.celery import start_workers

        steps.append(lambda: start_workers(airflow.environment(), env.state, count=WORKERS))
    with ThreadPoolExecutor(len(steps) if side_by_side else 1) as pool:  # each waits on its own processes
        for future in [pool.submit(step) for step in steps]:
            future.result()
    executor = f"CeleryExecutor, {WORKERS} workers" if celery else "LocalExecutor"
    say("airflow", f"api-server, scheduler, dag-processor, triggerer healthy ({executor})")
    say("pgadmin", f"server mode; warehouse preloaded as {READER_ROLE}")
    wait_until_usable(env, airflow)
    say("usable", f"the operator sees {DAG_ID}; dbt docs and GX data docs served")
    return airflow


def _ports_free(env: Environment, celery: bool) -> None:
    """Refuse to start on a port something already answers on: readiness would be judged on that other
    process (an API server left running by a killed `make up`, say, answers for the new one)."""
    keys = ["AIRFLOW_API_PORT", "PGADMIN_PORT", *(["REDIS_PORT"] if celery else [])]
    taken = [f"{key}={env.settings[key]}" for key in keys if in_use(int(env.settings[key]))]
    if taken:
        raise NotReady(
            f"already in use on 127.0.0.1: {', '.join(taken)}. If it is this project's, left running, "
            "`make down` stops it; otherwise change the port in .env."
        )


def stop_services() -> None:
    """Stop what `start` started, Postgres aside."""
    for name, pid in processes.running().items():
        processes.stop_group(pid)
        processes.forget(name)


def up(celery: bool = False) -> int:
    started = time.monotonic()
    env = Environment.load()
    if any(name.startswith("airflow-") for name in processes.running()):
        print("already up (`make down` first to restart):")
        return status(env)
    start(
        env, celery, say=lambda label, detail: _step(label, f"{detail}  [{time.monotonic() - started:.0f}s]")
    )
    _save(env, celery)
    print(f"\nReady in {time.monotonic() - started:.0f}s. Everything listens on 127.0.0.1 only:\n")
    for ui in uis(env):
        print(ui.line())
    print("\n  Logins are generated per install into .env. `make status` checks them; `make down` stops all.")
    return 0


def _start_celery_broker(env: Environment, variables: dict[str, str], say) -> dict[str, str]:
    from stack.celery import celery_variables
    from stack.redis import RedisServer

    redis = RedisServer(env.state, int(env.settings["REDIS_PORT"]), env.settings["REDIS_PASSWORD"])
    redis.start()
    say("redis", f"127.0.0.1:{redis.port} (Celery broker, password from .env)")
    return celery_variables(variables, redis.url)


def _save(env: Environment, celery: bool) -> None:
    (env.state / "run" / "up.json").write_text(json.dumps({"celery": celery, "at": time.time()}))


def _answers(url: str) -> str:
    try:
        code = httpx.get(url, timeout=5, follow_redirects=True).status_code
    except httpx.HTTPError as error:
        return f"not answering ({type(error).__name__})"
    return f"answers (HTTP {code})"


def status(env: Environment | None = None) -> int:
    """`make status`: what runs, each UI with its login, and whether it answers."""
    if env is None and not ENV_FILE.exists():
        return processes.status()
    env = env or Environment.load()
    processes.status(env)
    if not processes.running():
        return 0
    print()
    for ui in uis(env):
        state = _answers(ui.url) if ui.name in ("Airflow", "pgAdmin") else "behind the Airflow login"
        print(f"{ui.line()}\n  {'':<18} {state}")
    return 0
