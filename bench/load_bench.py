"""Load benchmark: this project's loader vs `psql \\copy` (the limit) vs pandas `to_sql` (the older way).

    .venv/bin/python bench/load_bench.py [--orders 1000000] [--rounds 3] [--to-sql-rows 200000]   (make bench)

Generates shop data twice from the same orders: clean CSV files (orders and their items, one pair per
day), and the realistic dirty mix of `simshop.writers.write_landing` (fault rate 0.01: every entity, ~70%
CSV some with faulty rows or extra columns, 15% JSON arrays, 15% NDJSON, 20% gzip). Starts a throwaway
Postgres (fsync on) with the project's own code, then runs ROUNDS rounds; each round runs every method
once, in an order that rotates from round to round, each into empty tables (truncated first):

- loader:           extract.load.load_file per clean file (raw.* with lineage, ledger, a transaction per
                    file; CopyCheck and the whole-file encoding pass on);
- loader, unchecked: the same with CopyCheck and the encoding pass bypassed (patched in this script only,
                    not a production switch), so that what they cost is measured, not guessed;
- \\copy:            psql's \\copy of each clean file into tables with the contract's text columns only
                    (the absolute limit), and into the loader's raw tables with the same lineage defaults;
- dirty:            load_file per file of the dirty mix (every path: fast, careful CSV, JSON, NDJSON).

A single run swings (0.90x, 0.52x, 0.53x of \\copy were seen on the same machine): figures are the median
of the rounds. pandas `read_csv(dtype=str)` + `to_sql` (SQLAlchemy, psycopg2, chunks of 10,000) runs once,
on the first whole days up to --to-sql-rows rows (it is slow; its rows/s is what is compared).

Prints each round, the medians, the ratios against the baselines measured in the same run (loader / \\copy
into the same raw tables, goal >= 0.75; loader / \\copy into plain text tables, which shows what the raw
tables' BRIN index and lineage columns cost; loader / to_sql, goal >= 10; dirty / clean, goal >= 0.7, in
decompressed MB/s and in rows/s) and what the checks cost. Never fails on a time: the figures are for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from extract.contract import FIELDS  # noqa: E402
from stack.environment import Environment  # noqa: E402
from stack.settings import Settings  # noqa: E402

ENTITIES = ("orders", "order_items")
START = date(2026, 1, 5)
Files = dict[str, list[Path]]


def write_files(out: Path, orders: int, days: int) -> Files:
    """CSV files of clean generated orders and items, one per entity per day."""
    from simshop.generator import GeneratorConfig, iter_days

    config = GeneratorConfig(seed=2026, start=START, days=days, orders_per_day=orders // days, fault_rate=0)
    files: Files = {e: [] for e in ENTITIES}
    for day in iter_days(config):
        for entity in ENTITIES:
            path = out / f"{entity}-{day.date.isoformat()}.csv"
            with path.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(
                    fh, fieldnames=FIELDS[entity], lineterminator="\n", extrasaction="ignore"
                )
                writer.writeheader()
                writer.writerows(day.records[entity])
            files[entity].append(path)
    return files


def write_dirty(out: Path, orders: int, days: int) -> Files:
    """The realistic mix of simshop's landing writer (fault rate 0.01), the same orders a day."""
    from simshop.generator import GeneratorConfig
    from simshop.writers import write_landing

    config = GeneratorConfig(
        seed=2026, start=START, days=days, orders_per_day=orders // days, fault_rate=0.01
    )
    write_landing(config, out, progress=False)
    return {e: sorted(p for p in (out / e).rglob("*") if p.is_file()) for e in FIELDS}


def _content_bytes(path: Path) -> int:
    from extract.streams import open_binary

    size = 0
    try:
        with open_binary(path) as fh:
            while chunk := fh.read1(1 << 20):
                size += len(chunk)
    except (EOFError, OSError, zlib.error):
        pass  # a truncated gzip file: what came before the break
    return size


def _rows(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh) - 1


