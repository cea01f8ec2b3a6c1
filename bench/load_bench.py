"""Load benchmark: this project's loader vs `psql \\copy` (the limit) vs pandas `to_sql` (the older way).

    .venv/bin/python bench/load_bench.py [--orders 1000000] [--to-sql-rows 200000]   (or: make bench)

Generates clean shop data with extract/generator.py (orders and their items, as CSV files, one pair per
day), starts a throwaway Postgres with the project's own code, and loads the same files three ways in
one run, each into empty tables:

- loader:  extract.load.load_file per file (raw.* with lineage, ledger, one transaction per file);
- \\copy:   psql's \\copy of each file into tables with the contract's text columns only (the absolute
           limit), and again into the loader's raw tables with the same lineage defaults (the limit for
           those tables: the difference to the loader is the loader's own overhead);
- to_sql:  pandas.read_csv(dtype=str) + DataFrame.to_sql (SQLAlchemy, psycopg2, chunks of 10 000), on
           the first whole days up to --to-sql-rows rows (it is slow; its rows/s is what is compared).

Prints rows, seconds and rows/s per method and the ratios loader/\\copy and loader/to_sql. Never fails on
a time: the figures are for the README.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from extract.contract import FIELDS  # noqa: E402
from stack.environment import Environment  # noqa: E402
from stack.settings import Settings  # noqa: E402

ENTITIES = ("orders", "order_items")


def write_files(out: Path, orders: int, days: int) -> dict[str, list[Path]]:
    """CSV files of clean generated orders and items, one per entity per day."""
    from simshop.generator import GeneratorConfig, iter_days

    config = GeneratorConfig(
        seed=2026, start=date(2026, 1, 5), days=days, orders_per_day=orders // days, fault_rate=0
    )
    files: dict[str, list[Path]] = {e: [] for e in ENTITIES}
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


def _rows(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh) - 1


def bench_loader(url: str, files: dict[str, list[Path]]) -> tuple[int, float]:
    from extract.load import load_file

    started, rows = time.perf_counter(), 0
    for entity, paths in files.items():
        for path in paths:
            result = load_file(url, entity, path)
            assert result.status == "loaded" and result.rows_rejected == 0, result
            rows += result.rows_loaded
    return rows, time.perf_counter() - started


def _plain_tables(url: str, schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
        for entity in ENTITIES:
            columns = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(f)) for f in FIELDS[entity])
            conn.execute(sql.SQL("create table {} ({})").format(sql.Identifier(schema, entity), columns))


def bench_psql_copy(url: str, psql: Path, files: dict[str, list[Path]]) -> tuple[int, float]:
    _plain_tables(url, "bench_copy")
    started, rows = time.perf_counter(), 0
    for entity, paths in files.items():
        columns = ", ".join(FIELDS[entity])
        for path in paths:
            command = f"\\copy bench_copy.{entity} ({columns}) from '{path}' with (format csv, header true)"
            subprocess.run([psql, url, "-q", "-v", "ON_ERROR_STOP=1", "-c", command], check=True)
            rows += _rows(path)
    return rows, time.perf_counter() - started


def bench_psql_copy_raw(url: str, psql: Path, files: dict[str, list[Path]]) -> tuple[int, float]:
    """\\copy into the loader's own raw tables, lineage defaults set as the loader sets them: the limit
    for these tables (what is left is the loader's own overhead: hashing, sniffing, the ledger)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("truncate " + ", ".join(f"raw.{e}" for e in ENTITIES))
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
    return rows, time.perf_counter() - started


def bench_to_sql(url: str, files: dict[str, list[Path]], limit: int) -> tuple[int, float]:
    import pandas as pd
    from sqlalchemy import create_engine

    _plain_tables(url, "bench_pandas")
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://"))
    started, rows = time.perf_counter(), 0
    for day in zip(*files.values(), strict=True):  # whole days, so the mix of orders and items is the same
        if rows >= limit:
            break
        for entity, path in zip(files, day, strict=True):
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            frame.to_sql(
                entity, engine, schema="bench_pandas", if_exists="append", index=False, chunksize=10_000
            )
            rows += len(frame)
    engine.dispose()
    return rows, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--to-sql-rows", type=int, default=200_000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="shop-bench-"))
    work.chmod(0o755)
    env = Environment.load(settings=Settings.generate(), state=work / "state", throwaway=False)
    try:
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
        started = time.perf_counter()
        files = write_files(work, args.orders, args.days)
        size = sum(p.stat().st_size for paths in files.values() for p in paths) / 1e6
        print(
            f"generated {args.orders:,} orders with their items: {size:,.0f} MB of CSV"
            f" in {time.perf_counter() - started:.0f}s"
        )
        env.start_postgres()
        bins = env.cluster.binaries()
        print(f"Postgres {bins.version} ({bins.source}), fsync on, on 127.0.0.1:{env.port}")
        url = env.warehouse_url
        results = {
            "loader": bench_loader(url, files),
            "copy": bench_psql_copy(url, bins.bindir / "psql", files),
            "copy_raw": bench_psql_copy_raw(url, bins.bindir / "psql", files),
            "to_sql": bench_to_sql(url, files, args.to_sql_rows),
        }
        labels = {
            "loader": "loader (extract.load)",
            "copy": "psql \\copy, plain tables",
            "copy_raw": "psql \\copy, raw tables",
            "to_sql": "pandas to_sql",
        }
        print(f"\n{'method':<28}{'rows':>12}{'seconds':>10}{'rows/s':>12}")
        speed = {}
        for key, (rows, seconds) in results.items():
            speed[key] = rows / seconds
            print(f"{labels[key]:<28}{rows:>12,}{seconds:>10.1f}{speed[key]:>12,.0f}")
        print(f"\nloader / psql \\copy    = {speed['loader'] / speed['copy']:.2f} x   (goal >= 0.8)")
        print(f"loader / \\copy into raw = {speed['loader'] / speed['copy_raw']:.2f} x   (same tables)")
        print(f"loader / pandas to_sql = {speed['loader'] / speed['to_sql']:.1f} x   (goal >= 10)")
    finally:
        env.stop_postgres()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
