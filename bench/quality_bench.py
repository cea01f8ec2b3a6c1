"""Quality-gate benchmark: a day's GX gates on 1M orders of history ÷ the deep check and ÷ dbt build.

    .venv/bin/python bench/quality_bench.py [--orders 1000000] [--days 100] [--fault-rate 0.01]
                                            [--checkpoints raw_landed,raw_history,marts_publish]

Generates `--orders` orders over `--days` days (dirty at `--fault-rate`), starts a throwaway Postgres
with the project's own code, loads all days but the last with the project's loader and builds the
warehouse (`dbt build --full-refresh` of models, snapshot and seeds, 4 threads, tests apart). Then a day,
as the DAG runs it: the last day is loaded, `raw_landed` validates its batches (the pending ones, what the
next build reads) and `raw_history` every batch (the weekly deep check, the baseline of the day's raw
gate), the day's incremental `dbt build` and `dbt test` run (the baseline of the gates), then
`marts_publish` audits the build and the publish swap. Each checkpoint runs as the DAG runs it, in a process
of its own. Prints, per checkpoint, the wall time with and without GX's import and the peak RSS of its
process; the day's raw gate ÷ the deep check; the day's gates ÷ the day's dbt build (goal ≤ 0.5); peak RSS
(goal < 500 MB). Each checkpoint also runs with GX's own `UnexpectedRowsExpectation` for the SQL checks
(baseline "gx two-query": a count, then the rows, each a run of the check's query) against the project's
one-query check (gx/query_check.py), in alternating order. `--checkpoints` runs only some of the three.
Never fails on a time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.incremental_bench import NO_TESTS, dbt, generate, shop_arguments  # noqa: E402
from bench.throwaway import throwaway_warehouse  # noqa: E402
from extract.landing import load_landing  # noqa: E402

CHECKPOINTS = ("raw_landed", "raw_history", "marts_publish")
BEFORE_BUILD = ("raw_landed", "raw_history")  # the raw gates run before the day's build, as in the DAG
VARIANTS = ("one-query", "gx two-query")


def child(checkpoint: str, url: str, variant: str) -> None:
    """In the measured process: import GX, run one checkpoint, print timings as JSON."""
    started = time.perf_counter()
    from gx.checkpoints import run_checkpoint

    if variant == "gx two-query":  # the suites are built at each run: their SQL checks become GX's own
        import great_expectations.expectations as gxe

        import gx.expectations

        if not hasattr(gx.expectations, "ExpectQueryToReturnNoRows"):  # else the patch would change nothing
            raise SystemExit("gx.expectations.ExpectQueryToReturnNoRows is gone: the baseline needs a patch")
        gx.expectations.ExpectQueryToReturnNoRows = gxe.UnexpectedRowsExpectation

    imported = time.perf_counter()
    outcomes = run_checkpoint(checkpoint, url)
    done = time.perf_counter()
    failed = [f"{o.suite}:{o.expectation_type}:{o.column}" for o in outcomes if not o.success]
    print(json.dumps({"import": imported - started, "check": done - imported, "n": len(outcomes),
                      "failed": failed}))  # fmt: skip


def measure(checkpoint: str, url: str, variant: str = VARIANTS[0]) -> dict:
    """Run `checkpoint` in a child process; its timings, wall time and peak RSS (MB)."""
    started = time.perf_counter()
    cmd = [sys.executable, __file__, "--child", checkpoint, url, variant]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{checkpoint} failed")
    found = json.loads(out.strip().splitlines()[-1])
    rss_mb = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return {**found, "wall": wall, "rss_mb": rss_mb}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    shop_arguments(parser)
    every = ",".join(CHECKPOINTS)
    parser.add_argument("--checkpoints", default=every, help=f"comma-separated (default {every})")
    parser.add_argument("--child", nargs=3, metavar=("CHECKPOINT", "URL", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = set(args.checkpoints.split(",")) - set(CHECKPOINTS)
    if unknown:
        parser.error(f"unknown checkpoint(s) {', '.join(sorted(unknown))}; known: {', '.join(CHECKPOINTS)}")
    return args


def run(args: argparse.Namespace, url: str, work: Path) -> None:
    """The benchmark proper, on the empty warehouse at `url` (schemas made, nothing loaded); the generated
    shop and dbt's artefacts go under `work`."""
    days = generate(args, work / "landing")
    load_landing(url, work / "landing", days=set(days[:-1]), progress=False, settle_seconds=0)
    target = work / "target"
    dbt(url, target, "seed")
    history = dbt(url, target, "build", "--full-refresh", *NO_TESTS)
    load_landing(url, work / "landing", days={days[-1]}, progress=False, settle_seconds=0)
    checkpoints = args.checkpoints.split(",")
    variants: dict[str, dict[str, dict]] = {v: {} for v in VARIANTS}

    def gate(i: int, name: str) -> None:
        for variant in VARIANTS[i % 2 :] + VARIANTS[: i % 2]:
            variants[variant][name] = measure(name, url, variant)

    for i, name in enumerate(checkpoints):
        if name in BEFORE_BUILD:
            gate(i, name)
    build = dbt(url, target, "build", *NO_TESTS)
    tests = dbt(url, target, "test")
    for i, name in enumerate(checkpoints):
        if name not in BEFORE_BUILD:
            gate(i, name)
    with __import__("psycopg").connect(url) as conn:
        sizes = conn.execute(
            "select (select count(*) from raw.orders), (select count(*) from raw.order_items),"
            " (select count(*) from marts_build.fct_orders),"
            " (select count(*) from marts_build.fct_order_items)"
        ).fetchone()
    print("rows: raw.orders {:,}, raw.order_items {:,}, fct_orders {:,}, fct_order_items {:,}".format(*sizes))
    print(f"the day: the last of {len(days)}; full build of the {len(days) - 1} before it {history:.1f} s")
    results = variants[VARIANTS[0]]
    from publish.swap import publish_marts

    started = time.perf_counter()
    publish_marts(url, "bench")
    swap = time.perf_counter() - started

    print(f"\n{'':26} {'wall s':>8} {'GX import s':>12} {'checks s':>9} {'expect.':>8} {'peak RSS MB':>12}")
    for name, r in results.items():
        cells = (f"{r['wall']:8.1f}", f"{r['import']:12.1f}", f"{r['check']:9.1f}", f"{r['n']:8d}")
        print(f"{name:26} {' '.join(cells)} {r['rss_mb']:12.0f}")
        if r["failed"]:
            print(f"  not passing on this generated data: {', '.join(r['failed'])}")
    print(f"{'publish (schema swap)':26} {swap:8.3f}")
    print(f"{'dbt build of the day':26} {build:8.1f}")
    print(f"{'dbt test of the day':26} {tests:8.1f}")
    daily = {name: r for name, r in results.items() if name != "raw_history"}
    gates = sum(r["wall"] for r in daily.values())
    checks = sum(r["check"] for r in daily.values())
    peak = max(r["rss_mb"] for r in results.values())
    if {"raw_landed", "raw_history"} <= set(results):
        day, deep = results["raw_landed"], results["raw_history"]
        print(f"\nthe day's raw gate ÷ the deep check: wall {day['wall'] / deep['wall']:.2f},"
              f" checks alone {day['check'] / deep['check']:.2f}")  # fmt: skip
    print(f"\nthe day's gates ({', '.join(daily)}) ÷ the day's dbt build: {gates / build:.2f} (goal ≤ 0.5)")
    print(f"checks alone (GX import aside) ÷ dbt build: {checks / build:.2f}")
    print(f"peak RSS of a gate process: {peak:.0f} MB; goal < 500 MB")
    print("\nSQL checks, checks alone (GX import aside), one-query ÷ the baseline gx two-query:")
    for name in checkpoints:
        one, two = variants["one-query"][name]["check"], variants["gx two-query"][name]["check"]
        print(f"  {name:<16} {one:7.1f} s ÷ {two:7.1f} s = {one / two:.2f}")


def main(argv: list[str] | None = None) -> int:
    """`run` on a throwaway Postgres of its own (fresh credentials) and a temporary folder."""
    args = parse_args(argv)
    if args.child:
        child(*args.child)
        return 0

    with throwaway_warehouse("shop-quality-bench-") as (url, work):
        run(args, url, work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
