"""Where the next API extract of an entity starts: `raw.api_watermarks`, one row per entity.

The shop API lists records with `updated_at >= updated_since`, ordered by `updated_at` (docs/contract.md; the
API adds `updated_at` to the entities that have none, see extract/api_store.py). The state:

- `updated_since`: the largest readable `updated_at` loaded. The next run asks for `>=` it, so a record
  that arrives later with exactly that timestamp is not missed.
- `boundary`: fingerprints (sha256 of the record's canonical JSON) of the records loaded at exactly
  `updated_since`. The next run is sent them again and drops them. Only exact copies are dropped: a changed
  record with the same `updated_at` loads. An exact copy within a run (a version sent twice) is dropped too.
- `unresolved`: fingerprints of loaded records whose `updated_at` is missing, unreadable, or more than
  `future_tolerance` after the database clock. They cannot move the watermark (a far-future timestamp
  would hide every later record), so the API may send them again; those copies are dropped. A run that
  lists everything from its watermark forgets the ones it was not sent again: they are behind it for good.

The state is written in the transaction that loads the page (`load_records(..., in_transaction=)`), so a
page's rows and the watermark commit together: a crash between pages resumes after the last committed
page, and no record version lands twice. `cursor` is the API's `next_cursor` after the last committed
page: set while a run is under way or was interrupted, null once a run completed (informational; a rerun
starts again from `updated_since`, which is exact).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from extract import ddl
from extract.contract import normalise_field
from extract.records import Number

TABLE_DDL = """
create table if not exists raw.api_watermarks (
    entity                 text primary key,
    updated_since          timestamptz,
    boundary               jsonb not null default '[]',
    unresolved             jsonb not null default '[]',
    cursor                 text,
    rows_total             bigint not null default 0,
    last_page_at           timestamptz,
    last_run_completed_at  timestamptz
)
"""


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime (no offset means UTC), or None when unreadable (a
    JSON number too, though its text may read as one: 20261119)."""
    if not isinstance(value, str) or isinstance(value, Number) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _as_parsed(value: Any) -> Any:
    """The record as `json.loads` made it by default, its numbers (`Number`: the text sent) as int or
    float: a watermark's boundary saved when records were parsed that way still matches. A number int()
    refuses (over 4,300 digits) stays text."""
    if isinstance(value, Number):
        try:
            return float(value) if any(c in value for c in ".eEIN") else int(value)
        except ValueError:
            return str(value)
    if isinstance(value, dict):
        return {k: _as_parsed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_parsed(v) for v in value]
    return value


def fingerprint(record: Any) -> str:
    """sha256 of the record's canonical JSON; any string can be fingerprinted (a lone surrogate too)."""
    text = json.dumps(
        _as_parsed(record), sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _updated_at(record: Any) -> Any:
    """The record's `updated_at` (field names match case-insensitively, as in files)."""
    if not isinstance(record, dict):
        return None
    if "updated_at" in record:
        return record["updated_at"]
    return next((v for k, v in record.items() if normalise_field(str(k)) == "updated_at"), None)


@dataclass(frozen=True)
class Taken:
    """What `Watermark.take` made of one page."""

    fresh: list[Any]  # the records to load
    state: Watermark  # the watermark once they are loaded
    duplicates: int  # records dropped: already loaded
    unresolved_seen: frozenset[str]  # fingerprints of unresolved records the API sent


@dataclass(frozen=True)
class Watermark:
    entity: str
    updated_since: datetime | None = None
    boundary: frozenset[str] = frozenset()
    unresolved: frozenset[str] = frozenset()
    rows_total: int = 0  # records taken from the API into raw since the watermark was created
    cursor: str | None = None
    last_page_at: datetime | None = None
    last_run_completed_at: datetime | None = None

    def take(self, records: Iterable[Any], stamp_limit: datetime | None) -> Taken:
        """Drop the records already loaded; advance over the rest (in the API's order)."""
        since, boundary, unresolved = self.updated_since, set(self.boundary), set(self.unresolved)
        fresh, seen, duplicates = [], set(), 0
        for record in records:
            fp = fingerprint(record)
            if fp in boundary or fp in unresolved:
                duplicates += 1
                seen.add(fp)
                continue
            stamp = parse_timestamp(_updated_at(record))
            if stamp is None or (stamp_limit is not None and stamp > stamp_limit):
                unresolved.add(fp)
                seen.add(fp)
            elif since is None or stamp > since:
                since, boundary = stamp, {fp}
            elif stamp == since:
                boundary.add(fp)
            # else: older than the watermark (the API sent it out of order): it loads, nothing moves
            fresh.append(record)
        state = replace(
            self,
            updated_since=since,
            boundary=frozenset(boundary),
            unresolved=frozenset(unresolved),
            rows_total=self.rows_total + len(fresh),
        )
        return Taken(fresh, state, duplicates, frozenset(seen & unresolved))


def ensure_table(conn: psycopg.Connection) -> None:
    """Create raw.api_watermarks if missing (in its own transaction)."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('extract.raw_ddl'))")
        ddl.ensure_schema(conn)
        conn.execute(TABLE_DDL)


def read(conn: psycopg.Connection, entity: str) -> Watermark:
    row = conn.execute(
        "select updated_since, boundary, unresolved, rows_total, cursor, last_page_at, last_run_completed_at"
        " from raw.api_watermarks where entity = %s",
        [entity],
    ).fetchone()
    if row is None:
        return Watermark(entity)
    since, boundary, unresolved, total, cursor, page_at, completed_at = row
    return Watermark(
        entity, since, frozenset(boundary), frozenset(unresolved), total, cursor, page_at, completed_at
    )


def read_watermark(conninfo: str, entity: str) -> Watermark:
    """The entity's watermark (an empty one before its first extract)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        ensure_table(conn)
        return read(conn, entity)


def save(conn: psycopg.Connection, state: Watermark, cursor: str | None, completed: bool = False) -> None:
    """Write the state in the caller's transaction (`completed`: the run listed everything)."""
    conn.execute(
        "insert into raw.api_watermarks as w (entity, updated_since, boundary, unresolved, cursor,"
        " rows_total, last_page_at, last_run_completed_at)"
        " values (%s, %s, %s, %s, %s, %s, clock_timestamp(), case when %s then clock_timestamp() end)"
        " on conflict (entity) do update set updated_since = excluded.updated_since,"
        " boundary = excluded.boundary, unresolved = excluded.unresolved, cursor = excluded.cursor,"
        " rows_total = excluded.rows_total, last_page_at = excluded.last_page_at,"
        " last_run_completed_at = coalesce(excluded.last_run_completed_at, w.last_run_completed_at)",
        [
            state.entity,
            state.updated_since,
            Jsonb(sorted(state.boundary)),
            Jsonb(sorted(state.unresolved)),
            cursor,
            state.rows_total,
            completed,
        ],
    )


def reset_watermark(conninfo: str, entity: str) -> None:
    """Forget the entity's watermark: its next extract lists everything again (and lands it again)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        ensure_table(conn)
        conn.execute("delete from raw.api_watermarks where entity = %s", [entity])


def try_lock(conn: psycopg.Connection, entity: str) -> bool:
    """Take the entity's API-extract lock for the connection's session; False when another session has it."""
    (held,) = conn.execute("select pg_try_advisory_lock(hashtext(%s))", [f"extract.api.{entity}"]).fetchone()
    return held
