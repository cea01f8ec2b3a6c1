"""Read the shop's export files as the contract allows them, row by row, without ever losing a row.

Formats: CSV (`,` `;` tab or `|` delimiter; UTF-8, UTF-8 with BOM, Latin-1, Windows-1252 or UTF-16, decided
on the whole file: extract/streams.py; quoted fields with newlines; any line ending), JSON (one array of
objects), NDJSON (one object per line), each optionally gzip-compressed (known by its bytes, not its name).

A record is read into a `Row` (`_csv_row`, `object_row`): either values (contract field -> text as sent,
unknown fields in `extra`) or a reject with its whole raw content and the reason. Positions are 1-based:
the record ordinal after the header for CSV, the line for NDJSON, the element index for a JSON array. A
reader gives a file as COPY text (`CopyText`: blocks of lines, the rejects with them) for the careful path
of extract/load.py; most blocks are made at C speed, without a `Row` per record, where that provably makes
the same lines as `copy_line` of those rows (`_csv_lines`, `_Objects`: the proofs are in their
docstrings). A file that cannot be read at all raises `FileRejected` before any row is read. Values are
kept as sent: JSON numbers as their text (`1e999`, `0.10000000000000000555`, a 5,000-digit integer), a
value that Postgres cannot store (a NUL character, invalid Unicode) rejects its record. Ambiguous headers
are decided, and said in `notes`: the first column of a name is the field; a repeated name (in any case)
and a column without a name go to the extras as `<name>__2` and `column_<n>`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from itertools import chain, islice, repeat
from json.encoder import encode_basestring  # json.dumps(text, ensure_ascii=False) of a str, in C
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

from extract.contract import FIELDS, KEYS, normalise_field
from extract.streams import PG_ENCODINGS, detect_encoding, open_binary

HEADER_LIMIT = 16 << 20  # bytes of a header line
DELIMITERS = (",", ";", "\t", "|")
BROKEN = (EOFError, OSError, zlib.error)
BLOCK = 4096  # rows (and rejects) per block of COPY text
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
    undecodable: bool = False  # bytes that are not valid in the encoding: COPY refuses the file

    @property
    def pg_encoding(self) -> str | None:
        """Postgres' name of the encoding, None when COPY cannot read it (UTF-16)."""
        return PG_ENCODINGS.get(self.encoding)


@dataclass(frozen=True, slots=True)
class Block:
    """COPY text (UTF-8) of `rows` loadable rows, each line ending in a line break; the rejects read with
    them."""

    data: bytes
    rows: int
    rejects: list[Row]


@dataclass(frozen=True)
class CopyText:
    """A file read for COPY's text format: the columns of its lines, the text COPY reads as NULL, and its
    blocks (read as they are taken: one file transaction streams them)."""

    columns: list[str]
    null: str
    blocks: Iterator[Block]


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULLS = {None: "\\N"}
_SIMPLE = {str, type(None)}


def copy_line(row: Row, fields: Iterable[str], null: str = "\\N") -> str:
    """A loadable row as one line of COPY text: its fields, `_extra`, `_line`; escaped where needed."""
    values = row.values or {}
    cells = [null if (v := values.get(f)) is None else v.translate(_ESCAPES) for f in fields]
    cells.append(dump(row.extra).translate(_ESCAPES) if row.extra else null)
    cells.append(str(row.position))
    return "\t".join(cells) + "\n"


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
def _header_sample(stream: IO[bytes], encoding: str, path: Path) -> tuple[bytes, str]:
    """The file's first bytes and their text, enough to hold its header line: read until the text holds
    something and a line break that is surely the first one's end (not a \\r that may be a \\r\\n's),
    or up to HEADER_LIMIT bytes, the end, or a break in the stream (what came before it is kept; nothing:
    FileRejected). What comes after the sample does not change the header found in it."""
    data, size = bytearray(), 1 << 16
    try:
        while len(data) < HEADER_LIMIT and (chunk := stream.read1(min(size, HEADER_LIMIT - len(data)))):
            data += chunk
            size = min(size * 2, 1 << 20)
            text = data.decode(encoding, errors="replace")
            end = _line_end(text)
            if 0 <= end < len(text) and text.lstrip("\ufeff").strip():
                return bytes(data), text
    except BROKEN as err:
        if not data:
            raise FileRejected(f"{path}: cannot read: {clean(str(err), 200)}") from err
    return bytes(data), data.decode(encoding, errors="replace")


