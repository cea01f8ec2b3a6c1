"""The monitoring story on a running platform: Airflow's api-server, scheduler, dag-processor and
triggerer (LocalExecutor), real ELT days, the monitoring DAG scheduled by the scheduler, alerts
delivered to a local SMTP sink and a local webhook receiver.

Day 1 is good: its published marts trigger `monitoring` (Asset schedule); the status is healthy and no
alert goes out. Day 2 carries orders without an id: the ELT fails at its raw gate, and while it runs
the status endpoint keeps answering from stored data. Two monitoring runs by hand then send one alert per
incident (the failed ELT run, the failed checkpoint), not one per run. Day 3 is good again: its
monitoring run sends one recovery message per incident. Finally `health_check` runs by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import psycopg
import pytest

from simshop.sample import write_days
from stack.databases import ensure_schemas
from stack.doc_sites import build_dbt_docs
from stack.services import AirflowServices
from tests.monitoring.platform import Api, SmtpSink, WebhookReceiver
from tests.raw_layer import reset_raw
from tests.ui import guarded

ROOT = Path(__file__).resolve().parents[2]
DAYS = ("2026-11-10", "2026-11-11", "2026-11-12")
BROKEN_ORDERS = (
    "order_id,customer_id,status,ordered_at,updated_at,shipping_amount,discount_amount,payment_method\n"
    + ",C00001,paid,2026-11-11T10:00:00Z,2026-11-11T10:00:00Z,0,0,card\n" * 3
)


def _clean_slate(platform) -> None:
    """No runs of earlier test modules in Airflow, no raw, marts or monitoring data in the warehouse."""
    with psycopg.connect(platform.airflow_db_url) as conn:
        conn.execute("delete from dag_run")
        conn.execute("delete from asset_dag_run_queue")
    reset_raw(platform.warehouse_url)
    with psycopg.connect(platform.warehouse_url) as conn:
        conn.execute("drop schema if exists monitoring cascade")
    ensure_schemas(platform.warehouse_url)  # monitoring again, with the reader's grants (the status endpoint)


def _withdraw_batches_with_null_keys(url: str) -> None:
    """What an operator does about a bad file: take its batch out of raw and mark it withdrawn in the
    ledger (the raw gate reconciles raw with the ledger's loaded batches, so deleting rows alone fails)."""
    with psycopg.connect(url) as conn:
        batches = [
            b for (b,) in conn.execute("select distinct _batch_id from raw.orders where order_id is null")
        ]
        conn.execute("delete from raw.orders where _batch_id = any(%s)", [batches])
        conn.execute("update raw.load_ledger set status = 'withdrawn' where batch_id = any(%s)", [batches])


def _listening() -> set[tuple[str, int]]:
    """(address, port) of every TCP socket the Airflow services (and their children) listen on."""
    import psutil

    from stack import processes

    found = set()
    for name, pid in processes.running().items():
        if not name.startswith("airflow-"):
            continue
        try:
            leader = psutil.Process(pid)
            family = [leader, *leader.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for proc in family:
            try:  # task processes come and go while we look
                sockets = proc.net_connections(kind="tcp")
            except psutil.NoSuchProcess:
                continue
            found.update((c.laddr.ip, c.laddr.port) for c in sockets if c.status == psutil.CONN_LISTEN)
    return found


def _elt(services: AirflowServices, day: str, log: Path) -> subprocess.Popen:
    cmd = [str(Path(sys.executable).with_name("airflow")), "dags", "test", "elt_ecommerce", day]
    with log.open("ab") as out:
        return subprocess.Popen(cmd, env=services.environment(), stdout=out, stderr=subprocess.STDOUT)


def _query(url: str, query: str, params=None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def _deliver(shop: Path, inbox: Path, day: str) -> None:
    """The shop delivers one day of the sample: its files copied from `shop` into the inbox."""
    for folder in shop.glob(f"*/{day}"):
        shutil.copytree(folder, inbox / folder.relative_to(shop))


@pytest.fixture(scope="module")
def story(platform, airflow_db, tmp_path_factory):
    _clean_slate(platform)
    logs = tmp_path_factory.mktemp("story")
    shop, inbox = logs / "shop", logs / "inbox"
    write_days(shop, date.fromisoformat(DAYS[0]), len(DAYS))
    inbox.mkdir()
    seen: dict = {"logs": logs, "shop": shop}
    with SmtpSink() as smtp, WebhookReceiver() as webhook:
        smtp_conn = {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": smtp.port,
            "extra": {"from_email": "airflow@shop.test", "disable_ssl": True, "disable_tls": True},
        }
        variables = {
            **os.environ,
            "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(smtp_conn),
            "AIRFLOW_VAR_SHOP_ALERT_EMAILS": "data-team@shop.test",
            "AIRFLOW_CONN_ALERT_WEBHOOK": json.dumps({"conn_type": "http", "extra": {"url": webhook.url}}),
            "AIRFLOW_VAR_SHOP_INBOX": str(inbox),
            "AIRFLOW_VAR_SHOP_INBOX_SETTLE_SECONDS": "0",  # each day is copied whole before its run
        }
        services = AirflowServices(variables, platform.state)
        services.start()
        try:
            seen.update(smtp=smtp, webhook=webhook, base_url=services.base_url)
            operator = Api(services.base_url, "operator", platform.settings["AIRFLOW_OPERATOR_PASSWORD"])
            monitor = Api(services.base_url, "monitor", platform.settings["AIRFLOW_MONITOR_PASSWORD"])
            seen["monitor"] = monitor
            for dag_id in ("monitoring", "health_check", "elt_ecommerce"):
                operator.wait_for_dag(dag_id)
            seen["status_before"] = monitor.get("/shop/status").status_code
            seen["plugins"] = operator.get("/api/v2/plugins").json()["plugins"]
            operator.unpause("monitoring")

            # day 1: good; its publication triggers the monitoring DAG
            _deliver(shop, inbox, DAYS[0])
            assert _elt(services, DAYS[0], logs / "day1.log").wait() == 0, (logs / "day1.log").read_text()[
                -3000:
            ]
            runs = operator.settle(
                "monitoring", lambda rs: any(r["run_type"] == "asset_triggered" for r in rs)
            )
            seen["day1_runs"] = runs
            seen["day1_status"] = monitor.get("/shop/status").json()
            seen["day1_report"] = monitor.get("/shop/report")
            seen["day1_alerts"] = (list(smtp.subjects), list(webhook.bodies))
            seen["listening"] = _listening()

            # day 2: orders without an id; poll the status endpoint while the ELT runs
            _deliver(shop, inbox, DAYS[1])
            broken = inbox / "orders" / DAYS[1] / "broken.csv"
            broken.write_text(BROKEN_ORDERS)
            elt = _elt(services, DAYS[1], logs / "day2.log")
            answers = []
            while elt.poll() is None:
                states = [
                    r["state"] for r in operator.runs("elt_ecommerce") if DAYS[1] in (r["logical_date"] or "")
                ]
                started = time.perf_counter()
                answer = monitor.get("/shop/status")
                answers.append(
                    (states[0] if states else None, answer.status_code, time.perf_counter() - started)
                )
                time.sleep(0.5)
            seen["day2_rc"], seen["day2_answers"] = elt.returncode, answers
            _withdraw_batches_with_null_keys(platform.warehouse_url)
            broken.unlink()
            for _ in range(2):
                operator.trigger("monitoring")
                operator.settle("monitoring", lambda rs: True)
            seen["day2_status"] = monitor.get("/shop/status").json()
            seen["day2_alerts"] = (list(smtp.subjects), list(webhook.bodies))

            # day 3: good again
            _deliver(shop, inbox, DAYS[2])
            before = len(operator.runs("monitoring"))
            assert _elt(services, DAYS[2], logs / "day3.log").wait() == 0, (logs / "day3.log").read_text()[
                -3000:
            ]
            operator.settle("monitoring", lambda rs: len(rs) > before)
            seen["day3_status"] = monitor.get("/shop/status").json()
            seen["day3_alerts"] = (list(smtp.subjects), list(webhook.bodies))

            # the weekly health check, by hand, with the dbt docs built as `make up` builds them
            build_dbt_docs(dict(os.environ), platform.state)
            operator.unpause("health_check")  # may also start this week's scheduled run: told apart by id
            run_id = operator.trigger("health_check")
            runs = operator.settle("health_check", lambda rs: any(r["dag_run_id"] == run_id for r in rs))
            seen["health_run"] = next(r for r in runs if r["dag_run_id"] == run_id)
            yield seen
        finally:
            services.stop()


def test_the_published_marts_trigger_monitoring_and_it_succeeds(story) -> None:
    states = {(r["run_type"], r["state"]) for r in story["day1_runs"]}
    assert ("asset_triggered", "success") in states
    assert all(r["state"] == "success" for r in story["day1_runs"])
    took = ", ".join(f"{r['run_type']} {r['duration']:.1f} s" for r in story["day1_runs"])
    print(f"\nmonitoring runs after day 1: {took}")


def test_the_status_answers_from_stored_data(story) -> None:
    assert story["status_before"] == 503  # no monitoring run yet: nothing stored, nothing invented
    status = story["day1_status"]
    assert status["overall"] == "healthy"
    assert status["last_elt_run"]["state"] == "success"
    assert status["last_elt_run"]["logical_date"].startswith(DAYS[0])
    assert status["failing_checks"] == [] and status["stale_sources"] == []
    assert status["age_s"] >= 0


def test_the_collected_history(story, platform) -> None:
    from tests.e2e.test_elt_ecommerce import implied

    url = platform.warehouse_url
    runs = _query(url, "select run_id, state from monitoring.airflow_dag_runs where dag_id = 'elt_ecommerce'")
    assert sorted(state for _, state in runs) == ["failed", "success", "success"]
    # `airflow dags test` of a past date reports that date as the run's start: durations come from the tasks
    durations = _query(
        url, "select duration_s from monitoring.airflow_dag_runs where dag_id = 'elt_ecommerce'"
    )
    assert all(0 < seconds < 3600 for (seconds,) in durations)
    tasks = _query(
        url,
        "select count(*), count(*) filter (where task_id like 'transform.%%') from"
        " monitoring.airflow_task_instances where dag_id = 'elt_ecommerce' and run_id = %s",
        [runs[0][0]],
    )[0]
    assert tasks[0] > 20 and tasks[1] > 10  # every task, Cosmos' dbt nodes included
    assert _query(url, "select count(distinct table_name) from monitoring.source_freshness")[0] == (5,)
    health = _query(url, "select connections, cache_hit_ratio, database_bytes from monitoring.db_health")
    assert health and all(c > 0 and 0 < ratio <= 1 and size > 0 for c, ratio, size in health)
    assert _query(url, "select count(*) > 10 from monitoring.table_stats")[0] == (True,)
    days = _query(url, "select day::text, row_count from monitoring.mart_volumes where mart = 'fct_orders'")
    # day 2's good files still flowed: only its broken file's batch was withdrawn
    orders_per_day = implied(story["shop"])[1]
    assert sorted(days) == [(day, orders_per_day[day][0]) for day in DAYS]
    collected = _query(
        url, "select is_nothing_new, files_new from monitoring.collections order by collected_at"
    )
    assert collected == [(False, 5), (False, 5)]  # days 1 and 3 (day 2's run failed before its report)


def test_the_report_is_self_contained_with_charts(story, platform) -> None:
    answer = story["day1_report"]
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    page = (platform.state / "reports" / "monitoring" / "index.html").read_text()
    assert page.count("<svg") >= 5
    for caption in ("Orders per day", "Net revenue per day", "run duration", "Failed task instances",
                    "GX expectations passed", "Rejected rows by reason"):  # fmt: skip
        assert caption in page
    assert "src=" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert json.loads((platform.state / "reports" / "monitoring" / "status.json").read_text())["overall"]


def test_the_report_renders_in_a_browser(story, browser) -> None:
    """Chromium, logged in as `monitor` (Airflow's session cookie), opens /shop/report from the API server;
    nothing but the API server is requested (requests elsewhere are refused and recorded)."""
    base = story["base_url"]
    ui = guarded(browser, (base,))
    ui.context.add_cookies([{"name": "_token", "value": story["monitor"].token, "url": base}])
    page = ui.page
    page.goto(f"{base}/shop/report")
    assert page.locator("#overall").inner_text() == "healthy"
    assert page.locator("figure.chart").count() == 6
    assert page.locator("figure.chart svg").count() >= 5  # the sample days have no rejected rows to chart
    assert page.locator("figure.chart svg polyline, figure.chart svg rect").count() >= 4
    ui.screenshot("monitoring-report.png", full_page=True)
    assert ui.close() == []


def test_the_airflow_ui_links_the_report(story) -> None:
    plugin = next(p for p in story["plugins"] if p["name"] == "shop_warehouse")
    views = [(v["name"], v["href"], v["destination"], v["category"]) for v in plugin["external_views"]]
    assert views == [
        ("Monitoring report", "shop/report", "nav", "browse"),
        ("GX data docs", "shop/data-docs/index.html", "nav", "docs"),
        ("dbt docs", "shop/dbt-docs/index.html", "nav", "docs"),
    ]
    assert [a["url_prefix"] for a in plugin["fastapi_apps"]] == ["/shop"]


def test_the_services_listen_on_loopback_only(story) -> None:
    """The API server on 127.0.0.1; no log server on every interface (8793/8794 by default)."""
    port = int(story["base_url"].rsplit(":", 1)[1])
    assert ("127.0.0.1", port) in story["listening"]
    assert {address for address, _ in story["listening"]} == {"127.0.0.1"}


def test_the_endpoints_need_a_login(story) -> None:
    import httpx

    for path in ("status", "report", "data-docs/index.html", "dbt-docs/index.html"):
        assert httpx.get(f"{story['base_url']}/shop/{path}").status_code == 401, path


def test_the_data_docs_are_served_and_nothing_outside_them(story) -> None:
    monitor = story["monitor"]
    index = monitor.get("/shop/data-docs/index.html")
    assert index.status_code == 200 and "raw_landed" in index.text
    assert monitor.get("/shop/data-docs/static/vendor/jquery@3.7.1/dist/jquery.min.js").status_code == 200
    assert monitor.get("/shop/data-docs/..%2F..%2Fgreat_expectations.yml").status_code == 404


def test_the_status_answers_while_the_elt_runs(story) -> None:
    answers = story["day2_answers"]
    while_running = [a for a in answers if a[0] == "running"]
    assert while_running, "the ELT run was never seen running"
    assert all(code == 200 for _, code, _ in answers)
    ms = sorted(seconds * 1000 for *_, seconds in while_running)
    print(
        f"\n/shop/status during the ELT run: {len(ms)} answers,"
        f" median {ms[len(ms) // 2]:.0f} ms, slowest {ms[-1]:.0f} ms"
    )


def test_a_failed_day_alerts_once_per_incident(story) -> None:
    assert story["day2_rc"] != 0
    assert story["day1_alerts"] == ([], [])
    subjects, hooks = story["day2_alerts"]
    assert sorted(s.split(":")[0] for s in subjects) == [
        "[shop-warehouse] PROBLEM blocking_check",
        "[shop-warehouse] PROBLEM elt_failure",
    ]
    assert len(hooks) == 2 and all("PROBLEM" in h["text"] for h in hooks)
    assert any("raw_landed" in s for s in subjects) and any("validate_raw" in s for s in subjects)
    status = story["day2_status"]
    assert status["overall"] == "failing"
    assert [c["checkpoint"] for c in status["failing_checks"]] == ["raw_landed"]


def test_recovery_is_announced_once(story) -> None:
    subjects, hooks = story["day3_alerts"]
    recovered = sorted(s.split(":")[0] for s in subjects[2:])
    assert recovered == ["[shop-warehouse] RESOLVED blocking_check", "[shop-warehouse] RESOLVED elt_failure"]
    assert len(hooks) == 4 and all("RESOLVED" in h["text"] for h in hooks[2:])
    assert story["day3_status"]["overall"] == "healthy"


def test_the_health_check_passes_and_is_recorded(story, platform) -> None:
    run = story["health_run"]
    assert run["state"] == "success"
    checks = dict(
        _query(
            platform.warehouse_url,
            "select name, ok from monitoring.health_checks where run_id = %s",
            [run["dag_run_id"]],
        )
    )
    assert checks == {"database": True, "airflow": True, "docs": True, "disk": True, "summary": True}
