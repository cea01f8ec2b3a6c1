"""How elt_ecommerce's `transform` task group runs the dbt project through Cosmos.

Imported at parse time by the DAG: Cosmos renders the group from dbt_project/target/manifest.json
(LoadMode.DBT_MANIFEST), so parsing runs no dbt and touches no database.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior
from cosmos.profiles import PostgresUserPasswordProfileMapping

from orchestration.connections import WAREHOUSE_CONN_ID
from orchestration.paths import DBT_MANIFEST, DBT_PROJECT


def configs() -> dict:
    """The keyword arguments of the DbtTaskGroup: project, profile (mapped from the Airflow connection
    `warehouse`, the transformer role), execution and rendering."""
    return {
        "project_config": ProjectConfig(
            dbt_project_path=DBT_PROJECT, manifest_path=DBT_MANIFEST, install_dbt_deps=False
        ),
        "profile_config": ProfileConfig(
            profile_name="shop",
            target_name="airflow",
            profile_mapping=PostgresUserPasswordProfileMapping(
                conn_id=WAREHOUSE_CONN_ID, profile_args={"schema": "staging", "threads": 4}
            ),
        ),
        # chosen by measurement (bench/transform_bench.py): one `dbt build` in a subprocess, not one
        # dbt per task, nor dbt inside the task's process (the producer took 2.3x the CLI that way)
        "execution_config": ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=str(Path(sys.executable).with_name("dbt")),
        ),
        "render_config": RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            # the producer's `dbt build` runs every test in dbt's order (a test reading two models
            # after both); each model's tests report in its `.test` task
            test_behavior=TestBehavior.AFTER_EACH,
        ),
    }


def producer_first(group: DbtTaskGroup) -> None:
    """Make Cosmos' WATCHER producer the upstream of the group's root sensors, without retries.

    Cosmos starts root sensors beside the producer (they defer to the triggerer until it reports).
    `airflow dags test` (make run, the e2e tests) runs one task at a time with no triggerer, so a root
    sensor picked before the producer would wait forever. Measured under a running scheduler, waiting
    for the producer costs the sensors little: the producer's `dbt build` dominates
    (docs/benchmarks.md, Transforming).
    A retried producer skips (Cosmos never runs a second `dbt build`) and the skip would pass the run
    with nothing built, so a failing build fails the run; a cleared model task re-runs that model.
    """
    prefix = f"{group.group_id}."
    producer = next(t for t in group.iter_tasks() if t.task_id.endswith("dbt_producer_watcher"))
    producer.retries = 0
    for node_task in list(group.iter_tasks()):
        if node_task is producer or node_task.task_id.endswith("dbt_producer_watcher_done"):
            continue
        if not any(upstream.startswith(prefix) for upstream in node_task.upstream_task_ids):
            producer >> node_task