def _line_end(text: str) -> int:
    """Index just after the first line break (\\n, \\r\\n or \\r) of `text`, or -1."""
    ends = [i for i in (text.find("\n"), text.find("\r")) if i >= 0]
    if not ends:
        return -1
    end = min(ends)
    return end + 2 if text.startswith("\r\n", end) else end + 1


def sniff_csv(path: Path, entity: str, found: tuple[str, list[str]] | None = None) -> CsvLayout:
    """The CSV's layout; `found`: the file's encoding when already detected (streams.scan)."""
    encoding, notes = found or detect_encoding(path)
    notes = list(notes)
    undecodable = encoding == "utf-8" and bool(notes)  # UTF-8 with some bytes that are not
    with open_binary(path) as stream:
        sample, text = _header_sample(stream, encoding, path)
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
    return CsvLayout(encoding, delimiter, names, header_bytes, notes, undecodable)


def _raw_text(record: list[str], delimiter: str) -> str:
    joined = delimiter.join(record)
    return joined.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _has_surrogates(record: list[str]) -> bool:
    try:
        "".join(record).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def read_csv(path: Path, entity: str, layout: CsvLayout) -> CopyText:
    """The file's records as COPY text for its contract fields (in file order), `_extra` and `_line`; an
    empty field is NULL (COPY's `null ''`). A block whose records all have the header's width and hold
    no NUL and no undecodable bytes is written at C speed (`_csv_lines`); any other is read record by
    record (`_csv_row`)."""
    known, extra, _ = _names(layout.header, entity, path)
    return CopyText([*known, "_extra", "_line"], "", _csv_blocks(path, layout, known, extra))


def _csv_blocks(path: Path, layout: CsvLayout, known: dict, extra: dict) -> Iterator[Block]:
    width, fields = len(layout.header), list(known)
    fast = _csv_lines(width, known, extra)
    with open_binary(path) as binary:
        text = io.TextIOWrapper(binary, encoding=layout.encoding, errors="surrogateescape", newline="")
        failure: list[BaseException] = []
        records = _until_error(csv.reader(text, delimiter=layout.delimiter), (csv.Error, *BROKEN), failure)
        next(records, None)  # the header
        position = 0
        while block := list(islice(records, BLOCK)):
            data = fast(block, position) if fast else None
            if data is not None:
                position += len(block)
                yield Block(data, len(block), [])
                continue
            lines, rejects = [], []
            for record in block:
                if not record or record == [""]:
                    continue  # a blank line is not a record
                position += 1
                row = _csv_row(position, record, width, known, extra, layout)
                if row.rejected:
                    rejects.append(row)
                else:
                    lines.append(copy_line(row, fields, ""))
            yield Block("".join(lines).encode(), len(lines), rejects)
        rejects = []
        if failure:
            err = failure[0]
            what = "unreadable CSV" if isinstance(err, csv.Error) else "compressed stream broken"
            rejects.append(Row(position + 1, raw="", reason=f"{what} after record {position}: {err}"))
        rejects += _trailing(binary, position)
        if rejects:
            yield Block(b"", 0, rejects)


def _until_error(records: Iterator, errors: tuple, failure: list) -> Iterator:
    """`records` until the first of `errors`, which is appended to `failure`: what came before stays."""
    try:
        yield from records
    except errors as err:
        failure.append(err)


