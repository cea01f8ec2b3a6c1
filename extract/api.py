"""Extract the shop API (docs/contract.md, "API") into `raw.*`, page by page, from a watermark.

Each page is loaded with `extract.load.load_records` in one transaction together with the entity's
watermark (extract/watermark.py): a crash between pages resumes after the last committed page, a page
fetched again adds nothing, and a rerun with no changes loads nothing.

HTTP: each request has one deadline, `timeout` seconds for the whole answer (connection, headers, body):
httpx's own timeouts bound each network read, so an API that drips its answer a byte at a time would
never trip them (encode/httpx#1450). 429 and 503 are retried after their `Retry-After` (seconds or an HTTP
date, capped at `max_backoff`); 500, 502, 504, timeouts, connection errors and a 200 whose body is not the
API's JSON (not JSON, or no `data` list) after an exponential backoff with full jitter
(`uniform(0, min(max_backoff, backoff * 2**attempt))`). After `max_retries` retries the extract stops with
an `ExtractError` naming the entity, the URL and the last answer. Other answers (401, 400, 404) stop it at
once. The token travels in the Authorization header only and is never logged.

Listing: `next_cursor` must be null (the end) or a string not yet followed in this listing. Anything else
(a number, an object, "", no `next_cursor`, a cursor already followed: the listing would never end or go
round again) stops the extract at once with an `ExtractError` naming the entity, the URL and the cursor;
that page is not loaded, what was committed before stays, and a rerun resumes from the watermark.

Records: numbers keep the text they were sent as (`parse_json`); a record that is not an object, or
holds what Postgres cannot store, is rejected by the loader (`raw.load_rejects`), the page's others load.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import psycopg
from httpx import Response

from extract import ddl, watermark
from extract.contract import ENTITY_ORDER, FIELDS
from extract.load import load_records
from extract.records import Number, dump

log = logging.getLogger(__name__)

RETRY_AFTER_STATUSES = (429, 503)
RETRY_STATUSES = (500, 502, 504)


class ExtractError(RuntimeError):
    """The API extract of an entity cannot go on (what was committed so far stays)."""


@dataclass(frozen=True)
class ExtractResult:
    entity: str
    pages: int  # pages fetched
    fetched: int  # records the API sent
    loaded: int  # rows landed in raw.<entity>
    rejected: int  # records landed in raw.load_rejects
    duplicates: int  # records dropped: loaded before (the watermark's boundary) or sent twice
    retries: int  # requests repeated after a fault
    since: datetime | None  # the watermark before the run
    watermark: datetime | None  # and after it


_MISSING = object()  # a page without next_cursor


@dataclass(frozen=True)
class Page:
    records: list[Any]
    next_cursor: Any  # as sent (checked by _next_cursor), or _MISSING
    url: str  # without credentials


class ApiClient:
    """The extract's HTTP: one connection pool, and one deadline per request (`get(..., timeout)`).

    The deadline is asyncio's (`asyncio.timeout` around the request and its whole body, as httpx's
    maintainers suggest in encode/httpx#1450), so the client is an `httpx.AsyncClient` on an event loop
    of its own; callers stay synchronous. Not for use inside a running event loop."""

    def __init__(self) -> None:
        self._runner = asyncio.Runner()
        self._http = httpx.AsyncClient(follow_redirects=False)

    def get(self, url: str, *, timeout: float, **options: Any) -> Response:
        """GET `url` (`options`: httpx's) with the whole answer within `timeout` seconds, else raises
        TimeoutError (or httpx.TimeoutException)."""
        return self._runner.run(self._get(url, timeout, options))

    async def _get(self, url: str, timeout: float, options: dict[str, Any]) -> Response:
        async with asyncio.timeout(timeout):
            return await self._http.get(url, timeout=timeout, **options)

    def close(self) -> None:
        try:
            self._runner.run(self._http.aclose())
        finally:
            self._runner.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Unreadable(ValueError):
    """A 200 whose body is not the API's JSON (cut off on the way, an error page, another shape)."""


class _Fetcher:
    def __init__(
        self,
        client: ApiClient,
        entity: str,
        token: str,
        timeout: float,
        max_retries: int,
        backoff: float,
        max_backoff: float,
    ) -> None:
        self.client, self.entity, self.timeout = client, entity, timeout
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.max_retries, self.backoff, self.max_backoff = max_retries, backoff, max_backoff
        self.retries = 0

    def get(self, url: str, params: dict[str, Any]) -> Page:
        shown = _without_credentials(httpx.URL(url, params=params))
        last = "no answer"
        for attempt in range(self.max_retries + 1):
            wait = None
            try:
                response = self.client.get(url, params=params, headers=self._headers, timeout=self.timeout)
            except (TimeoutError, httpx.TimeoutException):
                last = f"timeout (no whole answer within {self.timeout}s)"
            except httpx.TransportError as err:
                last = f"connection error ({type(err).__name__})"
            except httpx.RequestError as err:  # e.g. a body its Content-Encoding does not decode
                last = f"unreadable answer ({type(err).__name__}: {err})"
            else:
                last = f"HTTP {response.status_code}"
                if response.status_code == 200:
                    try:
                        return _page(response, shown)
                    except _Unreadable as err:
                        last = f"HTTP 200 whose body is {err}"
                elif response.status_code in RETRY_AFTER_STATUSES:
                    wait = _retry_after(response.headers.get("Retry-After"))
                elif response.status_code not in RETRY_STATUSES:
                    raise ExtractError(f"{self.entity}: GET {shown} answered {last}: {response.text[:200]}")
            if attempt == self.max_retries:
                break
            delay = wait if wait is not None else random.uniform(0, self.backoff * 2**attempt)
            delay = min(delay, self.max_backoff)
            log.info("%s: %s from GET %s; retry %d in %.2fs", self.entity, last, shown, attempt + 1, delay)
            time.sleep(delay)
            self.retries += 1
        raise ExtractError(
            f"{self.entity}: gave up on GET {shown} after {self.max_retries + 1} attempts; last: {last}"
        )


def _without_credentials(url: httpx.URL) -> str:
    return str(url.copy_with(username=None, password=None)) if url.userinfo else str(url)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def parse_json(content: bytes | str) -> Any:
    """JSON whose numbers keep the text they were sent as (`extract.records.Number`, a str, as in files):
    float() would round `0.10000000000000000555` and make `1e999` infinite, int() refuses 5,000 digits,
    and raw keeps values as sent. Objects are dicts (a repeated key: the last one, as json.loads does).
    Raises ValueError (or RecursionError, nested too deep) when it is not JSON."""
    return json.loads(content, parse_float=Number, parse_int=Number, parse_constant=Number)


def _page(response: Response, shown: str) -> Page:
    """The API's page, or _Unreadable (worth another try: cut off on the way, a proxy's error page)."""
    try:
        body = parse_json(response.content)
    except (ValueError, RecursionError) as err:
        raise _Unreadable(f"not JSON ({_short(str(err))}): {_short(repr(response.content))}") from None
    if not isinstance(body, dict):
        raise _Unreadable(f"not the API's JSON (an object with a 'data' array) but {_kind(body)}")
    if not isinstance(body.get("data"), list):
        data = f"its 'data' is {_kind(body['data'])}" if "data" in body else "it has no 'data'"
        raise _Unreadable(f"not the API's JSON (an object with a 'data' array): {data}")
    return Page(body["data"], body.get("next_cursor", _MISSING), shown)


def _kind(value: Any) -> str:
    """A JSON value's kind, for messages."""
    if isinstance(value, Number):
        return "a number"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "null")


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def _next_cursor(entity: str, page: Page, followed: set[str]) -> str | None:
    """The page's next_cursor, checked before the page lands: a listing that cannot be followed stops."""
    cursor = page.next_cursor
    if cursor is None:
        return None
    if cursor is _MISSING:
        problem = "no next_cursor (it must be null or a string)"
    elif not isinstance(cursor, str) or isinstance(cursor, Number) or not cursor:
        problem = f"next_cursor {_short(dump(cursor))}, not a non-empty string or null"
    elif cursor in followed:
        problem = f"next_cursor {_short(dump(cursor))} again (already followed: the listing would not end)"
    else:
        return cursor
    raise ExtractError(
        f"{entity}: GET {page.url} answered {problem}; stopped before loading that page"
        " (the pages before it are committed; the next run resumes from the watermark)"
    )


