"""One landing file being written: CSV, JSON array or NDJSON, optionally gzip, with its file-level fault.

A `Part` streams records to disk (nothing but the last record is kept) and, when closed, returns its
manifest entry: how many rows a reader sees, how many must load, and the position and reason of every row
a loader must reject. Positions are 1-based: the record ordinal after the header for CSV (a quoted
multi-line record counts once), the physical line for NDJSON, the element index for a JSON array.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

from simshop import faults

Record = dict[str, str | None]
EXTRA_FIELD, EXTRA_VALUE = "exported_by", "shop-export/4.2"
HEADERLESS_ROWS = 200


@dataclass
class FileSpec:
    entity: str
    day: date
    part: int
    fmt: str  # csv | json | ndjson
    gzip: bool
    rng: random.Random
    expected: int  # about how many records the file gets
    fault: str | None = None
    columns: list[str] = field(default_factory=list)  # contract fields, in file order
    header: list[str] = field(default_factory=list)  # as written (case and spaces vary)
    extra: bool = False  # an unknown extra field, which a loader must keep
    crlf: bool = False
    quote_all: bool = False
    ascii_json: bool = False
    indent: int | None = None

    @property
    def name(self) -> str:
        return f"{self.entity}-{self.day.isoformat()}-p{self.part:03d}.{self.fmt}" + (
            ".gz" if self.gzip else ""
        )

    @property
    def encoding(self) -> str:
        return {"latin1_file": "latin-1", "bom_file": "utf-8-sig"}.get(self.fault or "", "utf-8")

    @property
    def delimiter(self) -> str:
        return ";" if self.fault == "semicolon_file" else ","


class Part:
    """A file being written; `write(records)` any number of times, then `close()` -> manifest entry."""

    def __init__(self, spec: FileSpec, landing: Path, relpath: str) -> None:
        self.spec, self.rng, self.relpath = spec, spec.rng, relpath
        path = landing / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file: IO[bytes] = path.open("wb")
        self.binary: IO[bytes] = self.file
        if spec.gzip:  # no name and no time in the gzip header: the same content gives the same bytes
            self.binary = gzip.GzipFile(filename="", mode="wb", fileobj=self.file, mtime=0, compresslevel=5)  # type: ignore[assignment]
        self.text = io.TextIOWrapper(self.binary, encoding=spec.encoding, newline="", write_through=False)
        self.rows = self.loadable = self.multiline = 0
        self.rejects: list[dict[str, Any]] = []
        self.last: Record | None = None
        self.non_ascii = False
        self.injected = 0  # how many times the file's fault was applied (rows, or 1 for a file)

    def write(self, records: list[Record]) -> None:
        raise NotImplementedError

    def _reject(self, reason: str) -> None:
        self.rows += 1
        self.rejects.append({"position": self.rows, "reason": reason})
        self.injected += 1

    def _finish(self) -> None:
        pass

    def close(self) -> dict[str, Any]:
        self._finish()
        self.text.close()  # and the gzip stream, which leaves its file open
        self.file.close()
        spec = self.spec
        if spec.fault in ("latin1_file", "bom_file", "semicolon_file", "headerless_file") and self.rows:
            self.injected = 1
        entry: dict[str, Any] = {
            "path": self.relpath,
            "entity": spec.entity,
            "date": spec.day.isoformat(),
            "format": spec.fmt,
            "gzip": spec.gzip,
            "encoding": spec.encoding,
        }
        if spec.fmt == "csv":
            entry |= {"delimiter": spec.delimiter, "header": True, "multiline_rows": self.multiline}
        entry |= {
            "extra_fields": [EXTRA_FIELD] if spec.extra else [],
            "fault": spec.fault if self.injected else None,
            "rows": self.rows,
            "loadable": self.loadable,
            "rejects": self.rejects,
            "file_rejected": None,
        }
        if spec.fault == "latin1_file":
            entry["non_ascii"] = self.non_ascii
        return entry


class CsvPart(Part):
    def __init__(self, spec: FileSpec, landing: Path, relpath: str, header: bool = True) -> None:
        super().__init__(spec, landing, relpath)
        self.writer = csv.writer(
            self.text,
            delimiter=spec.delimiter,
            lineterminator="\r\n" if spec.crlf else "\n",
            quoting=csv.QUOTE_ALL if spec.quote_all else csv.QUOTE_MINIMAL,
        )
        if header:
            self.writer.writerow([*spec.header, EXTRA_FIELD] if spec.extra else spec.header)
        limit = max(2, min(spec.expected, 500))
        self.targets: set[int] = set()
        if spec.fault == "malformed_row":
            self.targets = set(
                self.rng.sample(range(1, limit + 1), min(limit, self.rng.choice((1, 1, 2, 3))))
            )
        self.target = self.rng.randrange(1, limit) if spec.fault == "undecodable_row" else 0

    def _row(self, rec: Record) -> list[str | None]:
        row = [rec[c] for c in self.spec.columns]
        return [*row, EXTRA_VALUE] if self.spec.extra else row

    def _rows(self, records: list[Record]) -> Iterable[tuple[str | None, ...]]:
        values = itemgetter(*self.spec.columns)
        return ((*values(r), EXTRA_VALUE) for r in records) if self.spec.extra else map(values, records)

    def write(self, records: list[Record]) -> None:
        spec = self.spec
        if spec.entity == "customers":
            self.multiline += sum(1 for r in records if "\n" in (r["city"] or ""))
        if spec.fault == "latin1_file" and not self.non_ascii:
            self.non_ascii = any(self._has_non_ascii(r) for r in records)
        if spec.fault not in ("malformed_row", "undecodable_row"):
            self.writer.writerows(self._rows(records))
            self.rows += len(records)
        else:
            for rec in records:
                if self.rows + 1 in self.targets:
                    self.writer.writerow(faults.wrong_width(self.rng, self._row(rec)))
                    self._reject("wrong_field_count")
                self.writer.writerow(self._row(rec))
                self.rows += 1
                if (
                    self.target
                    and self.rows >= self.target
                    and not self.injected
                    and self._has_non_ascii(rec)
                ):
                    self._undecodable(rec)
        self.loadable += len(records)
        if records:
            self.last = records[-1]

    @staticmethod
    def _has_non_ascii(rec: Record) -> bool:
        return any(v and not v.isascii() for v in rec.values())

    def _undecodable(self, rec: Record) -> None:
        """A copy of `rec` in Latin-1 inside this UTF-8 file: its non-ASCII characters are invalid UTF-8."""
        line = io.StringIO()
        csv.writer(line, delimiter=self.spec.delimiter, lineterminator=self.writer.dialect.lineterminator,
                   quoting=self.writer.dialect.quoting).writerow(self._row(rec))  # fmt: skip
        self.text.flush()
        self.binary.write(line.getvalue().encode("latin-1"))
        self._reject("undecodable_bytes")

    def _finish(self) -> None:
        if self.spec.fault == "malformed_row" and not self.injected and self.last:
            self.writer.writerow(faults.wrong_width(self.rng, self._row(self.last)))
            self._reject("wrong_field_count")


class JsonPart(Part):
    """A JSON array (`fmt == "json"`) or NDJSON lines."""

    def __init__(self, spec: FileSpec, landing: Path, relpath: str) -> None:
        super().__init__(spec, landing, relpath)
        self.array = spec.fmt == "json"
        indent = spec.indent if self.array else None
        self.encode = json.JSONEncoder(ensure_ascii=spec.ascii_json, indent=indent).encode
        if self.array:
            self.text.write("[\n")

    def _dump(self, rec: Record) -> str:
        return self.encode({**rec, EXTRA_FIELD: EXTRA_VALUE} if self.spec.extra else rec)

    def write(self, records: list[Record]) -> None:
        if not records:
            return
        if self.array:
            self.text.write((",\n" if self.rows else "") + ",\n".join(map(self._dump, records)))
        else:
            self.text.write("".join(self._dump(r) + "\n" for r in records))
        self.rows += len(records)
        self.loadable += len(records)
        self.last = records[-1]

    def _finish(self) -> None:
        truncate = self.spec.fault in ("truncated_json", "truncated_ndjson") and self.last is not None
        if truncate:  # an extra copy of the last record, cut off: the file ends inside it
            cut = faults.cut_object(self.rng, self._dump(self.last))  # type: ignore[arg-type]
            self.text.write((",\n" if self.rows else "") + cut if self.array else cut)
            self._reject(self.spec.fault)  # type: ignore[arg-type]
        elif self.array:
            self.text.write("\n]\n" if self.rows else "]\n")


class HeaderlessPart(CsvPart):
    """An extra CSV re-export of a file's first records without a header row: a loader rejects it whole."""

    def __init__(self, spec: FileSpec, landing: Path, relpath: str) -> None:
        super().__init__(spec, landing, relpath, header=False)

    def write(self, records: list[Record]) -> None:
        room = HEADERLESS_ROWS - self.rows
        if room > 0:
            super().write(records[:room])

    def close(self) -> dict[str, Any]:
        entry = super().close()
        entry.update(header=False, fault="headerless_file", loadable=0, file_rejected="no_header")
        return entry
