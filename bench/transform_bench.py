"""Transform benchmark: the Cosmos task group in the ELT DAG ÷ the plain `dbt build` CLI, and DAG parse time.

    .venv/bin/python bench/transform_bench.py [--orders 20000] [--days 5] [--parse-runs 7]

In a throwaway Postgres (the project's own code), generated data (`--orders` over `--days`, 1% faults) is
loaded, then built twice from empty dbt schemas, each timed as wall clock:

- baseline:  `dbt build` (CLI, 4 threads: seeds, models, snapshot, tests);
- cosmos:    `airflow dags test elt_ecommerce` (the DAG loads its own small sample day on top); the
             transform group's time is the first `transform.*` task's start to the last one's end, from
             Airflow's metadata database.

Also the DAG file's parse time: the median of `--parse-runs` fresh processes, each timing
`DagBag(<dags folder>)` (Cosmos renders the group from target/manifest.json: LoadMode.DBT_MANIFEST).

Caveat: `airflow dags test` runs tasks one at a time in one process; a running scheduler with a
LocalExecutor is not measured here (issue 7 brings the services up). Never fails on a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
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
from psycopg import sql  # noqa: E402

from extract.generator import GeneratorConfig  # noqa: E402
from extract.landing import load_landing  # noqa: E402
from extract.writers import write_landing  # noqa: E402
from stack import builds  # noqa: E402
from stack.environment import Environment  # noqa: E402
from stack.settings import Settings  # noqa: E402
from tests.raw_layer import DBT_SCHEMAS  # noqa: E402

PARSE = """
import time, logging
logging.disable(logging.CRITICAL)
started = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder={folder!r}, include_examples=False)
assert not bag.import_errors, bag.import_errors
print(time.perf_counter() - started, len(bag.dags["elt_ecommerce"].tasks))
"""


def drop_dbt_schemas(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in DBT_SCHEMAS:
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))


def timed(cmd: list[str], variables: dict[str, str], log: Path) -> float:
    started = time.perf_counter()
    with log.open("w") as fh:
        done = subprocess.run(cmd, env=variables, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed; see {log}")
    return took


def transform_window(airflow_url: str) -> tuple[float, int]:
    with psycopg.connect(airflow_url) as conn:
        first, last, tasks = conn.execute(
            "select min(start_date), max(end_date), count(*) from task_instance"
            " where dag_id = 'elt_ecommerce' and task_id like 'transform.%'"
        ).fetchone()
    return (last - first).total_seconds(), tasks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--parse-runs", type=int, default=7)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="shop-transform-bench-"))
    work.chmod(0o755)
    env = Environment.load(settings=Settings.generate(), state=work / "state", throwaway=False)
    variables = {**os.environ, **env.variables()}
    bin_dir = Path(sys.executable).parent
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    try:
        config = GeneratorConfig(
            seed=2026, start=date(2026, 1, 5), days=args.days,
            orders_per_day=args.orders // args.days, fault_rate=0.01,
        )  # fmt: skip
        write_landing(config, work / "landing", progress=False)
        env.start_postgres()
        load_landing(env.warehouse_url, work / "landing", progress=False)
        builds.airflow_migrate(variables, env.state)
        builds.dbt_manifest(variables, env.state)
        (work / "logs").mkdir()

        baseline = timed([str(bin_dir / "dbt"), "build", "--project-dir", str(builds.DBT_PROJECT)],
                         variables, work / "logs" / "dbt-build.log")  # fmt: skip
        drop_dbt_schemas(env.warehouse_url)
        day = "2026-11-20"
        dag_wall = timed([str(bin_dir / "airflow"), "dags", "test", "elt_ecommerce", day],
                         variables, work / "logs" / "dags-test.log")  # fmt: skip
        window, tasks = transform_window(env.airflow_db_url)

        parses = []
        for _ in range(args.parse_runs):
            out = subprocess.run(
                [sys.executable, "-c", PARSE.format(folder=str(ROOT / "dags"))],
                env=variables, capture_output=True, text=True, check=True,
            ).stdout.split()  # fmt: skip
            parses.append(float(out[0]))
        print(f"\ndata: {args.orders:,} orders over {args.days} days; {tasks} Cosmos tasks")
        print(f"{'plain dbt build (CLI, wall)':44} {baseline:7.1f} s")
        ratio = window / baseline
        print(f"{'Cosmos transform group (dags test)':44} {window:7.1f} s   ÷ dbt build = {ratio:.1f} x")
        print(f"{'whole elt_ecommerce run (dags test, wall)':44} {dag_wall:7.1f} s")
        print(f"{'DAG parse, median of ' + str(args.parse_runs):44} {statistics.median(parses):7.2f} s"
              f"   (min {min(parses):.2f}, max {max(parses):.2f}; {out[1]} tasks)")  # fmt: skip
    finally:
        env.stop_postgres()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