def extract_entity(
    conninfo: str,
    base_url: str,
    token: str,
    entity: str,
    *,
    page_size: int = 500,
    timeout: float = 10.0,
    max_retries: int = 5,
    backoff: float = 0.5,
    max_backoff: float = 60.0,
    future_tolerance: timedelta | None = timedelta(days=1),
    client: ApiClient | None = None,
    on_page: Callable[[int], None] | None = None,
) -> ExtractResult:
    """Land what changed in the entity since its watermark (see the module and extract/watermark.py).
    `timeout`: seconds for each request's whole answer.
    `client`: an ApiClient to reuse (extract_all shares one); the token is sent per request.
    `on_page(n)`: called after each committed page with its number of records (progress bars)."""
    if entity not in FIELDS:
        raise ValueError(f"unknown entity {entity!r}; known: {', '.join(FIELDS)}")
    with psycopg.connect(conninfo, autocommit=True) as conn, _client(client) as http:
        watermark.ensure_table(conn)
        if not watermark.try_lock(conn, entity):  # held until this connection closes
            raise ExtractError(f"{entity}: another API extract of it is running")
        state = watermark.read(conn, entity)
        (now,) = conn.execute("select now()").fetchone()
        fetcher = _Fetcher(http, entity, token, timeout, max_retries, backoff, max_backoff)
        run = _Run(conninfo, entity, state, now + future_tolerance if future_tolerance is not None else None)
        params: dict[str, Any] = {"limit": page_size}
        if state.updated_since is not None:
            params["updated_since"] = state.updated_since.isoformat()
        followed: set[str] = set()
        while True:
            page = fetcher.get(f"{base_url.rstrip('/')}/api/v1/{entity}", params)
            cursor = _next_cursor(entity, page, followed)
            run.land(conn, page, cursor)
            if on_page is not None:
                on_page(len(page.records))
            if cursor is None:
                break
            followed.add(cursor)
            params = {"limit": page_size, "cursor": cursor}
        with conn.transaction():
            watermark.save(conn, run.complete(), None, completed=True)
    result = run.result(state, fetcher.retries)
    if result.loaded:
        ddl.refresh_statistics(conninfo, entity)
    log.info("%s", result)
    return result


