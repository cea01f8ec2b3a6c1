"""The shop API's data: every record version the shop sent, per entity, in the API's order.

Records are kept as sent (latest versions, older ones re-sent, exact copies: as the files would hold
them), ordered by position `(updated_at, key, arrival)`; `arrival` keeps copies of one version apart.

Records of the entities with no `updated_at` in the contract (order_items, sessions) get one from the API:
the time the shop sent them, one microsecond apart in the order sent, like a database's commit timestamps
(from `sent_at`: for generated data the day's load time, D+1 00:00Z; otherwise from the store's clock, the
latest `updated_at` it holds; never earlier than the entity's previous one). So "items updated since T"
means items sent since T, and a later batch always sorts after an earlier one. A record whose `updated_at`
is empty or unreadable is sent as it is and placed at the time it was sent.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, time, timedelta
from operator import itemgetter
from typing import Any

from extract.contract import ENTITY_ORDER, FIELDS, KEYS
from extract.watermark import parse_timestamp

Position = tuple[datetime, tuple[str, ...], int]
TICK = timedelta(microseconds=1)


def _text(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds" if not moment.microsecond else "microseconds").replace(
        "+00:00", "Z"
    )


class RecordStore:
    """Thread-safe; `add` may run while the server answers (pagination stays consistent)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, list[tuple[Position, dict[str, Any]]]] = {e: [] for e in FIELDS}
        self._positions: dict[str, list[Position]] = {e: [] for e in FIELDS}
        self._arrivals = 0
        self.clock: datetime | None = None  # the latest updated_at (or sent_at) added
        self._issued: dict[str, datetime] = {}  # the latest updated_at the store gave a record, per entity

    @classmethod
    def from_records(
        cls, pairs: Iterable[tuple[str, Mapping[str, Any]]], *, sent_at: datetime | None = None
    ) -> RecordStore:
        store = cls()
        store.extend(pairs, sent_at=sent_at)
        return store

    def extend(
        self, pairs: Iterable[tuple[str, Mapping[str, Any]]], *, sent_at: datetime | None = None
    ) -> int:
        """Add (entity, record) pairs, entity by entity in dependency order; returns how many."""
        grouped: dict[str, list[Mapping[str, Any]]] = {}
        for entity, record in pairs:
            grouped.setdefault(entity, []).append(record)
        order = [e for e in ENTITY_ORDER if e in grouped] + [e for e in grouped if e not in ENTITY_ORDER]
        return sum(self.add(entity, grouped[entity], sent_at=sent_at) for entity in order)

    def add(
        self, entity: str, records: Iterable[Mapping[str, Any]], *, sent_at: datetime | None = None
    ) -> int:
        """Add records of one entity (sent by the shop at `sent_at`); returns how many."""
        if entity not in FIELDS:
            raise ValueError(f"unknown entity {entity!r}; known: {', '.join(FIELDS)}")
        batch = [dict(r) for r in records]
        stamps = [parse_timestamp(r.get("updated_at")) for r in batch]
        with self._lock:
            known = [s for s in (*stamps, sent_at, self.clock) if s is not None]
            self.clock = max(known) if known else datetime.now(UTC)
            sent = sent_at or self.clock
            add_stamp = "updated_at" not in FIELDS[entity]
            rows = self._rows[entity]
            for record, stamp in zip(batch, stamps, strict=True):
                if add_stamp and "updated_at" not in record:
                    previous = self._issued.get(entity)
                    stamp = max(sent, previous + TICK) if previous else sent
                    record["updated_at"], self._issued[entity] = _text(stamp), stamp
                key = tuple("" if record.get(k) is None else str(record.get(k)) for k in KEYS[entity])
                self._arrivals += 1
                rows.append(((stamp or sent, key, self._arrivals), record))
            rows.sort(key=itemgetter(0))
            self._positions[entity] = [position for position, _ in rows]
        return len(batch)

    def page(
        self, entity: str, *, since: datetime | None, after: Position | None, limit: int
    ) -> tuple[list[dict[str, Any]], Position | None, bool]:
        """Up to `limit` records from `since` (inclusive) or after the position `after`; also the last
        record's position and whether more follow."""
        with self._lock:
            positions = self._positions[entity]
            if after is not None:
                start = bisect_right(positions, after)
            elif since is not None:
                start = bisect_left(positions, (since,))
            else:
                start = 0
            chunk = self._rows[entity][start : start + limit]
            more = start + len(chunk) < len(positions)
        return [record for _, record in chunk], (chunk[-1][0] if chunk else None), more

    def count(self, entity: str | None = None) -> int:
        with self._lock:
            return sum(len(self._rows[e]) for e in ([entity] if entity else FIELDS))


def add_day(store: RecordStore, day: Any) -> int:
    """Add a generated `simshop.generator.Day` as the shop sends it (at its load time, D+1 00:00Z)."""
    sent_at = datetime.combine(day.date + timedelta(days=1), time(), tzinfo=UTC)
    return sum(
        store.add(entity, day.records[entity], sent_at=sent_at)
        for entity in ENTITY_ORDER
        if entity in day.records
    )


def store_from_generator(config: Any, progress: bool = False) -> RecordStore:
    """A store holding every day of `simshop.generator.iter_days(config)` (a `GeneratorConfig`)."""
    from tqdm import tqdm

    from simshop.generator import iter_days

    store = RecordStore()
    days = tqdm(iter_days(config), total=config.days, unit="day", desc="generating", disable=not progress)
    for day in days:
        add_day(store, day)
    return store
