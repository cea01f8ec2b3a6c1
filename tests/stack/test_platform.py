"""`make up` with Celery, as a user meets it: the platform started by stack/up.py on loopback, one day of
sample data run by `elt_ecommerce` across two Celery workers, then every UI in Chromium with logins.

Redis (stack/redis.py) is the broker; the Airflow services run the CeleryExecutor (stack/celery.py).
Both workers run on this machine, so a task instance's `hostname` cannot tell them apart; its
`external_executor_id` (the Celery task id the scheduler assigned) can: the worker that ran it logs
`[<celery task id>] Executing workload in Celery`, and Celery's own per-worker counters must agree.
The browser sees: the Airflow UI with the run and its dbt model tasks, the links in its navigation, the
dbt docs lineage of a mart, the GX data docs with nothing but the platform reachable, pgAdmin's
warehouse tables without a database password prompt. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from datetime import date

import psutil
import psycopg
import pytest
from playwright.sync_api import expect

from simshop.sample import write_day
from stack import processes, up
from stack.airflow_logins import LOGINS, REPORTS_ROLE
from stack.celery import node_name
from stack.databases import ensure_schemas
from stack.pgadmin import PgAdmin
from stack.redis import RedisServer
from tests.monitoring.platform import Api
from tests.raw_layer import drop_schemas, reset_raw
from tests.ui import (
    airflow_login,
    guarded,
    nav_menu,
    nav_menus,
    pgadmin_expand,
    pgadmin_login,
    submit_airflow_login,
)

DAG_ID = "elt_ecommerce"
DAY = "2026-11-14"
WORKERS = (1, 2)
RAN = re.compile(r"\[([0-9a-f-]{36})\] Executing workload in Celery")
PORTS = {"api-server": "AIRFLOW_API_PORT", "pgadmin": "PGADMIN_PORT", "redis": "REDIS_PORT"}
TREE = ("Servers", "warehouse", "Databases", "warehouse", "Schemas", "marts", "Tables")


def _family(pid: int) -> list[psutil.Process]:
    try:
        leader = psutil.Process(pid)
        return [leader, *leader.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _listening() -> dict[str, set[tuple[str, int]]]:
    """Pidfile name -> (address, port) of every TCP socket its process tree listens on."""
    found: dict[str, set[tuple[str, int]]] = {}
    for name, pid in processes.running().items():
        sockets = found.setdefault(name, set())
        for proc in _family(pid):
            try:  # task processes come and go while we look
                conns = proc.net_connections(kind="tcp")
            except psutil.NoSuchProcess:
                continue
            sockets.update((c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN)
    return found


def _memory_mib(name: str) -> tuple[float, float]:
    """RSS and PSS (shared pages split among the processes sharing them) of a process tree, in MiB."""
    rss = pss = 0
    for proc in _family(processes.running()[name]):
        try:
            info = proc.memory_full_info()
        except psutil.NoSuchProcess:
            continue
        rss, pss = rss + info.rss, pss + getattr(info, "pss", info.rss)
    return rss / 2**20, pss / 2**20


def _celery_totals(broker_url: str) -> dict[str, int]:
    """Celery's own count, per worker node, of the Airflow workloads it executed."""
    from celery import Celery

    app = Celery(broker=broker_url)
    try:
        stats = app.control.inspect(timeout=5).stats() or {}
    finally:
        app.close()
    return {node: sum(s.get("total", {}).values()) for node, s in stats.items()}


