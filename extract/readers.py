"""Read the shop's export files as the contract allows them, row by row, without ever losing a row.

Formats: CSV (`,` `;` tab or `|` delimiter, UTF-8, UTF-8 with BOM or Latin-1, quoted fields with
newlines), JSON (one array of objects), NDJSON (one object per line), each optionally gzip-compressed.

Every reader yields `Row`s: either values (contract field -> text as sent, unknown fields in `extra`) or a
reject with its raw content and the reason. Positions are 1-based: the record ordinal after the header for
CSV, the line for NDJSON, the element index for a JSON array. A file that cannot be read at all raises
`FileRejected` before any row is yielded.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from extract.contract import FIELDS, KEYS, normalise_field

SAMPLE_BYTES = 1 << 20
DELIMITERS = (",", ";", "\t", "|")
RAW_LIMIT = 4000  # characters of a rejected row's raw content kept


class FileRejected(ValueError):
    """The file cannot be read as the entity at all (no recognisable header, not JSON, unreadable)."""


@dataclass(frozen=True, slots=True)
class Row:
    position: int
    values: dict[str, str | None] | None = None
    extra: dict[str, Any] | None = None
    raw: str | None = None
    reason: str | None = None

    @property
    def rejected(self) -> bool:
        return self.reason is not None


@dataclass(frozen=True)
class CsvLayout:
    encoding: str  # Python codec name: utf-8, utf-8-sig or latin-1
    delimiter: str
    header: list[str]  # normalised field names, file order
    header_bytes: int  # bytes before the first data record (BOM and header line included)
    notes: list[str] = field(default_factory=list)

    @property
    def pg_encoding(self) -> str:
        return "LATIN1" if self.encoding == "latin-1" else "UTF8"


def file_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    kind = suffixes[-1].lstrip(".") if suffixes else ""
    if kind not in ("csv", "json", "ndjson", "jsonl"):
        raise FileRejected(
            f"{path}: unknown format {kind!r} (expected .csv, .json or .ndjson, optionally .gz)"
        )
    return "ndjson" if kind == "jsonl" else kind


def open_binary(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else path.open("rb")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def _split(names: list[str], entity: str, source: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Map header positions to contract fields and to extra fields; reject a header without the key."""
    positions = {name: i for i, name in reversed(list(enumerate(names)))}
    missing_keys = [k for k in KEYS[entity] if k not in positions]
    if missing_keys:
        shown = ", ".join(repr(n) for n in names[:12])
        raise FileRejected(
            f"{source}: no recognisable {entity} header: key field(s) {', '.join(missing_keys)} not found "
            f"among [{shown}]"
        )
    known = {name: i for name, i in positions.items() if name in FIELDS[entity]}
    extra = {name: i for name, i in positions.items() if name not in FIELDS[entity] and name}
    return known, extra


def _head(path: Path, size: int) -> bytes:
    """Up to `size` bytes from the start (decompressed); a broken stream gives what came before the break."""
    data = bytearray()
    try:
        with open_binary(path) as fh:
            while len(data) < size and (chunk := fh.read(min(65536, size - len(data)))):
                data += chunk
    except (EOFError, OSError, zlib.error) as err:
        if not data:
            raise FileRejected(f"{path}: cannot read: {err}") from err
    return bytes(data)


# -- CSV -------------------------------------------------------------------------------------------
def _detect_encoding(sample: bytes) -> tuple[str, list[str]]:
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig", []
    try:
        sample.decode("utf-8")
        return "utf-8", []
    except UnicodeDecodeError as err:
        if err.start >= len(sample) - 3 and len(sample) >= SAMPLE_BYTES:  # a character cut by the sample
            return "utf-8", []
    decoded = sample.decode("utf-8", errors="replace")
    valid_multibyte = sum(1 for ch in decoded if ord(ch) > 127 and ch != "\ufffd")
    if valid_multibyte == 0:  # every non-ASCII byte is invalid UTF-8: a single-byte encoding
        return "latin-1", ["decoded as Latin-1 (not valid UTF-8)"]
    return "utf-8", ["UTF-8 with undecodable bytes in some rows"]


def sniff_csv(path: Path, entity: str) -> CsvLayout:
    sample = _head(path, SAMPLE_BYTES)
    if not sample.strip():
        raise FileRejected(f"{path}: empty file, no header")
    encoding, notes = _detect_encoding(sample)
    end = sample.find(b"\n")
    header_bytes = len(sample) if end < 0 else end + 1
    line = sample[:header_bytes].decode(encoding, errors="replace").rstrip("\r\n")
    delimiter = max(DELIMITERS, key=line.count)
    names = [normalise_field(n) for n in next(csv.reader([line], delimiter=delimiter), [])]
    _split(names, entity, path)
    if delimiter != ",":
        notes.append(f"delimiter {delimiter!r}")
    return CsvLayout(encoding, delimiter, names, header_bytes, notes)


def _has_surrogates(record: list[str]) -> bool:
    try:
        "".join(record).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _raw_text(record: list[str], delimiter: str) -> str:
    joined = delimiter.join(record)
    return joined.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")[:RAW_LIMIT]


