"""Transform benchmark: Cosmos task groups under a running scheduler ÷ plain `dbt build`, and parse time.

    .venv/bin/python bench/transform_bench.py [--orders 20000] [--days 5] [--projects shop,50,200]
                                              [--modes local,watcher,watcher_subprocess,watcher_overlap]
                                              [--parse-runs 7]

A throwaway Postgres (the project's own code) gets generated shop data (`--orders` over `--days`, 1%
faults). Airflow then runs as services (api-server, scheduler, dag-processor, triggerer; LocalExecutor,
parallelism 4). Each project is built from empty schemas, timed as wall clock:

- baseline:  `dbt build` (CLI, 4 threads: seeds, models, snapshots, tests), while the services idle;
- per mode:  a DAG holding one Cosmos `DbtTaskGroup` over that project (LoadMode.DBT_MANIFEST, the
             profile from connection `warehouse`, wired as in elt_ecommerce), triggered and run by
             the scheduler; its time is the first task's start to the last task's end, from
             Airflow's metadata database.

Projects: `shop` is this repository's dbt project on the generated data; `50` and `200` are generated
projects of that many models (bench/generated_project.py). Modes: `local` (LOCAL + dbtRunner, one dbt
invocation per task), `watcher` (WATCHER + dbtRunner: one producer runs `dbt build`, a deferrable
sensor per model reports it), `watcher_subprocess` (WATCHER + dbt as a subprocess), `watcher_overlap`
(as watcher_subprocess, but the sensors start beside the producer and poll every second).

Also DAG parse time, the median of `--parse-runs` fresh processes timing `DagBag(<file>)` (Airflow
imported before the clock starts, Cosmos after), for dags/elt_ecommerce.py and each generated DAG.
Prints figures and ratios; never fails on a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench.generated_project import SCHEMA as GENERATED_SCHEMA  # noqa: E402
from bench.generated_project import write_project  # noqa: E402
from extract.landing import load_landing  # noqa: E402
from simshop.generator import GeneratorConfig  # noqa: E402
from simshop.writers import write_landing  # noqa: E402
from stack import builds  # noqa: E402
from stack.environment import Environment  # noqa: E402
from stack.services import AirflowServices  # noqa: E402
from stack.settings import Settings  # noqa: E402
from tests.raw_layer import DBT_SCHEMAS, drop_schemas  # noqa: E402

# mode: (ExecutionMode, InvocationMode, TestBehavior, detach multi-parent tests, overlap). LOCAL runs one
# dbt per task, so a test reading two models gets its own task after both. WATCHER has no per-node
# `build` operator: its producer runs `dbt build` (every test in dbt's order) and each model's tests
# report through a `.test` sensor. The producer is made upstream of the root sensors, as in
# elt_ecommerce, unless the mode overlaps: then the sensors start beside the producer, defer, and
# the triggerer polls each node's result every second (Cosmos' default is 10 s).
MODES = {
    "local": ("LOCAL", "DBT_RUNNER", "BUILD", True, False),
    "watcher": ("WATCHER", "DBT_RUNNER", "AFTER_EACH", False, False),
    "watcher_subprocess": ("WATCHER", "SUBPROCESS", "AFTER_EACH", False, False),
    "watcher_overlap": ("WATCHER", "SUBPROCESS", "AFTER_EACH", False, True),
}
# the word "airflow" must appear in a DAG file, or the DAG processor skips it
DAG_TEMPLATE = '''"""airflow DAG written by bench/transform_bench.py: one Cosmos DbtTaskGroup, {mode}."""
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior
from cosmos.profiles import PostgresUserPasswordProfileMapping

with DAG(dag_id={dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    group = DbtTaskGroup(
        group_id="transform",
        project_config=ProjectConfig(
            dbt_project_path=Path({project!r}), manifest_path=Path({manifest!r}), install_dbt_deps=False
        ),
        profile_config=ProfileConfig(
            profile_name={profile!r},
            target_name="airflow",
            profile_mapping=PostgresUserPasswordProfileMapping(
                conn_id="warehouse", profile_args={{"schema": {schema!r}, "threads": 4}}
            ),
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.{execution},
            invocation_mode=InvocationMode.{invocation},
            dbt_executable_path={dbt!r},
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.{tests},
            should_detach_multiple_parents_tests={detach},
        ),
    )
    for sensor in group.iter_tasks() if {overlap} else ():
        if hasattr(sensor, "poke_interval"):
            sensor.poke_interval = 1
    if ExecutionMode.{execution} == ExecutionMode.WATCHER and not {overlap}:
        producer = next(t for t in group.iter_tasks() if t.task_id.endswith("dbt_producer_watcher"))
        for task in list(group.iter_tasks()):
            if task is not producer and not task.task_id.endswith("_done"):
                if not any(u.startswith("transform.") for u in task.upstream_task_ids):
                    producer >> task
'''
# Airflow itself is imported before the clock starts, as in the DAG processor; Cosmos is not: the file's
# own imports are part of its parse time.
PARSE = """
import time, logging
logging.disable(logging.CRITICAL)
from airflow.dag_processing.dagbag import DagBag
started = time.perf_counter()
bag = DagBag(dag_folder={path!r})
assert not bag.import_errors, bag.import_errors
print("PARSED", time.perf_counter() - started, sum(len(d.tasks) for d in bag.dags.values()))
"""


class Project:
    def __init__(self, name: str, folder: Path, profile: str, schemas: tuple[str, ...]):
        self.name, self.folder, self.profile, self.schemas = name, folder, profile, schemas

    def drop(self, url: str) -> None:
        drop_schemas(url, self.schemas)


def run_logged(cmd: list[str], variables: dict[str, str], log: Path) -> float:
    started = time.perf_counter()
    with log.open("a") as fh:
        done = subprocess.run(cmd, env=variables, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed; see {log}")
    return took


def wait_serialized(airflow_url: str, dag_ids: list[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(airflow_url) as conn:
            found = {r[0] for r in conn.execute("select dag_id from serialized_dag").fetchall()}
            errors = conn.execute("select filename, stacktrace from import_error").fetchall()
        if errors:
            raise SystemExit(f"DAG import error in {errors[0][0]}:\n{errors[0][1][-2000:]}")
        if set(dag_ids) <= found:
            return
        time.sleep(2)
    raise SystemExit(f"DAGs not serialized after {timeout}s: {sorted(set(dag_ids) - found)}")


def run_dag(airflow_url: str, dag_id: str, variables: dict[str, str], log: Path, timeout: float = 3600):
    """Trigger `dag_id` through the CLI, wait for the scheduler to finish it; (window s, tasks, state)."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    run_logged([airflow, "dags", "unpause", dag_id], variables, log)
    run_logged([airflow, "dags", "trigger", dag_id], variables, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(2)
        with psycopg.connect(airflow_url) as conn:
            state, run_id = conn.execute(
                "select state, run_id from dag_run where dag_id = %s order by id desc limit 1", [dag_id]
            ).fetchone()
            if state in ("success", "failed"):
                first, last, tasks, ok = conn.execute(
                    "select min(start_date), max(end_date), count(*),"
                    " count(*) filter (where state = 'success')"
                    " from task_instance where dag_id = %s and run_id = %s",
                    [dag_id, run_id],
                ).fetchone()
                return (last - first).total_seconds(), tasks, f"{state} ({ok}/{tasks} tasks ok)"
    raise SystemExit(f"{dag_id} did not finish in {timeout}s")


def parse_median(path: Path, variables: dict[str, str], runs: int) -> tuple[float, float, float, str]:
    times, tasks = [], "?"
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PARSE.format(path=str(path))],
            env=variables, capture_output=True, text=True, check=True,
        ).stdout.splitlines()  # fmt: skip
        # Airflow's own log lines share stdout: the figures are on the line the script marks
        _, took, tasks = next(line for line in out if line.startswith("PARSED ")).split()
        times.append(float(took))
    return statistics.median(times), min(times), max(times), tasks


