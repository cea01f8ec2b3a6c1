"""The sample: a small, clean, deterministic shop, a preset of the generator (`simshop.generator`).

`build_days(start, days)` gives each day's records per entity (strings, "" for an absent value);
`write_days(inbox, start, days)` writes them as plain CSV, `<inbox>/<entity>/<day>/<entity>.csv`.
`build_day` / `write_day` do one day. The same arguments always give the same records and byte-identical
files, so tests can replay them.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from extract.contract import FIELDS
from simshop.generator import GeneratorConfig, iter_days

ORDERS_PER_DAY = 20
Records = dict[str, list[dict[str, str]]]


def sample_config(start: date, days: int = 1) -> GeneratorConfig:
    """The sample's preset: clean days of about 20 orders from a small catalogue and customer base."""
    return GeneratorConfig(
        seed=start.toordinal(), start=start, days=days, orders_per_day=ORDERS_PER_DAY, fault_rate=0.0,
        products=10, new_products_per_day=0, customers=12, signups_per_day=2,
    )  # fmt: skip


def build_days(start: date, days: int = 1) -> dict[date, Records]:
    """Each day's records per entity, as the shop would export them (strings only)."""
    return {
        generated.date: {
            entity: [{f: record.get(f) or "" for f in FIELDS[entity]} for record in generated.records[entity]]
            for entity in FIELDS
        }
        for generated in iter_days(sample_config(start, days))
    }


def build_day(day: date) -> Records:
    return build_days(day, 1)[day]


def write_days(inbox: Path, start: date, days: int = 1) -> list[Path]:
    """Write each day's records as one CSV per entity under `inbox`; returns their paths."""
    written = []
    for day, records in build_days(start, days).items():
        for entity, rows in records.items():
            path = inbox / entity / day.isoformat() / f"{entity}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=FIELDS[entity], lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows)
            written.append(path)
    return written


def write_day(inbox: Path, day: date) -> list[Path]:
    return write_days(inbox, day, 1)
