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
"""

from __future__ import annotations

import re

MAX_RECORD = 8 << 20  # bytes of one record the check holds before calling the file not simple


class CopyCheck:
    """Feed a CSV file's bytes after its header; `ok` says whether COPY reads them as Python does."""

    def __init__(self, delimiter: str) -> None:
        d = re.escape(delimiter.encode())
        field = rb'(?:"[^"]*+(?:""[^"]*+)*+"|[^"' + d + rb"\r\n]*+)"
        self._records = re.compile(rb"(?:" + field + rb"(?:" + d + field + rb")*+(?:\r\n|\n|\r))*+")
        self._last = re.compile(field + rb"(?:" + d + field + rb")*+")
        self._end_marker = re.compile(rb"(?:^|[\r\n])\\\.(?:[\r\n]|$)")
        self._blank = re.compile(rb"(?:^|\r\n|\n|\r(?!\n))(?:\r\n|\n|\r)")
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
        if b'"' not in buffer:  # unquoted records only: lines are records
            end = max(buffer.rfind(b"\n"), buffer.rfind(b"\r")) + 1
        else:
            end = self._records.match(buffer).end()
        done, self._rest = buffer[:end], buffer[end:] + hold
        if self._end_marker.search(done) or self._blank.search(done):
            return self._fail("a line holding only \\. or a blank line")
        self.records += _count_records(done)
        if len(self._rest) > MAX_RECORD:
            self._fail("a record that is not well-formed CSV (or longer than 8 MB)")

    def close(self) -> None:
        """The end of the file: what is left must be one last record without a line break."""
        if self.ok and self._rest:
            last = self._rest.removesuffix(b"\r")
            if self._last.fullmatch(last) is None or self._end_marker.search(last) or not last:
                return self._fail("a record that is not well-formed CSV")
            self.records += 1


def _count_records(done: bytes) -> int:
    """Records in well-formed CSV text that ends at a record's end: its line breaks outside quotes."""
    if b'"' not in done:
        return done.count(b"\n") + done.count(b"\r") - done.count(b"\r\n")
    outside = re.sub(rb'"[^"]*+(?:""[^"]*+)*+"', b"", done)
    return outside.count(b"\n") + outside.count(b"\r") - outside.count(b"\r\n")