@contextmanager
def _client(client: ApiClient | None) -> Iterator[ApiClient]:
    if client is not None:
        yield client
        return
    with ApiClient() as own:
        yield own


class _Run:
    """One run's progress: the watermark as committed and the counts."""

    def __init__(self, conninfo: str, entity: str, state: watermark.Watermark, stamp_limit: datetime | None):
        self.conninfo, self.entity, self.state, self.stamp_limit = conninfo, entity, state, stamp_limit
        self.pages = self.fetched = self.loaded = self.rejected = self.duplicates = 0
        self.unresolved_seen: set[str] = set()

    def land(self, conn: psycopg.Connection, page: Page, cursor: str | None) -> None:
        """Load the page's new records and its watermark (`cursor`: the next page's) in one transaction."""
        taken = self.state.take(page.records, self.stamp_limit)
        save = functools.partial(watermark.save, state=taken.state, cursor=cursor)
        if taken.fresh:
            try:
                batch = load_records(
                    self.conninfo, self.entity, taken.fresh, f"api {page.url}", in_transaction=save
                )
            except (psycopg.DataError, UnicodeError) as err:  # a value the loader did not reject
                raise ExtractError(
                    f"{self.entity}: the page from GET {page.url} cannot be stored, nothing of it was"
                    f" committed: {_short(str(err))}"
                ) from err
            self.loaded, self.rejected = self.loaded + batch.rows_loaded, self.rejected + batch.rows_rejected
        else:
            with conn.transaction():
                save(conn)
        self.state = taken.state
        self.pages, self.fetched = self.pages + 1, self.fetched + len(page.records)
        self.duplicates += taken.duplicates
        self.unresolved_seen |= taken.unresolved_seen

    def complete(self) -> watermark.Watermark:
        """The listing is complete: an unresolved record the API did not send again never will be."""
        self.state = replace(self.state, unresolved=self.state.unresolved & frozenset(self.unresolved_seen))
        return self.state

    def result(self, start: watermark.Watermark, retries: int) -> ExtractResult:
        return ExtractResult(
            self.entity,
            self.pages,
            self.fetched,
            self.loaded,
            self.rejected,
            self.duplicates,
            retries,
            start.updated_since,
            self.state.updated_since,
        )


def extract_all(
    conninfo: str, base_url: str, token: str, entities: Iterable[str] = ENTITY_ORDER, **options: Any
) -> list[ExtractResult]:
    """Every entity, in dependency order, over one HTTP client; the options are `extract_entity`'s."""
    with ApiClient() as client:
        return [
            extract_entity(conninfo, base_url, token, entity, client=client, **options) for entity in entities
        ]
