"""The shop's REST API (docs/contract.md, "API"), served from a `RecordStore` on 127.0.0.1, with faults on
demand.

`GET /api/v1/<entity>?updated_since=<ISO timestamp>&limit=<n>&cursor=<opaque>` with
`Authorization: Bearer <token>` answers `{"data": [records], "next_cursor": "<opaque>" | null}`: the records
with `updated_at >= updated_since` in the order `(updated_at, key, arrival)` (simshop/api_store.py).
401: a missing or wrong token. 404: an unknown entity or path. 400: a bad parameter (limit outside 1..1000,
an unreadable timestamp or cursor, a cursor issued for another `updated_since`, an unknown or repeated
parameter). `limit` defaults to 100.

The cursor is base64url (unpadded) of the JSON `[1, updated_since | null, last_updated_at, last_key,
last_arrival]`: the position of the page's last record, so pages stay consistent while records are added
(a record added after the position shows up on a later page; one added before it, in the next run).

Faults (`Faults`, deterministic for a seed and a sequence of requests) hit authorised, well-formed requests
only: 429 and 503 with `Retry-After` (whole seconds), 500, slow answers (the answer comes after
`slow_seconds`, meant to exceed the client's timeout) and dripping ones (the whole answer one byte every
`drip_seconds`: no read waits long, the answer never ends). `Faults.cursor` and `Faults.body` break every
answer the same way (simshop/api_faults.py), as a buggy API would.

Records are sent as stored; a `RawJson` value goes into the JSON verbatim (numbers Python would not write
as given), and a string no UTF-8 can carry (a lone surrogate) goes as its `\\u` escape.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from extract.contract import FIELDS
from extract.watermark import parse_timestamp
from simshop.api_faults import Dice, Faults
from simshop.api_store import Position, RecordStore

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
PREFIX = "/api/v1/"
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
PARAMS = {"updated_since", "limit", "cursor"}
JSON = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # encoded as JSON; bytes are sent as they are
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    drip: float = 0.0  # seconds between the answer's bytes
    content_type: str = JSON


class RawJson:
    """A value the API writes as this JSON text, verbatim: `1e999`, `NaN`, `0.10000000000000000555`, an
    integer of 5,000 digits (Python would round, refuse or spell them otherwise)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def encode_json(body: Any) -> bytes:
    """UTF-8 JSON; `RawJson` values verbatim; a lone surrogate as its `\\u` escape (else as UTF-8)."""
    raws: dict[str, str] = {}
    marker = uuid.uuid4().hex

    def verbatim(value: Any) -> str:
        if not isinstance(value, RawJson):
            raise TypeError(f"{type(value).__name__} is not JSON")
        token = f"{marker}-{len(raws)}"
        raws[json.dumps(token)] = value.text
        return token

    try:
        text = json.dumps(body, ensure_ascii=False, default=verbatim)
        text.encode()
    except UnicodeEncodeError:
        raws.clear()
        text = json.dumps(body, default=verbatim)
    for token, raw in raws.items():
        text = text.replace(token, raw, 1)
    return text.encode()


class BadRequest(ValueError):
    pass


def encode_cursor(since: datetime | None, position: Position) -> str:
    stamp, key, arrival = position
    text = json.dumps([1, since.isoformat() if since else None, stamp.isoformat(), list(key), arrival])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime | None, Position]:
    try:
        version, since, stamp, key, arrival = json.loads(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        )
        since_at, stamp_at = parse_timestamp(since) if since else None, parse_timestamp(stamp)
        if version != 1 or stamp_at is None or (since and since_at is None) or not isinstance(arrival, int):
            raise ValueError
        return since_at, (stamp_at, tuple(str(k) for k in key), arrival)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as err:
        raise BadRequest("cursor: not a cursor this API issued") from err


def _error(status: int, message: str, *headers: tuple[str, str]) -> Answer:
    return Answer(status, {"error": message}, headers)


class ShopApi:
    """The API's logic, apart from HTTP: `answer(path, authorization header)`."""

    def __init__(self, store: RecordStore, token: str, faults: Faults | None = None) -> None:
        if not token:
            raise ValueError("the shop API needs a token")
        self.store = store
        self._token = token.encode()
        self._dice = Dice(faults) if faults else None
        self.faults = faults
        self.stats: Counter[str] = Counter()  # answers by status ("200", "429", …), "slow" and "drip"
        self._stats_lock = threading.Lock()

    def _count(self, what: str) -> None:
        with self._stats_lock:
            self.stats[what] += 1

    def answer(self, path: str, authorization: str | None) -> Answer:
        answer = self._answer(path, authorization)
        self._count(str(answer.status))
        if answer.delay:
            self._count("slow")
        if answer.drip:
            self._count("drip")
        return answer

    def _answer(self, path: str, authorization: str | None) -> Answer:
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self._token):
            return _error(401, "missing or wrong bearer token", ("WWW-Authenticate", 'Bearer realm="shop"'))
        url = urlsplit(path)
        entity = url.path[len(PREFIX) :] if url.path.startswith(PREFIX) else None
        if entity not in FIELDS:
            return _error(404, f"no such resource: {url.path}")
        try:
            since, after, limit = _parameters(url.query)
        except BadRequest as err:
            return _error(400, str(err))
        fault, retry_after = self._dice.roll() if self._dice else ("ok", 0)
        if fault in ("429", "503"):
            message = "too many requests" if fault == "429" else "temporarily unavailable"
            return _error(int(fault), message, ("Retry-After", str(retry_after)))
        if fault == "500":
            return _error(500, "internal server error")
        records, last, more = self.store.page(entity, since=since, after=after, limit=limit)
        body = {"data": records, "next_cursor": encode_cursor(since, last) if more and last else None}
        if self.faults:
            body = _broken(body, self.faults, parse_qs(url.query).get("cursor", [None])[0])
        return Answer(
            200,
            body,
            delay=self.faults.slow_seconds if fault == "slow" else 0.0,
            drip=self.faults.drip_seconds if fault == "drip" else 0.0,
            content_type="text/html; charset=utf-8" if self.faults and self.faults.body == "html" else JSON,
        )