def _csv_lines(width: int, known: dict[str, int], extra: dict[str, int]):
    """A function (block, position before it) -> its COPY text, or None when a record of the block needs
    the record-by-record reader: a width other than the header's (a blank line too), a NUL, undecodable
    bytes (surrogates, which UTF-8 cannot encode). None when no block can be fast (one column: a blank line
    is a record of it; an extra column's name that Postgres cannot store).

    The text is `copy_line` of what `_csv_row` makes of each record: with none of those, every record of
    the block is a row (positions one after another: no blank line), its fields' values as they are (an
    empty one is None, which COPY's `null ''` reads from the empty text), `_extra` the JSON `dump` writes
    of its extra columns (`encode_basestring` is json.dumps of a string), and the block is made again,
    escaped as `copy_line` escapes (`_escaped`), when a tab or line break count, a backslash or a carriage
    return says a value needs it."""
    if width < 2 or unstorable({}, dict.fromkeys(extra, "")):
        return None
    order = list(known.values())
    pick = None if order == list(range(width)) else _getter(order)
    keys = [json.dumps(name, ensure_ascii=False).replace("{", "{{").replace("}", "}}") for name in extra]
    template = "{{" + ", ".join(f"{key}: {{}}" for key in keys) + "}}"  # str.format: {{ is {
    get_extra = _getter(list(extra.values())) if extra else None
    tabs = len(known) + 1  # per line: between the fields, before _extra, before _line

    def text(block: list[list[str]], position: int, escape: bool) -> str:
        rows = block if pick is None else map(pick, block)
        extras = None
        if get_extra is not None:  # each extra column's values as JSON strings, into the template
            columns = [map(encode_basestring, map(itemgetter(i), block)) for i in extra.values()]
            extras = map(template.format, *columns)
        if escape:  # values with a backslash, tab or line break (no NUL or \\x01 in them: checked)
            fields = _escaped(map("\x00".join, rows))
            extras = _escaped(extras) if extras is not None else None
        else:
            fields = map("\t".join, rows)
        positions = range(position + 1, position + len(block) + 1)
        if extras is None:  # no extra column: _extra is empty (NULL)
            return "".join(map("{}\t\t{}\n".format, fields, positions))
        return "".join(map("{}\t{}\t{}\n".format, fields, extras, positions))

    def lines(block: list[list[str]], position: int) -> bytes | None:
        n = len(block)
        if set(map(len, block)) != {width}:
            return None
        data = text(block, position, False)
        if "\x00" in data or (get_extra and "\x00" in "".join(chain.from_iterable(map(get_extra, block)))):
            return None  # a NUL (in _extra: written \\u0000): its record is rejected
        if data.count("\t") != n * tabs or data.count("\n") != n or "\\" in data or "\r" in data:
            if "\x01" in data:
                return None  # (the separator `_escaped` needs)
            data = text(block, position, True)
        try:
            return data.encode()
        except UnicodeEncodeError:  # undecodable bytes (surrogates): their records are rejected
            return None

    return lines


def _escaped(texts: Iterable[str]) -> list[str]:
    """Each text escaped for COPY as `copy_line` does, a NUL in it made a tab: a block at a time, by one
    pass of str.replace per character (the texts hold no \\x01, their separator here)."""
    joined = "\x01".join(texts)
    for char, escape in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"), ("\x00", "\t")):
        joined = joined.replace(char, escape)
    return joined.split("\x01")


def _getter(indexes: list[int]):
    """The values at `indexes` of a sequence, as a tuple (even of one)."""
    if len(indexes) == 1:
        i = indexes[0]
        return lambda values: (values[i],)
    return itemgetter(*indexes)


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
_SEPARATORS = re.compile(r"[ \t\r\n,]*")  # between two elements of an array
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


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


def read_ndjson(path: Path, entity: str) -> CopyText:
    """One object per line; a line that is not one is a reject (position: the line), the others load."""
    return CopyText([*FIELDS[entity], "_extra", "_line"], "\\N", _ndjson_blocks(path, entity))


def _ndjson_blocks(path: Path, entity: str) -> Iterator[Block]:
    objects = _Objects(entity)
    with open_binary(path) as fh:
        position, rest = 0, b""
        try:
            while chunk := fh.read1(1 << 20):  # (read1: a break loses nothing read before it)
                data = rest + chunk
                cut = data.rfind(b"\n") + 1
                rest = data[cut:]
                if cut:
                    _ndjson_lines(objects, data[:cut], position)
                    position += data.count(b"\n", 0, cut)
                    if objects.full:
                        yield objects.block()
            if rest:  # the last line, without a line break
                _ndjson_lines(objects, rest, position)
                position += 1
        except BROKEN as err:  # a line cut by the break is not read, as `for line in fh` would not
            reason = f"compressed stream broken after line {position}: {err}"
            objects.reject(Row(position + 1, raw="", reason=reason))
        for row in _trailing(fh, position):
            objects.reject(row)
    yield objects.block()