def read_csv(path: Path, entity: str, layout: CsvLayout) -> Iterator[Row]:
    known, extra = _split(layout.header, entity, path)
    width = len(layout.header)
    with open_binary(path) as binary:
        text = io.TextIOWrapper(binary, encoding=layout.encoding, errors="surrogateescape", newline="")
        reader = csv.reader(text, delimiter=layout.delimiter)
        position = 0
        try:
            next(reader, None)  # the header
            while True:
                try:
                    record = next(reader)
                except StopIteration:
                    return
                except csv.Error as err:
                    position += 1
                    yield Row(position, raw=None, reason=f"unreadable CSV record: {err}")
                    continue
                if not record or record == [""]:
                    continue  # a blank line is not a record
                position += 1
                if _has_surrogates(record):
                    reason = f"undecodable bytes (not valid {layout.encoding.removesuffix('-sig')})"
                    yield Row(position, raw=_raw_text(record, layout.delimiter), reason=reason)
                elif len(record) != width:
                    reason = f"expected {width} fields, got {len(record)}"
                    yield Row(position, raw=_raw_text(record, layout.delimiter), reason=reason)
                else:
                    values = {name: (record[i] if record[i] != "" else None) for name, i in known.items()}
                    extras = {name: record[i] for name, i in extra.items()} or None
                    yield Row(position, values=values, extra=extras)
        except (EOFError, OSError, zlib.error) as err:
            yield Row(position + 1, reason=f"compressed stream broken after record {position}: {err}")


# -- JSON and NDJSON -------------------------------------------------------------------------------
def object_row(position: int, obj: Any, entity: str, raw: str) -> Row:
    if not isinstance(obj, dict):
        return Row(position, raw=raw[:RAW_LIMIT], reason=f"not a JSON object but {type(obj).__name__}")
    values: dict[str, str | None] = {}
    extra: dict[str, Any] = {}
    for key, value in obj.items():
        name = normalise_field(str(key))
        if name in FIELDS[entity]:
            values[name] = _text(value)
        else:
            extra[name] = value
    return Row(position, values=values, extra=extra or None)


def _decode_json_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_ndjson(path: Path, entity: str) -> Iterator[Row]:
    with open_binary(path) as fh:
        position = 0
        try:
            for line in fh:
                position += 1
                text = _decode_json_text(line).strip()
                if not text:
                    continue
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as err:
                    yield Row(
                        position,
                        raw=text[:RAW_LIMIT],
                        reason=f"invalid JSON: {err.msg} at column {err.colno}",
                    )
                    continue
                yield object_row(position, obj, entity, text)
        except (EOFError, OSError, zlib.error) as err:
            yield Row(position + 1, reason=f"compressed stream broken after line {position}: {err}")


def read_json_array(path: Path, entity: str) -> Iterator[Row]:
    """Objects of a JSON array one by one; a truncated or broken tail is one reject, the rest loads."""
    try:
        with open_binary(path) as fh:
            text = _decode_json_text(fh.read())
    except (EOFError, OSError, zlib.error) as err:
        raise FileRejected(f"{path}: cannot read: {err}") from err
    decoder = json.JSONDecoder()
    index = len(text) - len(text.lstrip())
    if not text[index:].startswith("["):
        raise FileRejected(f"{path}: not a JSON array (starts with {text[index : index + 20]!r})")
    index += 1
    position = 0
    while True:
        while index < len(text) and text[index] in " \t\r\n,":
            index += 1
        if index >= len(text) or text[index] == "]":
            return  # closed, or cut exactly between two elements (nothing of a record lost)
        position += 1
        try:
            obj, end = decoder.raw_decode(text, index)
        except json.JSONDecodeError as err:
            tail = text[index:]
            reason = "invalid JSON" if text.rstrip().endswith("]") else "truncated JSON"
            # the whole tail is kept (not cut to RAW_LIMIT): everything after this point is in it
            yield Row(position, raw=tail, reason=f"{reason}: {err.msg} at char {err.pos}")
            return
        yield object_row(position, obj, entity, text[index:end])
        index = end


def _sniff_json(path: Path) -> None:
    text = _decode_json_text(_head(path, 4096)).lstrip()
    if not text:
        raise FileRejected(f"{path}: empty file")
    if not text.startswith("["):
        raise FileRejected(f"{path}: not a JSON array (starts with {text[:20]!r})")


def check_file(path: Path, entity: str) -> CsvLayout | None:
    """Everything that rejects a file whole, checked before a row is read: the CSV layout for a CSV file."""
    kind = file_format(path)
    if kind == "csv":
        return sniff_csv(path, entity)
    if kind == "json":
        _sniff_json(path)
    return None


def read_rows(path: Path, entity: str, layout: CsvLayout | None = None) -> Iterator[Row]:
    kind = file_format(path)
    if kind == "csv":
        return read_csv(path, entity, layout or sniff_csv(path, entity))
    if kind == "ndjson":
        return read_ndjson(path, entity)
    return read_json_array(path, entity)
