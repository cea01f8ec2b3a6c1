"""Extract the shop API (docs/contract.md, "API") into `raw.*`, page by page, from a watermark.

Each page is loaded with `extract.load.load_records` in one transaction together with the entity's
watermark (extract/watermark.py): a crash between pages resumes after the last committed page, a page
fetched again adds nothing, and a rerun with no changes loads nothing.

HTTP: 429 and 503 are retried after their `Retry-After` (seconds or an HTTP date, capped at
`max_backoff`); 500, 502, 504, timeouts and connection errors after an exponential backoff with full
jitter (`uniform(0, min(max_backoff, backoff * 2**attempt))`). After `max_retries` retries the extract
stops with an `ExtractError` naming the entity, the URL and the last answer. Other answers (401, 400, 404)
stop it at once. The token travels in the Authorization header only and is never logged.
"""

from __future__ import annotations

import functools
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

from extract import watermark
from extract.contract import ENTITY_ORDER, FIELDS
from extract.load import load_records

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


@dataclass(frozen=True)
class Page:
    records: list[Any]
    next_cursor: str | None
    url: str  # without credentials


class _Fetcher:
    def __init__(
        self,
        client: httpx.Client,
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
            except httpx.TimeoutException:
                last = f"timeout ({self.timeout}s)"
            except httpx.TransportError as err:
                last = f"connection error ({type(err).__name__})"
            else:
                last = f"HTTP {response.status_code}"
                if response.status_code == 200:
                    page = _page(response, shown)
                    if page is not None:
                        return page
                    last = "HTTP 200 with a body that is not the API's JSON"
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


def _page(response: httpx.Response, shown: str) -> Page | None:
    try:
        body = response.json()
    except ValueError:  # cut off on the way: worth another try
        return None
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        return None
    cursor = body.get("next_cursor")
    return Page(body["data"], cursor if isinstance(cursor, str) and cursor else None, shown)


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
    client: httpx.Client | None = None,
    on_page: Callable[[int], None] | None = None,
) -> ExtractResult:
    """Land what changed in the entity since its watermark (see the module and extract/watermark.py).
    `client`: an httpx client to reuse (extract_all shares one); the token is sent per request.
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
        while True:
            page = fetcher.get(f"{base_url.rstrip('/')}/api/v1/{entity}", params)
            run.land(conn, page)
            if on_page is not None:
                on_page(len(page.records))
            if page.next_cursor is None:
                break
            params = {"limit": page_size, "cursor": page.next_cursor}
        with conn.transaction():
            watermark.save(conn, run.complete(), None, completed=True)
    result = run.result(state, fetcher.retries)
    log.info("%s", result)
    return result


@contextmanager
def _client(client: httpx.Client | None) -> Iterator[httpx.Client]:
    if client is not None:
        yield client
        return
    with httpx.Client(follow_redirects=False) as own:
        yield own


class _Run:
    """One run's progress: the watermark as committed and the counts."""

    def __init__(self, conninfo: str, entity: str, state: watermark.Watermark, stamp_limit: datetime | None):
        self.conninfo, self.entity, self.state, self.stamp_limit = conninfo, entity, state, stamp_limit
        self.pages = self.fetched = self.loaded = self.rejected = self.duplicates = 0
        self.unresolved_seen: set[str] = set()

    def land(self, conn: psycopg.Connection, page: Page) -> None:
        """Load the page's new records and its watermark in one transaction."""
        taken = self.state.take(page.records, self.stamp_limit)
        save = functools.partial(watermark.save, state=taken.state, cursor=page.next_cursor)
        if taken.fresh:
            batch = load_records(
                self.conninfo, self.entity, taken.fresh, f"api {page.url}", in_transaction=save
            )
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
    with httpx.Client(follow_redirects=False) as client:
        return [
            extract_entity(conninfo, base_url, token, entity, client=client, **options) for entity in entities
        ]