def _ndjson_lines(objects: _Objects, data: bytes, position: int) -> None:
    """Whole lines of an NDJSON file, after `position` lines: each is read as `_decode_json_text` and
    `loads` read it alone, all at once when they are flat objects in UTF-8 (see `_flat_ndjson`)."""
    text = None
    with suppress(UnicodeDecodeError):
        text = data.decode()  # each line decoded alone gives the same text, unless one starts with a BOM
    if text is not None and "\ufeff" not in text:  # (UTF-16's are not UTF-8; UTF-8's is U+FEFF)
        lines = text.split("\n")
        if text.endswith("\n"):
            lines.pop()
        if "\\" not in text and _flat_ndjson(objects, lines, position):
            return
        for at, line in enumerate(lines, position + 1):
            _ndjson_line(objects, at, line.strip(), False)
        return
    lines = [line + b"\n" for line in data.split(b"\n")]
    lines[-1] = lines[-1][:-1]  # after the last line break: nothing, or the last line without one
    if not lines[-1]:
        lines.pop()
    for at, line in enumerate(lines, position + 1):
        _ndjson_line(objects, at, _decode_json_text(line).strip(), line.startswith(_UTF16_BOMS))


def _ndjson_line(objects: _Objects, position: int, text: str, utf16: bool) -> None:
    """One line (stripped) read as `loads` reads it: a row, or a reject with the parser's message."""
    if not text:
        return
    plain = not utf16 and "\\" not in text
    if plain and _flat(objects, text, position):
        return
    try:
        obj, end = objects.scan(text, 0)
        if end != len(text):
            raise ValueError("extra data")
    except (StopIteration, ValueError):
        try:
            obj = loads(text)  # the same error, with its message
        except ValueError as err:
            msg = getattr(err, "msg", str(err))
            column = f" at column {err.colno}" if isinstance(err, json.JSONDecodeError) else ""
            objects.reject(Row(position, raw=clean(text, 1 << 30), reason=f"invalid JSON: {msg}{column}"))
            return
    objects.add(position, obj, text, 0, len(text), plain)


def _flat_ndjson(objects: _Objects, lines: list[str], position: int) -> bool:
    """Read lines of flat objects (see `_Objects`) with one parse, when it proves each line one of them.

    The lines hold no backslash, so every quote opens or closes a string; each holds an even number of
    them, so no string runs from one line into the next. They are parsed as `[[line 1],[line 2],...]`:
    the brackets and commas put between them are then JSON's own. When the parse gives one list per line,
    each holding one object whose values are strings or null (so with no bracket inside), the lines hold
    no bracket outside their strings (the lists' brackets are all ours), so each line is exactly one list's
    content: one object, which it is when read alone. Then `_Objects`' count of quotes makes each a flat
    object. Blank lines are no row, as when read one by one."""
    stripped = list(map(str.strip, lines))
    present = [line for line in stripped if line]
    if not present:
        return True
    quotes = list(map(str.count, present, repeat('"')))
    if any(map((1).__and__, quotes)):  # an odd number of quotes: not one object (read it alone)
        return False
    try:
        wrapped = json.loads("[[" + "],[".join(present) + "]]")
    except (ValueError, RecursionError):
        return False
    if len(wrapped) != len(present) or not {list}.issuperset(map(type, wrapped)):
        return False
    if not {1}.issuperset(map(len, wrapped)):
        return False
    found = list(map(itemgetter(0), wrapped))
    if not {dict}.issuperset(map(type, found)) or _flat_quotes(found) != sum(quotes):
        return False
    objects.lines(found, [p for p, line in enumerate(stripped, position + 1) if line])
    return True


def _flat_array(objects: _Objects, text: str) -> list[dict] | None:
    """The array's elements when the whole text is one JSON array of flat objects (see `_Objects`)."""
    try:
        elements = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if type(elements) is not list or not {dict}.issuperset(map(type, elements)):
        return None
    return elements if _flat_quotes(elements) == text.count('"') else None


def _flat(objects: _Objects, text: str, position: int) -> bool:
    """Whether the line was taken as a flat object (see `_Objects`); False: read it with the hooks."""
    try:
        obj, end = objects.scan_flat(text, 0)
    except (StopIteration, ValueError):
        return False
    if end != len(text) or type(obj) is not dict:
        return False
    objects.add_flat(position, obj, text)
    return True


