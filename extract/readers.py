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

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from extract.contract import FIELDS
from extract.csv_files import CsvLayout, read_csv, sniff_csv
from extract.json_files import JsonLayout, read_json_array, read_ndjson, sniff_json
from extract.json_objects import object_row
from extract.records import BROKEN, Block, CopyText, FileRejected, clean, copy_line


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


def check_file(path: Path, entity: str, found: tuple[str, list[str]] | None = None) -> CsvLayout | JsonLayout:
    """Everything that rejects a file whole, checked before a row is read; the file's layout (`found`:
    its encoding when already detected)."""
    kind = file_format(path)
    try:
        if kind == "csv":
            return sniff_csv(path, entity, found)
        return sniff_json(path, kind == "json", found)
    except BROKEN as err:
        raise FileRejected(f"{path}: cannot read: {clean(str(err), 200)}") from err


def copy_text(path: Path, entity: str, layout: CsvLayout | JsonLayout | None = None) -> CopyText:
    """The file's rows as COPY text (see `CopyText`), its rejects with them."""
    layout = layout or check_file(path, entity)
    if isinstance(layout, CsvLayout):
        return read_csv(path, entity, layout)
    if file_format(path) == "ndjson":
        return read_ndjson(path, entity, layout.encoding)
    return read_json_array(path, entity, layout.encoding)


def records_text(entity: str, records: Iterable[Mapping[str, Any]], raws: Iterable[str]) -> CopyText:
    """Records already parsed (an API page) as COPY text, each read by `object_row`."""
    fields = FIELDS[entity]
    rows = [object_row(i, r, entity, raw) for i, (r, raw) in enumerate(zip(records, raws, strict=True), 1)]
    lines = "".join(copy_line(row, fields) for row in rows if not row.rejected)
    block = Block(lines.encode(), sum(not row.rejected for row in rows), [r for r in rows if r.rejected])
    return CopyText([*fields, "_extra", "_line"], "\\N", iter([block]))
