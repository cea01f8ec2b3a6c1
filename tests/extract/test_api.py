"""The shop API server and the API extractor: a real HTTP server on loopback, a real Postgres."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from extract import api, watermark
from extract.api import ExtractError, extract_all, extract_entity
from extract.contract import FIELDS, KEYS
from extract.watermark import fingerprint, parse_timestamp, read_watermark
from simshop.api_faults import Faults
from simshop.api_server import RawJson, ShopApiServer
from simshop.api_store import RecordStore, store_from_generator
from tests.raw_layer import reset_raw

TOKEN = "test-token-4f1c9a"
DAY1, DAY2 = date(2026, 11, 19), date(2026, 11, 20)
LOAD1, LOAD2 = datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)  # D+1 00:00Z
FAST = {"timeout": 0.25, "backoff": 0.01, "max_backoff": 0.2}  # client options that keep the tests quick

Pairs = list[tuple[str, dict]]


# Two small shop days frozen as data: the tests below count on their shape (12 customers, 8 products that
# share one updated_at, 20 orders a day).
DAYS = json.loads((Path(__file__).with_name("api_days.json")).read_text(encoding="utf-8"))


def _day(day: date) -> Pairs:
    return [(entity, record) for entity, records in DAYS[day.isoformat()].items() for record in records]


def _dirty_day() -> Pairs:
    """DAY1 plus what real exports get wrong: a version sent twice, empty and unreadable updated_at."""
    pairs = _day(DAY1)
    order = next(r for e, r in pairs if e == "orders")
    return [
        *pairs,
        ("orders", dict(order)),
        ("orders", {**order, "order_id": "O-EMPTY", "updated_at": ""}),
        ("orders", {**order, "order_id": "O-GARBLED", "updated_at": "last tuesday"}),
    ]


def _distinct(pairs: Pairs, entity: str) -> int:
    """Record versions of the entity (exact copies counted once)."""
    return len({fingerprint(r) for e, r in pairs if e == entity})


@pytest.fixture
def db(warehouse_url: str) -> str:
    return reset_raw(warehouse_url)


@pytest.fixture
def serve() -> Iterator[Callable[..., ShopApiServer]]:
    """serve(store=None, faults=None): a started server (over the dirty day by default), stopped after."""
    servers: list[ShopApiServer] = []

    def start(store: RecordStore | None = None, faults: Faults | None = None) -> ShopApiServer:
        store = store or RecordStore.from_records(_dirty_day(), sent_at=LOAD1)
        servers.append(ShopApiServer(store, TOKEN, faults=faults).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def _table(url: str, entity: str) -> list[tuple]:
    """raw.<entity>'s contract fields and extras, sorted."""
    fields = sql.SQL(", ").join(map(sql.Identifier, FIELDS[entity]))
    query = sql.SQL("select {}, _extra::text from {} order by {}, _extra::text").format(
        fields, sql.Identifier("raw", entity), fields
    )
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def _copies(url: str, entity: str) -> tuple[int, int]:
    """(rows, distinct (key, updated_at)) of raw.<entity>; the API's own updated_at is in `_extra`."""
    stamp = (
        sql.Identifier("updated_at") if "updated_at" in FIELDS[entity] else sql.SQL("_extra->>'updated_at'")
    )
    query = sql.SQL("select count(*), count(distinct ({}, {})) from {}").format(
        sql.SQL(", ").join(map(sql.Identifier, KEYS[entity])), stamp, sql.Identifier("raw", entity)
    )
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchone()


def _count(url: str, table: str) -> int:
    """Rows of raw.<table> (0 when no load created it yet)."""
    with psycopg.connect(url) as conn:
        if conn.execute("select to_regclass(%s)", [f"raw.{table}"]).fetchone()[0] is None:
            return 0
        query = sql.SQL("select count(*) from {}").format(sql.Identifier("raw", table))
        return conn.execute(query).fetchone()[0]


