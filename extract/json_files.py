"""JSON files (one array of objects) and NDJSON files (one object per line), read in the file's encoding
(decided on the whole file: extract/streams.py), each element or line a row or a reject with its position."""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from pathlib import Path

from extract.contract import FIELDS
from extract.json_objects import Objects, flat_quotes, loads
from extract.records import (
    BLOCK,
    BROKEN,
    Block,
    CopyText,
    FileRejected,
    Row,
    clean,
    has_surrogates,
    read_head,
    trailing_rejects,
)
from extract.streams import UNDECODABLE, detect_encoding, open_binary

_SEPARATORS = re.compile(r"[ \t\r\n,]*")  # between two elements of an array
UTF8 = ("utf-8", "utf-8-sig")


@dataclass(frozen=True)
class JsonLayout:
    """A JSON or NDJSON file as found before a row is read: its encoding (Python codec) and notes."""

    encoding: str
    notes: list[str] = field(default_factory=list)


def read_ndjson(path: Path, entity: str, encoding: str = "utf-8") -> CopyText:
    """One object per line; a line that is not one is a reject (position: the line), the others load."""
    return CopyText([*FIELDS[entity], "_extra", "_line"], "\\N", _ndjson_blocks(path, entity, encoding))


def _ndjson_blocks(path: Path, entity: str, encoding: str) -> Iterator[Block]:
    """UTF-8 is split into lines as bytes (a line that is not UTF-8 is one reject); any other encoding
    (UTF-16, Windows-1252, Latin-1) is decoded as a stream first, then split."""
    objects = Objects(entity)
    utf8 = encoding in UTF8
    with open_binary(path) as fh:
        stream = fh if utf8 else io.TextIOWrapper(fh, encoding, errors=UNDECODABLE, newline="")
        lines, newline = (_ndjson_lines, b"\n") if utf8 else (_ndjson_text_lines, "\n")
        position, rest = 0, newline[:0]
        try:
            while chunk := (stream.read1(1 << 20) if utf8 else stream.read(1 << 18)):
                data = rest + chunk  # (read1: a break loses nothing read before it)
                if position == 0 and not rest and utf8:
                    data = data.removeprefix(codecs.BOM_UTF8)
                cut = data.rfind(newline) + 1
                rest = data[cut:]
                if cut:
                    lines(objects, data[:cut], position, encoding)
                    position += data.count(newline, 0, cut)
                    if objects.full:
                        yield objects.block()
            if rest:  # the last line, without a line break
                lines(objects, rest, position, encoding)
                position += 1
        except BROKEN as err:  # a line cut by the break is not read, as `for line in fh` would not
            reason = f"compressed stream broken after line {position}: {err}"
            objects.reject(Row(position + 1, raw="", reason=reason))
        for row in trailing_rejects(fh, position):
            objects.reject(row)
    yield objects.block()


def _ndjson_lines(objects: Objects, data: bytes, position: int, encoding: str) -> None:
    """Whole lines of a UTF-8 NDJSON file, after `position` lines: each is read as `loads` reads it
    alone, all at once when they are flat objects (see `_flat_ndjson`)."""
    text = None
    with suppress(UnicodeDecodeError):
        text = data.decode()
    if text is not None:
        lines = text.split("\n")
        if text.endswith("\n"):
            lines.pop()
        if "\\" not in text and _flat_ndjson(objects, lines, position):
            return
        for at, line in enumerate(lines, position + 1):
            _ndjson_line(objects, at, line.strip(), False)
        return
    for at, line in enumerate(data.removesuffix(b"\n").split(b"\n"), position + 1):
        try:
            _ndjson_line(objects, at, line.decode().strip(), False)
        except UnicodeDecodeError:
            text = line.decode("utf-8", UNDECODABLE).strip()
            reason = "undecodable bytes (not valid utf-8)"
            objects.reject(Row(at, raw=clean(text, 1 << 30), reason=reason))