@pytest.fixture(scope="module")
def stack_up(platform, airflow_db, dbt_manifest):
    """`make up --celery` on the test session's Postgres; one ELT run; the services stay up for the UIs."""
    with psycopg.connect(platform.airflow_db_url) as conn:
        conn.execute("delete from dag_run where dag_id = %s", [DAG_ID])
    reset_raw(platform.warehouse_url)  # and what dbt built, the unpublished build too (earlier modules')
    drop_schemas(platform.warehouse_url, ("marts_build",))
    ensure_schemas(platform.warehouse_url)  # the schemas again, with the reader's grants
    shutil.rmtree(platform.demo_home, ignore_errors=True)  # the shop delivers the sample day to its inbox
    write_day(platform.demo_home / "inbox", date.fromisoformat(DAY))
    settings = platform.settings
    redis = RedisServer(platform.state, int(settings["REDIS_PORT"]), settings["REDIS_PASSWORD"])
    seen: dict = {"ports": {name: int(settings[key]) for name, key in PORTS.items()}}
    try:
        with pytest.MonkeyPatch.context() as env:  # no scheduled runs: unpausing would start today's
            env.setenv("AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE", "False")
            services = up.start(platform, celery=True, say=lambda *_: None)
        seen["base_url"] = services.base_url
        seen["workers"] = sorted(name for name in processes.running() if name.startswith("airflow-worker-"))
        operator = Api(services.base_url, "operator", settings["AIRFLOW_OPERATOR_PASSWORD"])
        operator.unpause(DAG_ID)
        answer = operator.client.post(
            f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": f"{DAY}T00:00:00Z", "conf": {}}
        )
        answer.raise_for_status()
        run_id = answer.json()["dag_run_id"]
        listening: dict[str, set] = {}

        def finished(runs: list[dict]) -> bool:  # look at the sockets at every poll of the run
            for name, sockets in _listening().items():
                listening.setdefault(name, set()).update(sockets)
            return any(r["dag_run_id"] == run_id for r in runs)

        runs = operator.settle(DAG_ID, finished, timeout=1500)
        seen.update(run=next(r for r in runs if r["dag_run_id"] == run_id), listening=listening)
        with psycopg.connect(platform.airflow_db_url) as conn:
            seen["tasks"] = conn.execute(
                "select task_id, state, operator, hostname, external_executor_id from task_instance"
                " where dag_id = %s and run_id = %s",
                [DAG_ID, run_id],
            ).fetchall()
        seen["celery_totals"] = _celery_totals(redis.url)
        seen["worker_logs"] = {
            n: (platform.state / "logs" / f"airflow-worker-{n}.log").read_text() for n in WORKERS
        }
        seen["memory_mib"] = {name: _memory_mib(name) for name in ("redis", "pgadmin", *seen["workers"])}
        yield seen
    finally:
        up.stop_services()


def _failures(platform, tasks) -> str:
    """The failed tasks and the end of each one's log, for the assertion message."""
    logs = platform.state / "airflow" / "logs"
    failed = [task_id for task_id, state, *_ in tasks if state == "failed"]
    tails = []
    for task_id in failed:
        for log in sorted(logs.glob(f"dag_id={DAG_ID}/**/task_id={task_id}/**/*.log")):
            tails.append(f"--- {log.relative_to(logs)}\n" + "\n".join(log.read_text().splitlines()[-15:]))
    return f"failed: {failed}\n" + "\n".join(tails)


def test_the_run_succeeds(stack_up, platform) -> None:
    run = stack_up["run"]
    assert run["state"] == "success", _failures(platform, stack_up["tasks"])
    tasks = stack_up["tasks"]
    assert len(tasks) > 20 and all(state in ("success", "skipped") for _, state, *_ in tasks), tasks
    print(f"\n{DAG_ID} under Celery: {len(tasks)} task instances, run {run['duration']:.0f} s")


def test_its_tasks_ran_on_both_workers(stack_up) -> None:
    """Each task instance's Celery task id is in exactly one worker's log, and both workers have some.
    EmptyOperators (Cosmos' `dbt_producer_watcher_done`) never reach an executor: the scheduler marks them."""
    ran_by = {n: set(RAN.findall(text)) for n, text in stack_up["worker_logs"].items()}
    tasks = stack_up["tasks"]
    assert all(ext is None for _, _, op, _, ext in tasks if op == "EmptyOperator")
    ran = [
        (task_id, ext) for task_id, state, op, _, ext in tasks if state == "success" and op != "EmptyOperator"
    ]
    assert len(ran) > 20 and all(
        ext for _, ext in ran
    )  # the CeleryExecutor assigned a Celery task id to each
    workers_of = {task_id: [n for n, ids in ran_by.items() if ext in ids] for task_id, ext in ran}
    assert all(len(found) == 1 for found in workers_of.values()), workers_of
    per_worker = {n: sorted(t for t, found in workers_of.items() if found == [n]) for n in WORKERS}
    assert all(per_worker.values()), per_worker
    # Celery's own counters: both nodes executed workloads, at least one per task instance that ran
    totals = stack_up["celery_totals"]
    assert set(totals) == {node_name(n) for n in WORKERS}
    assert all(count > 0 for count in totals.values()) and sum(totals.values()) >= len(ran), totals
    hosts = {host for *_, host, _ in stack_up["tasks"] if host}
    print(f"\ntask instances per worker: { {n: len(t) for n, t in per_worker.items()} }; Celery: {totals};"
          f" task_instance.hostname: {hosts}")  # fmt: skip


