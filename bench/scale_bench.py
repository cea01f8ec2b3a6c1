"""Scale benchmark: from landing files to published marts at 1M or 10M orders, then one more day.

    .venv/bin/python bench/scale_bench.py [--orders 1000000] [--days 100] [--fault-rate 0.01]
        [--keep] [--log-slow MS]
    .venv/bin/python bench/scale_bench.py --orders 10000000  # ~2 h, ~65 GB in $TMPDIR; never in make test

Generates `--orders` orders over `--days` days (dirty at `--fault-rate`; a progress bar on stderr), starts
a throwaway Postgres with the project's own code, then runs the pipeline in the DAG's order, each step as
the other benches run it: the loader lands all days but the last; `raw_landed` validates what is pending
(everything: nothing is staged yet); `dbt seed`, then `dbt build --full-refresh` of models and snapshot
and `dbt test` (dbt CLI, 4 threads); `marts_publish` audits the build; the schema swap publishes it. Then
the last day (1/days of the orders), as a daily run: load, `raw_landed`, incremental `dbt build`, `dbt
test`, `marts_publish`, publish. Each gate runs in a process of its own (bench/quality_bench.py's
`measure`); a gate's failures are printed, never blocking, as in the quality bench.

Prints, step by step, the wall time and the peak RSS of this process and, apart, of its child processes
(dbt, the gates: the sum of their RSS, sampled every 0.2 s); then the rows landed, the marts' rows and the
database's size. Never fails on a time.
"""

from __future__ import annotations

import argparse
import resource
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from bench.incremental_bench import NO_TESTS, dbt, generate, shop_arguments  # noqa: E402
from bench.quality_bench import measure  # noqa: E402
from bench.throwaway import throwaway_warehouse  # noqa: E402
from extract.contract import ENTITY_ORDER  # noqa: E402
from extract.landing import load_landing  # noqa: E402
from publish import PUBLISHED_SCHEMA  # noqa: E402
from publish.swap import publish_marts  # noqa: E402

MB = 1024 * 1024
MARTS = ("fct_orders", "fct_order_items", "fct_sessions", "dim_customers")


class PeakRss:
    """Peak RSS (MB) of this process and of its descendants (their sum), sampled in a thread."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval, self.own, self.children = interval, 0.0, 0.0
        self._me, self._stop = psutil.Process(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.own = max(self.own, self._me.memory_info().rss / MB)
            total = 0
            for child in self._me.children(recursive=True):
                with suppress(psutil.Error):  # gone between the listing and the read
                    total += child.memory_info().rss
            self.children = max(self.children, total / MB)
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Steps:
    """Runs steps, printing each one's wall time and peak RSS as it ends; keeps them for the totals."""

    def __init__(self) -> None:
        self.walls: dict[str, float] = {}
        print(f"\n{'step':40} {'wall s':>9} {'this process MB':>16} {'children MB':>12}", flush=True)

    def run(self, name: str, step: Callable[[], Any]) -> Any:
        with PeakRss() as peak:
            started = time.perf_counter()
            result = step()
            wall = time.perf_counter() - started
        children = max(peak.children, result.get("rss_mb", 0) if isinstance(result, dict) else 0)
        self.walls[name] = wall
        print(f"{name:40} {wall:9.1f} {peak.own:16.0f} {children:12.0f}", flush=True)
        return result

    def total(self, name: str, steps: list[str]) -> None:
        print(f"{name:40} {sum(self.walls[s] for s in steps):9.1f}", flush=True)


def gate(checkpoint: str, url: str) -> dict:
    """One checkpoint in a process of its own; its failures printed (a bench never blocks on them)."""
    found = measure(checkpoint, url)
    if found["failed"]:
        print(f"  {checkpoint} not passing on this generated data: {', '.join(found['failed'])}")
    return found


