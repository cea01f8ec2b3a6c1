"""Parsed JSON objects as COPY text lines: read as `object_row` reads them (numbers as sent, repeated keys
kept), most of them at C speed where that provably makes the same lines (the proofs: `Objects`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import chain, repeat
from json.encoder import encode_basestring  # json.dumps(text, ensure_ascii=False) of a str, in C
from typing import Any

from extract.contract import FIELDS, normalise_field
from extract.records import (
    BLOCK,
    NULLS,
    SIMPLE,
    Block,
    Number,
    Row,
    clean,
    copy_line,
    dump,
    getter,
    text_of,
    unstorable,
)


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
            values[name] = text_of(_plain(value))
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


class Objects:
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
        if flat_quotes(objects) == quotes:
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
        if SIMPLE.issuperset(map(type, picked)):
            cells = "\t".join(map(NULLS.get, picked, picked))
        else:
            cells = "\t".join(["\\N" if v is None else text_of(_plain(v)) for v in picked])
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
            cells = map("\t".join, map(map, repeat(NULLS.get), rows, rows))
            return "".join(map(("{}\t" + extra + "\t{}\n").format, cells, *columns, positions))
        values = [list(map(NULLS.get, c, c)) for c in zip(*rows, strict=True)]
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
        get_present = getter(present) if present else None
        plan = self._plans[keys] = (
            getter([taken.get(f, len(keys)) for f in self.fields]),
            extras,
            (fields, get_present),
            (extra, [keys[i] for _, i in extras]),
        )
        return plan


def flat_quotes(objects: list[dict]) -> int | None:
    """Two quotes per key and per string value of these objects, None when a value is neither a string nor
    null (see `Objects`)."""
    values = list(chain.from_iterable(map(dict.values, objects)))
    if not SIMPLE.issuperset(map(type, values)):
        return None
    return 2 * (sum(map(len, objects)) + len(values) - values.count(None))
