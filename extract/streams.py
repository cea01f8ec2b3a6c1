"""Open an export file's bytes and decide its text encoding, on the whole file.

`open_binary(path)`: the file's content, decompressed when it *is* gzip (by its magic bytes, whatever its
name says), member after member; bytes after the last member are kept (`trailing`), not dropped and not
fatal. A stream cut inside a member raises EOFError or zlib.error when read, after what came before.

`detect_encoding(path)`: a byte-order mark names UTF-8 or UTF-16; UTF-16 without one is recognised by its
zero bytes. Otherwise the whole file is read: valid UTF-8 throughout is UTF-8; a file in which nearly every
non-ASCII byte is invalid UTF-8 is single-byte: Windows-1252 when it uses the bytes 0x80-0x9F that
Windows-1252 defines (curly quotes, dashes, €; Latin-1 has only control characters there), else Latin-1;
a file of valid UTF-8 with a few bad rows stays UTF-8 (those rows are rejected one by one).

`scan(path)`: the file's SHA-256 (of its bytes as stored) and `detect_encoding`'s answer in one read of
the file: the loader needs both before it loads (then it reads the file once more, to load it).
"""

from __future__ import annotations

import codecs
import hashlib
import io
import re
import zlib
from pathlib import Path
from typing import IO

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20
UNDECODABLE = "extract.undecodable"  # a decoding error handler: each byte it cannot decode a lone surrogate


def _undecodable(err: UnicodeError) -> tuple[str, int]:
    """surrogateescape for every byte (U+DC00 + byte), ASCII ones too: UTF-16 cut in the middle of a
    character leaves one, which surrogateescape refuses. Records holding one are rejected, whole."""
    if not isinstance(err, UnicodeDecodeError):
        raise err
    return "".join(chr(0xDC00 + b) for b in err.object[err.start : err.end]), err.end


codecs.register_error(UNDECODABLE, _undecodable)

PG_ENCODINGS = {"utf-8": "UTF8", "utf-8-sig": "UTF8", "latin-1": "LATIN1", "cp1252": "WIN1252"}
_HIGH = bytes(range(128, 256))
_CP1252_ONLY = bytes(b for b in range(0x80, 0xA0) if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D))


class GzipStream(io.RawIOBase):
    """The decompressed bytes of every gzip member of `raw`; what follows the last member in `trailing`."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw, self._buffer, self._done = raw, b"", False
        self._member = zlib.decompressobj(wbits=31)
        self.trailing = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._buffer and not self._done:
            self._fill()
        n = min(len(target), len(self._buffer))
        target[:n], self._buffer = self._buffer[:n], self._buffer[n:]
        return n

    def _fill(self) -> None:
        member = self._member
        if member.eof:  # another member, or bytes that are not gzip: kept aside, not dropped
            rest = member.unused_data
            if len(rest) < 2:
                rest += self._raw.read(CHUNK)
            if not rest:
                self._done = True
            elif rest.startswith(GZIP_MAGIC):
                self._member = zlib.decompressobj(wbits=31)
                self._buffer += self._member.decompress(rest, CHUNK)
            else:
                self.trailing, self._done = rest + self._raw.read(), True
            return
        data = member.unconsumed_tail or self._raw.read(CHUNK)
        if not data:
            raise EOFError("compressed file ended before the end of its gzip stream")
        self._buffer += member.decompress(data, CHUNK)

    def close(self) -> None:
        self._raw.close()
        super().close()


def is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def open_binary(path: Path) -> IO[bytes]:
    """The file's content, decompressed when it is gzip (see the module's doc)."""
    raw = path.open("rb")
    if raw.read(2) == GZIP_MAGIC:
        raw.seek(0)
        return io.BufferedReader(GzipStream(raw), CHUNK)
    raw.seek(0)
    return raw


def _utf16(head: bytes) -> str | None:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:200]
    if len(sample) >= 4:
        odd, even = sample[1::2].count(0), sample[0::2].count(0)
        if odd > len(sample) // 3 and even == 0:
            return "utf-16-le"
        if even > len(sample) // 3 and odd == 0:
            return "utf-16-be"
    return None


_ESCAPED = re.compile("[\udc80-\udcff]")


def _bad_bytes(text: str) -> int:
    return 0 if text.isascii() else sum(1 for _ in _ESCAPED.finditer(text))


def compression_notes(path: Path) -> list[str]:
    """What the file's name and its content say differently about compression."""
    named = path.suffix.lower() == ".gz"
    if is_gzip(path) != named:
        return [
            "gzip-compressed content (decompressed)"
            if not named
            else "named .gz but not compressed (read as is)"
        ]
    return []


def detect_encoding(path: Path) -> tuple[str, list[str]]:
    """(Python codec, notes) of a text file's content, decided on the whole file (see the module's doc)."""
    with open_binary(path) as fh:
        return _encoding(fh)


def scan(path: Path, encoding: bool = True) -> tuple[str, tuple[str, list[str]] | None]:
    """The SHA-256 of the file's bytes as stored and, when asked, `detect_encoding`'s answer, in one read
    of the file (a gzip file is decompressed as it is hashed). Raises OSError when the file cannot be read."""
    digest = hashlib.sha256()
    with path.open("rb") as raw:
        gzip = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        found = None
        if encoding:
            hashing = _Hashing(raw, digest)
            found = _encoding(io.BufferedReader(GzipStream(hashing) if gzip else hashing, CHUNK))
        while chunk := raw.read(CHUNK):  # what the encoding did not need (or a broken gzip stream left)
            digest.update(chunk)
    return digest.hexdigest(), found


class _Hashing(io.RawIOBase):
    """`raw`'s bytes, each added to `digest` as it is read."""

    def __init__(self, raw: IO[bytes], digest) -> None:
        self._raw, self._digest = raw, digest

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        n = self._raw.readinto(target)
        self._digest.update(memoryview(target)[:n])
        return n


def _encoding(fh: IO[bytes]) -> tuple[str, list[str]]:
    try:
        head = fh.read1(4096)
    except (EOFError, OSError, zlib.error):
        return "utf-8", []  # nothing readable: the header's reader says why
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", []
    utf16 = _utf16(head)
    if utf16:
        how = "with a byte-order mark" if utf16 == "utf-16" else utf16[-2:].upper()
        return utf16, [f"UTF-16 ({how})"]
    decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")  # one surrogate per bad byte
    high = invalid = cp1252_bytes = 0
    data = head
    try:
        while data:
            if not data.isascii() or decoder.getstate()[0]:  # (ASCII adds nothing to any count)
                high += len(data) - len(data.translate(None, _HIGH))
                cp1252_bytes += len(data) - len(data.translate(None, _CP1252_ONLY))
                invalid += _bad_bytes(decoder.decode(data))
            data = fh.read1(CHUNK)
    except (EOFError, OSError, zlib.error):
        pass  # a broken stream: decided on what came before the break (its rows are read the same way)
    invalid += _bad_bytes(decoder.decode(b"", final=True))
    if not invalid:
        return "utf-8", []
    if invalid >= 0.9 * high:  # nearly every non-ASCII byte is invalid UTF-8: a single-byte encoding
        if cp1252_bytes:
            return "cp1252", ["decoded as Windows-1252 (not valid UTF-8; bytes 0x80-0x9F as Windows-1252)"]
        return "latin-1", ["decoded as Latin-1 (not valid UTF-8)"]
    return "utf-8", [f"UTF-8 with {invalid} undecodable byte(s) in some rows"]