def test_everything_listens_on_loopback_only(stack_up) -> None:
    """Each service on its own port of 127.0.0.1, the workers on none; nothing on another address."""
    listening, ports = stack_up["listening"], stack_up["ports"]
    assert ("127.0.0.1", ports["api-server"]) in listening["airflow-api-server"]
    assert listening["pgadmin"] == {("127.0.0.1", ports["pgadmin"])}
    assert listening["redis"] == {("127.0.0.1", ports["redis"])}
    for name in stack_up["workers"]:
        assert {address for address, _ in listening[name]} <= {"127.0.0.1"}, (name, listening[name])
    everything = set().union(*listening.values())
    assert {address for address, _ in everything} == {"127.0.0.1"}, listening


def test_idle_memory(stack_up) -> None:
    memory = stack_up["memory_mib"]
    shown = ", ".join(f"{name} {rss:.0f} MiB (PSS {pss:.0f})" for name, (rss, pss) in memory.items())
    print(f"\nresident memory once idle, RSS of each process tree: {shown}")
    assert all(rss > 0 for rss, _ in memory.values())


def test_status_lists_every_ui_and_whether_it_answers(stack_up, platform) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        up.status(platform)
    text = out.getvalue()
    for name in ("Airflow", "dbt docs", "GX data docs", "Monitoring report", "pgAdmin"):
        assert re.search(rf"^  {name} +http://127\.0\.0\.1:\d+/", text, re.M), text
    assert text.count("answers (HTTP 200)") == 2, text  # Airflow and pgAdmin; the rest need the login
    assert platform.settings["PGADMIN_EMAIL"] in text


def test_the_airflow_ui_shows_the_run_its_dbt_tasks_and_the_links(stack_up, platform, browser) -> None:
    base = stack_up["base_url"]
    ui = guarded(browser, (base,))
    airflow_login(ui.page, base, "operator", platform.settings["AIRFLOW_OPERATOR_PASSWORD"])
    page = ui.page
    page.goto(f"{base}/dags/{DAG_ID}/runs")
    page.get_by_text(stack_up["run"]["dag_run_id"]).wait_for()
    assert "Success" in page.locator("tr", has_text=stack_up["run"]["dag_run_id"]).inner_text()
    page.goto(f"{base}/dags/{DAG_ID}")
    page.get_by_text("transform", exact=True).first.wait_for()
    page.get_by_role("button", name=re.compile("expand all", re.I)).click()
    page.set_viewport_size({"width": 1400, "height": 5000})  # the grid draws only the rows in view
    for model in ("stg_shop__orders", "int_orders_priced", "fct_orders", "rpt_daily_revenue"):
        page.get_by_text(model, exact=True).first.wait_for()  # Cosmos: a task group per dbt model
    page.set_viewport_size({"width": 1400, "height": 900})
    ui.screenshot("airflow-elt-ecommerce.png")
    assert "Monitoring report" in nav_menu(page, "Browse")
    assert {"GX data docs", "dbt docs"} <= set(nav_menu(page, "Docs"))
    assert ui.close() == []


def test_the_dbt_docs_show_the_lineage_of_a_mart(stack_up, platform, browser) -> None:
    base = stack_up["base_url"]
    ui = guarded(browser, (base,))
    airflow_login(ui.page, base, "operator", platform.settings["AIRFLOW_OPERATOR_PASSWORD"])
    page = ui.page
    page.goto(f"{base}/shop/dbt-docs/index.html#!/model/model.shop.fct_orders")
    page.get_by_text("Depends On", exact=True).first.wait_for()
    page.locator("a[title='View Lineage Graph']").click()
    page.locator(".launcher.on").wait_for(state="attached")  # the lineage window opened
    page.locator("#cy canvas").first.wait_for()  # drawn on its canvas (no DOM nodes to read)
    # the mart, its parents and its children (the page fills the selector after drawing: wait for it)
    selector = page.locator("input[ng-model='selectorService.selection.dirty.include']")
    expect(selector).to_have_value("+fct_orders+", timeout=30_000)
    page.wait_for_timeout(1000)  # the graph's layout animation settles before the screenshot
    ui.screenshot("dbt-docs-lineage-fct_orders.png")
    assert ui.close() == []


