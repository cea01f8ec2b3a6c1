"""The shop's inbox: find every export the ledger has not seen, wherever it sits, and land it in raw.*.

The inbox belongs to the shop: `<inbox>/<entity>/<YYYY-MM-DD>/<name>.csv|.json|.ndjson[.gz]`, a local folder
or an object-store prefix (any path-like object with `iterdir`, `is_dir`, `open` and, for object stores,
`fs.info`: Airflow's `ObjectStoragePath`, universal_pathlib's `UPath`). It is only ever read: nothing is
written, moved, renamed or deleted there.

What is new: a file whose location, size and modification time (and, in an object store, version) the
ledger has not recorded. Its content hash then decides: content already loaded under this name is skipped,
under another name it is recorded as a duplicate with no rows; anything else loads. A file re-sent into an
old day folder is therefore collected by the next run, like any other.

A file still being written is never loaded half. An object store shows an object only once it is whole.
A local file is taken once it has not changed for `settle_seconds` (the scan waits that long for a file
modified more recently, once); its size and modification time are checked again just before its load
commits, and a file that changed is rolled back whole and left for the next run (`waiting`). A writer
that renames a finished file into place (`.part`, `.tmp` and hidden names are never exports) is always
safe.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg

from extract import ddl
from extract.contract import ENTITY_ORDER
from extract.load import BatchResult, Origin, load_file, record_unreadable

log = logging.getLogger(__name__)

EXPORT_SUFFIXES = (".csv", ".json", ".ndjson", ".jsonl")
DAY_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")
SETTLE_SECONDS = 10.0


@dataclass(frozen=True)
class InboxFile:
    entity: str
    folder: str  # the entity folder's name as found (entity names match case-insensitively)
    day: str  # the day folder, YYYY-MM-DD
    name: str
    size: int
    modified: float  # seconds since the epoch
    version: str | None = None  # an object store's ETag

    @property
    def relative(self) -> str:
        return f"{self.folder}/{self.day}/{self.name}"


@dataclass
class Scan:
    """What a look at the inbox found: new files (in load order), how many were seen before, files
    still being written, and everything that is not an export, with the reason."""

    inbox: str
    new: list[InboxFile] = field(default_factory=list)
    seen: int = 0
    waiting: list[InboxFile] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)

    def for_entity(self, entity: str) -> list[InboxFile]:
        return [f for f in self.new if f.entity == entity]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scan:
        return cls(
            inbox=data["inbox"],
            new=[InboxFile(**f) for f in data["new"]],
            seen=data["seen"],
            waiting=[InboxFile(**f) for f in data["waiting"]],
            ignored=[tuple(i) for i in data["ignored"]],
        )


def inbox_url(inbox: Any) -> str:
    """The inbox's path, or its URL without credentials or connection (`s3://bucket/prefix`)."""
    if is_local(inbox):
        return str(inbox)
    protocol = getattr(inbox, "protocol", "")
    protocol = protocol[0] if isinstance(protocol, tuple | list) else protocol
    return f"{protocol}://{inbox.path}".rstrip("/") if protocol else str(inbox).rstrip("/")


def location(inbox: Any, relative: str) -> str:
    """The ledger's name of an inbox file: the inbox's path or URL, then the file's relative path."""
    return f"{inbox_url(inbox).rstrip('/')}/{relative}"


def is_local(path: Any) -> bool:
    return isinstance(path, Path)


def _fingerprint(path: Any) -> tuple[int, float, str | None]:
    """(size, modification time, version) of a file."""
    if is_local(path):
        st = path.stat()
        return st.st_size, st.st_mtime, None
    info = path.fs.info(path.path)
    modified = info.get("LastModified") or info.get("mtime") or info.get("created") or 0
    if isinstance(modified, datetime):
        modified = modified.timestamp()
    version = info.get("ETag") or info.get("VersionId")
    return int(info["size"]), float(modified), str(version).strip('"') if version else None


