"""When may a CSV file skip the careful reader? When Postgres' COPY provably reads the same records.

Postgres' CSV parser and Python's csv module (the careful reader, `extract/readers.py`) agree on every file
that is well-formed RFC 4180: each field either unquoted (no quote, delimiter or line break in it) or quoted
from its first to its last character (a quote inside it doubled); records ended by \\n, \\r\\n or \\r. They
disagree elsewhere: a quote inside an unquoted field (`Monitor 27" 4K`) is literal to Python but opens a
quoted section for Postgres (records merge); a line holding only `\\.` ends Postgres' data; a NUL byte is
refused by Postgres and kept by Python; a blank line is skipped by Python and is a record for Postgres (a
file of one column only). So the fast path streams the bytes into COPY while `CopyCheck` reads the same
bytes against that grammar, at C speed (a chunk without a quote needs no grammar, only the byte checks);
the load takes the fast result only when the whole file passed and COPY counted as many records as
`CopyCheck` did, else it rolls the COPY back and reads the file carefully, in the same transaction.

Given the header's width, it also counts the delimiters outside quotes: a file whose records do not all
have the header's field count is one COPY refuses (or the careful reader rejects rows of), so the check
stops at the first chunk that shows it, before COPY has read the rest of the file. Every test is a C-level
scan of the chunk (`bytes.count`, `in`, one regex match when the chunk holds a quote): about 1 GB/s.
"""

from __future__ import annotations

import re

MAX_RECORD = 8 << 20  # bytes of one record the check holds before calling the file not simple
_QUOTED = re.compile(rb'"[^"]*+(?:""[^"]*+)*+"')


class CopyCheck:
    """Feed a CSV file's bytes after its header; `ok` says whether COPY reads them as Python does.
    `width`, when given, is the header's field count: records of another width make `ok` false."""

    def __init__(self, delimiter: str, width: int | None = None) -> None:
        self._delimiter = delimiter.encode()
        d = re.escape(self._delimiter)
        field = rb'(?:"[^"]*+(?:""[^"]*+)*+"|[^"' + d + rb"\r\n]*+)"
        self._last = re.compile(field + rb"(?:" + d + field + rb")*+")
        self._end_marker = re.compile(rb"(?:^|[\r\n])\\\.(?:[\r\n]|$)")
        self._width = width
        self._rest = b""
        self.records = 0
        self.ok = True
        self.why = ""

    def _fail(self, why: str) -> None:
        self.ok, self.why, self._rest = False, why, b""

    def feed(self, chunk: bytes) -> None:
        if not self.ok:
            return
        buffer = self._rest + chunk
        if b"\x00" in chunk:
            return self._fail("a NUL byte")
        hold = b""
        if buffer.endswith(b"\r"):  # a \r\n may be cut between two chunks: decide with the next one
            buffer, hold = buffer[:-1], b"\r"
        quoted = b'"' in buffer
        end = _record_end(buffer)
        done, self._rest = buffer[:end], buffer[end:] + hold
        if b"\\" in done and self._end_marker.search(done):
            return self._fail("a line holding only \\.")
        outside = done
        if quoted:  # each quoted field becomes one NUL (there is none in the data): what is left is plain
            outside = _QUOTED.sub(b"\x00", done)
            if b'"' in outside or not _whole_fields(outside, self._delimiter):
                return self._fail("a quote that does not open or close a whole field")
        if _blank_line(outside):
            return self._fail("a blank line")
        records = _line_breaks(outside)
        if self._width is not None and outside.count(self._delimiter) != records * (self._width - 1):
            return self._fail(f"a record without the header's {self._width} fields")
        self.records += records
        if len(self._rest) > MAX_RECORD:
            self._fail("a record that is not well-formed CSV (or longer than 8 MB)")

    def close(self) -> None:
        """The end of the file: what is left must be one last record without a line break."""
        if self.ok and self._rest:
            last = self._rest.removesuffix(b"\r")
            if self._last.fullmatch(last) is None or self._end_marker.search(last) or not last:
                return self._fail("a record that is not well-formed CSV")
            fields = _QUOTED.sub(b"", last).count(self._delimiter) + 1
            if self._width is not None and fields != self._width:
                return self._fail(f"a record without the header's {self._width} fields")
            self.records += 1


def _record_end(buffer: bytes) -> int:
    """Where the last record of `buffer` ends: after its last line break with an even number of quotes
    before it (0 when there is none). Line breaks between a quote and an odd-numbered quote before it
    are inside that quoted field: skipped at once."""
    quotes, after, end = buffer.count(b'"'), 0, len(buffer)  # `after`: quotes in buffer[end:]
    while True:
        line_break = max(buffer.rfind(b"\n", 0, end), buffer.rfind(b"\r", 0, end))
        if line_break < 0:
            return 0
        after += buffer.count(b'"', line_break, end)
        if (quotes - after) % 2 == 0:
            return line_break + 1
        end = buffer.rfind(b'"', 0, line_break)  # the line breaks after it are inside the same quotes
        after += 1


def _whole_fields(marked: bytes, delimiter: bytes) -> bool:
    """Whether every NUL (a quoted field) in `marked` is a whole field: after a delimiter, a line break or
    the start, and before a delimiter, a line break or the end. (Two NULs are never adjacent: `"a""b"` is
    one field.)"""
    n = marked.count(b"\x00")
    before = sum(marked.count(c + b"\x00") for c in (delimiter, b"\n", b"\r")) + marked.startswith(b"\x00")
    after = sum(marked.count(b"\x00" + c) for c in (delimiter, b"\n", b"\r")) + marked.endswith(b"\x00")
    return before == n == after


def _blank_line(done: bytes) -> bool:
    """Whether text that starts at a record's start holds an empty line: a line break at its start or
    right after another (\\n\\n, \\n\\r, \\r\\r; \\r\\n\\r and \\r\\n\\n hold the first two)."""
    if done[:1] in (b"\n", b"\r") or b"\n\n" in done:
        return True
    return b"\r" in done and (b"\n\r" in done or b"\r\r" in done)


def _line_breaks(text: bytes) -> int:
    """Line breaks (\\n, \\r\\n or \\r) in `text`."""
    lf = text.count(b"\n")
    return lf if b"\r" not in text else lf + text.count(b"\r") - text.count(b"\r\n")