def test_the_gx_data_docs_list_suites_and_results_with_only_the_platform_reachable(
    stack_up, platform, browser
) -> None:
    base = stack_up["base_url"]
    ui = guarded(browser, (base,))
    airflow_login(ui.page, base, "monitor", platform.settings["AIRFLOW_MONITOR_PASSWORD"])
    page = ui.page
    page.goto(f"{base}/shop/data-docs/index.html")
    results = page.locator("table.ge-index-page-validation-results-table tbody tr")
    results.first.wait_for()
    assert "marts_publish" in results.first.inner_text() or "raw_landed" in results.first.inner_text()
    ui.screenshot("gx-data-docs-served.png", full_page=True)
    page.get_by_text("Expectation Suites", exact=True).first.click()
    suites = page.locator("table.ge-index-page-expectation_suites-table").inner_text()
    assert "raw__orders" in suites and "fct_orders" in suites, suites
    assert ui.close() == []


def test_airflow_passwords_are_stored_hashed_with_each_logins_roles(stack_up, platform) -> None:
    """The FAB auth manager: each login a salted scrypt hash in the metadata database, never the password
    itself; the operator an Admin, the monitor a Viewer with the project's Reports role."""
    with psycopg.connect(platform.airflow_db_url) as conn:
        rows = conn.execute(
            "select u.username, u.password, u.active, array_agg(r.name order by r.name) from ab_user u"
            " join ab_user_role ur on ur.user_id = u.id join ab_role r on r.id = ur.role_id"
            " where u.username = any(%s) group by u.username, u.password, u.active",
            [list(LOGINS)],
        ).fetchall()
    assert {name: roles for name, _, _, roles in rows} == {
        "operator": ["Admin"],
        "monitor": sorted(["Viewer", REPORTS_ROLE]),
    }
    for name, stored, active, _ in rows:
        password = platform.settings[LOGINS[name][1]]
        assert active and stored.startswith("scrypt:") and password not in stored, name


def test_the_monitor_reads_but_cannot_change_anything(stack_up, platform) -> None:
    """Through the REST API with its own token: it reads DAGs and runs; it may not trigger, pause, read
    connections or list logins (403 each)."""
    monitor = Api(stack_up["base_url"], "monitor", platform.settings["AIRFLOW_MONITOR_PASSWORD"])
    assert monitor.get(f"/api/v2/dags/{DAG_ID}/dagRuns").status_code == 200
    refused = {
        "trigger": monitor.client.post(f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None}),
        "pause": monitor.client.patch(f"/api/v2/dags/{DAG_ID}", json={"is_paused": True}),
        "connections": monitor.get("/api/v2/connections"),
        "logins": monitor.get("/auth/fab/v1/users"),
    }
    assert {what: answer.status_code for what, answer in refused.items()} == dict.fromkeys(refused, 403)
    operator = Api(stack_up["base_url"], "operator", platform.settings["AIRFLOW_OPERATOR_PASSWORD"])
    users = operator.get("/auth/fab/v1/users").json()["users"]
    assert {"operator", "monitor"} <= {user["username"] for user in users}


def test_the_airflow_login_refuses_a_wrong_password(stack_up, platform, browser) -> None:
    base = stack_up["base_url"]
    ui = guarded(browser, (base,))
    submit_airflow_login(ui.page, base, "operator", platform.settings["AIRFLOW_OPERATOR_PASSWORD"] + "x")
    expect(ui.page.get_by_text("Invalid login")).to_be_visible()
    assert "/auth/login" in ui.page.url
    ui.screenshot("airflow-login-refused.png")
    assert ui.page.request.get(f"{base}/api/v2/dags").status == 401  # no session came of it
    assert ui.close() == []