def _list(client: httpx.Client, url: str, **params) -> tuple[list[dict], int]:
    """Every record of a listing, and the number of pages."""
    records, pages = [], 0
    while True:
        body = client.get(url, params=params).raise_for_status().json()
        records, pages = records + body["data"], pages + 1
        if body["next_cursor"] is None:
            return records, pages
        params = {"limit": params.get("limit", 100), "cursor": body["next_cursor"]}


# -- the server ---------------------------------------------------------------------------------------
def test_pages_list_everything_once_in_updated_at_order(serve) -> None:
    server = serve()
    client = httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"})
    for entity in FIELDS:
        records, pages = _list(client, f"{server.url}/api/v1/{entity}", limit=7)
        assert len(records) == server.store.count(entity)
        assert pages == -(-len(records) // 7)
        stamps = [parse_timestamp(r["updated_at"]) or LOAD1 for r in records]  # unreadable: at the load time
        assert stamps == sorted(stamps)
    items, _ = _list(client, f"{server.url}/api/v1/order_items")
    sent = [parse_timestamp(i["updated_at"]) for i in items]  # the API's: when they were sent, 1 µs apart
    assert sent[0] == LOAD1 and len(set(sent)) == len(sent) and sent[-1] - LOAD1 < timedelta(seconds=1)

    noon = datetime(2026, 11, 19, 12, tzinfo=UTC)
    first = client.get(f"{server.url}/api/v1/orders", params={"updated_since": noon.isoformat(), "limit": 3})
    body = first.json()
    late = {**body["data"][0], "order_id": "O-LATE", "updated_at": "2026-11-19T23:59:59Z"}
    server.store.add("orders", [late])  # added while a client pages: it shows up on a later page
    rest, _ = _list(client, f"{server.url}/api/v1/orders", limit=3, cursor=body["next_cursor"])
    listed = body["data"] + rest
    expected = [
        r for e, r in _dirty_day() if e == "orders" and (parse_timestamp(r["updated_at"]) or LOAD1) >= noon
    ]
    assert len(listed) == len(expected) + 1
    assert [r["order_id"] for r in listed[-3:]] == ["O-LATE", "O-EMPTY", "O-GARBLED"]


def test_auth_unknown_entities_and_bad_parameters(serve) -> None:
    server, http = serve(), httpx.Client()
    url = f"{server.url}/api/v1/orders"
    good = {"Authorization": f"Bearer {TOKEN}"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        answer = http.get(url, headers=headers)
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert http.get(f"{server.url}/api/v1/refunds", headers=good).status_code == 404
    assert http.get(f"{server.url}/api/v2/orders", headers=good).status_code == 404
    cursor = http.get(url, headers=good, params={"limit": 2}).json()["next_cursor"]
    for query in (
        "limit=0",
        "limit=1001",
        "limit=ten",
        "updated_since=yesterday",
        "cursor=bm90IGEgY3Vyc29y",
        "cursor=%%%",
        "page=2",
        "limit=1&limit=2",
        f"cursor={cursor}&updated_since=2026-11-19T00:00:00Z",  # issued for no updated_since
    ):
        answer = http.get(f"{url}?{query}", headers=good)
        assert answer.status_code == 400, query
        assert answer.json()["error"]
    server.store.add(
        "customers", [{"customer_id": f"X{n:03d}", "updated_at": "2026-11-19"} for n in range(150)]
    )
    customers = f"{server.url}/api/v1/customers"
    assert len(http.get(customers, headers=good).json()["data"]) == 100  # the default limit
    assert len(http.get(f"{customers}?limit=1000", headers=good).json()["data"]) == 162
    since = http.get(
        f"{customers}?updated_since=2026-11-19&limit=1000", headers=good
    ).json()  # a date: 00:00Z
    assert len(since["data"]) == 150 and since["next_cursor"] is None


def test_fault_mode_is_deterministic(serve) -> None:
    faults = Faults.uniform(0.15, seed=3, slow_seconds=0.01, retry_after=(0, 1))

    def statuses(server: ShopApiServer) -> list[tuple[int, str | None]]:
        client = httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"})
        answers = [client.get(f"{server.url}/api/v1/products") for _ in range(40)]
        return [(a.status_code, a.headers.get("Retry-After")) for a in answers]

    first, second = statuses(serve(faults=faults)), statuses(serve(faults=faults))
    assert first == second
    assert {s for s, _ in first} == {200, 429, 500, 503}
    assert {r for s, r in first if s in (429, 503)} == {"0", "1"}
    scripted = statuses(serve(faults=Faults(script=("503", "500", "ok", "429"), retry_after=(0, 0))))
    assert [s for s, _ in scripted[:5]] == [503, 500, 200, 429, 200]


# -- the extractor ------------------------------------------------------------------------------------
def test_extract_with_faults_equals_a_clean_extract(db: str, serve, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clean = extract_all(db, serve().url, TOKEN, page_size=8, **FAST)
    expected = {entity: _table(db, entity) for entity in FIELDS}
    assert [r.retries for r in clean] == [0] * 5
    assert {r.entity: r.loaded for r in clean} == {e: _distinct(_dirty_day(), e) for e in FIELDS}

    db = reset_raw(db)
    faults = Faults(
        seed=11, throttled=0.1, unavailable=0.1, error=0.1, slow=0.02, slow_seconds=0.4, retry_after=(0, 0),
        script=("429", "503", "500", "slow"),
    )  # fmt: skip
    server = serve(faults=faults)
    faulty = extract_all(db, server.url, TOKEN, page_size=8, max_retries=8, **FAST)
    assert {entity: _table(db, entity) for entity in FIELDS} == expected
    for entity in FIELDS:
        rows, distinct = _copies(db, entity)
        assert rows == distinct == len(expected[entity])
    assert sum(r.retries for r in faulty) == sum(server.stats[k] for k in ("429", "503", "500", "slow")) >= 4
    assert all(server.stats[k] for k in ("429", "503", "500", "slow"))
    assert TOKEN not in caplog.text


def test_retry_after_is_honoured(db: str, serve) -> None:
    server = serve(faults=Faults(script=("429",), retry_after=(1, 1)))
    started = time.monotonic()
    result = extract_entity(db, server.url, TOKEN, "products", **{**FAST, "max_backoff": 5})
    assert time.monotonic() - started >= 1.0
    assert (result.retries, result.loaded) == (1, 8)


def test_gives_up_with_an_error_naming_entity_url_and_status(
    db: str, serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = serve(faults=Faults(unavailable=1.0, retry_after=(0, 0)))
    with pytest.raises(ExtractError) as failed:
        extract_entity(db, server.url, TOKEN, "orders", max_retries=2, **FAST)
    message = str(failed.value)
    assert message.startswith("orders: gave up on GET ")
    assert f"{server.url}/api/v1/orders?limit=500" in message
    assert message.endswith("after 3 attempts; last: HTTP 503")
    assert server.stats["503"] == 3

    with pytest.raises(ExtractError, match=r"orders: GET .*/api/v1/orders\?limit=500 answered HTTP 401"):
        extract_entity(db, serve().url, "not-the-token", "orders", **FAST)  # not retried
    assert TOKEN not in message and TOKEN not in caplog.text
    assert read_watermark(db, "orders").updated_since is None


def test_incremental_extract_loads_only_what_changed(db: str, serve) -> None:
    store = RecordStore.from_records(_day(DAY1), sent_at=LOAD1)
    server = serve(store)
    first = {r.entity: r for r in extract_all(db, server.url, TOKEN, page_size=10, **FAST)}
    assert {e: r.loaded for e, r in first.items()} == {e: store.count(e) for e in FIELDS}
    orders_mark = read_watermark(db, "orders")
    assert orders_mark.updated_since == max(
        parse_timestamp(r["updated_at"]) for e, r in _day(DAY1) if e == "orders"
    )

    changed = [
        ("customers", {**r, "city": "Gent", "updated_at": "2026-11-20T09:00:00Z"})
        for e, r in _day(DAY1)[:3]
        if e == "customers"
    ]
    day2 = [(e, r) for e, r in _day(DAY2) if e not in ("customers", "products")]  # orders, items, sessions
    store.extend([*changed, *day2, *[(e, r) for e, r in _day(DAY2) if e == "products"]], sent_at=LOAD2)
    second = {r.entity: r for r in extract_all(db, server.url, TOKEN, page_size=10, **FAST)}
    new = {e: sum(1 for x, _ in [*changed, *day2] if x == e) for e in FIELDS}
    assert {e: r.loaded for e, r in second.items()} == new  # products came again unchanged: nothing
    assert second["products"].duplicates == 16  # the 8 at the watermark, then their copies sent again
    assert read_watermark(db, "orders").updated_since > orders_mark.updated_since
    assert read_watermark(db, "order_items").updated_since == LOAD2 + timedelta(
        microseconds=new["order_items"] - 1
    )

    third = extract_all(db, server.url, TOKEN, page_size=10, **FAST)
    assert [(r.loaded, r.fetched - r.duplicates) for r in third] == [(0, 0)] * 5
    assert [r.fetched for r in third] == [3, 16, 1, 1, 1]  # all at the watermark: 3 customers changed at
    # the same time, the 8 products share one updated_at (and were sent twice)
    for entity in FIELDS:
        rows, distinct = _copies(db, entity)
        assert rows == distinct == first[entity].loaded + new[entity]
    mark = read_watermark(db, "customers")
    assert (mark.cursor, mark.rows_total) == (None, 12 + 3)


def test_a_crash_between_pages_then_a_rerun_loads_every_record_once(
    db: str, serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve()
    real, calls = api.load_records, []

    def crash_on_page_3(conninfo, entity, records, source, *, in_transaction):
        calls.append(source)

        def then_crash(conn: psycopg.Connection) -> None:
            in_transaction(conn)  # rows and watermark written, then the process dies before the commit
            raise RuntimeError("killed")

        hook = then_crash if len(calls) == 3 else in_transaction
        return real(conninfo, entity, records, source, in_transaction=hook)

    monkeypatch.setattr(api, "load_records", crash_on_page_3)
    with pytest.raises(RuntimeError, match="killed"):
        extract_entity(db, server.url, TOKEN, "orders", page_size=4, **FAST)
    assert _copies(db, "orders") == (8, 8)  # pages 1 and 2
    assert read_watermark(db, "orders").cursor is not None  # interrupted mid-listing

    monkeypatch.setattr(api, "load_records", real)
    rerun = extract_entity(db, server.url, TOKEN, "orders", page_size=4, **FAST)
    total = _distinct(_dirty_day(), "orders")
    assert rerun.loaded == total - 8
    assert _copies(db, "orders") == (total, total)
    assert read_watermark(db, "orders").cursor is None


def test_ties_at_the_watermark_and_unreadable_timestamps(db: str, serve) -> None:
    server = serve()
    first = extract_entity(
        db, server.url, TOKEN, "products", page_size=3, **FAST
    )  # 8 products, one updated_at
    again = extract_entity(db, server.url, TOKEN, "products", page_size=3, **FAST)
    assert (first.loaded, again.loaded, again.duplicates) == (8, 0, 8)
    product = next(r for e, r in _day(DAY1) if e == "products")
    server.store.add(
        "products", [{**product, "product_id": "P0099", "sku": "SKU-1099"}]
    )  # the same updated_at
    assert extract_entity(db, server.url, TOKEN, "products", page_size=3, **FAST).loaded == 1

    orders = extract_entity(db, server.url, TOKEN, "orders", page_size=4, **FAST)
    assert (orders.fetched, orders.loaded, orders.duplicates) == (23, 22, 1)  # the copy sent twice
    assert len(read_watermark(db, "orders").unresolved) == 2  # O-EMPTY, O-GARBLED: sent again until passed
    assert extract_entity(db, server.url, TOKEN, "orders", **FAST).loaded == 0
    server.store.add("orders", [r for e, r in _day(DAY2) if e == "orders"], sent_at=LOAD2)
    assert extract_entity(db, server.url, TOKEN, "orders", **FAST).loaded == 20
    assert extract_entity(db, server.url, TOKEN, "orders", **FAST).loaded == 0
    assert read_watermark(db, "orders").unresolved == frozenset()  # now behind the watermark for good
    assert _copies(db, "orders") == (42, 42)


def test_one_extract_of_an_entity_at_a_time(db: str, serve) -> None:
    server = serve()
    with psycopg.connect(db, autocommit=True) as other:
        assert watermark.try_lock(other, "orders")
        with pytest.raises(ExtractError, match="another API extract of it is running"):
            extract_entity(db, server.url, TOKEN, "orders", **FAST)
    assert extract_entity(db, server.url, TOKEN, "orders", **FAST).loaded == 22


def test_generated_shop_through_the_api(db: str, serve) -> None:
    from simshop.generator import GeneratorConfig, iter_days

    config = GeneratorConfig(seed=5, days=2, orders_per_day=20, products=20, fault_rate=0.05)
    pairs = [(e, r) for day in iter_days(config) for e, records in day.records.items() for r in records]
    store = store_from_generator(config)
    assert {e: store.count(e) for e in FIELDS} == {e: sum(1 for x, _ in pairs if x == e) for e in FIELDS}
    server = serve(store, Faults.uniform(0.05, seed=1, slow_seconds=0.4, retry_after=(0, 0)))
    results = extract_all(db, server.url, TOKEN, page_size=50, max_retries=8, **FAST)
    for result in results:
        versions = {fingerprint(r) for e, r in pairs if e == result.entity and "updated_at" in FIELDS[e]}
        if versions:  # every version the shop sent, exactly once
            assert result.loaded + result.rejected == len(versions)
        rows, distinct = _copies(db, result.entity)
        assert rows == distinct


# -- a broken API: cursors, slow bodies, bodies and values that are not what they should be -----------
def test_a_repeated_cursor_stops_the_extract_and_a_rerun_resumes(db: str, serve) -> None:
    store = RecordStore.from_records(_dirty_day(), sent_at=LOAD1)
    server = serve(store, Faults(cursor="repeat"))  # page 2 names its own cursor as the next one, forever
    with pytest.raises(ExtractError) as failed:
        extract_entity(db, server.url, TOKEN, "orders", page_size=4, **FAST)
    cursor = read_watermark(db, "orders").cursor  # after page 1, the cursor page 2 was asked with
    url = f"{server.url}/api/v1/orders?limit=4&cursor={cursor}"
    assert str(failed.value).startswith(f'orders: GET {url} answered next_cursor "{cursor}" again')
    assert server.stats["200"] == 2  # no request after the repeat
    assert _copies(db, "orders") == (4, 4)  # page 1; page 2 was not loaded

    rerun = extract_entity(db, serve(store).url, TOKEN, "orders", page_size=4, **FAST)  # the API fixed
    total = _distinct(_dirty_day(), "orders")
    assert rerun.loaded == total - 4
    assert _copies(db, "orders") == (total, total)
    assert read_watermark(db, "orders").cursor is None


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        ("number", "next_cursor 2, not a non-empty string or null"),
        ("object", 'next_cursor {"after": "'),
        ("empty", 'next_cursor "", not a non-empty string or null'),
        ("missing", "no next_cursor"),
    ],
)
def test_a_cursor_that_is_not_a_string_stops_the_extract(db: str, serve, fault: str, problem: str) -> None:
    server = serve(faults=Faults(cursor=fault))
    with pytest.raises(ExtractError) as failed:
        extract_entity(db, server.url, TOKEN, "orders", page_size=4, **FAST)
    assert str(failed.value).startswith(f"orders: GET {server.url}/api/v1/orders?limit=4 answered {problem}")
    assert server.stats["200"] == 1  # not retried, not followed
    assert _count(db, "orders") == 0  # the page with it was not loaded
    assert read_watermark(db, "orders").updated_since is None


@pytest.mark.parametrize("drip_seconds", [0.1, 0.001], ids=["headers", "body"])
def test_a_dripping_answer_is_cut_at_the_deadline_of_its_request(db: str, serve, drip_seconds: float) -> None:
    options = {**FAST, "timeout": 0.5}  # more than each byte's wait: only a deadline per request stops it
    server = serve(faults=Faults(script=("drip",), drip_seconds=drip_seconds))  # the first answer drips
    started = time.monotonic()
    result = extract_entity(db, server.url, TOKEN, "orders", **options)
    assert (result.retries, result.loaded) == (1, 22)
    assert server.stats["drip"] == 1
    assert time.monotonic() - started < 2  # the dripped answer (about 6 kB) alone would take 6 s or more

    server = serve(faults=Faults(drip=1.0, drip_seconds=drip_seconds))  # every answer drips
    started = time.monotonic()
    with pytest.raises(ExtractError) as failed:
        extract_entity(db, server.url, TOKEN, "customers", max_retries=2, **options)
    assert time.monotonic() - started < 3  # 3 attempts of 0.5 s and the backoffs
    assert str(failed.value) == (
        f"customers: gave up on GET {server.url}/api/v1/customers?limit=500 after 3 attempts;"
        " last: timeout (no whole answer within 0.5s)"
    )
    assert server.stats["drip"] == 3


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        ("html", "not JSON (Expecting value: line 1 column 1 (char 0)): b'<!doctype html>"),
        ("deep", "not JSON (maximum recursion depth exceeded"),
        ("bare_list", "not the API's JSON (an object with a 'data' array) but an array"),
        ("data_object", "not the API's JSON (an object with a 'data' array): its 'data' is an object"),
    ],
)
def test_a_body_that_is_not_the_apis_json_is_retried_then_fails(
    db: str, serve, fault: str, problem: str
) -> None:
    server = serve(faults=Faults(body=fault))
    with pytest.raises(ExtractError) as failed:
        extract_entity(db, server.url, TOKEN, "orders", max_retries=1, **FAST)
    assert str(failed.value).startswith(
        f"orders: gave up on GET {server.url}/api/v1/orders?limit=500 after 2 attempts;"
        f" last: HTTP 200 whose body is {problem}"
    )
    assert server.stats["200"] == 2
    assert _count(db, "orders") == 0


def test_records_that_are_not_objects_are_rejected_and_the_others_load(db: str, serve) -> None:
    server = serve(faults=Faults(body="stray_values"))  # "not a record", 7, [1, 2], null after record 1
    result = extract_entity(db, server.url, TOKEN, "orders", **FAST)
    assert (result.fetched, result.loaded, result.rejected) == (23 + 4, 22, 4)
    with psycopg.connect(db) as conn:
        rejects = conn.execute(
            "select position, reason, raw_content from raw.load_rejects where entity = 'orders' order by 1"
        ).fetchall()
    assert [(position, reason) for position, reason, _ in rejects] == [
        (2, "not a JSON object but string"),
        (3, "not a JSON object but number"),
        (4, "not a JSON object but list"),
        (5, "not a JSON object but null"),
    ]
    assert (rejects[0][2], rejects[3][2]) == ('"not a record"', "null")  # load_records' raw (json.dumps)
    again = extract_entity(db, server.url, TOKEN, "orders", **FAST)  # sent again: rejected once only
    assert (again.loaded, again.rejected) == (0, 0)
    assert _count(db, "load_rejects") == 4


def test_numbers_land_as_the_text_they_were_sent_as(db: str, serve) -> None:
    order = next(r for e, r in _day(DAY1) if e == "orders")
    digits = "1" + "0" * 4999  # json.loads' int() refuses more than 4,300 digits
    sent = {
        "customer_id": RawJson(digits),
        "shipping_amount": RawJson("0.10000000000000000555"),  # a float would be 0.1
        "discount_amount": RawJson("1e999"),  # a float would be inf
        "payment_method": RawJson("NaN"),
        "points": RawJson("-Infinity"),  # an extra field
        "weight_kg": RawJson("2.50"),
    }
    store = RecordStore.from_records([("orders", {**order, **sent})], sent_at=LOAD1)
    server = serve(store)
    result = extract_entity(db, server.url, TOKEN, "orders", **FAST)
    assert (result.loaded, result.rejected) == (1, 0)
    with psycopg.connect(db) as conn:
        row = conn.execute(
            "select customer_id, shipping_amount, discount_amount, payment_method,"
            " _extra->>'points', _extra->>'weight_kg' from raw.orders"
        ).fetchone()
    assert row == (digits, "0.10000000000000000555", "1e999", "NaN", "-Infinity", "2.50")
    assert extract_entity(db, server.url, TOKEN, "orders", **FAST).duplicates == 1  # at the watermark


def test_a_watermark_saved_when_numbers_were_parsed_as_floats_still_matches() -> None:
    text = '{"order_id": "O1", "quantity": 3, "unit_price": 19.99, "ratio": 1e999, "x": NaN}'
    assert fingerprint(api.parse_json(text)) == fingerprint(json.loads(text))


def _extract_with(db: str, serve, unstorable: list[dict]) -> tuple[api.ExtractResult, list[tuple]]:
    """Extract DAY1's orders, the first ones replaced by `unstorable`; the result and the rejects."""
    orders = [r for e, r in _day(DAY1) if e == "orders"]
    records = [{**order, **changes} for order, changes in zip(orders, unstorable, strict=False)]
    store = RecordStore.from_records([("orders", r) for r in records + orders[len(records) :]], sent_at=LOAD1)
    server = serve(store)
    result = extract_entity(db, server.url, TOKEN, "orders", **FAST)
    with psycopg.connect(db) as conn:
        rejects = conn.execute("select raw_content, reason from raw.load_rejects order by reason").fetchall()
    again = extract_entity(db, server.url, TOKEN, "orders", **FAST)  # sent again: nothing more
    assert (again.loaded, again.rejected) == (0, 0)
    assert _copies(db, "orders") == (20 - len(unstorable),) * 2
    return result, rejects


def test_a_nul_character_rejects_its_record_and_the_others_load(db: str, serve) -> None:
    nul = [{"status": "pa\x00id"}, {"tags": ["ok", {"x": "\x00"}]}, {"bad\x00key": "x"}]
    result, rejects = _extract_with(db, serve, nul)  # in a field, deep in an extra field, in a field's name
    assert (result.loaded, result.rejected) == (17, 3)
    assert [reason for _, reason in rejects] == [
        "a NUL character in 'bad\\\\x00key' (Postgres text cannot hold it)",
        "a NUL character in 'status' (Postgres text cannot hold it)",
        "a NUL character in 'tags' (Postgres text cannot hold it)",
    ]
    assert '"bad\\u0000key": "x"' in rejects[0][0]  # the record as JSON escapes it: storable, readable
    assert '"status": "pa\\u0000id"' in rejects[1][0]


def test_a_lone_surrogate_rejects_its_record_and_the_others_load(db: str, serve) -> None:
    result, rejects = _extract_with(db, serve, [{"note": "caf\ud800"}])
    assert (result.loaded, result.rejected) == (19, 1)
    [(raw, reason)] = rejects
    assert reason == "not valid Unicode in 'note' (a lone surrogate)"
    assert '"note": "caf\\ud800"' in raw  # escaped as JSON escapes it: storable, readable