@dataclass(frozen=True)
class Run:
    """One timed load: rows, seconds, and the decompressed bytes of the files it loaded."""

    rows: int
    seconds: float
    megabytes: float


def _truncate(url: str, entities) -> None:
    import psycopg

    from extract import ddl

    for entity in entities:
        ddl.ensure_raw(url, entity)
    tables = ", ".join(f"raw.{e}" for e in entities)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"truncate {tables}, raw.load_rejects, raw.load_ledger")


def bench_loader(url: str, files: Files, sizes: dict[Path, int], clean: bool = True) -> Run:
    from extract.load import load_file

    _truncate(url, files)
    started, rows, size = time.perf_counter(), 0, 0
    for entity, paths in files.items():
        for path in paths:
            result = load_file(url, entity, path)
            if clean:  # a clean file takes the fast path, whole
                assert (result.status, result.path, result.rows_rejected) == ("loaded", "fast", 0), result
            rows += result.rows_read
            size += sizes[path] if result.status == "loaded" else 0
    return Run(rows, time.perf_counter() - started, size / 1e6)


class _AlwaysEqual(int):
    def __ne__(self, other: object) -> bool:
        return False


class _NoCheck:
    """CopyCheck bypassed: every file is taken as simple (and its count as COPY's)."""

    ok, why, records = True, "", _AlwaysEqual()

    def __init__(self, *args: object) -> None:
        pass

    def feed(self, chunk: bytes) -> None:
        pass

    def close(self) -> None:
        pass


@contextmanager
def checks_bypassed() -> Iterator[None]:
    """The loader without CopyCheck and without the whole-file encoding pass (hash only, UTF-8 taken):
    for this benchmark only, on files known to be clean UTF-8 CSV."""
    from extract import load, streams

    saved = load.CopyCheck, load._scan
    load.CopyCheck = _NoCheck
    load._scan = lambda path: (streams.scan(path, encoding=False)[0], ("utf-8", []))
    try:
        yield
    finally:
        load.CopyCheck, load._scan = saved


def bench_loader_unchecked(url: str, files: Files, sizes: dict[Path, int]) -> Run:
    with checks_bypassed():
        return bench_loader(url, files, sizes)


def _plain_tables(url: str, schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
        for entity in ENTITIES:
            columns = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(f)) for f in FIELDS[entity])
            conn.execute(sql.SQL("create table {} ({})").format(sql.Identifier(schema, entity), columns))


def bench_psql_copy(url: str, psql: Path, files: Files, sizes: dict[Path, int]) -> Run:
    _plain_tables(url, "bench_copy")
    started, rows = time.perf_counter(), 0
    for entity, paths in files.items():
        columns = ", ".join(FIELDS[entity])
        for path in paths:
            command = f"\\copy bench_copy.{entity} ({columns}) from '{path}' with (format csv, header true)"
            subprocess.run([psql, url, "-q", "-v", "ON_ERROR_STOP=1", "-c", command], check=True)
            rows += _rows(path)
    return Run(rows, time.perf_counter() - started, sum(sizes[p] for ps in files.values() for p in ps) / 1e6)