def read_json_array(path: Path, entity: str) -> CopyText:
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
    data = b"".join(chunks)
    text = _decode_json_text(data)
    index = len(text) - len(text.lstrip())
    if not text[index:].startswith("["):
        raise FileRejected(f"{path}: not a JSON array (starts with {clean(text[index : index + 20], 40)!r})")
    blocks = _array_blocks(text, index + 1, entity, data.startswith(_UTF16_BOMS), broken, trailing)
    return CopyText([*FIELDS[entity], "_extra", "_line"], "\\N", blocks)


def _array_blocks(
    text: str, index: int, entity: str, utf16: bool, broken: str | None, trailing: bytes
) -> Iterator[Block]:
    objects = _Objects(entity)
    plain = not utf16 and "\\" not in text  # no escape anywhere: every object is plain
    position = 0
    flat = _flat_array(objects, text) if plain else None
    if flat is not None:  # the whole array read at once (see `_Objects`), so one element after another
        for start in range(0, len(flat), BLOCK):
            objects.lines(flat[start : start + BLOCK], range(start + 1, start + BLOCK + 1))
            yield objects.block()
        position, index = len(flat), len(text)
    while True:
        index = _SEPARATORS.match(text, index).end()
        if index >= len(text):
            break  # cut exactly between two elements (nothing of a record lost)
        if text[index] == "]":
            rest = text[index + 1 :]
            if rest.strip():
                reason = "content after the JSON array's end (the array holds the records)"
                objects.reject(Row(position + 1, raw=clean(rest, 1 << 30), reason=reason))
            break
        position += 1
        try:
            obj, end = objects.scan(text, index)
        except (StopIteration, ValueError):
            try:
                objects.decoder.raw_decode(text, index)  # the same error, with its message
            except ValueError as err:
                reason = "invalid JSON" if text.rstrip().endswith("]") else "truncated JSON"
                msg = f"{getattr(err, 'msg', err)} at char {getattr(err, 'pos', index)}"
                # the whole tail is kept: everything after this point is in it
                why = f"{reason}: {msg}" + (f" ({broken})" if broken else "")
                broken = None
                objects.reject(Row(position, raw=clean(text[index:], 1 << 30), reason=why))
            break
        escaped = not plain and (utf16 or text.find("\\", index, end) >= 0)
        objects.add(position, obj, text, index, end, not escaped)
        if objects.full:
            yield objects.block()
        index = end
    if broken:
        position += 1
        objects.reject(Row(position, raw="", reason=broken))
    if trailing:
        reason = f"{len(trailing)} trailing byte(s) after the gzip data"
        objects.reject(Row(position + 1, raw=trailing.decode("latin-1"), reason=reason))
    yield objects.block()


