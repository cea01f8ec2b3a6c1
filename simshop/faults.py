"""The named faults of the generated shop data: what each one is, what its count counts, how it is made.

Record-level faults are applied by `simshop.generator` (they are in `iter_days`' records, so the shop API
serves them too); file-level faults are applied by `simshop.writers` when the records become files.

Rates: `fault_rate` applies per kind. Kinds that exclude each other on one record (a record gets at most
one of its entity's rule-breaking kinds) share the draw, so each of K such kinds gets
`min(fault_rate, 1/K)`. File-level kinds: each file gets at most one, each eligible kind at `fault_rate`
per file, and at any `fault_rate > 0` every file-level kind is injected at least once per run (in the
first files that can carry it).

File-level faults never destroy the only copy of a record: a malformed row, an undecodable row, the cut
object of a truncated JSON/NDJSON file and the rows of a headerless file are damaged *extra copies* of
records that the same day's files also deliver intact. So a loader's rejects never change the ground
truth, and the intact records of a day's files are exactly `iter_days`' records of that day.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from extract.contract import FIELDS

ENTITIES = tuple(FIELDS)


@dataclass(frozen=True)
class FaultKind:
    name: str
    level: str  # "record": in iter_days' records; "file": applied by the writer
    unit: str  # what a count counts: records, orders, rows or files
    entities: tuple[str, ...]
    breaks_rule: bool  # keeps the record (and its order) out of the marts
    doc: str


_ALL = ENTITIES
KINDS: dict[str, FaultKind] = {
    k.name: k
    for k in (
        FaultKind("duplicate", "record", "records", _ALL, False, "an exact copy of a record, sent that day"),
        FaultKind(
            "resent_version", "record", "records", ("orders",), False,
            "an order sent again on a later day with a later updated_at and the same status (status changes "
            "are also sent as new versions, naturally; those are not counted)",
        ),
        FaultKind(
            "stale_version", "record", "records", ("orders",), False,
            "an order's first version sent again after a newer version arrived (older updated_at)",
        ),
        FaultKind("missing_value", "record", "records", _ALL, True, "a required field (REQUIRED) is empty"),
        FaultKind("malformed_email", "record", "records", ("customers",), True, "an email that is not one"),
        FaultKind(
            "nonpositive_price", "record", "records", ("products", "order_items"), True, "unit_price <= 0"
        ),
        FaultKind("nonpositive_quantity", "record", "records", ("order_items",), True, "quantity <= 0"),
        FaultKind(
            "negative_amount", "record", "records", ("orders",), True,
            "a negative shipping_amount or discount_amount",
        ),
        FaultKind(
            "future_timestamp", "record", "records", ("orders", "sessions"), True,
            "ordered_at / started_at 30-90 days after the day's load time (still in the future when a"
            " week is loaded at once, as the demo does)",
        ),
        FaultKind("ended_before_started", "record", "records", ("sessions",), True, "ended_at < started_at"),
        FaultKind("no_items", "record", "orders", ("orders",), True, "an order whose items are never sent"),
        FaultKind(
            "late_customer", "record", "orders", ("orders",), False,
            "a new customer's order whose customer record is only sent in the next day's files (on the "
            "last day: never, so that order stays held back)",
        ),
        FaultKind(
            "multiline_value", "record", "records", ("customers",), False,
            "a city with a newline in it (a quoted multi-line field in CSV)",
        ),
        FaultKind("latin1_file", "file", "files", ("customers", "products"), False, "a CSV in Latin-1"),
        FaultKind("bom_file", "file", "files", _ALL, False, "a CSV in UTF-8 with a byte-order mark"),
        FaultKind("semicolon_file", "file", "files", _ALL, False, "a CSV delimited by ';'"),
        FaultKind(
            "malformed_row", "file", "rows", _ALL, False, "1-3 extra CSV rows with one field too many or few"
        ),
        FaultKind(
            "undecodable_row", "file", "rows", ("customers",), False,
            "one extra row of a UTF-8 CSV encoded in Latin-1 (invalid UTF-8 bytes)",
        ),
        FaultKind(
            "truncated_json", "file", "files", _ALL, False,
            "a JSON array cut off inside its last object (one record lost: an extra copy)",
        ),
        FaultKind(
            "truncated_ndjson", "file", "files", _ALL, False,
            "an NDJSON file whose last line is cut off (one record lost: an extra copy)",
        ),
        FaultKind(
            "headerless_file", "file", "files", _ALL, False,
            "an extra CSV re-export of up to 200 of a file's records without a header row (rejected whole)",
        ),
    )
}  # fmt: skip

# `missing_value` empties one of the contract's REQUIRED fields (key fields are never emptied).
# Mutually exclusive rule-breaking kinds per record.
CUSTOMER_KINDS = ("malformed_email", "missing_value")
PRODUCT_KINDS = ("nonpositive_price", "missing_value")
ORDER_KINDS = ("missing_value", "future_timestamp", "negative_amount", "no_items")
ITEM_KINDS = ("nonpositive_quantity", "nonpositive_price", "missing_value")
SESSION_KINDS = ("missing_value", "future_timestamp", "ended_before_started")
FILE_KINDS = tuple(k for k, v in KINDS.items() if v.level == "file")
FUTURE_MIN_DAYS, FUTURE_MAX_DAYS = 30, 90


def pick(u: float, rate: float, kinds: tuple[str, ...]) -> str | None:
    """One of `kinds` (each at min(rate, 1/len(kinds))) or None, from a uniform draw u in [0, 1)."""
    if rate <= 0:
        return None
    each = min(rate, 1.0 / len(kinds))
    index = int(u / each)
    return kinds[index] if index < len(kinds) else None


def malformed_email(rng: random.Random, email: str) -> str:
    local, _, domain = email.partition("@")
    return rng.choice(
        (
            f"{local}{domain}",  # no @
            f"{local}@@{domain}",
            f"{local[:3]} {local[3:]}@{domain}",
            f"@{domain}",
            f"{local}@",
            f"{local}@{domain.split('.')[0]}.",
        )
    )


def nonpositive_price(rng: random.Random, cents: int) -> str:
    return "0.00" if rng.random() < 0.5 else f"-{cents // 100}.{cents % 100:02d}"


def nonpositive_quantity(rng: random.Random) -> str:
    return rng.choice(("0", "0", "-1", "-2"))


def future_offset(rng: random.Random) -> int:
    """Seconds after the day's load time (the next midnight): 30 to 90 days."""
    return rng.randrange(FUTURE_MIN_DAYS * 86_400, FUTURE_MAX_DAYS * 86_400)


