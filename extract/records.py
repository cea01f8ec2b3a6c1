"""What the readers make of a file's records: a `Row` (values as sent, or a reject with its whole raw
content and reason), blocks of COPY text (`Block`, `CopyText`), and the value rules they share: JSON numbers
kept as the text they were sent as (`Number`, `dump`), and what Postgres text cannot store (`unstorable`)."""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

BROKEN = (EOFError, OSError, zlib.error)
BLOCK = 4096  # rows (and rejects) per block of COPY text


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
NULLS = {None: "\\N"}
SIMPLE = {str, type(None)}


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


def text_of(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return dump(value)


def has_surrogates(text: str) -> bool:
    """Whether `text` holds lone surrogates: bytes its decoder could not decode (UTF-8 cannot encode them)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


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


def read_head(stream: IO[bytes], size: int, path: Path) -> bytes:
    """Up to `size` bytes; a broken stream gives what came before the break."""
    data = bytearray()
    try:
        while len(data) < size and (chunk := stream.read1(min(1 << 20, size - len(data)))):
            data += chunk
    except BROKEN as err:
        if not data:
            raise FileRejected(f"{path}: cannot read: {clean(str(err), 200)}") from err
    return bytes(data)


def getter(indexes: list[int]):
    """The values at `indexes` of a sequence, as a tuple (even of one)."""
    if len(indexes) == 1:
        i = indexes[0]
        return lambda values: (values[i],)
    return itemgetter(*indexes)


def trailing_rejects(binary: IO[bytes], position: int) -> Iterator[Row]:
    """Bytes after the last gzip member: one reject, kept whole."""
    raw = getattr(binary, "raw", None)
    trailing = getattr(raw, "trailing", b"")
    if trailing:
        text = trailing.decode("latin-1")
        yield Row(position + 1, raw=text, reason=f"{len(trailing)} trailing byte(s) after the gzip data")
