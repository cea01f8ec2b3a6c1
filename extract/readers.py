"""Read the shop's export files as the contract allows them, row by row, without ever losing a row.

Formats: CSV (`,` `;` tab or `|` delimiter; UTF-8, UTF-8 with BOM, Latin-1, Windows-1252 or UTF-16, decided
on the whole file: extract/streams.py; quoted fields with newlines; any line ending), JSON (one array of
objects), NDJSON (one object per line), each optionally gzip-compressed (known by its bytes, not its name).

Every reader yields `Row`s: either values (contract field -> text as sent, unknown fields in `extra`) or a
reject with its whole raw content and the reason. Positions are 1-based: the record ordinal after the header
for CSV, the line for NDJSON, the element index for a JSON array. A file that cannot be read at all raises
`FileRejected` before any row is yielded. Values are kept as sent: JSON numbers as their text (`1e999`,
`0.10000000000000000555`, a 5,000-digit integer), a value that Postgres cannot store (a NUL character,
invalid Unicode) rejects its record. Ambiguous headers are decided, and said in `notes`: the first column
of a name is the field; a repeated name (in any case) and a column without a name go to the extras as
`<name>__2` and `column_<n>`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from extract.contract import FIELDS, KEYS, normalise_field
from extract.streams import PG_ENCODINGS, detect_encoding, open_binary

HEADER_LIMIT = 16 << 20  # bytes of a header line
DELIMITERS = (",", ";", "\t", "|")
BROKEN = (EOFError, OSError, zlib.error)
csv.field_size_limit(sys.maxsize)  # a field is as long as the shop made it: never cut, never an error


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
    encoding: str  # Python codec name: utf-8, utf-8-sig, latin-1, cp1252, utf-16…
    delimiter: str
    header: list[str]  # normalised field names, file order
    header_bytes: int  # bytes before the first data record (BOM and header line included)
    notes: list[str] = field(default_factory=list)

    @property
    def pg_encoding(self) -> str | None:
        """Postgres' name of the encoding, None when COPY cannot read it (UTF-16)."""
        return PG_ENCODINGS.get(self.encoding)


def clean(text: str, limit: int = 1000) -> str:
    """Text safe to store and to show: NUL and invalid Unicode escaped, at most `limit` characters."""
    text = text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more characters)"


def file_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    kind = suffixes[-1].lstrip(".") if suffixes else ""
    if kind not in ("csv", "json", "ndjson", "jsonl"):
        raise FileRejected(
            f"{path}: unknown format {clean(kind, 20)!r} (expected .csv, .json or .ndjson, optionally .gz)"
        )
    return "ndjson" if kind == "jsonl" else kind


# -- values ----------------------------------------------------------------------------------------
class Number(str):
    """A JSON number (or NaN/Infinity) as the text it was sent as."""


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def _json_number(text: str) -> bool:
    return _JSON_NUMBER.fullmatch(text) is not None