def sizes(url: str, landing: Path) -> None:
    """The rows landed per raw table, the published marts' rows, the landing files and the database."""
    count = "select count(*) from {}"
    with psycopg.connect(url) as conn:
        raw = {
            e: conn.execute(sql.SQL(count).format(sql.Identifier("raw", e))).fetchone()[0]
            for e in ENTITY_ORDER
        }
        marts = {
            m: conn.execute(sql.SQL(count).format(sql.Identifier(PUBLISHED_SCHEMA, m))).fetchone()[0]
            for m in MARTS
        }
        (rejected,) = conn.execute("select count(*) from raw.load_rejects").fetchone()
        (db_bytes,) = conn.execute("select pg_database_size(current_database())").fetchone()
    files = [p for p in landing.rglob("*") if p.is_file() and p.name != "_manifest.json"]
    print(
        f"\nrows landed: {', '.join(f'raw.{e} {n:,}' for e, n in raw.items())}; {sum(raw.values()):,} in all,"
        f" {rejected:,} rejected (raw.load_rejects)"
    )
    print(f"published marts: {', '.join(f'{m} {n:,}' for m, n in marts.items())}")
    print(f"landing files: {len(files):,}, {sum(p.stat().st_size for p in files) / MB:,.0f} MB on disk")
    unit = MB if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    own, children = (
        resource.getrusage(who).ru_maxrss / unit for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    print(f"peak RSS over the run (getrusage): this process {own:,.0f} MB, largest child {children:,.0f} MB")
    print(f"database size: {db_bytes / MB:,.0f} MB", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    shop_arguments(parser)
    parser.add_argument("--keep", action="store_true", help="leave Postgres running and the data in place")
    parser.add_argument(
        "--log-slow", type=int, metavar="MS", help="Postgres logs every statement slower than MS milliseconds"
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace, url: str, work: Path) -> None:
    """The benchmark proper, on the empty warehouse at `url` (schemas made, nothing loaded); the generated
    shop and dbt's artefacts go under `work`."""
    landing, target, steps = work / "landing", work / "target", Steps()
    days = steps.run(
        f"generate {args.orders:,} orders, {args.days} days", partial(generate, args, landing, progress=True)
    )
    # the history, then a day that only warms up: a publication swaps the build schema with the published
    # one, so the day after the first publication rebuilds the marts whole; the measured day is the next
    history, before, last = set(days[:-2]), {days[-2]}, {days[-1]}
    load = partial(load_landing, url, landing, settle_seconds=0)
    first = {
        f"load {len(history)} days": partial(load, days=history, progress=True),
        "raw_landed (everything pending)": partial(gate, "raw_landed", url),
        "dbt seed": partial(dbt, url, target, "seed"),
        "dbt build (models, snapshot; full)": partial(dbt, url, target, "build", "--full-refresh", *NO_TESTS),
        "dbt test": partial(dbt, url, target, "test"),
        "marts_publish": partial(gate, "marts_publish", url),
        "publish (schema swap)": partial(publish_marts, url, "bench-history"),
    }  # fmt: skip
    warm_up = {
        "the day before (warm-up): load": partial(load, days=before, progress=False),
        "the day before: dbt build": partial(dbt, url, target, "build", *NO_TESTS),
        "the day before: publish": partial(publish_marts, url, "bench-day-before"),
    }
    the_day = {
        "the day: load": partial(load, days=last, progress=False),
        "the day: raw_landed": partial(gate, "raw_landed", url),
        "the day: dbt build (incremental)": partial(dbt, url, target, "build", *NO_TESTS),
        "the day: dbt test": partial(dbt, url, target, "test"),
        "the day: marts_publish": partial(gate, "marts_publish", url),
        "the day: publish": partial(publish_marts, url, "bench-day"),
    }
    for name, step in (first | warm_up | the_day).items():
        steps.run(name, step)
    steps.total("landing to published marts (no generate)", list(first))
    steps.total("the day, load to publish", list(the_day))
    sizes(url, landing)


def main(argv: list[str] | None = None) -> int:
    """`run` on a throwaway Postgres of its own (fresh credentials) and a temporary folder."""
    args = parse_args(argv)
    with throwaway_warehouse("shop-scale-bench-", keep=args.keep, log_slow_ms=args.log_slow) as (url, work):
        run(args, url, work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
