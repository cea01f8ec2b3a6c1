"""Every DAG in dags/ imports cleanly and follows the house rules; elt_ecommerce has its expected graph."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from publish import MARTS

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag(dbt_manifest: Path):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}, "\n".join(f"{k}: {v}" for k, v in dagbag.import_errors.items())


def test_each_file_is_one_dag_named_after_it(dagbag) -> None:
    files = {path.stem for path in DAGS_FOLDER.glob("*.py")}
    assert set(dagbag.dag_ids) == files


@pytest.mark.parametrize("dag_id", [p.stem for p in DAGS_FOLDER.glob("*.py")])
def test_tags_retries_and_owner(dagbag, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    assert dag.tags, f"{dag_id} has no tags"
    for task in dag.tasks:
        if task.task_id.endswith(".dbt_producer_watcher"):  # a retried producer would skip: see the DAG
            assert task.retries == 0
            continue
        assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


def test_elt_ecommerce_has_one_task_per_dbt_model(dagbag, dbt_manifest: Path) -> None:
    manifest = json.loads(dbt_manifest.read_text())
    nodes = manifest["nodes"].values()
    models = {node["name"] for node in nodes if node["resource_type"] == "model"}
    dag = dagbag.dags["elt_ecommerce"]
    dbt_tasks = {
        t.task_id.removeprefix("transform.") for t in dag.tasks if t.task_id.startswith("transform.")
    }
    # WATCHER: one producer runs `dbt build`; one task per model and seed (`.run`/`.seed`) and per
    # snapshot reports its node, and a `.test` task its tests
    reported = {f"{n['name']}.run" for n in nodes if n["resource_type"] == "model"}
    reported |= {f"{n['name']}.seed" for n in nodes if n["resource_type"] == "seed"}
    reported |= {f"{n['name']}_snapshot" for n in nodes if n["resource_type"] == "snapshot"}
    producer = {"dbt_producer_watcher", "dbt_producer_watcher_done"}
    assert reported | producer <= dbt_tasks
    assert all(task.endswith(".test") for task in dbt_tasks - reported - producer)
    assert {f"{model}.test" for model in models} <= dbt_tasks
    assert {"stg_shop__orders", "fct_orders"} <= models


def test_elt_ecommerce_task_order(dagbag) -> None:
    dag = dagbag.dags["elt_ecommerce"]
    entities = ("customers", "products", "orders", "order_items", "sessions")
    for entity in entities:
        assert [a.name for a in dag.get_task(f"load_{entity}").outlets] == [f"raw.{entity}"]
    assert dag.get_task("scan_inbox").downstream_task_ids == {f"load_{e}" for e in entities} | {
        "skip_if_nothing_new",  # counts in the ledger what came after the scan's last batch
        "build_report",
    }
    later = {"load_orders", "load_order_items", "load_sessions"}
    for entity in ("customers", "products"):  # what the others name lands first
        assert dag.get_task(f"load_{entity}").downstream_task_ids == later | {
            "skip_if_nothing_new",
            "build_report",
        }
    for task_id in later:
        assert dag.get_task(task_id).upstream_task_ids == {"scan_inbox", "load_customers", "load_products"}
        assert dag.get_task(task_id).downstream_task_ids == {"skip_if_nothing_new", "build_report"}
    assert dag.get_task("skip_if_nothing_new").downstream_task_ids == {"validate_raw"}
    assert dag.get_task("validate_raw").downstream_task_ids == {"transform.dbt_producer_watcher"}
    producer = dag.get_task("transform.dbt_producer_watcher")
    roots = producer.downstream_task_ids - {"transform.dbt_producer_watcher_done"}
    assert roots and all(r.startswith("transform.stg_shop__") or r.endswith(".seed") for r in roots)
    leaves = {
        t.task_id
        for t in dag.tasks
        if t.task_id.startswith("transform.")
        and not any(d.startswith("transform.") for d in t.downstream_task_ids)
    }
    assert {"transform.rpt_daily_revenue.test", "transform.dbt_producer_watcher_done"} <= leaves
    assert dag.get_task("validate_marts").upstream_task_ids == leaves
    # write-audit-publish: nothing is published unless the audit passed
    assert dag.get_task("publish_marts").upstream_task_ids == {"validate_marts"}
    assert dag.get_task("build_report").upstream_task_ids == {"publish_marts", "scan_inbox"} | {
        f"load_{e}" for e in entities
    }
    assert dag.get_task("build_report").trigger_rule == "none_failed"  # it reports a run with nothing new
    assert [a.name for a in dag.get_task("publish_marts").outlets] == [f"marts.{m}" for m in MARTS]


def test_data_quality_is_the_weekly_deep_check_off_the_days_path(dagbag) -> None:
    """Not scheduled on the ELT's Assets (a day's run must not pay for all history): weekly, and by hand."""
    quality = dagbag.dags["data_quality"]
    assert quality.timetable.expression == "0 3 * * 0"
    assert not getattr(quality.timetable, "asset_condition", None)
    assert {t.task_id for t in quality.tasks} == {"check_raw", "test_models", "check_marts"}
    assert "raw_history" in quality.get_task("check_raw").python_callable.__doc__


def test_monitoring_runs_hourly_and_on_the_published_marts(dagbag) -> None:
    elt, monitoring = dagbag.dags["elt_ecommerce"], dagbag.dags["monitoring"]
    published = {asset.name for asset in elt.get_task("publish_marts").outlets}
    timetable = monitoring.timetable
    assert timetable.timetable.expression == "0 * * * *"
    assert {asset.name for asset in timetable.asset_condition.objects} == published
    drift = monitoring.get_task("record_drift")
    assert [a.name for a in drift.outlets] == ["monitoring.drift"]
    assert drift.upstream_task_ids == {"detect_drift"}
    assert monitoring.get_task("evaluate_alerts").upstream_task_ids == {
        "collect_airflow_runs",
        "check_source_freshness",
        "collect_database_health",
        "detect_drift",
    }
    assert monitoring.get_task("publish_status").upstream_task_ids == {"evaluate_alerts"}


def test_health_check_is_weekly_and_records_every_check(dagbag) -> None:
    dag = dagbag.dags["health_check"]
    assert dag.timetable.expression == "0 0 * * 0"
    assert dag.get_task("record_health").upstream_task_ids == {
        "check_database",
        "check_airflow",
        "check_docs",
        "check_disk",
        "summarize_checks",
    }