class _Objects:
    """Parsed JSON objects of one file as COPY text lines (NULL as \\N), gathered into blocks.

    Objects are read as `object_row` reads them, its numbers as sent and its repeated keys kept, and made
    lines three ways, the same lines whichever way:
    - `add_flat`: an object parsed without the number and pairs hooks (C speed), from raw text without a
      backslash (JSON writes a quote, a backslash or a control character in a string only as an escape,
      which starts with one; Python's parser refuses them raw: so every quote in the text delimits a key
      or a string), whose values are all strings or null, and whose text holds exactly two quotes per key
      and per string value. Then no key was repeated and no value was a number, an object or a list (the
      text would hold more quotes than the dict has keys and strings, or a value of another type): the
      hooks would have made the same pairs of the same strings. Lines of such objects are made a block at
      a time, by C-level maps (`_flat_lines`); the check is made on the block's sums.
    - `add`, an object parsed with the hooks from raw text without a backslash: none of its keys and
      values needs COPY text escaping, holds a NUL or (unless the file is UTF-16, decoded with surrogate
      escapes) invalid Unicode, so `object_row` would accept it: its line is made from the plan.
    - any other object goes through `object_row` (rejects too) and `copy_line`.
    A plan is made once per sequence of keys: which key is which field, which are extras and under which
    name, exactly as `object_row` decides."""

    def __init__(self, entity: str) -> None:
        self.entity, self.fields = entity, FIELDS[entity]
        self.decoder = json.JSONDecoder(
            parse_float=Number, parse_int=Number, parse_constant=Number, object_pairs_hook=_Pairs
        )
        self.scan = self.decoder.scan_once  # raw_decode without its wrapper: (object, end)
        self.scan_flat = json.JSONDecoder().scan_once  # no hooks: dicts, numbers as Python numbers
        self._plans: dict[tuple, tuple] = {}
        self._lines: list[str] = []  # COPY text, of `_rows` rows
        self._rows = 0
        self._rejects: list[Row] = []
        self._flat: list[dict] = []  # objects for `_flat_lines`, their positions and raw texts
        self._flat_at: list[int] = []
        self._flat_raw: list[str] = []
        self._quotes = 0

    @property
    def full(self) -> bool:
        return self._rows + len(self._rejects) + len(self._flat) >= BLOCK

    def block(self) -> Block:
        if self._flat:
            self._flush_flat()
        block = Block("".join(self._lines).encode(), self._rows, self._rejects)
        self._lines, self._rows, self._rejects = [], 0, []
        return block

    def reject(self, row: Row) -> None:
        self._rejects.append(row)

    def add_flat(self, position: int, obj: dict, text: str) -> None:
        """An object parsed without hooks from `text` (its whole raw text, no backslash in it)."""
        self._flat.append(obj)
        self._flat_at.append(position)
        self._flat_raw.append(text)
        self._quotes += text.count('"')

    def _flush_flat(self) -> None:
        objects, positions, raws = self._flat, self._flat_at, self._flat_raw
        self._flat, self._flat_at, self._flat_raw, quotes, self._quotes = [], [], [], self._quotes, 0
        if _flat_quotes(objects) == quotes:
            self.lines(objects, positions)
            return
        for position, raw in zip(positions, raws, strict=True):  # not all flat: read with the hooks
            self.add(position, self.scan(raw, 0)[0], raw, 0, len(raw), True)

    def add(self, position: int, obj: Any, text: str, start: int, end: int, plain: bool) -> None:
        if plain and type(obj) is _Pairs:
            keys, values = tuple(zip(*obj, strict=True)) if obj else ((), ())
            self._lines.append(self._line(position, keys, values))
            self._rows += 1
            return
        row = object_row(position, obj, self.entity, text[start:end])
        if row.rejected:
            self._rejects.append(row)
        else:
            self._lines.append(copy_line(row, self.fields))
            self._rows += 1

    def _line(self, position: int, keys: tuple, values: tuple) -> str:
        plan = self._plans.get(keys) or self._plan(keys)
        picked = plan[0]((*values, None))  # a field the object does not have: the None at the end
        if _SIMPLE.issuperset(map(type, picked)):
            cells = "\t".join(map(_NULLS.get, picked, picked))
        else:
            cells = "\t".join(["\\N" if v is None else _text(_plain(v)) for v in picked])
        extra = "\\N"
        if plan[1]:
            extra = "{" + ", ".join(f"{key}: {dump(_plain(values[i]))}" for key, i in plan[1]) + "}"
        return f"{cells}\t{extra}\t{position}\n"

    def lines(self, objects: list[dict], positions: Iterable[int]) -> None:
        """Flat objects already checked as a whole (see the class)."""
        self._lines.append(self._flat_lines(objects, positions))
        self._rows += len(objects)

    def _flat_lines(self, objects: list[dict], positions: Iterable[int]) -> str:
        """The lines of flat objects (see the class), a run of objects with the same keys at a time."""
        keys = list(map(tuple, objects))
        if keys.count(keys[0]) != len(keys):  # keys that change: one object at a time
            return "".join(map(self._line, positions, keys, map(tuple, map(dict.values, objects))))
        (fields, getter), (extra, extra_keys) = self._plan(keys[0])[2:]
        columns = []
        for key in extra_keys:
            values = list(map(dict.get, objects, repeat(key)))
            if None in values:
                columns.append(["null" if v is None else encode_basestring(v) for v in values])
            else:
                columns.append(list(map(encode_basestring, values)))  # each string's JSON text
        if getter is None:  # no field of the contract
            return "".join(map((fields + "\t" + extra + "\t{}\n").format, *columns, positions))
        rows = list(map(getter, objects))
        if "\\N" not in fields:  # every field there: each row's values joined, null as \N
            cells = map("\t".join, map(map, repeat(_NULLS.get), rows, rows))
            return "".join(map(("{}\t" + extra + "\t{}\n").format, cells, *columns, positions))
        values = [list(map(_NULLS.get, c, c)) for c in zip(*rows, strict=True)]
        return "".join(map((fields + "\t" + extra + "\t{}\n").format, *values, *columns, positions))

    def _plan(self, keys: tuple) -> tuple:
        """For objects with these keys, as `object_row` decides: (their values for the contract's fields,
        [(JSON of an extra's name, its index)], (format of the fields, their getter), (format of _extra,
        the keys of the extras))."""
        if keys in self._plans:
            return self._plans[keys]
        taken: dict[str, int] = {}
        extras: list[tuple[str, int]] = []
        aliases: set[str] = set()
        for i, key in enumerate(keys):
            name = normalise_field(str(key))
            if name in self.fields and name not in taken:
                taken[name] = i
                continue
            alias, n = name or "column", 1
            while alias in aliases or alias in taken:
                n += 1
                alias = f"{name or 'column'}__{n}"
            aliases.add(alias)
            extras.append((json.dumps(alias, ensure_ascii=False), i))
        if len(self._plans) > 1000:  # a file of ever new keys: plans are cheap to make again
            self._plans.clear()
        present = [keys[taken[f]] for f in self.fields if f in taken]
        fields = "\t".join("{}" if f in taken else "\\N" for f in self.fields)
        braced = [key.replace("{", "{{").replace("}", "}}") for key, _ in extras]
        extra = "{{" + ", ".join(f"{key}: {{}}" for key in braced) + "}}" if extras else "\\N"
        getter = _getter(present) if present else None
        plan = self._plans[keys] = (
            _getter([taken.get(f, len(keys)) for f in self.fields]),
            extras,
            (fields, getter),
            (extra, [keys[i] for _, i in extras]),
        )
        return plan


