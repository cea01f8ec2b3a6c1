"""Write generated shop data as landing files in the contract's formats, with a ground-truth manifest.

    write_landing(config, landing, *, chunk_records=50_000, min_files=3, progress=True, overwrite=False)
        -> Manifest (a dict, also written as <landing>/_manifest.json)
    python -m simshop generate --out DIR --seed N --start YYYY-MM-DD --days D --orders-per-day N \
        --fault-rate F [--no-progress]

Files: `<landing>/<entity>/<YYYY-MM-DD>/<entity>-<YYYY-MM-DD>-pNNN.<csv|json|ndjson>[.gz]`. Each entity's
day is dealt round-robin over max(min_files, expected records / chunk_records) files, written as the
records stream in (memory holds one batch). About 70% CSV, 15% JSON arrays, 15% NDJSON, 20% gzip. CSV
headers sometimes reorder columns, change case or add spaces; some files use CRLF, quote every field, or
carry an unknown extra field `exported_by` (CSV column or JSON key); JSON may be indented or
ASCII-escaped. All of that is allowed by the contract and is not a fault. File-level faults (see
`simshop.faults`) come on top: `*-pNNN-noheader.csv[.gz]` files are headerless extra copies.

Manifest schema (`schema` = "shop-landing-manifest/1"):

    config      the GeneratorConfig (start as YYYY-MM-DD) plus chunk_records and min_files
    positions   how reject positions are numbered (POSITIONS below)
    totals      orders, clean_orders, revenue_orders, net_revenue (decimal string, EUR, to the cent),
                records {entity: n}: records a loader must load (copies included)
    days[]      date, load_time (the day's files are loaded at the next midnight, UTC: timestamps more
                than one day after it are "in the future"), orders (placed that day), clean_orders
                (reach the marts), revenue_orders (clean and latest status paid/shipped/delivered),
                net_revenue, clean_by_status {status: n}, records {entity: n}, faults {kind: n}
    faults      {kind: {level: record|file, unit: records|orders|rows|files, count, by_entity {entity: n},
                breaks_rule, description}}: every kind, 0 when not injected
    load        what a correct loader does with the files: files, files_rejected (no recognisable
                header), rows (positions read, rejected files included), rows_loadable, rows_rejected,
                rows_in_rejected_files, rejects_by_reason {reason: n}, by_entity {entity: {files,
                files_rejected, rows_loadable, rows_rejected}}
    files[]     path (relative, POSIX), entity, date, format (csv|json|ndjson), gzip, encoding (utf-8 |
                utf-8-sig | latin-1), CSV only: delimiter, header (false: no header row), multiline_rows;
                extra_fields, fault (file-level kind or null), rows (positions a reader sees), loadable
                (rows that must load), rejects [{position, reason}] (reason: wrong_field_count |
                undecodable_bytes | truncated_json | truncated_ndjson; the rows a loader must reject),
                file_rejected (null or "no_header": the whole file must be rejected); latin-1 files also
                non_ascii (true: the file does not decode as UTF-8)

Invariant: for every day and entity, Σ loadable over its files = the day's records in `iter_days`.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from extract.contract import FIELDS
from simshop import faults
from simshop.generator import GeneratorConfig, iter_day_streams, order_counts
from simshop.writer_files import CsvPart, FileSpec, HeaderlessPart, JsonPart, Part

Manifest = dict[str, Any]
SCHEMA = "shop-landing-manifest/1"
POSITIONS = (
    "1-based: CSV = record ordinal after the header (a quoted multi-line record counts once, the header "
    "does not count); NDJSON = physical line; JSON array = element index"
)
_HEADER_STYLES = (str, str.upper, str.title, lambda c: f" {c} ", str.capitalize)


@dataclass
class _Run:
    """What the run has produced so far (for the at-least-once guarantees)."""

    formats: set[str] = field(default_factory=set)
    faults: set[str] = field(default_factory=set)
    gzip: bool = False


def _spec(config: GeneratorConfig, day: date, entity: str, part: int, expected: int) -> FileSpec:
    rng = random.Random(f"{config.seed}:file:{day.isoformat()}:{entity}:{part}")
    u = rng.random()
    fmt = "csv" if u < 0.7 else "json" if u < 0.85 else "ndjson"
    spec = FileSpec(entity, day, part, fmt, rng.random() < 0.2, rng, expected)
    spec.columns = list(FIELDS[entity])
    if rng.random() < 0.25:
        rng.shuffle(spec.columns)
    styles = [rng.choice(_HEADER_STYLES) for _ in spec.columns] if rng.random() < 0.25 else [str] * 8
    spec.header = [style(c) for style, c in zip(styles, spec.columns, strict=False)]
    spec.extra, spec.crlf, spec.quote_all = rng.random() < 0.08, rng.random() < 0.2, rng.random() < 0.1
    spec.ascii_json, spec.indent = rng.random() < 0.3, 2 if rng.random() < 0.05 else None
    if config.fault_rate:
        spec.fault = faults.pick(rng.random(), config.fault_rate, faults.file_kinds(entity, fmt))
    return spec


def _needs(kind: str) -> str:
    return {"truncated_json": "json", "truncated_ndjson": "ndjson"}.get(kind, "csv")


def plan_day(config: GeneratorConfig, day: date, expected: dict[str, int], chunk: int, min_files: int,
             run: _Run) -> list[FileSpec]:  # fmt: skip
    """The day's files: format, compression, variations and file-level fault of each."""
    specs = []
    for entity in FIELDS:
        est = max(expected[entity], 1)
        n = max(1, -(-est // chunk), min(min_files, est // 40))
        specs += [_spec(config, day, entity, part, -(-est // n)) for part in range(1, n + 1)]
    rng = random.Random(f"{config.seed}:files:{day.isoformat()}")
    if config.fault_rate:  # every file-level kind at least once per run
        for kind in faults.FILE_KINDS:
            if kind in run.faults or any(s.fault == kind for s in specs):
                continue
            free = [s for s in specs if s.fault is None and kind in faults.file_kinds(s.entity, s.fmt)]
            free = free or [
                s for s in specs if s.fault is None and kind in faults.file_kinds(s.entity, _needs(kind))
            ]
            if free:
                chosen = rng.choice(free)
                chosen.fmt, chosen.fault = _needs(kind), kind
    for fmt in ("json", "ndjson"):  # and every format
        if fmt not in run.formats and not any(s.fmt == fmt for s in specs):
            free = [s for s in specs if s.fmt == "csv" and s.fault is None]
            if len(free) > 1:
                rng.choice(free).fmt = fmt
    if not run.gzip and not any(s.gzip for s in specs):
        rng.choice(specs).gzip = True
    return specs


def _open(specs: list[FileSpec], landing: Path) -> dict[str, list[tuple[Part, Part | None]]]:
    parts: dict[str, list[tuple[Part, Part | None]]] = {e: [] for e in FIELDS}
    for spec in specs:
        folder = f"{spec.entity}/{spec.day.isoformat()}"
        main_spec = replace(spec, fault=None) if spec.fault == "headerless_file" else spec
        cls = CsvPart if spec.fmt == "csv" else JsonPart
        main = cls(main_spec, landing, f"{folder}/{spec.name}")
        copy = None
        if spec.fault == "headerless_file":
            copy = HeaderlessPart(spec, landing, f"{folder}/{spec.name.replace('.csv', '-noheader.csv')}")
        parts[spec.entity].append((main, copy))
    return parts


def _prepare(landing: Path, day: date, overwrite: bool) -> None:
    """Refuse to mix runs: a day folder that holds files is an error, unless `overwrite` (then this
    writer's own files there are deleted; other files are left alone)."""
    for entity in FIELDS:
        folder = landing / entity / day.isoformat()
        if not folder.is_dir():
            continue
        ours = [p for p in folder.iterdir() if p.name.startswith(f"{entity}-{day.isoformat()}-p")]
        if ours and not overwrite:
            raise FileExistsError(
                f"{folder} already holds generated files (use overwrite=True / --overwrite)"
            )
        for path in ours:
            path.unlink()


def _file_faults(entries: list[dict[str, Any]], counts: faults.Counts) -> Counter:
    day: Counter = Counter()
    for entry in entries:
        kind = entry["fault"]
        if kind:
            n = len(entry["rejects"]) if faults.KINDS[kind].unit == "rows" else 1
            counts.add(kind, entry["entity"], n)
            day[kind] += n
    return day


def _load_summary(entries: list[dict[str, Any]]) -> dict[str, Any]:
    by_entity = {
        e: dict.fromkeys(("files", "files_rejected", "rows_loadable", "rows_rejected"), 0) for e in FIELDS
    }
    reasons: Counter = Counter()
    for entry in entries:
        stats = by_entity[entry["entity"]]
        stats["files"] += 1
        stats["files_rejected"] += bool(entry["file_rejected"])
        stats["rows_loadable"] += entry["loadable"]
        stats["rows_rejected"] += len(entry["rejects"])
        reasons.update(r["reason"] for r in entry["rejects"])
    rejected = [e for e in entries if e["file_rejected"]]
    return {
        "files": len(entries),
        "files_rejected": len(rejected),
        "rows": sum(e["rows"] for e in entries),
        "rows_loadable": sum(e["loadable"] for e in entries),
        "rows_rejected": sum(len(e["rejects"]) for e in entries),
        "rows_in_rejected_files": sum(e["rows"] for e in rejected),
        "rejects_by_reason": dict(sorted(reasons.items())),
        "by_entity": by_entity,
    }


def write_landing(
    config: GeneratorConfig,
    landing: Path | str,
    *,
    chunk_records: int = 50_000,
    min_files: int = 3,
    progress: bool = True,
    overwrite: bool = False,
) -> Manifest:
    """Write the config's period under `landing` and `<landing>/_manifest.json`; returns the manifest.

    Deterministic: the same config and arguments give byte-identical files and manifest."""
    from tqdm import tqdm

    landing = Path(landing)
    run, entries, days = _Run(), [], []
    record_faults, file_faults = faults.Counts(), faults.Counts()
    totals = dict.fromkeys(("orders", "clean_orders", "revenue_orders", "net_revenue_cents"), 0)
    records: Counter = Counter()
    with tqdm(total=sum(order_counts(config)), unit="order", unit_scale=True, disable=not progress) as bar:
        for stream in iter_day_streams(config, on_orders=bar.update):
            bar.set_description(stream.date.isoformat())
            _prepare(landing, stream.date, overwrite)
            specs = plan_day(config, stream.date, stream.expected, chunk_records, min_files, run)
            parts = _open(specs, landing)
            dealt = dict.fromkeys(FIELDS, 0)
            for entity, batch in stream.batches():
                targets, offset = parts[entity], dealt[entity]
                for x, (main, copy) in enumerate(targets):
                    share = batch[(x - offset) % len(targets) :: len(targets)]
                    main.write(share)
                    if copy:
                        copy.write(share)
                dealt[entity] = offset + len(batch)
            day_entries = [p.close() for pairs in parts.values() for pair in pairs for p in pair if p]
            run.formats |= {e["format"] for e in day_entries}
            run.faults |= {e["fault"] for e in day_entries if e["fault"]}
            run.gzip = run.gzip or any(e["gzip"] for e in day_entries)
            entries += day_entries
            day_faults = Counter({k: sum(v.values()) for k, v in stream.faults.items() if sum(v.values())})
            for kind, per_entity in stream.faults.items():
                for entity, n in per_entity.items():
                    record_faults.add(kind, entity, n)
            day_faults.update(_file_faults(day_entries, file_faults))
            truth = stream.truth
            for name in totals:
                totals[name] += getattr(truth, name)
            records.update(stream.records)
            days.append(
                {
                    "date": stream.date.isoformat(),
                    "load_time": f"{stream.date + timedelta(days=1)}T00:00:00Z",
                    "orders": truth.orders,
                    "clean_orders": truth.clean_orders,
                    "revenue_orders": truth.revenue_orders,
                    "net_revenue": truth.net_revenue,
                    "clean_by_status": dict(sorted(truth.clean_by_status.items())),
                    "records": dict(stream.records),
                    "faults": {k: day_faults[k] for k in faults.KINDS if day_faults[k]},
                }
            )
    cents = totals.pop("net_revenue_cents")
    manifest: Manifest = {
        "schema": SCHEMA,
        "config": asdict(config)
        | {
            "start": config.start.isoformat(),
            "volume_drop": [config.volume_drop[0].isoformat(), config.volume_drop[1]]
            if config.volume_drop
            else None,
            "chunk_records": chunk_records,
            "min_files": min_files,
        },
        "positions": POSITIONS,
        "totals": totals | {"net_revenue": f"{cents // 100}.{cents % 100:02d}", "records": dict(records)},
        "days": days,
        "faults": faults.summary(record_faults + file_faults),
        "load": _load_summary(entries),
        "files": entries,
    }
    landing.mkdir(parents=True, exist_ok=True)
    (landing / "_manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return manifest


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """The GeneratorConfig's options (`generate` and `serve` share them); see `config_from`."""
    defaults = GeneratorConfig()
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--start", type=date.fromisoformat, default=defaults.start, help="YYYY-MM-DD")
    parser.add_argument("--days", type=int, default=defaults.days)
    parser.add_argument("--orders-per-day", type=int, default=defaults.orders_per_day)
    parser.add_argument("--fault-rate", type=float, default=0.0, help="per fault kind, 0..1 (0 = clean)")
    parser.add_argument("--products", type=int, default=defaults.products, help="catalogue size on day one")
    parser.add_argument("--customers", type=int, default=None, help="customer base before day one")
    parser.add_argument(
        "--volume-drop",
        type=_volume_drop,
        default=None,
        metavar="YYYY-MM-DD:SHARE",
        help="lose SHARE (0..1] of that day's orders, as an outage would (drift detection)",
    )


def _volume_drop(text: str) -> tuple[date, float]:
    day, _, share = text.partition(":")
    try:
        return date.fromisoformat(day), float(share)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD:SHARE, got {text!r}") from None


def config_from(args: argparse.Namespace) -> GeneratorConfig:
    """The GeneratorConfig of parsed `add_config_arguments` options (ValueError when invalid)."""
    return GeneratorConfig(
        seed=args.seed, start=args.start, days=args.days, orders_per_day=args.orders_per_day,
        fault_rate=args.fault_rate, products=args.products, customers=args.customers,
        volume_drop=getattr(args, "volume_drop", None),
    )  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="the landing folder")
    add_config_arguments(parser)
    parser.add_argument("--chunk-records", type=int, default=50_000, help="records per file, about")
    parser.add_argument("--overwrite", action="store_true", help="replace this writer's files of those days")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def cli(args: argparse.Namespace) -> int:
    """`python -m simshop generate ...`: write a landing folder and print a summary."""
    try:
        config = config_from(args)
    except ValueError as err:
        print(f"error: {err}")
        return 2
    started = time.perf_counter()
    try:
        manifest = write_landing(
            config, args.out, chunk_records=args.chunk_records, progress=not args.no_progress,
            overwrite=args.overwrite,
        )  # fmt: skip
    except FileExistsError as err:
        print(f"error: {err}")
        return 2
    seconds = time.perf_counter() - started
    totals, load = manifest["totals"], manifest["load"]
    print(
        f"{args.out}: {load['files']} files, {load['rows_loadable']} records to load, "
        f"{load['rows_rejected']} rows "
        f"and {load['files_rejected']} files to reject; {totals['orders']} orders "
        f"({totals['clean_orders']} clean, net revenue {totals['net_revenue']} EUR) in {seconds:.1f} s "
        f"({totals['orders'] / max(seconds, 1e-9):,.0f} orders/s); manifest: {args.out / '_manifest.json'}"
    )
    return 0