def prepare_projects(names: list[str], work: Path, variables: dict[str, str]) -> list[Project]:
    projects = []
    for name in names:
        if name == "shop":
            projects.append(Project("shop", builds.DBT_PROJECT, "shop", DBT_SCHEMAS))
            continue
        folder = write_project(work / f"generated_{name}", models=int(name))
        dbt = str(Path(sys.executable).with_name("dbt"))
        run_logged([dbt, "parse", "--project-dir", str(folder), "--profiles-dir", str(folder)],
                   variables, work / "logs" / f"parse-{name}.log")  # fmt: skip
        projects.append(Project(name, folder, "bench", (GENERATED_SCHEMA,)))
    return projects


def write_dags(projects: list[Project], modes: list[str], folder: Path) -> dict[tuple[str, str], str]:
    folder.mkdir(parents=True, exist_ok=True)
    dag_ids = {}
    for project in projects:
        schema = "staging" if project.name == "shop" else GENERATED_SCHEMA
        for mode in modes:
            dag_id = f"bench_{project.name}_{mode}"
            execution, invocation, tests, detach, overlap = MODES[mode]
            text = DAG_TEMPLATE.format(
                mode=mode, dag_id=dag_id, project=str(project.folder),
                manifest=str(project.folder / "target" / "manifest.json"), profile=project.profile,
                schema=schema, execution=execution, invocation=invocation, tests=tests,
                detach=detach, overlap=overlap, dbt=str(Path(sys.executable).with_name("dbt")),
            )  # fmt: skip
            (folder / f"{dag_id}.py").write_text(text)
            dag_ids[project.name, mode] = dag_id
    return dag_ids