def bench_psql_copy_raw(url: str, psql: Path, files: Files, sizes: dict[Path, int]) -> Run:
    """\\copy into the loader's own raw tables, lineage defaults set as the loader sets them: the limit
    for these tables (what is left is the loader's own overhead: hashing, checks, the ledger)."""
    _truncate(url, files)
    started, rows = time.perf_counter(), 0
    for entity, paths in files.items():
        columns = ", ".join(FIELDS[entity])
        for batch, path in enumerate(paths, 1):
            lineage = (
                f"select set_config('extract.batch_id', '{batch}', false),"
                f" setval('raw.{entity}__line', 1, false)"
            )
            command = f"\\copy raw.{entity} ({columns}) from '{path}' with (format csv, header true)"
            subprocess.run(
                [psql, url, "-q", "-v", "ON_ERROR_STOP=1", "-c", lineage, "-c", command],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            rows += _rows(path)
    return Run(rows, time.perf_counter() - started, sum(sizes[p] for ps in files.values() for p in ps) / 1e6)


def bench_to_sql(url: str, files: Files, limit: int) -> Run:
    import pandas as pd
    from sqlalchemy import create_engine

    _plain_tables(url, "bench_pandas")
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://"))
    started, rows, size = time.perf_counter(), 0, 0
    for day in zip(*files.values(), strict=True):  # whole days, so the mix of orders and items is the same
        if rows >= limit:
            break
        for entity, path in zip(files, day, strict=True):
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            frame.to_sql(
                entity, engine, schema="bench_pandas", if_exists="append", index=False, chunksize=10_000
            )
            rows += len(frame)
            size += path.stat().st_size
    engine.dispose()
    return Run(rows, time.perf_counter() - started, size / 1e6)


def pass_costs(files: Files) -> dict[str, float]:
    """CPU seconds of each pass over the clean files, alone (no database): what the checks cost in work,
    whatever the overlap with the server hides of it."""
    from extract.copy_check import CopyCheck
    from extract.streams import scan

    paths = [p for ps in files.values() for p in ps]
    costs = {}
    for name, work in {
        "hash only": lambda p: scan(p, encoding=False),
        "hash + encoding (one read)": lambda p: scan(p, encoding=True),
        "CopyCheck": lambda p: _feed(CopyCheck(",", len(FIELDS[p.name.rsplit("-", 3)[0]])), p),
    }.items():
        started = time.process_time()
        for path in paths:
            work(path)
        costs[name] = time.process_time() - started
    return costs


def _feed(check, path: Path) -> None:
    with path.open("rb") as fh:
        fh.readline()
        while chunk := fh.read(1 << 20):
            check.feed(chunk)
    check.close()


def _rounds(methods: dict[str, Callable[[], Run]], rounds: int) -> dict[str, list[Run]]:
    runs: dict[str, list[Run]] = {name: [] for name in methods}
    names = list(methods)
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]  # each method leads a round in turn
        line = []
        for name in order:
            run = methods[name]()
            runs[name].append(run)
            line.append(f"{name} {run.seconds:.1f}s")
        print(f"round {r + 1}: " + ", ".join(line), flush=True)
    return runs


def _median(runs: list[Run]) -> Run:
    seconds = statistics.median(r.seconds for r in runs)
    return Run(runs[0].rows, seconds, runs[0].megabytes)