def dump(value: Any) -> str:
    """JSON text of a parsed value, its numbers written as they were sent (NaN/Infinity as strings)."""
    if isinstance(value, Number):
        return str(value) if _json_number(value) else json.dumps(str(value))
    if isinstance(value, dict):
        pairs = (f"{json.dumps(str(k), ensure_ascii=False)}: {dump(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dump(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return dump(value)


def unstorable(values: dict | None, extra: dict | None) -> str | None:
    """Why Postgres cannot store these values as text, or None."""
    for name, value in [*(values or {}).items(), *(extra or {}).items()]:
        text = value if isinstance(value, str) else dump(value) if value is not None else ""
        text += "\n" + str(name)  # a name is stored too (in _extra)
        if "\x00" in text or ("\\u0000" in text and not isinstance(value, str)):
            return f"a NUL character in {clean(str(name), 60)!r} (Postgres text cannot hold it)"
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return f"not valid Unicode in {clean(str(name), 60)!r} (a lone surrogate)"
    return None


def _names(names: list[str], entity: str, source: Path) -> tuple[dict[str, int], dict[str, int], list[str]]:
    """Contract fields and extra fields by column; the key must be there. Ambiguities are decided (the
    first column of a name is the field) and said."""
    known: dict[str, int] = {}
    extra: dict[str, int] = {}
    notes: list[str] = []
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if not name:
            extra[f"column_{i + 1}"] = i
            notes.append(f"column {i + 1} has no name: kept in _extra as 'column_{i + 1}'")
            continue
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            alias = f"{name}__{seen[name]}"
            extra[alias] = i
            notes.append(f"column {i + 1} duplicates {name!r}: kept in _extra as {alias!r}")
        elif name in FIELDS[entity]:
            known[name] = i
        else:
            extra[name] = i
    missing = [k for k in KEYS[entity] if k not in known]
    if missing:
        shown = ", ".join(repr(clean(n, 40)) for n in names[:12]) + (", …" if len(names) > 12 else "")
        raise FileRejected(
            f"{source}: no recognisable {entity} header: key field(s) {', '.join(missing)} not found "
            f"among [{shown}]"
        )
    return known, extra, [clean(n, 200) for n in notes]


def _head(stream: IO[bytes], size: int, path: Path) -> bytes:
    """Up to `size` bytes; a broken stream gives what came before the break."""
    data = bytearray()
    try:
        while len(data) < size and (chunk := stream.read1(min(1 << 20, size - len(data)))):
            data += chunk
    except BROKEN as err:
        if not data:
            raise FileRejected(f"{path}: cannot read: {clean(str(err), 200)}") from err
    return bytes(data)


# -- CSV -------------------------------------------------------------------------------------------
def _line_end(text: str) -> int:
    """Index just after the first line break (\\n, \\r\\n or \\r) of `text`, or -1."""
    ends = [i for i in (text.find("\n"), text.find("\r")) if i >= 0]
    if not ends:
        return -1
    end = min(ends)
    return end + 2 if text.startswith("\r\n", end) else end + 1


def sniff_csv(path: Path, entity: str) -> CsvLayout:
    encoding, notes = detect_encoding(path)
    with open_binary(path) as stream:
        sample = _head(stream, HEADER_LIMIT, path)
    text = sample.decode(encoding, errors="replace")
    if not text.lstrip("\ufeff").strip():
        raise FileRejected(f"{path}: empty file, no header")
    end = _line_end(text)
    if end < 0 and len(sample) >= HEADER_LIMIT:
        raise FileRejected(f"{path}: no end to the header line in its first {HEADER_LIMIT >> 20} MB")
    line = text[: end if end >= 0 else len(text)].lstrip("\ufeff").rstrip("\r\n")
    header_bytes = _line_end(sample.decode("latin-1")) if encoding in PG_ENCODINGS else 0  # ASCII ends
    header_bytes = len(sample) if header_bytes < 0 else header_bytes
    delimiter = max(DELIMITERS, key=line.count)
    names = [normalise_field(n) for n in next(csv.reader([line], delimiter=delimiter), [])]
    notes += _names(names, entity, path)[2]
    if delimiter != ",":
        notes.append(f"delimiter {delimiter!r}")
    return CsvLayout(encoding, delimiter, names, header_bytes, notes)


def _raw_text(record: list[str], delimiter: str) -> str:
    joined = delimiter.join(record)
    return joined.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _has_surrogates(record: list[str]) -> bool:
    try:
        "".join(record).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def read_csv(path: Path, entity: str, layout: CsvLayout) -> Iterator[Row]:
    known, extra, _ = _names(layout.header, entity, path)
    width = len(layout.header)
    with open_binary(path) as binary:
        text = io.TextIOWrapper(binary, encoding=layout.encoding, errors="surrogateescape", newline="")
        reader = csv.reader(text, delimiter=layout.delimiter)
        position = 0
        try:
            next(reader, None)  # the header
            for record in reader:
                if not record or record == [""]:
                    continue  # a blank line is not a record
                position += 1
                yield _csv_row(position, record, width, known, extra, layout)
        except csv.Error as err:  # strict=False: it does not happen; kept as a reject if it ever does
            yield Row(position + 1, raw="", reason=f"unreadable CSV after record {position}: {err}")
        except BROKEN as err:
            yield Row(position + 1, raw="", reason=f"compressed stream broken after record {position}: {err}")
        yield from _trailing(binary, position)


def _csv_row(position: int, record: list[str], width: int, known: dict, extra: dict, layout) -> Row:
    if _has_surrogates(record):
        reason = f"undecodable bytes (not valid {layout.encoding.removesuffix('-sig')})"
        return Row(position, raw=_raw_text(record, layout.delimiter), reason=reason)
    if any("\x00" in value for value in record):
        reason = "a NUL character in the record (Postgres text cannot hold it)"
        return Row(position, raw=_raw_text(record, layout.delimiter), reason=reason)
    if len(record) != width:
        reason = f"expected {width} fields, got {len(record)}"
        return Row(position, raw=_raw_text(record, layout.delimiter), reason=reason)
    values = {name: (record[i] if record[i] != "" else None) for name, i in known.items()}
    extras = {name: record[i] for name, i in extra.items()} or None
    why = unstorable(values, extras)
    if why:
        return Row(position, raw=_raw_text(record, layout.delimiter), reason=why)
    return Row(position, values=values, extra=extras)


def _trailing(binary: IO[bytes], position: int) -> Iterator[Row]:
    """Bytes after the last gzip member: one reject, kept whole."""
    raw = getattr(binary, "raw", None)
    trailing = getattr(raw, "trailing", b"")
    if trailing:
        text = trailing.decode("latin-1")
        yield Row(position + 1, raw=text, reason=f"{len(trailing)} trailing byte(s) after the gzip data")


# -- JSON and NDJSON -------------------------------------------------------------------------------
def loads(text: str) -> Any:
    """JSON with its numbers kept as sent and its objects as (key, value) pairs, duplicates included."""
    return json.loads(
        text, parse_float=Number, parse_int=Number, parse_constant=Number, object_pairs_hook=_Pairs
    )


class _Pairs(list):
    """A JSON object as parsed: its (key, value) pairs in order, a repeated key included."""


def _plain(value: Any) -> Any:
    if isinstance(value, _Pairs):
        return {str(k): _plain(v) for k, v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def object_row(position: int, obj: Any, entity: str, raw: str) -> Row:
    if isinstance(obj, dict):
        obj = _Pairs(obj.items())
    if not isinstance(obj, _Pairs):
        kind = {list: "list", str: "string", Number: "number", bool: "boolean"}.get(type(obj), "null")
        return Row(position, raw=clean(raw, 1 << 30), reason=f"not a JSON object but {kind}")
    values: dict[str, str | None] = {}
    extra: dict[str, Any] = {}
    for key, value in obj:
        name = normalise_field(str(key))
        if name in FIELDS[entity] and name not in values:
            values[name] = _text(_plain(value))
        else:
            alias, n = name or "column", 1
            while alias in extra or alias in values:
                n += 1
                alias = f"{name or 'column'}__{n}"
            extra[alias] = _plain(value)
    why = unstorable(values, extra)
    if why:
        return Row(position, raw=clean(raw, 1 << 30), reason=why)
    return Row(position, values=values, extra=extra or None)


def _decode_json_text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="surrogateescape")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252" if any(0x80 <= b < 0xA0 for b in data) else "latin-1", errors="replace")


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
                    obj = loads(text)
                except ValueError as err:
                    msg = getattr(err, "msg", str(err))
                    column = f" at column {err.colno}" if isinstance(err, json.JSONDecodeError) else ""
                    yield Row(position, raw=clean(text, 1 << 30), reason=f"invalid JSON: {msg}{column}")
                    continue
                yield object_row(position, obj, entity, text)
        except BROKEN as err:
            yield Row(position + 1, raw="", reason=f"compressed stream broken after line {position}: {err}")
        yield from _trailing(fh, position)


def read_json_array(path: Path, entity: str) -> Iterator[Row]:
    """Objects of a JSON array one by one; a truncated or broken tail is one reject, the rest loads;
    content after the array's end is one reject."""
    chunks, broken = [], None
    with open_binary(path) as fh:
        try:
            while chunk := fh.read1(1 << 20):
                chunks.append(chunk)
        except BROKEN as err:  # what came before the break is read; the break is one reject
            broken = f"compressed stream broken after {sum(map(len, chunks))} bytes: {err}"
        trailing = getattr(getattr(fh, "raw", None), "trailing", b"")
    text = _decode_json_text(b"".join(chunks))
    decoder = json.JSONDecoder(
        parse_float=Number, parse_int=Number, parse_constant=Number, object_pairs_hook=_Pairs
    )
    index = len(text) - len(text.lstrip())
    if not text[index:].startswith("["):
        raise FileRejected(f"{path}: not a JSON array (starts with {clean(text[index : index + 20], 40)!r})")
    index += 1
    position = 0
    while True:
        while index < len(text) and text[index] in " \t\r\n,":
            index += 1
        if index >= len(text):
            break  # cut exactly between two elements (nothing of a record lost)
        if text[index] == "]":
            rest = text[index + 1 :]
            if rest.strip():
                reason = "content after the JSON array's end (the array holds the records)"
                yield Row(position + 1, raw=clean(rest, 1 << 30), reason=reason)
            break
        position += 1
        try:
            obj, end = decoder.raw_decode(text, index)
        except ValueError as err:
            reason = "invalid JSON" if text.rstrip().endswith("]") else "truncated JSON"
            msg = f"{getattr(err, 'msg', err)} at char {getattr(err, 'pos', index)}"
            # the whole tail is kept: everything after this point is in it
            why = f"{reason}: {msg}" + (f" ({broken})" if broken else "")
            broken = None
            yield Row(position, raw=clean(text[index:], 1 << 30), reason=why)
            break
        yield object_row(position, obj, entity, text[index:end])
        index = end
    if broken:
        position += 1
        yield Row(position, raw="", reason=broken)
    if trailing:
        reason = f"{len(trailing)} trailing byte(s) after the gzip data"
        yield Row(position + 1, raw=trailing.decode("latin-1"), reason=reason)


def _sniff_json(path: Path, array: bool = True) -> None:
    with open_binary(path) as stream:
        head = _head(stream, 4096, path)
    text = _decode_json_text(head).lstrip()
    if not text and len(head) < 4096:
        raise FileRejected(f"{path}: empty file")
    if array and not text.startswith("["):
        raise FileRejected(f"{path}: not a JSON array (starts with {clean(text[:20], 40)!r})")


def check_file(path: Path, entity: str) -> CsvLayout | None:
    """Everything that rejects a file whole, checked before a row is read: the CSV layout for a CSV file."""
    kind = file_format(path)
    try:
        if kind == "csv":
            return sniff_csv(path, entity)
        _sniff_json(path, array=kind == "json")
    except BROKEN as err:
        raise FileRejected(f"{path}: cannot read: {clean(str(err), 200)}") from err
    return None


def read_rows(path: Path, entity: str, layout: CsvLayout | None = None) -> Iterator[Row]:
    kind = file_format(path)
    if kind == "csv":
        return read_csv(path, entity, layout or sniff_csv(path, entity))
    if kind == "ndjson":
        return read_ndjson(path, entity)
    return read_json_array(path, entity)