def run_all(args, url: str, airflow_url: str, services: AirflowServices, projects: list[Project],
            dag_ids: dict[tuple[str, str], str], work: Path) -> None:  # fmt: skip
    """Load the generated data, start the services, then per project: the CLI baseline and each mode's DAG."""
    config = GeneratorConfig(
        seed=2026, start=date(2026, 1, 5), days=args.days,
        orders_per_day=args.orders // args.days, fault_rate=0.01,
    )  # fmt: skip
    write_landing(config, work / "landing", progress=False)
    load_landing(url, work / "landing", progress=False, settle_seconds=0)
    services.start()
    variables = services.environment()
    wait_serialized(airflow_url, list(dag_ids.values()))
    print(f"Airflow services up on {services.base_url} (LocalExecutor, parallelism 4)\n")
    dbt = str(Path(sys.executable).with_name("dbt"))
    for project in projects:
        log = work / "logs" / f"{project.name}.log"
        project.drop(url)
        cli = [dbt, "build", "--project-dir", str(project.folder), "--profiles-dir", str(project.folder)]
        baseline = run_logged(cli, variables, log)
        print(f"{project.name:>5}  plain dbt build (CLI, 4 threads)      {baseline:7.1f} s", flush=True)
        for mode in args.modes.split(","):
            project.drop(url)
            window, tasks, state_text = run_dag(airflow_url, dag_ids[project.name, mode], variables, log)
            print(f"{project.name:>5}  {mode:<20} {tasks:4d} tasks       {window:7.1f} s"
                  f"   ÷ dbt build = {window / baseline:4.1f} x   {state_text}", flush=True)  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--projects", default="shop,50,200")
    parser.add_argument("--modes", default="local,watcher,watcher_subprocess")
    parser.add_argument("--parse-runs", type=int, default=7)
    parser.add_argument("--parse-only", action="store_true", help="only the DAG parse medians")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, work: Path, variables: dict[str, str], url: str, airflow_url: str,
        state: Path) -> None:  # fmt: skip
    """The benchmark proper. `variables`: the environment of a platform whose Airflow metadata database
    (`airflow_url`) is migrated and holds the logins, and whose connection `warehouse` and WAREHOUSE_*
    variables name the warehouse at `url` (with --parse-only neither is used: no Postgres needed). The
    projects, DAG files and logs go under `work`; the services' logs under `state` (their pidfiles under
    SHOP_STATE_DIR's `run/`)."""
    modes = args.modes.split(",")
    variables = {**variables, "AIRFLOW__CORE__DAGS_FOLDER": str(work / "dags")}
    services = None
    try:
        (work / "logs").mkdir(parents=True, exist_ok=True)
        builds.dbt_manifest(variables, state)
        projects = prepare_projects(args.projects.split(","), work, variables)
        dag_ids = write_dags(projects, modes, work / "dags")
        if not args.parse_only:
            services = AirflowServices(variables, state)
            run_all(args, url, airflow_url, services, projects, dag_ids, work)

        print("\nDAG parse, median of", args.parse_runs, "fresh processes:")
        targets = [("dags/elt_ecommerce.py", ROOT / "dags" / "elt_ecommerce.py")]
        for project in projects:
            if project.name != "shop":
                dag_id = dag_ids[project.name, modes[0]]
                targets.append((f"{project.name} models ({modes[0]})", work / "dags" / f"{dag_id}.py"))
        for label, path in targets:
            median, low, high, tasks = parse_median(path, variables, args.parse_runs)
            print(f"  {label:32} {median:5.2f} s  (min {low:.2f}, max {high:.2f}; {tasks} tasks)")
    finally:
        if services:
            services.stop()


def main(argv: list[str] | None = None) -> int:
    """`run` on a throwaway Postgres of its own (fresh credentials), migrated, and a temporary folder."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop the services and Postgres

    work = Path(tempfile.mkdtemp(prefix="shop-transform-bench-"))
    work.chmod(0o755)
    state = work / "state"
    env = Environment.load(settings=Settings.generate(), state=state, throwaway=False)
    os.environ["SHOP_STATE_DIR"] = str(state)  # pidfiles of the services go to this run's state
    variables = {**os.environ, **env.variables()}
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    try:
        if not args.parse_only:
            env.start_postgres()
            builds.airflow_migrate(variables, state)
            builds.airflow_logins(variables, state, env.settings)
        run(args, work, variables, env.warehouse_url, env.airflow_db_url, state)
    finally:
        env.stop_postgres()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