# -- file level ------------------------------------------------------------------------------------
def file_kinds(entity: str, fmt: str) -> tuple[str, ...]:
    """The file-level kinds a file of this entity and format can carry."""
    if fmt == "json":
        return ("truncated_json",)
    if fmt == "ndjson":
        return ("truncated_ndjson",)
    return tuple(k for k in FILE_KINDS if entity in KINDS[k].entities and not k.startswith("truncated"))


def wrong_width(rng: random.Random, row: list[Any]) -> list[Any]:
    """The row with one field too many or too few."""
    if rng.random() < 0.5:
        return [*row, rng.choice(("", "EUR", "n/a", "1"))]
    return row[:-1]


def cut_object(rng: random.Random, text: str) -> str:
    """A JSON object's text cut off after one of its key/value pairs (never complete)."""
    ends = [i + 1 for i, ch in enumerate(text) if ch == "," and text[i - 1] in '"l']  # after "..." or null
    return text[: rng.choice(ends)] + " " if ends else text[: len(text) // 2]


class Counts(Counter):
    """Injected faults, keyed by (kind, entity)."""

    def add(self, kind: str, entity: str, n: int = 1) -> None:
        self[(kind, entity)] += n

    def by_kind(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {k: {} for k in KINDS}
        for (kind, entity), n in sorted(self.items()):
            out[kind][entity] = n
        return out


def summary(counts: Counter) -> dict[str, dict[str, Any]]:
    """The manifest's `faults` object: every kind, with level, unit, total count and per-entity counts."""
    per_kind = Counts(counts).by_kind()
    return {
        name: {
            "level": kind.level,
            "unit": kind.unit,
            "count": sum(per_kind[name].values()),
            "by_entity": per_kind[name],
            "breaks_rule": kind.breaks_rule,
            "description": kind.doc,
        }
        for name, kind in KINDS.items()
    }