def _flat_quotes(objects: list[dict]) -> int | None:
    """Two quotes per key and per string value of these objects, None when a value is neither a string nor
    null (see `_Objects`)."""
    values = list(chain.from_iterable(map(dict.values, objects)))
    if not _SIMPLE.issuperset(map(type, values)):
        return None
    return 2 * (sum(map(len, objects)) + len(values) - values.count(None))


def _sniff_json(path: Path, array: bool = True) -> None:
    with open_binary(path) as stream:
        head = _head(stream, 4096, path)
    text = _decode_json_text(head).lstrip()
    if not text and len(head) < 4096:
        raise FileRejected(f"{path}: empty file")
    if array and not text.startswith("["):
        raise FileRejected(f"{path}: not a JSON array (starts with {clean(text[:20], 40)!r})")


def check_file(path: Path, entity: str, found: tuple[str, list[str]] | None = None) -> CsvLayout | None:
    """Everything that rejects a file whole, checked before a row is read: the CSV layout for a CSV file
    (`found`: its encoding when already detected)."""
    kind = file_format(path)
    try:
        if kind == "csv":
            return sniff_csv(path, entity, found)
        _sniff_json(path, array=kind == "json")
    except BROKEN as err:
        raise FileRejected(f"{path}: cannot read: {clean(str(err), 200)}") from err
    return None


def copy_text(path: Path, entity: str, layout: CsvLayout | None = None) -> CopyText:
    """The file's rows as COPY text (see `CopyText`), its rejects with them."""
    kind = file_format(path)
    if kind == "csv":
        return read_csv(path, entity, layout or sniff_csv(path, entity))
    if kind == "ndjson":
        return read_ndjson(path, entity)
    return read_json_array(path, entity)


def records_text(entity: str, records: Iterable[Mapping[str, Any]], raws: Iterable[str]) -> CopyText:
    """Records already parsed (an API page) as COPY text, each read by `object_row`."""
    fields = FIELDS[entity]
    rows = [object_row(i, r, entity, raw) for i, (r, raw) in enumerate(zip(records, raws, strict=True), 1)]
    lines = "".join(copy_line(row, fields) for row in rows if not row.rejected)
    block = Block(lines.encode(), sum(not row.rejected for row in rows), [r for r in rows if r.rejected])
    return CopyText([*fields, "_extra", "_line"], "\\N", iter([block]))