def report(runs: dict[str, list[Run]], to_sql: Run | None, costs: dict[str, float]) -> None:
    labels = {
        "loader": "loader (extract.load), clean CSV",
        "unchecked": "  the same, checks bypassed",
        "copy": "psql \\copy, plain tables",
        "copy_raw": "psql \\copy, raw tables",
        "dirty": "loader, dirty mix",
    }
    median = {name: _median(rs) for name, rs in runs.items()}
    rounds = len(next(iter(runs.values())))
    print(f"\nmedian of {rounds} rounds")
    print(f"{'method':<36}{'rows':>11}{'MB':>8}{'seconds':>9}{'rows/s':>11}{'MB/s':>8}   spread (s)")
    table = {**median, **({"to_sql": to_sql} if to_sql else {})}
    labels["to_sql"] = "pandas to_sql (one run)"
    for name, run in table.items():
        spread = runs.get(name, [run])
        low, high = min(r.seconds for r in spread), max(r.seconds for r in spread)
        print(
            f"{labels[name]:<36}{run.rows:>11,}{run.megabytes:>8.0f}{run.seconds:>9.1f}"
            f"{run.rows / run.seconds:>11,.0f}{run.megabytes / run.seconds:>8.1f}   {low:.1f}-{high:.1f}"
        )
    speed = {name: run.rows / run.seconds for name, run in table.items()}
    loader = speed["loader"]
    print(f"\nloader / psql \\copy, same tables  = {loader / speed['copy_raw']:.2f} x   (goal >= 0.75)")
    print(
        f"loader / psql \\copy, plain tables = {loader / speed['copy']:.2f} x   (the raw tables themselves:"
        f" \\copy into them takes {speed['copy'] / speed['copy_raw']:.2f} x as long as into plain text"
        " tables: the BRIN index on _batch_id and the lineage columns, see docs/benchmarks.md)"
    )
    if to_sql:
        print(f"loader / pandas to_sql             = {loader / speed['to_sql']:.1f} x   (goal >= 10)")
    if "dirty" in median:
        clean, dirty = median["loader"], median["dirty"]
        mb = (dirty.megabytes / dirty.seconds) / (clean.megabytes / clean.seconds)
        rows = speed["dirty"] / loader
        print(f"dirty / clean, MB/s                = {mb:.2f} x   (goal >= 0.7; decompressed MB)")
        print(f"dirty / clean, rows/s              = {rows:.2f} x   (rows read: loaded + rejected)")
    checked, unchecked = median["loader"].seconds, median["unchecked"].seconds
    print(
        f"\nthe checks (CopyCheck + whole-file encoding pass): loader {checked:.1f}s with them, "
        f"{unchecked:.1f}s without ({(checked - unchecked) / checked:+.0%} of the loader's time)"
    )
    size = median["loader"].megabytes
    for name, seconds in costs.items():
        print(f"  {name:<28} {seconds:5.2f} CPU s for {size:.0f} MB ({size / seconds:,.0f} MB/s)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--to-sql-rows", type=int, default=200_000)
    parser.add_argument("--no-dirty", action="store_true", help="leave out the dirty mix")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, url: str, psql: Path, work: Path) -> None:
    """The benchmark proper, on the warehouse at `url` (its raw tables and ledger are truncated, schemas
    bench_copy and bench_pandas replaced), with `psql` for the baselines; files are written under `work`."""
    started = time.perf_counter()
    (work / "clean").mkdir()
    files = write_files(work / "clean", args.orders, args.days)
    dirty = {} if args.no_dirty else write_dirty(work / "dirty", args.orders, args.days)
    sizes = {p: _content_bytes(p) for ps in [*files.values(), *dirty.values()] for p in ps}
    clean_mb = sum(sizes[p] for ps in files.values() for p in ps) / 1e6
    dirty_mb = sum(sizes[p] for ps in dirty.values() for p in ps) / 1e6
    counts = [sum(map(len, group.values())) for group in (files, dirty)]
    print(
        f"generated {args.orders:,} orders: {clean_mb:,.0f} MB of clean CSV in {counts[0]}"
        f" files; dirty mix {dirty_mb:,.0f} MB decompressed in {counts[1]} files"
        f" ({time.perf_counter() - started:.0f}s)"
    )
    methods = {
        "loader": lambda: bench_loader(url, files, sizes),
        "unchecked": lambda: bench_loader_unchecked(url, files, sizes),
        "copy": lambda: bench_psql_copy(url, psql, files, sizes),
        "copy_raw": lambda: bench_psql_copy_raw(url, psql, files, sizes),
    }
    if dirty:
        methods["dirty"] = lambda: bench_loader(url, dirty, sizes, clean=False)
    runs = _rounds(methods, args.rounds)
    to_sql = bench_to_sql(url, files, args.to_sql_rows) if args.to_sql_rows else None
    report(runs, to_sql, pass_costs(files))


def main(argv: list[str] | None = None) -> int:
    """`run` on a throwaway Postgres of its own (fresh credentials, fsync on) and a temporary folder."""
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="shop-bench-"))
    work.chmod(0o755)
    env = Environment.load(settings=Settings.generate(), state=work / "state", throwaway=False)
    try:
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
        env.start_postgres()
        bins = env.cluster.binaries()
        print(f"Postgres {bins.version} ({bins.source}), fsync on, on 127.0.0.1:{env.port}")
        run(args, env.warehouse_url, bins.bindir / "psql", work)
    finally:
        env.stop_postgres()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
