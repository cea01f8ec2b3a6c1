"""CSV files: the layout (encoding decided on the whole file, delimiter, header with its ambiguities
decided and said), then the records as COPY text, a block at a time (see `_csv_lines` for when a block is
written at C speed and why that gives the same lines as record by record)."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from json.encoder import encode_basestring  # json.dumps(text, ensure_ascii=False) of a str, in C
from operator import itemgetter
from pathlib import Path
from typing import IO

from extract.contract import FIELDS, KEYS, normalise_field
from extract.records import (
    BLOCK,
    BROKEN,
    Block,
    CopyText,
    FileRejected,
    Row,
    clean,
    copy_line,
    getter,
    has_surrogates,
    trailing_rejects,
    unstorable,
)
from extract.streams import PG_ENCODINGS, UNDECODABLE, detect_encoding, open_binary

HEADER_LIMIT = 16 << 20  # bytes of a header line
DELIMITERS = (",", ";", "\t", "|")
csv.field_size_limit(sys.maxsize)  # a field is as long as the shop made it: never cut, never an error


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
    try:  # the bytes as they were, those that are not UTF-8 written \xNN
        return joined.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # an ASCII byte that was undecodable (UTF-16 cut mid-character)
        return joined.encode("utf-8", "backslashreplace").decode()


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
        text = io.TextIOWrapper(binary, encoding=layout.encoding, errors=UNDECODABLE, newline="")
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
        rejects += trailing_rejects(binary, position)
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
    pick = None if order == list(range(width)) else getter(order)
    keys = [json.dumps(name, ensure_ascii=False).replace("{", "{{").replace("}", "}}") for name in extra]
    template = "{{" + ", ".join(f"{key}: {{}}" for key in keys) + "}}"  # str.format: {{ is {
    get_extra = getter(list(extra.values())) if extra else None
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


def _csv_row(position: int, record: list[str], width: int, known: dict, extra: dict, layout) -> Row:
    if has_surrogates("".join(record)):
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