def _name_error(name: str) -> str | None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "the file name is not valid UTF-8"
    if name.startswith((".", "~")) or name.lower().endswith((".part", ".tmp", ".crdownload")):
        return "a hidden or temporary file, not an export"
    suffixes = [s.lower() for s in Path(name).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if not suffixes or suffixes[-1] not in EXPORT_SUFFIXES:
        return "not an export: expected .csv, .json or .ndjson, optionally .gz"
    return None


def _safe(name: str) -> str:
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


LINK = "a symbolic link: only what is delivered into the inbox is read"


def _children(folder: Any, where: str, ignored: list[tuple[str, str]]) -> list[Any]:
    """The entries of a folder by name; a folder that cannot be listed is reported, not fatal."""
    try:  # an object store's empty "folder" placeholder has no name of its own: not an entry
        return sorted((p for p in folder.iterdir() if p.name), key=lambda p: p.name)
    except OSError as err:
        ignored.append((where, f"cannot be listed: {err.strerror or err}"))
        return []


def _list(inbox: Any, entities: Iterable[str]) -> tuple[list[tuple[InboxFile, Any]], list[tuple[str, str]]]:
    """Every export under the inbox with its path, in load order; and what was ignored, with why."""
    wanted = {e.lower(): e for e in entities}
    found: list[tuple[InboxFile, Any]] = []
    ignored: list[tuple[str, str]] = []
    for top in _children(inbox, ".", ignored):
        entity = wanted.get(top.name.strip().lower())
        if is_local(top) and top.is_symlink():
            ignored.append((_safe(top.name), LINK))
            continue
        if not top.is_dir():
            if not top.name.startswith((".", "_")):
                ignored.append((_safe(top.name), "not in an entity folder"))
            continue
        if entity is None:
            ignored.append(
                (_safe(top.name) + "/", f"not an entity folder (expected one of {', '.join(wanted)})")
            )
            continue
        for day in _children(top, _safe(top.name) + "/", ignored):
            where = f"{_safe(top.name)}/{_safe(day.name)}"
            if is_local(day) and day.is_symlink():
                ignored.append((where, LINK))
            elif not day.is_dir():
                ignored.append((where, "not in a day folder (<entity>/<YYYY-MM-DD>/<file>)"))
            elif not _is_day(day.name):
                ignored.append((where + "/", "not a day folder (YYYY-MM-DD)"))
            else:
                for path in _children(day, where + "/", ignored):
                    reason = _file_error(path)
                    try:
                        size, modified, version = _fingerprint(path) if not reason else (0, 0.0, None)
                    except OSError as err:  # gone since the listing, or not ours to read
                        reason = f"cannot be read: {err.strerror or err}"
                    if reason:
                        ignored.append((f"{where}/{_safe(path.name)}", reason))
                        continue
                    found.append(
                        (InboxFile(entity, top.name, day.name, path.name, size, modified, version), path)
                    )
    order = {e: i for i, e in enumerate(ENTITY_ORDER)}
    found.sort(key=lambda item: (order.get(item[0].entity, len(order)), item[0].day, item[0].name))
    return found, ignored


def _is_day(name: str) -> bool:
    if not DAY_FOLDER.fullmatch(name):
        return False
    try:
        date.fromisoformat(name)
    except ValueError:
        return False
    return True


def _file_error(path: Any) -> str | None:
    reason = _name_error(path.name)
    if reason:
        return reason
    if is_local(path) and path.is_symlink():
        return LINK
    if is_local(path) and path.is_file() and not os.access(path, os.R_OK):
        return "cannot be read: permission denied (the next run tries again)"
    if path.is_dir():
        return "a folder inside a day folder"
    return None


def _seen(conninfo: str) -> set[tuple[str, int, datetime, str | None]]:
    """(source, size, modification time, version) of every file the ledger has recorded."""
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "select source, size_bytes, modified_at, source_version"
            " from raw.load_ledger where source_kind = 'file' and size_bytes is not null"
            " and status in ('loaded', 'rejected', 'duplicate') and content_hash <> 'unreadable'"
        ).fetchall()
    return {(source, size, modified, version) for source, size, modified, version in rows}


def modified_at(f: InboxFile) -> datetime:
    """The file's modification time as the ledger keeps it (to the microsecond)."""
    return datetime.fromtimestamp(f.modified, UTC)


def _key(inbox: Any, f: InboxFile) -> tuple[str, int, datetime, str | None]:
    return location(inbox, f.relative), f.size, modified_at(f), f.version


