"""Incremental benchmark: one more day with ~1% new rows ÷ a full refresh, on the dbt warehouse.

    .venv/bin/python bench/incremental_bench.py [--orders 1000000] [--days 100] [--fault-rate 0.01]

Generates `--orders` orders over `--days` days (dirty at `--fault-rate`, so quarantine and held orders
are part of the work), starts a throwaway Postgres with the project's own code, loads all days but the
last with the project's loader, and times with the dbt CLI (`dbt build` of models, snapshot and seeds,
4 threads; tests are timed separately):

- full:         `dbt build --full-refresh` over all those days (the baseline);
- incremental:  load the last day (1/days of the orders), then `dbt build`;
- tests:        `dbt test` after each, for the same two states.

Prints seconds and the ratio incremental ÷ full refresh (goal ≤ 0.10). Never fails on a time.
`--keep` leaves the database running, to look at plans (`EXPLAIN ANALYZE`) on the same data.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.throwaway import throwaway_warehouse  # noqa: E402
from extract.landing import load_landing  # noqa: E402
from monitoring.freshness import profile_env as dbt_env  # noqa: E402
from simshop.generator import GeneratorConfig  # noqa: E402
from simshop.writers import write_landing  # noqa: E402
from tests.warehouse import DBT_PROJECT  # noqa: E402

# models, the snapshot and seeds: what a run writes (tests are timed on their own)
NO_TESTS = ("--resource-type", "model", "--resource-type", "snapshot", "--resource-type", "seed")


def dbt(url: str, target: Path, *args: str) -> float:
    cmd = [str(Path(sys.executable).with_name("dbt")), *args, "--project-dir", str(DBT_PROJECT)]
    cmd += ["--profiles-dir", str(DBT_PROJECT), "--target-path", str(target), "--log-path", str(target)]
    started = time.perf_counter()
    done = subprocess.run(cmd, env=dbt_env(url), capture_output=True, text=True, cwd=DBT_PROJECT)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"dbt {' '.join(args)} failed:\n{done.stdout[-4000:]}")
    return took


def model_times(target: Path) -> dict[str, float]:
    results = json.loads((target / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    shop_arguments(parser)
    parser.add_argument("--keep", action="store_true", help="leave Postgres running and the data in place")
    return parser.parse_args(argv)


def shop_arguments(parser: argparse.ArgumentParser) -> None:
    """The generated shop's options, what `generate` reads: `--orders` over `--days`, `--fault-rate` dirty."""
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--fault-rate", type=float, default=0.01)


def generate(args: argparse.Namespace, landing: Path, *, progress: bool = False) -> list[str]:
    """The generated shop (`--orders` over `--days`, `--fault-rate` dirty) written to `landing`; its days.
    `progress`: the writer's progress bar on stderr."""
    config = GeneratorConfig(
        seed=2026, start=date(2026, 1, 5), days=args.days,
        orders_per_day=args.orders // args.days, fault_rate=args.fault_rate,
    )  # fmt: skip
    write_landing(config, landing, progress=progress)
    return [day["date"] for day in json.loads((landing / "_manifest.json").read_text())["days"]]


def run(args: argparse.Namespace, url: str, work: Path) -> None:
    """The benchmark proper, on the empty warehouse at `url` (schemas made, nothing loaded); the generated
    shop and dbt's artefacts go under `work`."""
    started = time.perf_counter()
    days = generate(args, work / "landing")
    took = time.perf_counter() - started
    print(f"generated {args.orders:,} orders over {args.days} days in {took:.0f}s")
    started = time.perf_counter()
    load_landing(url, work / "landing", days=set(days[:-1]), progress=False, settle_seconds=0)
    print(f"loaded {len(days) - 1} days in {time.perf_counter() - started:.0f}s")
    target = work / "target"
    dbt(url, target, "seed")  # seeds and parse out of the timings
    full = dbt(url, target, "build", "--full-refresh", *NO_TESTS)
    full_models = model_times(target)
    full_tests = dbt(url, target, "test")
    started = time.perf_counter()
    load_landing(url, work / "landing", days={days[-1]}, progress=False, settle_seconds=0)
    print(f"loaded the last day in {time.perf_counter() - started:.1f}s")
    incremental = dbt(url, target, "build", *NO_TESTS)
    incremental_models = model_times(target)
    incremental_tests = dbt(url, target, "test")
    print(f"\n{'model':34} {'full s':>8} {'incr. s':>8}")
    for name, took in sorted(full_models.items(), key=lambda kv: -kv[1]):
        print(f"{name:34} {took:8.2f} {incremental_models.get(name, 0):8.2f}")
    print(f"\n{'':34} {'full':>8} {'incr.':>8} {'ratio':>7}")
    print(f"{'models + snapshot (wall, s)':34} {full:8.1f} {incremental:8.1f} {incremental / full:7.3f}")
    print(f"{'dbt test (wall, s)':34} {full_tests:8.1f} {incremental_tests:8.1f}")
    total_full, total_incr = full + full_tests, incremental + incremental_tests
    ratio = total_incr / total_full
    print(f"{'run + test (wall, s)':34} {total_full:8.1f} {total_incr:8.1f} {ratio:7.3f}")
    print(f"\nincremental day ÷ full refresh (models + snapshot): {incremental / full:.3f} (goal ≤ 0.10)")


def main(argv: list[str] | None = None) -> int:
    """`run` on a throwaway Postgres of its own (fresh credentials) and a temporary folder."""
    args = parse_args(argv)
    with throwaway_warehouse("shop-incr-bench-", keep=args.keep) as (url, work):
        run(args, url, work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