def _ndjson_text_lines(objects: Objects, text: str, position: int, encoding: str) -> None:
    """Whole lines of an NDJSON file decoded from another encoding (bytes it does not define are lone
    surrogates: their line is one reject)."""
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    for at, line in enumerate(lines, position + 1):
        line = line.lstrip("\ufeff").strip() if at == 1 else line.strip()
        if has_surrogates(line):
            reason = f"undecodable bytes (not valid {encoding})"
            objects.reject(Row(at, raw=clean(line, 1 << 30), reason=reason))
        else:
            _ndjson_line(objects, at, line, True)


def _ndjson_line(objects: Objects, position: int, text: str, careful: bool) -> None:
    """One line (stripped) read as `loads` reads it: a row, or a reject with the parser's message."""
    if not text:
        return
    plain = not careful and "\\" not in text
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


def _flat_ndjson(objects: Objects, lines: list[str], position: int) -> bool:
    """Read lines of flat objects (see `Objects`) with one parse, when it proves each line one of them.

    The lines hold no backslash, so every quote opens or closes a string; each holds an even number of
    them, so no string runs from one line into the next. They are parsed as `[[line 1],[line 2],...]`:
    the brackets and commas put between them are then JSON's own. When the parse gives one list per line,
    each holding one object whose values are strings or null (so with no bracket inside), the lines hold
    no bracket outside their strings (the lists' brackets are all ours), so each line is exactly one list's
    content: one object, which it is when read alone. Then `Objects`' count of quotes makes each a flat
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
    if not {dict}.issuperset(map(type, found)) or flat_quotes(found) != sum(quotes):
        return False
    objects.lines(found, [p for p, line in enumerate(stripped, position + 1) if line])
    return True


def _flat_array(objects: Objects, text: str) -> list[dict] | None:
    """The array's elements when the whole text is one JSON array of flat objects (see `Objects`)."""
    try:
        elements = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if type(elements) is not list or not {dict}.issuperset(map(type, elements)):
        return None
    return elements if flat_quotes(elements) == text.count('"') else None


def _flat(objects: Objects, text: str, position: int) -> bool:
    """Whether the line was taken as a flat object (see `Objects`); False: read it with the hooks."""
    try:
        obj, end = objects.scan_flat(text, 0)
    except (StopIteration, ValueError):
        return False
    if end != len(text) or type(obj) is not dict:
        return False
    objects.add_flat(position, obj, text)
    return True


def read_json_array(path: Path, entity: str, encoding: str = "utf-8") -> CopyText:
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
    careful = encoding not in UTF8
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:  # bytes the encoding does not define: their elements are rejected
        text, careful = data.decode(encoding, errors=UNDECODABLE), True
    text = text.removeprefix("\ufeff")
    index = len(text) - len(text.lstrip())
    if not text[index:].startswith("["):
        raise FileRejected(f"{path}: not a JSON array (starts with {clean(text[index : index + 20], 40)!r})")
    blocks = _array_blocks(text, index + 1, entity, careful, broken, trailing)
    return CopyText([*FIELDS[entity], "_extra", "_line"], "\\N", blocks)


def _array_blocks(
    text: str, index: int, entity: str, careful: bool, broken: str | None, trailing: bytes
) -> Iterator[Block]:
    objects = Objects(entity)
    plain = not careful and "\\" not in text  # no escape anywhere: every object is plain
    position = 0
    flat = _flat_array(objects, text) if plain else None
    if flat is not None:  # the whole array read at once (see `Objects`), so one element after another
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
        escaped = not plain and (careful or text.find("\\", index, end) >= 0)
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


def sniff_json(path: Path, array: bool, found: tuple[str, list[str]] | None = None) -> JsonLayout:
    """The file's encoding (`found`: already detected) and whether it starts as its format must."""
    encoding, notes = found or detect_encoding(path)
    with open_binary(path) as stream:
        head = read_head(stream, 4096, path)
    text = head.decode(encoding, errors="replace").lstrip("\ufeff").lstrip()
    if not text and len(head) < 4096:
        raise FileRejected(f"{path}: empty file")
    if array and not text.startswith("["):
        raise FileRejected(f"{path}: not a JSON array (starts with {clean(text[:20], 40)!r})")
    return JsonLayout(encoding, list(notes))