def scan(
    conninfo: str,
    inbox: Any,
    entities: Iterable[str] = ENTITY_ORDER,
    *,
    settle_seconds: float = SETTLE_SECONDS,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Scan:
    """Look at the whole inbox and say what is new since the ledger last saw it (see the module's doc)."""
    ddl.ensure_ledger(conninfo)
    fs = getattr(inbox, "fs", None)
    if fs is not None and hasattr(fs, "invalidate_cache"):
        fs.invalidate_cache()  # object-store listings are cached per process
    if is_local(inbox) and not inbox.is_dir():
        raise FileNotFoundError(f"{inbox} is not a folder")
    found, ignored = _list(inbox, entities)
    seen = _seen(conninfo)
    result = Scan(inbox_url(inbox), ignored=ignored)
    young: list[tuple[InboxFile, Any]] = []
    for f, path in found:
        if _key(inbox, f) in seen:
            result.seen += 1
        elif is_local(path) and clock() - f.modified < settle_seconds:
            young.append((f, path))
        else:
            result.new.append(f)
    if young:  # modified moments ago: wait once until they would have settled, then look again
        sleep(max(0.0, settle_seconds - (clock() - max(f.modified for f, _ in young))))
        for f, path in young:
            now = InboxFile(f.entity, f.folder, f.day, f.name, *_fingerprint(path))
            (result.new if now == f else result.waiting).append(now)
        order = {e: i for i, e in enumerate(ENTITY_ORDER)}
        result.new.sort(key=lambda f: (order.get(f.entity, len(order)), f.day, f.name))
    return result


def _path(inbox: Any, f: InboxFile) -> Any:
    return inbox / f.folder / f.day / f.name


def collect(
    conninfo: str, inbox: Any, files: Iterable[InboxFile], run_id: str | None = None
) -> list[BatchResult]:
    """Land `files` (from `scan`) in raw.*, one transaction each, in the order given. A file that changed
    since the scan is left for the next run (status `changed`)."""
    results = []
    for f in files:
        path = _path(inbox, f)
        origin = Origin(location(inbox, f.relative), f.day, f.size, modified_at(f), f.version, run_id)
        try:
            same = _fingerprint(path) == (f.size, f.modified, f.version)
        except OSError:
            same = False  # gone since the scan
        if not same:
            results.append(BatchResult(f.entity, origin.source, None, 0, 0, 0, "changed", day_folder=f.day))
            continue
        try:
            results.append(_collect_one(conninfo, path, f, origin))
        except psycopg.Error:
            raise  # the database, not the file: the task is retried
        except Exception as err:  # no file stops the others: recorded with its reason
            log.exception("%s could not be loaded", origin.source)
            error = f"{origin.source}: could not be read ({type(err).__name__}: {err})"
            results.append(record_unreadable(conninfo, f.entity, origin, error))
    return results


def last_batch(conninfo: str) -> int:
    """The ledger's latest batch id (0 before any load): what a run loads comes after it."""
    ddl.ensure_ledger(conninfo)
    with psycopg.connect(conninfo) as conn:
        return conn.execute("select coalesce(max(batch_id), 0) from raw.load_ledger").fetchone()[0]


def rows_loaded_since(conninfo: str, batch_id: int) -> int:
    """Rows loaded by the batches after `batch_id` (every attempt of a retried load included)."""
    with psycopg.connect(conninfo) as conn:
        return conn.execute(
            "select coalesce(sum(rows_loaded), 0) from raw.load_ledger"
            " where batch_id > %s and status = 'loaded'",
            [batch_id],
        ).fetchone()[0]


def record_ignored(conninfo: str, found: Scan, run_id: str | None = None) -> None:
    """Keep what the scan did not take as exports, with the reason, in raw.load_ignored (once per file and
    reason; `last_seen_at` and `run_id` say when it was last there)."""
    if not found.ignored:
        return
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into raw.load_ignored (source, reason, run_id) values (%s, %s, %s) on conflict"
            " (source, reason) do update set last_seen_at = clock_timestamp(), run_id = excluded.run_id",
            [(location(found.inbox, where), why, run_id) for where, why in found.ignored],
        )


def _collect_one(conninfo: str, path: Any, f: InboxFile, origin: Origin) -> BatchResult:
    def unchanged() -> bool:
        return _fingerprint(path) == (f.size, f.modified, f.version)

    if is_local(path):
        return load_file(conninfo, f.entity, path, origin, unchanged)
    with tempfile.TemporaryDirectory(prefix="inbox-") as scratch:  # an object: read it whole, once
        local = Path(scratch) / Path(f.name).name
        with path.fs.open(path.path, "rb") as src, local.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        if local.stat().st_size != f.size:
            return BatchResult(f.entity, origin.source, None, 0, 0, 0, "changed", day_folder=f.day)
        result = load_file(conninfo, f.entity, local, origin, unchanged)
    return replace(result, error=result.error.replace(str(local), origin.source)) if result.error else result