def test_the_operator_manages_the_logins_in_the_ui(stack_up, platform, browser) -> None:
    """Security → Users lists both logins with their roles, for the Admin."""
    base = stack_up["base_url"]
    ui = guarded(browser, (base,))
    airflow_login(ui.page, base, "operator", platform.settings["AIRFLOW_OPERATOR_PASSWORD"])
    page = ui.page
    assert {"Admin", "Security"} <= set(nav_menus(page))
    assert "Users" in nav_menu(page, "Security")
    page.goto(f"{base}/auth/users/list/")
    rows = {row.inner_text() for row in page.locator("table tr").all()}
    assert any("operator" in row and "[Admin]" in row for row in rows), rows
    assert any("monitor" in row and "Viewer" in row and REPORTS_ROLE in row for row in rows), rows
    ui.screenshot("airflow-users.png")
    assert ui.close() == []


def test_the_viewer_sees_the_reports_but_no_admin_or_security(stack_up, platform, browser) -> None:
    base = stack_up["base_url"]
    ui = guarded(browser, (base,))
    airflow_login(ui.page, base, "monitor", platform.settings["AIRFLOW_MONITOR_PASSWORD"])
    page = ui.page
    page.goto(f"{base}/dags/{DAG_ID}")
    page.get_by_text(DAG_ID).first.wait_for()
    menus = nav_menus(page)
    assert "Admin" not in menus and "Security" not in menus, menus
    assert "Monitoring report" in nav_menu(page, "Browse")
    assert {"GX data docs", "dbt docs"} <= set(nav_menu(page, "Docs"))
    ui.screenshot("airflow-viewer.png")
    page.goto(f"{base}/auth/users/list/")  # FAB sends a signed-in user without the right back home
    page.get_by_role("heading", name="Welcome").wait_for()
    assert "/auth/users" not in page.url and page.get_by_text("List Users").count() == 0
    assert ui.close() == []


def _pgadmin(platform) -> PgAdmin:
    return up.pgadmin(platform)


def test_pgadmin_shows_the_warehouse_tables_without_a_password_prompt(stack_up, platform, browser) -> None:
    """Logged in with the generated login; the warehouse server (the read-only role, its password in a
    passfile) connects on opening; the published marts' tables are listed."""
    admin = _pgadmin(platform)
    ui = guarded(browser, (admin.url,))
    page = ui.page
    pgadmin_login(page, admin.url, admin.email, admin.password)
    with page.expect_response(lambda r: "/browser/server/connect/" in r.url, timeout=60_000) as connect:
        for depth, name in enumerate(TREE[:2], start=1):  # opening the server connects to it
            pgadmin_expand(page, depth, name)
    assert connect.value.status == 200  # not 401 or 428: pgAdmin would ask for the password
    for depth, name in enumerate(TREE[2:], start=3):
        pgadmin_expand(page, depth, name)
    tables = page.locator(f".file-entry.depth-{len(TREE) + 1} .file-name")
    tables.first.wait_for(timeout=60_000)
    assert {"fct_orders", "dim_customers", "rpt_daily_revenue"} <= set(tables.all_inner_texts())
    assert page.locator("[role=dialog]:visible, input[type=password]:visible").count() == 0
    ui.screenshot("pgadmin-tables.png")
    assert ui.close() == []


def test_pgadmin_refuses_a_wrong_password(stack_up, platform, browser) -> None:
    admin = _pgadmin(platform)
    ui = guarded(browser, (admin.url,))
    pgadmin_login(ui.page, admin.url, admin.email, admin.password + "x")
    assert ui.page.url.endswith("/login")
    ui.page.goto(f"{admin.url}/browser/")
    assert "/login" in ui.page.url
    ui.close()


def test_pgadmin_configure_again_runs_no_pgadmin_command(stack_up, platform, monkeypatch) -> None:
    def refuse(*args: str, **env: str) -> str:
        raise AssertionError(f"pgadmin4-cli {args[1:]} ran")

    monkeypatch.setattr(PgAdmin, "_cli", refuse)
    _pgadmin(platform).configure()


def test_make_up_finds_the_gx_docs_where_gx_writes_them() -> None:
    """stack/doc_sites.py spells the site's path out (importing gx costs seconds on every `make up`)."""
    from gx.checkpoints import CONTEXT_DIR, DOCS_SITE
    from stack.doc_sites import gx_docs_index

    assert gx_docs_index() == CONTEXT_DIR / "uncommitted" / "data_docs" / DOCS_SITE / "index.html"