def _broken(body: dict[str, Any], faults: Faults, cursor: str | None) -> Any:
    """The page as `faults.cursor` and `faults.body` break it (simshop/api_faults.py)."""
    if body["next_cursor"] is not None and faults.cursor != "ok":
        broken: dict[str, Any] = {
            "repeat": cursor or body["next_cursor"],
            "number": 2,
            "object": {"after": body["next_cursor"]},
            "empty": "",
        }
        if faults.cursor == "missing":
            del body["next_cursor"]
        else:
            body["next_cursor"] = broken[faults.cursor]
    records = body["data"]
    if faults.body == "html":
        return b"<!doctype html><html><body><h1>Down for maintenance</h1></body></html>"
    if faults.body == "deep":
        return b"[" * 100_000 + b"]" * 100_000
    if faults.body == "bare_list":
        return records
    if faults.body == "data_object":
        return {**body, "data": {"records": records}}
    if faults.body == "stray_values":
        return {**body, "data": [*records[:1], "not a record", 7, [1, 2], None, *records[1:]]}
    return body


def _parameters(query: str) -> tuple[datetime | None, Position | None, int]:
    params = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(params) - PARAMS)
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(unknown)}")
    repeated = sorted(k for k, v in params.items() if len(v) > 1)
    if repeated:
        raise BadRequest(f"repeated parameter(s): {', '.join(repeated)}")
    value = {k: v[0] for k, v in params.items()}
    try:
        limit = int(value.get("limit", DEFAULT_LIMIT))
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit: a whole number from 1 to {MAX_LIMIT}")
    since = None
    if "updated_since" in value:
        since = parse_timestamp(value["updated_since"])
        if since is None:
            raise BadRequest("updated_since: not an ISO 8601 timestamp")
    if "cursor" not in value:
        return since, None, limit
    cursor_since, after = decode_cursor(value["cursor"])
    if "updated_since" in value and since != cursor_since:
        raise BadRequest("cursor: issued for another updated_since")
    return cursor_since, after, limit


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    api: ShopApi
    stopping: threading.Event


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    server_version = "ShopAPI/1"

    def do_GET(self) -> None:
        answer = self.server.api.answer(self.path, self.headers.get("Authorization"))
        if answer.delay and self.server.stopping.wait(answer.delay):
            return  # shutting down: drop the connection
        body = answer.body if isinstance(answer.body, bytes) else encode_json(answer.body)
        headers = [*answer.headers, ("Content-Type", answer.content_type), ("Content-Length", str(len(body)))]
        try:
            if answer.drip:
                self._drip(answer.status, headers, body, answer.drip)
                return
            self.send_response(answer.status)
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            log.debug("the client left before the answer (%s %s)", answer.status, self.path)

    def _drip(self, status: int, headers: list[tuple[str, str]], body: bytes, seconds: float) -> None:
        """The whole answer, status line and headers included, one byte every `seconds`."""
        self.log_request(status)
        head = [f"{self.protocol_version} {status} {self.responses[status][0]}"]
        head += [f"{name}: {value}" for name, value in headers]
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        self.close_connection = True
        for i in range(len(data)):
            self.wfile.write(data[i : i + 1])
            if self.server.stopping.wait(seconds):
                return

    def log_message(self, format: str, *args: Any) -> None:  # the request line only, never headers
        log.debug("%s " + format, self.address_string(), *args)


class ShopApiServer:
    """The API on 127.0.0.1:`port` (0: a free port). `start()` serves from a background thread (tests);
    `serve_forever()` blocks (the CLI)."""

    def __init__(
        self, store: RecordStore, token: str, *, port: int = 0, faults: Faults | None = None
    ) -> None:
        self.api = ShopApi(store, token, faults)
        self.store = store
        self._port = port
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        return f"http://{HOST}:{self._httpd.server_address[1]}"

    @property
    def stats(self) -> Counter[str]:
        return self.api.stats

    def _bind(self) -> _HttpServer:
        httpd = _HttpServer((HOST, self._port), _Handler)
        httpd.api, httpd.stopping = self.api, threading.Event()
        self._httpd = httpd
        return httpd

    def start(self) -> ShopApiServer:
        httpd = self._bind()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="shop-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        if self._thread:
            self._thread.join()

    def serve_forever(self) -> None:
        httpd = self._bind()
        log.info("shop API on %s%s<entity> (%s records)", self.url, PREFIX, f"{self.store.count():,}")
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            log.info("shop API stopped")
        finally:
            httpd.stopping.set()
            httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ShopApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(store: RecordStore, token: str, *, port: int = 8765, faults: Faults | None = None) -> None:
    """Serve the shop API on 127.0.0.1:`port` until Ctrl-C."""
    ShopApiServer(store, token, port=port, faults=faults).serve_forever()
