"""A corpus of what real exports get wrong, each with its expected outcome on a real Postgres:
loaded (maybe with some rows rejected, each with its reason) or the whole file rejected with a clear error.
For every batch the ledger holds rows read = loaded + rejected.

A record is what Python's csv module (strict=False) says it is, whichever path (COPY or row by row) loads
the file; values land as sent; a rejected row is kept whole with its 1-based position and its reason."""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from extract.load import load_file, load_folder
from tests.raw_layer import reset_raw

ORDERS = "order_id,customer_id,status,ordered_at,updated_at,shipping_amount,discount_amount,payment_method"
O1 = "O1,C1,paid,2026-11-20T10:00:00Z,2026-11-20T10:05:00Z,4.90,0.00,card"
O2 = "O2,C2,placed,2026-11-20T11:00:00Z,2026-11-20T11:01:00Z,0.00,5.00,paypal"
CUSTOMERS = "customer_id,email,first_name,last_name,country,city,created_at,updated_at"
C1 = "C1,chloe@example.com,Chloé,Dubois,FR,Lyon,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z"
C2 = "C2,ben@example.com,Ben,Martin,FR,Paris,2026-01-02T00:00:00Z,2026-01-02T00:00:00Z"
PRODUCTS = "product_id,sku,name,category,unit_price,is_active,created_at,updated_at"
OBJ1 = {"order_id": "O1", "customer_id": "C1", "status": "paid", "shipping_amount": "4.90"}
OBJ2 = {"order_id": "O2", "customer_id": "C2", "status": "placed", "shipping_amount": 0}
J1, J2 = json.dumps(OBJ1), json.dumps(OBJ2)


def _csv(*lines: str, sep: str = "\n") -> bytes:
    return (sep.join(lines) + sep).encode("utf-8")


def _order(order_id: str = "O1", **values: str) -> str:
    """An orders CSV line like O1's, with its own key and any field's text replaced."""
    row = dict(zip(ORDERS.split(","), O1.split(","), strict=True)) | {"order_id": order_id} | values
    return ",".join(row.values())


def _customer(customer_id: str, first_name: str, city: str = "Lyon") -> str:
    return (
        f"{customer_id},{customer_id.lower()}@example.com,{first_name},Lee,FR,{city},"
        "2026-01-01T00:00:00Z,2026-01-01T00:00:00Z"
    )


def _product(product_id: str, name: str) -> str:
    return (
        f"{product_id},SKU-{product_id},{name},screens,199.00,true,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z"
    )


def _amount(number: str) -> bytes:
    """One NDJSON order whose shipping_amount is the JSON number `number`, written as is."""
    return ('{"order_id": "O1", "shipping_amount": ' + number + "}\n").encode()


AMOUNTS = "select shipping_amount from raw.orders order by order_id"
PAYMENTS = "select string_agg(payment_method, '|' order by order_id) from raw.orders"
REJECT = "select position, raw_content from raw.load_rejects order by position"
POSITIONS = "select string_agg(position::text, ',' order by position) from raw.load_rejects"
SECOND = "select status, strpos(_extra::text, 'SECOND') > 0 from raw.orders"

# Big inputs, built once: ASCII customers (~1.7 MB), a 1 MB+ header, an unterminated quote and 200 rows after.
ASCII_ROWS = [_customer(f"C{i:06d}", "Ann") for i in range(20_000)]
ZOE = _customer("CZ", "Zoé")
NEAR_SAMPLE = CUSTOMERS + "\n" + "\n".join(ASCII_ROWS[:12_000]) + "\n"
CUT_PAD = (1 << 20) - 1 - len(NEAR_SAMPLE) - len("CZ,cz@example.com,")  # 'é' straddles byte 1 MiB
WIDE_HEADER = ORDERS + "".join(f",extra_column_number_{i:06d}" for i in range(40_000))
BROKEN_QUOTE = 'O2,C2,"placed,2026-11-20T11:00:00Z,2026-11-20T11:01:00Z,0.00,5.00,paypal'
AFTER_BROKEN_QUOTE = [_order(f"O{i}") for i in range(100, 299)] + [_order("O299", payment_method="LAST")]


@dataclass
class Case:
    name: str
    filename: str
    content: bytes
    loaded: int = 0  # -1: not checked
    rejected: list[str] = field(default_factory=list)  # a reason fragment per rejected row
    # the whole file is rejected with this (or one of these) in its error
    file_error: str | tuple[str, ...] | None = None
    entity: str = "orders"
    check: tuple[str, tuple] | None = None  # (query, expected first row)
    checks: tuple[tuple[str, tuple], ...] = ()  # more of them
    notes: str | tuple[str, ...] | None = None  # in the ledger's notes (one of these)
    # instead of `rejected`: no reject, or one whose reason holds this
    optional_reject: str | None = None
    mention: str | None = None  # in the ledger's notes or in a reject's reason
    or_file_error: str | None = None  # the file may be rejected whole instead, with this in its error
    mode: int | None = None  # the file's permission bits


CASES = [
    Case("clean csv", "a.csv", _csv(ORDERS, O1, O2), loaded=2),
    Case(
        "utf-8 with BOM",
        "a.csv",
        b"\xef\xbb\xbf" + _csv(ORDERS, O1),
        loaded=1,
        check=("select order_id from raw.orders", ("O1",)),
    ),
    Case(
        "latin-1",
        "c.csv",
        (CUSTOMERS + "\n" + C1 + "\n").encode("latin-1"),
        loaded=1,
        entity="customers",
        check=("select first_name from raw.customers", ("Chloé",)),
    ),
    Case("semicolon delimiter", "a.csv", _csv(ORDERS.replace(",", ";"), O1.replace(",", ";")), loaded=1),
    Case("tab delimiter", "a.csv", _csv(ORDERS.replace(",", "\t"), O1.replace(",", "\t")), loaded=1),
    Case("crlf line endings", "a.csv", _csv(ORDERS, O1, O2, sep="\r\n"), loaded=2),
    Case(
        "header reordered, odd case and spaces",
        "a.csv",
        _csv(
            " STATUS ,Order_Id,customer_id,ordered_at,updated_at,"
            "shipping_amount,discount_amount,payment_method",
            "paid,O1,C1,2026-11-20T10:00:00Z,2026-11-20T10:05:00Z,4.90,0.00,card",
        ),
        loaded=1,
        check=("select order_id, status from raw.orders", ("O1", "paid")),
    ),
    Case(
        "quoted field with a newline",
        "c.csv",
        _csv(CUSTOMERS, 'C1,a@example.com,Ada,"Love\nlace",FR,"Saint-Denis, île",2026-01-01,2026-01-01'),
        loaded=1,
        entity="customers",
        check=("select last_name from raw.customers", ("Love\nlace",)),
    ),
    Case(
        "row with too many fields",
        "a.csv",
        _csv(ORDERS, O1, O2 + ",surplus"),
        loaded=1,
        rejected=["expected 8 fields, got 9"],
    ),
    Case(
        "row with too few fields",
        "a.csv",
        _csv(ORDERS, "O3,C3,paid", O1),
        loaded=1,
        rejected=["expected 8 fields, got 3"],
    ),
    Case(
        "undecodable bytes in one row",
        "c.csv",
        _csv(CUSTOMERS, C1) + b"C2,b@example.com,B\xff\xfeb,Dubois,FR,Lyon,2026-01-01,2026-01-01\n",
        loaded=1,
        entity="customers",
        rejected=["undecodable bytes"],
    ),
    Case(
        "unterminated quote at the end",
        "a.csv",
        _csv(ORDERS, O1) + b'O2,C2,"placed,2026\n',
        loaded=1,
        rejected=["expected 8 fields"],
    ),
    Case(
        "unknown extra field",
        "a.csv",
        _csv(ORDERS + ",coupon", O1 + ",XMAS"),
        loaded=1,
        check=("select _extra->>'coupon' from raw.orders", ("XMAS",)),
    ),
    Case(
        "missing non-key field",
        "a.csv",
        _csv(ORDERS.removesuffix(",payment_method"), O1.removesuffix(",card")),
        loaded=1,
        check=("select payment_method from raw.orders", (None,)),
    ),
    Case(
        "missing key value",
        "a.csv",
        _csv(ORDERS, "," + O1.split(",", 1)[1]),
        loaded=1,
        check=("select order_id from raw.orders", (None,)),
    ),
    Case("exact duplicate rows", "a.csv", _csv(ORDERS, O1, O1), loaded=2),
    Case("blank lines", "a.csv", _csv(ORDERS, "", O1, "", O2), loaded=2),
    Case("header only", "a.csv", _csv(ORDERS), loaded=0),
    Case(
        "no recognisable header", "a.csv", _csv("id,name,total", "1,x,2"), file_error="key field(s) order_id"
    ),
    Case("empty file", "a.csv", b"", file_error="empty file"),
    Case("unknown extension", "a.xml", b"<orders/>", file_error="unknown format 'xml'"),
    Case("gzip csv", "a.csv.gz", gzip.compress(_csv(ORDERS, O1, O2)), loaded=2),
    Case(
        "truncated gzip",
        "a.csv.gz",
        gzip.compress(_csv(ORDERS, *[f"O{i}{O1[2:]}{i * 7919}" for i in range(5000)]))[:8000],
        loaded=-1,
        rejected=["compressed stream broken"],
    ),
    Case(
        "json array",
        "a.json",
        json.dumps([OBJ1, OBJ2]).encode(),
        loaded=2,
        check=("select shipping_amount from raw.orders where order_id = 'O2'", ("0",)),
    ),
    Case(
        "truncated json array",
        "a.json",
        json.dumps([OBJ1, OBJ2]).encode()[:-12],
        loaded=1,
        rejected=["truncated JSON"],
    ),
    Case(
        "json object instead of an array", "a.json", json.dumps(OBJ1).encode(), file_error="not a JSON array"
    ),
    Case("ndjson", "a.ndjson", (json.dumps(OBJ1) + "\n" + json.dumps(OBJ2) + "\n").encode(), loaded=2),
    Case(
        "ndjson broken line",
        "a.ndjson",
        (json.dumps(OBJ1) + "\n" + json.dumps(OBJ2)[:15] + "\n" + json.dumps(OBJ2) + "\n").encode(),
        loaded=2,
        rejected=["invalid JSON"],
    ),
    Case(
        "ndjson line that is not an object",
        "a.ndjson",
        (json.dumps(OBJ1) + "\n[1, 2]\n").encode(),
        loaded=1,
        rejected=["not a JSON object but list"],
    ),
    Case(
        "json values that are not strings",
        "a.ndjson",
        b'{"order_id": "O1", "shipping_amount": 4.9, "status": null, "gift": true}\n',
        loaded=1,
        check=(
            "select shipping_amount, status, _extra::text from raw.orders",
            ("4.9", None, '{"gift": true}'),
        ),
    ),
]

# -- 1. A record is what the careful reader says it is (COPY may only take a file that parses the same) ----
QUOTING = [
    Case(
        "quote inside an unquoted field",
        "p.csv",
        _csv(PRODUCTS, _product("P1", 'Monitor 27" 4K'), _product("P2", "Desk"), _product("P3", "Lamp")),
        loaded=3,
        entity="products",
        checks=(
            ("select name from raw.products where product_id = 'P1'", ('Monitor 27" 4K',)),
            ("select count(*), count(distinct product_id) from raw.products", (3, 3)),
        ),
    ),
    Case(
        "an inch mark in two rows (COPY would pair the quotes)",
        "p.csv",
        _csv(PRODUCTS, _product("P1", 'Monitor 27" 4K'), _product("P2", 'Screen 24" HD')),
        loaded=2,
        entity="products",
        check=(
            "select string_agg(name, '|' order by product_id) from raw.products",
            ('Monitor 27" 4K|Screen 24" HD',),
        ),
    ),
    Case(
        "two quotes inside an unquoted field",
        "p.csv",
        _csv(PRODUCTS, _product("P1", 'a 27" b" c'), _product("P2", "Desk")),
        loaded=2,
        entity="products",
        check=("select name from raw.products where product_id = 'P1'", ('a 27" b" c',)),
    ),
    Case(
        "a quote ending an unquoted field on the last line",
        "a.csv",
        _csv(ORDERS, O1, _order("O2", payment_method='card"')),
        loaded=2,
        check=(PAYMENTS, ('card|card"',)),
    ),
    Case(
        "a space before a quoted field",
        "a.csv",
        _csv(ORDERS, _order("O1", status=' "paid"'), O2),
        loaded=2,
        check=("select status from raw.orders where order_id = 'O1'", (' "paid"',)),
    ),
    Case(
        "text after a closing quote",
        "a.csv",
        _csv(ORDERS, _order("O1", status='"pa"id')),
        loaded=1,
        check=("select status from raw.orders", ("paid",)),
    ),
    Case(
        "a line holding only backslash-dot",
        "a.csv",
        _csv(ORDERS, O1, "\\.", O2),
        loaded=2,
        rejected=["expected 8 fields, got 1"],
        checks=((REJECT, (2, "\\.")), (PAYMENTS, ("card|paypal",))),
    ),
    Case(
        "backslash-dot as the last line",
        "a.csv",
        _csv(ORDERS, O1, O2, "\\."),
        loaded=2,
        rejected=["expected 8 fields, got 1"],
        check=(REJECT, (3, "\\.")),
    ),
    Case(
        "a backslash-dot line inside a quoted field",
        "c.csv",
        _csv(CUSTOMERS, 'C1,a@example.com,Ada,"Love\n\\.\nlace",FR,Lyon,2026-01-01,2026-01-01', C2),
        loaded=2,
        entity="customers",
        check=("select last_name from raw.customers where customer_id = 'C1'", ("Love\n\\.\nlace",)),
    ),
    Case(
        "backslash-dot and backslashes as values",
        "a.csv",
        _csv(ORDERS, _order("O1", status="\\.", payment_method="C:\\path\\n")),
        loaded=1,
        check=("select status, payment_method from raw.orders", ("\\.", "C:\\path\\n")),
    ),
    Case(
        "doubled quotes in a quoted field",
        "a.csv",
        _csv(ORDERS, _order("O1", status='"say ""hi"""')),
        loaded=1,
        check=("select status from raw.orders", ('say "hi"',)),
    ),
    Case(
        "every field quoted",
        "a.csv",
        _csv(*(",".join(f'"{v}"' for v in line.split(",")) for line in (ORDERS, O1, O2))),
        loaded=2,
        check=(
            "select string_agg(order_id || '=' || shipping_amount, '|' order by order_id) from raw.orders",
            ("O1=4.90|O2=0.00",),
        ),
    ),
    Case(
        "a quoted empty field",
        "a.csv",
        _csv(ORDERS, _order("O1", payment_method='""')),
        loaded=1,
        check=("select payment_method from raw.orders", (None,)),
    ),
    Case(
        "a quoted field with a CRLF in a CRLF file",
        "c.csv",
        _csv(CUSTOMERS, 'C1,a@example.com,Ada,"Love\r\nlace",FR,Lyon,2026-01-01,2026-01-01', C2, sep="\r\n"),
        loaded=2,
        entity="customers",
        check=("select last_name from raw.customers where customer_id = 'C1'", ("Love\r\nlace",)),
    ),
    Case(
        "semicolons with a quoted semicolon",
        "a.csv",
        _csv(ORDERS.replace(",", ";"), _order("O1", payment_method='"card;gift"').replace(",", ";")),
        loaded=1,
        check=("select payment_method from raw.orders", ("card;gift",)),
    ),
    Case(
        "pipes with a quoted pipe",
        "a.csv",
        _csv(ORDERS.replace(",", "|"), _order("O1", payment_method='"card|gift"').replace(",", "|")),
        loaded=1,
        check=("select payment_method from raw.orders", ("card|gift",)),
    ),
    Case(
        "a tab inside a comma-separated value",
        "a.csv",
        _csv(ORDERS, _order("O1", status="pa\tid")),
        loaded=1,
        check=("select status from raw.orders", ("pa\tid",)),
    ),
]

# -- 2. An unterminated quote swallows the rest of the file into one record, rejected whole -----------------
UNTERMINATED = [
    Case(
        "unterminated quote in the middle",
        "a.csv",
        _csv(ORDERS, O1, BROKEN_QUOTE, _order("O3")),
        loaded=1,
        rejected=["expected 8 fields, got 3"],
        check=("select position, strpos(raw_content, 'O3,C1,paid') > 0 from raw.load_rejects", (2, True)),
    ),
    Case(
        "unterminated quote before 200 good rows",
        "a.csv",
        _csv(ORDERS, O1, BROKEN_QUOTE, *AFTER_BROKEN_QUOTE),
        loaded=1,
        rejected=["expected 8 fields, got 3"],
        check=(
            "select position, length(raw_content) > 4000, strpos(raw_content, 'O100,C1,paid') > 0,"
            " strpos(raw_content, 'O299,C1,paid') > 0, strpos(raw_content, ',LAST') > 0"
            " from raw.load_rejects",
            (2, True, True, True, True),
        ),
    ),
    Case(
        "a rejected record keeps its quoted newline",
        "c.csv",
        _csv(CUSTOMERS, 'C1,a@example.com,Ada,"Love\nlace",FR', C2),
        loaded=1,
        entity="customers",
        rejected=["expected 8 fields, got 5"],
        check=(
            "select position, strpos(raw_content, 'Love' || chr(10) || 'lace') > 0 from raw.load_rejects",
            (1, True),
        ),
    ),
]

# -- 3. Field size, NUL bytes, lone surrogates ---------------------------------------------------------------
BYTES = [
    Case(
        "a 300,000-character field",
        "c.csv",
        _csv(CUSTOMERS, _customer("C1", "Ann", city="x" * 300_000)),
        loaded=1,
        entity="customers",
        check=("select length(city), left(city, 3) from raw.customers", (300_000, "xxx")),
    ),
    Case(
        "a 300,000-character field beside an unknown column",
        "c.csv",
        _csv(CUSTOMERS + ",coupon", _customer("C1", "Ann", city="x" * 300_000) + ",XMAS", C2 + ",NONE"),
        loaded=2,
        entity="customers",
        check=(
            "select length(city), _extra->>'coupon' from raw.customers where customer_id = 'C1'",
            (300_000, "XMAS"),
        ),
    ),
    Case(
        "a NUL byte in a csv field",
        "a.csv",
        _csv(ORDERS, O1, _order("O2", payment_method="ca\x00rd"), _order("O3")),
        loaded=2,
        rejected=["NUL"],
        checks=((POSITIONS, ("2",)), (PAYMENTS, ("card|card",))),
    ),
    Case(
        "a NUL byte in a csv field beside an unknown column",
        "a.csv",
        _csv(
            ORDERS + ",coupon",
            O1 + ",A",
            _order("O2", status="pa\x00id") + ",B",
            O2.replace("O2", "O3") + ",C",
        ),
        loaded=2,
        rejected=["NUL"],
        check=(POSITIONS, ("2",)),
    ),
    Case(
        "NUL bytes padding the end of a csv",
        "a.csv",
        _csv(ORDERS, O1, O2) + b"\x00" * 4096,
        loaded=2,
        rejected=["NUL"],
        check=(POSITIONS, ("3",)),
    ),
    Case(
        "a NUL in an ndjson value",
        "a.ndjson",
        _csv(r'{"order_id": "O1", "status": "pa\u0000id"}', J2),
        loaded=1,
        rejected=["NUL"],
        check=("select position, raw_content is not null from raw.load_rejects", (1, True)),
    ),
    Case(
        "a NUL in a json array value",
        "a.json",
        ("[" + J1 + r', {"order_id": "O2", "status": "x\u0000"}]').encode(),
        loaded=1,
        rejected=["NUL"],
        check=(POSITIONS, ("2",)),
    ),
    Case(
        "a NUL in an unknown field's value",
        "a.ndjson",
        _csv(J1, r'{"order_id": "O2", "note": "a\u0000b"}'),
        loaded=1,
        rejected=["NUL"],
        check=(POSITIONS, ("2",)),
    ),
    Case(
        "a NUL in a field name",
        "a.ndjson",
        _csv(r'{"order_id": "O1", "no\u0000te": "b"}', J2),
        loaded=1,
        rejected=["NUL"],
        check=(POSITIONS, ("1",)),
    ),
    Case(
        "a lone surrogate in ndjson",
        "a.ndjson",
        _csv(J1, r'{"order_id": "O2", "status": "\ud800"}', J2.replace("O2", "O3")),
        loaded=2,
        rejected=["Unicode"],
        check=(POSITIONS, ("2",)),
    ),
    Case(
        "a lone surrogate in a json array",
        "a.json",
        ("[" + r'{"order_id": "O1", "customer_id": "C\ud800"}, ' + J2 + "]").encode(),
        loaded=1,
        rejected=["Unicode"],
        check=(POSITIONS, ("1",)),
    ),
    Case(
        "a lone low surrogate in an unknown field",
        "a.ndjson",
        _csv(r'{"order_id": "O1", "note": "\udc00"}', J2),
        loaded=1,
        rejected=["Unicode"],
    ),
    Case(
        "an escaped surrogate pair is one character",
        "a.ndjson",
        _csv(r'{"order_id": "O1", "status": "\ud83d\ude00 \u00e9"}'),
        loaded=1,
        check=("select status from raw.orders", ("\U0001f600 é",)),
    ),
]

# -- 4. Line endings ----------------------------------------------------------------------------------------
LINE_ENDINGS = [
    Case(
        "CR-only line endings",
        "a.csv",
        _csv(ORDERS, O1, O2, _order("O3"), sep="\r"),
        loaded=3,
        check=(PAYMENTS, ("card|paypal|card",)),
    ),
    Case(
        "CR-only line endings and a quoted LF",
        "c.csv",
        _csv(CUSTOMERS, 'C1,a@example.com,Ada,"Love\nlace",FR,Lyon,2026-01-01,2026-01-01', C2, sep="\r"),
        loaded=2,
        entity="customers",
        check=(
            "select string_agg(last_name, '|' order by customer_id) from raw.customers",
            ("Love\nlace|Martin",),
        ),
    ),
    Case(
        "CRLF header then mixed CRLF and LF rows",
        "a.csv",
        f"{ORDERS}\r\n{O1}\n{O2}\r\n{_order('O3')}\n".encode(),
        loaded=3,
        check=(PAYMENTS, ("card|paypal|card",)),
    ),
    Case(
        "LF rows then CRLF rows",
        "a.csv",
        f"{ORDERS}\n{O1}\n{O2}\r\n{_order('O3')}\r\n".encode(),
        loaded=3,
        check=(PAYMENTS, ("card|paypal|card",)),
    ),
    Case(
        "a stray CR inside an unquoted field ends the record",
        "a.csv",
        _csv(ORDERS, O1, _order("O2", status="pa\rid"), _order("O3")),
        loaded=2,
        rejected=["expected 8 fields, got 3", "expected 8 fields, got 6"],
        checks=(
            (POSITIONS, ("2,3",)),
            ("select string_agg(order_id, ',' order by order_id) from raw.orders", ("O1,O3",)),
        ),
    ),
    Case(
        "no newline after the last row",
        "a.csv",
        f"{ORDERS}\n{O1}\n{O2}".encode(),
        loaded=2,
        check=(PAYMENTS, ("card|paypal",)),
    ),
    Case("header only without a newline", "a.csv", ORDERS.encode(), loaded=0),
]

# -- 5. JSON numbers are kept as sent ----------------------------------------------------------------------
NUMBERS = [
    *(
        Case(
            f"json number {number} kept as sent",
            "a.ndjson",
            _amount(number),
            loaded=1,
            check=(AMOUNTS, (number,)),
        )
        for number in ("0.10000000000000000555", "1e999", "NaN", "-0.0", "1E+2", "Infinity", "4.90", "1.0")
    ),
    Case(
        "a 5,000-digit json integer",
        "a.ndjson",
        _amount("1234567890" * 500),
        loaded=1,
        check=(
            "select length(shipping_amount), shipping_amount = repeat('1234567890', 500) from raw.orders",
            (5000, True),
        ),
    ),
    Case(
        "json array numbers kept as sent",
        "a.json",
        (
            b'[{"order_id": "O1", "shipping_amount": 0.10000000000000000555},'
            b' {"order_id": "O2", "shipping_amount": 1e999}, {"order_id": "O3", "shipping_amount": NaN},'
            b' {"order_id": "O4", "shipping_amount": -0.0}, {"order_id": "O5", "shipping_amount": 1E+2},'
            b' {"order_id": "O6", "shipping_amount": 4.90}]'
        ),
        loaded=6,
        check=(
            "select string_agg(shipping_amount, '|' order by order_id) from raw.orders",
            ("0.10000000000000000555|1e999|NaN|-0.0|1E+2|4.90",),
        ),
    ),
    Case(
        "a 5,000-digit integer in a json array",
        "a.json",
        ('[{"order_id": "O1", "discount_amount": ' + "9" * 5000 + "}]").encode(),
        loaded=1,
        check=("select discount_amount = repeat('9', 5000) from raw.orders", (True,)),
    ),
    Case(
        "a number as the key",
        "a.ndjson",
        b'{"order_id": 12345678901234567890123, "status": "paid"}\n',
        loaded=1,
        check=("select order_id from raw.orders", ("12345678901234567890123",)),
    ),
    Case(
        "numbers in unknown fields kept as sent",
        "a.ndjson",
        b'{"order_id": "O1", "x": 12.50, "y": 0.10000000000000000555, "z": 7}\n',
        loaded=1,
        check=(
            "select _extra->>'x', _extra->>'y', _extra->>'z' from raw.orders",
            ("12.50", "0.10000000000000000555", "7"),
        ),
    ),
    Case(
        "numbers in unknown fields of a json array",
        "a.json",
        b'[{"order_id": "O1", "tax": 1.10, "weight_kg": 2.000}]',
        loaded=1,
        check=("select _extra->>'tax', _extra->>'weight_kg' from raw.orders", ("1.10", "2.000")),
    ),
    Case(
        "nested json values stored as json text",
        "a.ndjson",
        b'{"order_id": "O1", "status": {"a": 1, "b": [true, null]}, "payment_method": ["card", "gift"]}\n',
        loaded=1,
        check=(
            "select status, payment_method from raw.orders",
            ('{"a": 1, "b": [true, null]}', '["card", "gift"]'),
        ),
    ),
    Case(
        "a decimal inside a nested json value kept as sent",
        "a.ndjson",
        b'{"order_id": "O1", "status": {"amount": 1.10}}\n',
        loaded=1,
        check=("select status from raw.orders", ('{"amount": 1.10}',)),
    ),
    Case(
        "json booleans",
        "a.ndjson",
        b'{"order_id": "O1", "status": true, "payment_method": false}\n',
        loaded=1,
        check=("select status, payment_method from raw.orders", ("true", "false")),
    ),
    Case(
        "json null is sql null",
        "a.json",
        b'[{"order_id": "O1", "customer_id": null, "status": "paid"}]',
        loaded=1,
        check=("select customer_id, status from raw.orders", (None, "paid")),
    ),
    Case(
        "json escapes",
        "a.ndjson",
        _csv(r'{"order_id": "O1", "status": "caf\u00e9 \"x\" \\ \/ \t"}'),
        loaded=1,
        check=("select status from raw.orders", ('café "x" \\ / \t',)),
    ),
]

# -- 6. JSON structure and duplicate names -----------------------------------------------------------------
JSON_SHAPES = [
    Case(
        "a second json array after the first",
        "a.json",
        ("[" + J1 + "][" + J2 + "]").encode(),
        loaded=1,
        rejected=["after the JSON array"],
        check=("select raw_content from raw.load_rejects", ("[" + J2 + "]",)),
    ),
    Case(
        "an object after the json array",
        "a.json",
        ("[" + J1 + ", " + J2 + ']{"order_id": "O3"}').encode(),
        loaded=2,
        rejected=["after the JSON array"],
        check=("select raw_content from raw.load_rejects", ('{"order_id": "O3"}',)),
    ),
    Case(
        "whitespace after the json array",
        "a.json",
        (json.dumps([OBJ1, OBJ2]) + "\n\n \t\r\n").encode(),
        loaded=2,
    ),
    Case(
        "a json array with a trailing comma",
        "a.json",
        ("[" + J1 + ",]").encode(),
        loaded=1,
        check=("select order_id from raw.orders", ("O1",)),
    ),
    Case(
        "a json array of objects and other values",
        "a.json",
        ("[" + J1 + ", 5, " + J2 + ', "x", [' + J1 + "]]").encode(),
        loaded=2,
        rejected=["not a JSON object", "not a JSON object", "not a JSON object"],
        check=(POSITIONS, ("2,4,5",)),
    ),
    Case("an empty json array", "a.json", b"[]", loaded=0),
    Case("a json array of whitespace", "a.json", b"[ \n\t ]\n", loaded=0),
    Case("an opening bracket only", "a.json", b"[", loaded=0, optional_reject="truncated"),
    Case(
        "json array with a UTF-8 BOM",
        "a.json",
        b"\xef\xbb\xbf" + json.dumps([OBJ1, OBJ2]).encode(),
        loaded=2,
    ),
    Case("json holding null", "a.json", b"null", file_error="not a JSON array"),
    Case("json of whitespace only", "a.json", b" \n\t\n", file_error="empty"),
    Case("json holding only a BOM", "a.json", b"\xef\xbb\xbf", file_error="empty"),
    Case(
        "json field names in odd case and spaces",
        "a.json",
        b'[{"Order_ID": "O1", " Status ": "paid"}]',
        loaded=1,
        check=("select order_id, status from raw.orders", ("O1", "paid")),
    ),
    Case(
        "a json key twice in another case",
        "a.ndjson",
        b'{"order_id": "O1", "status": "paid", "Status": "SECOND"}\n',
        loaded=1,
        check=(SECOND, ("paid", True)),
    ),
    Case(
        "a json key twice",
        "a.ndjson",
        b'{"order_id": "O1", "status": "paid", "status": "SECOND"}\n',
        loaded=1,
        check=(SECOND, ("paid", True)),
    ),
    Case(
        "a json key twice in a json array",
        "a.json",
        b'[{"order_id": "O1", "status": "paid", "STATUS": "SECOND"}]',
        loaded=1,
        check=(SECOND, ("paid", True)),
    ),
    Case(
        "the json key field twice",
        "a.ndjson",
        b'{"order_id": "O1", "status": "paid", "order_id": "O9"}\n',
        loaded=1,
        check=("select order_id, strpos(_extra::text, 'O9') > 0 from raw.orders", ("O1", True)),
    ),
    Case(
        "ndjson with a UTF-8 BOM",
        "a.ndjson",
        b"\xef\xbb\xbf" + _csv(J1, J2),
        loaded=2,
        check=("select string_agg(order_id, ',' order by order_id) from raw.orders", ("O1,O2",)),
    ),
    Case("a .jsonl file", "a.jsonl", _csv(J1, J2), loaded=2),
    Case("an upper-case .JSON file", "A.JSON", json.dumps([OBJ1]).encode(), loaded=1),
    Case(
        "an ndjson line holding an array of objects",
        "a.ndjson",
        _csv("[" + J1 + "]", J2),
        loaded=1,
        rejected=["not a JSON object"],
        check=(POSITIONS, ("1",)),
    ),
    Case(
        "blank ndjson lines",
        "a.ndjson",
        _csv(J1, "", "  \t", J2),
        loaded=2,
        check=("select _line from raw.orders where order_id = 'O2'", (4,)),
    ),
    Case(
        "ndjson with CRLF",
        "a.ndjson",
        _csv(J1, J2, sep="\r\n"),
        loaded=2,
        check=("select status from raw.orders where order_id = 'O2'", ("placed",)),
    ),
    Case("ndjson without a newline at the end", "a.ndjson", (J1 + "\n" + J2).encode(), loaded=2),
    Case(
        "an ndjson line with text after the object",
        "a.ndjson",
        _csv(J1 + " x", J2),
        loaded=1,
        rejected=["invalid JSON"],
        check=(REJECT, (1, J1 + " x")),
    ),
    Case(
        "an ndjson line holding null",
        "a.ndjson",
        _csv(J1, "null"),
        loaded=1,
        rejected=["not a JSON object"],
        check=(REJECT, (2, "null")),
    ),
    Case("an empty ndjson file", "a.ndjson", b"", file_error="empty"),
]

# -- 6b. CSV headers ---------------------------------------------------------------------------------------
HEADERS = [
    Case(
        "a header naming a field twice",
        "a.csv",
        _csv(ORDERS + ",status", O1 + ",SECOND"),
        loaded=1,
        check=(SECOND, ("paid", True)),
        notes="duplicate",
    ),
    Case(
        "a header naming a field twice in another case",
        "a.csv",
        _csv(ORDERS + ",STATUS", O1 + ",SECOND"),
        loaded=1,
        check=(SECOND, ("paid", True)),
        notes="duplicate",
    ),
    Case(
        "a header naming the key twice",
        "a.csv",
        _csv(ORDERS + ",Order_ID", O1 + ",O9", O2 + ",O8"),
        loaded=2,
        check=(
            "select string_agg(order_id, ',' order by order_id), bool_and(strpos(_extra::text, 'O9') > 0"
            " or strpos(_extra::text, 'O8') > 0) from raw.orders",
            ("O1,O2", True),
        ),
        notes="duplicate",
    ),
    Case(
        "an empty header name",
        "a.csv",
        _csv("order_id,,customer_id,status", "O1,EMPTYCOL,C1,paid"),
        loaded=1,
        check=(
            "select customer_id, status, strpos(_extra::text, 'EMPTYCOL') > 0 from raw.orders",
            ("C1", "paid", True),
        ),
        notes=("empty", "no name", "unnamed", "column_2", "column 2"),
    ),
    Case(
        "a trailing delimiter on the header and every row",
        "a.csv",
        _csv(ORDERS + ",", O1 + ",", O2 + ","),
        loaded=2,
        check=(PAYMENTS, ("card|paypal",)),
    ),
    Case(
        "a megabyte-long header",
        "a.csv",
        _csv(WIDE_HEADER, O1 + "," * 40_000, O2 + "," * 40_000),
        loaded=2,
        or_file_error="header",
    ),
    Case(
        "quoted header names",
        "a.csv",
        _csv(",".join(f'"{n}"' for n in ORDERS.split(",")), O1, O2),
        loaded=2,
        check=(PAYMENTS, ("card|paypal",)),
    ),
    Case(
        "a BOM before quoted header names",
        "a.csv",
        b"\xef\xbb\xbf" + _csv(",".join(f'"{n}"' for n in ORDERS.split(",")), O1),
        loaded=1,
        check=("select order_id, payment_method from raw.orders", ("O1", "card")),
    ),
    Case("a file holding only a BOM", "a.csv", b"\xef\xbb\xbf", file_error="empty"),
    Case("a BOM and blank lines", "a.csv", b"\xef\xbb\xbf\r\n\r\n", file_error="empty"),
    Case("blank lines only", "a.csv", b"\n\n  \n", file_error="empty"),
    Case("64 KB of NUL bytes", "a.csv", b"\x00" * 65_536, file_error=("NUL", "binary")),
    Case(
        "order items without line_number",
        "i.csv",
        _csv("order_id,product_id,quantity,unit_price", "O1,P1,1,9.99"),
        entity="order_items",
        file_error="key field(s) line_number",
    ),
    Case(
        "order items",
        "i.csv",
        _csv("order_id,line_number,product_id,quantity,unit_price", "O1,1,P1,1,9.99", "O1,2,P2,3,1.50"),
        loaded=2,
        entity="order_items",
        check=(
            "select string_agg(unit_price, '|' order by line_number) from raw.order_items",
            ("9.99|1.50",),
        ),
    ),
]

# -- 7. Encodings ------------------------------------------------------------------------------------------
JC1 = dict(zip(CUSTOMERS.split(","), C1.split(","), strict=True))
JC2 = dict(zip(CUSTOMERS.split(","), C2.split(","), strict=True))
JC3 = JC1 | {"customer_id": "C3", "first_name": "Søren", "city": "Köln"}
CITIES = "select string_agg(first_name || '/' || city, '|' order by customer_id) from raw.customers"
ENCODINGS = [
    Case(
        "latin-1 whose first non-ASCII byte comes after 1.5 MB",
        "c.csv",
        (CUSTOMERS + "\n" + "\n".join(ASCII_ROWS) + "\n" + ZOE + "\n").encode("latin-1"),
        loaded=20_001,
        entity="customers",
        check=("select first_name from raw.customers where customer_id = 'CZ'", ("Zoé",)),
    ),
    Case(
        "utf-8 whose first non-ASCII byte comes after 1.5 MB",
        "c.csv",
        (CUSTOMERS + "\n" + "\n".join(ASCII_ROWS) + "\n" + ZOE + "\n").encode(),
        loaded=20_001,
        entity="customers",
        check=("select first_name from raw.customers where customer_id = 'CZ'", ("Zoé",)),
    ),
    Case(
        "a utf-8 character cut by the first megabyte",
        "c.csv",
        (NEAR_SAMPLE + _customer("CZ", "a" * CUT_PAD + "é") + "\n" + C2 + "\n").encode(),
        loaded=12_002,
        entity="customers",
        check=(
            "select right(first_name, 2), length(first_name) from raw.customers where customer_id = 'CZ'",
            ("aé", CUT_PAD + 1),
        ),
    ),
    Case(
        "windows-1252 quotes, dash and euro",
        "c.csv",
        (CUSTOMERS + "\n" + _customer("C1", "“Chloé”", city="Lyon – 5 €") + "\n").encode("cp1252"),
        loaded=1,
        entity="customers",
        check=("select first_name, city from raw.customers", ("“Chloé”", "Lyon – 5 €")),
    ),
    Case(
        "utf-8 with a few latin-1 rows",
        "c.csv",
        b"".join(
            (line + "\n").encode(enc)
            for line, enc in [
                (CUSTOMERS, "utf-8"),
                (_customer("C1", "Müller"), "utf-8"),
                (_customer("C2", "Jürgen", city="Köln"), "utf-8"),
                (_customer("C3", "Zoé"), "latin-1"),
                (_customer("C4", "Björn"), "utf-8"),
                (_customer("C5", "Léa", city="Nîmes"), "latin-1"),
                (_customer("C6", "Søren"), "utf-8"),
            ]
        ),
        loaded=4,
        entity="customers",
        rejected=["undecodable bytes", "undecodable bytes"],
        checks=((POSITIONS, ("3,5",)), (CITIES, ("Müller/Lyon|Jürgen/Köln|Björn/Lyon|Søren/Lyon",))),
    ),
    Case(
        "utf-16 LE with a BOM",
        "c.csv",
        b"\xff\xfe" + f"{CUSTOMERS}\r\n{C1}\r\n{C2}\r\n".encode("utf-16-le"),
        loaded=2,
        entity="customers",
        check=(CITIES, ("Chloé/Lyon|Ben/Paris",)),
        notes="UTF-16",
    ),
    Case(
        "utf-16 BE with a BOM",
        "c.csv",
        b"\xfe\xff" + f"{CUSTOMERS}\n{C1}\n{C2}\n".encode("utf-16-be"),
        loaded=2,
        entity="customers",
        check=(CITIES, ("Chloé/Lyon|Ben/Paris",)),
        notes="UTF-16",
    ),
    Case(
        "utf-16 LE tab-separated (a spreadsheet's Unicode text)",
        "c.csv",
        b"\xff\xfe" + f"{CUSTOMERS}\r\n{C1}\r\n{C2}\r\n".replace(",", "\t").encode("utf-16-le"),
        loaded=2,
        entity="customers",
        check=(CITIES, ("Chloé/Lyon|Ben/Paris",)),
        notes="UTF-16",
    ),
    Case(
        "ndjson in utf-16 LE with a BOM, a character holding a 0x0A byte",
        "c.ndjson",
        "\n".join(json.dumps(o, ensure_ascii=False) for o in (JC1, JC2 | {"city": "Pa\u0a0aris"})).encode(
            "utf-16"
        ),
        loaded=2,
        entity="customers",
        check=(CITIES, ("Chloé/Lyon|Ben/Pa\u0a0aris",)),
        notes="UTF-16",
    ),
    Case(
        "json array in utf-16 BE without a BOM",
        "c.json",
        json.dumps([JC1, JC2], ensure_ascii=False).encode("utf-16-be"),
        loaded=2,
        entity="customers",
        check=(CITIES, ("Chloé/Lyon|Ben/Paris",)),
        notes="UTF-16",
    ),
    Case(
        "ndjson in utf-16 LE cut in the middle of a character (an odd byte at the end)",
        "c.ndjson",
        (json.dumps(JC1, ensure_ascii=False) + "\n" + json.dumps(JC2)).encode("utf-16-le")[:-1],
        loaded=1,
        entity="customers",
        rejected=["undecodable bytes (not valid utf-16-le)"],
        check=(POSITIONS, ("2",)),
    ),
    Case(
        "csv in utf-16 LE with a BOM cut in the middle of a character",
        "c.csv",
        b"\xff\xfe" + f"{CUSTOMERS}\n{C1}\n{C2}".encode("utf-16-le")[:-1],
        loaded=1,
        entity="customers",
        rejected=["undecodable bytes"],
        checks=((POSITIONS, ("2",)), (CITIES, ("Chloé/Lyon",))),
        notes="UTF-16",
    ),
    Case(
        "ndjson in windows-1252 (curly quotes, euro)",
        "c.ndjson",
        json.dumps(JC1 | {"first_name": "“Chloé”", "city": "Lyon – 5 €"}, ensure_ascii=False).encode(
            "cp1252"
        ),
        loaded=1,
        entity="customers",
        check=(CITIES, ("“Chloé”/Lyon – 5 €",)),
    ),
    Case(
        "json array in latin-1",
        "c.json.gz",
        gzip.compress(json.dumps([JC1, JC2 | {"city": "Nîmes"}], ensure_ascii=False).encode("latin-1")),
        loaded=2,
        entity="customers",
        check=(CITIES, ("Chloé/Lyon|Ben/Nîmes",)),
    ),
    Case(
        "ndjson in utf-8 with one latin-1 line",
        "c.ndjson",
        b"".join(
            (json.dumps(o, ensure_ascii=False) + "\n").encode(enc)
            for o, enc in [(JC1, "utf-8"), (JC2 | {"first_name": "Zoé"}, "latin-1"), (JC3, "utf-8")]
        ),
        loaded=2,
        entity="customers",
        rejected=["undecodable bytes (not valid utf-8)"],
        checks=((POSITIONS, ("2",)), (CITIES, ("Chloé/Lyon|Søren/Köln",))),
    ),
    Case(
        "ndjson with a utf-8 BOM",
        "c.ndjson",
        b"\xef\xbb\xbf" + "\n".join(json.dumps(o, ensure_ascii=False) for o in (JC1, JC2)).encode(),
        loaded=2,
        entity="customers",
        check=(CITIES, ("Chloé/Lyon|Ben/Paris",)),
    ),
    Case(
        "utf-8 BOM and semicolons",
        "a.csv",
        b"\xef\xbb\xbf" + _csv(*(line.replace(",", ";") for line in (ORDERS, O1, O2))),
        loaded=2,
        check=(
            "select string_agg(order_id || '/' || payment_method, '|' order by order_id) from raw.orders",
            ("O1/card|O2/paypal",),
        ),
    ),
    Case(
        "latin-1 and semicolons",
        "c.csv",
        (CUSTOMERS.replace(",", ";") + "\n" + C1.replace(",", ";") + "\n").encode("latin-1"),
        loaded=1,
        entity="customers",
        check=("select first_name from raw.customers", ("Chloé",)),
    ),
    Case(
        "emoji, CJK, right-to-left and combining characters",
        "c.csv",
        _csv(
            CUSTOMERS,
            "C1,e\u0301@example.com,\U0001f469\u200d\U0001f4bb,山田,EG,"
            "\u0627\u0644\u0642\u0627\u0647\u0631\u0629,2026-01-01,2026-01-01",
        ),
        loaded=1,
        entity="customers",
        check=(
            "select email, first_name, last_name, city from raw.customers",
            (
                "e\u0301@example.com",
                "\U0001f469\u200d\U0001f4bb",
                "山田",
                "\u0627\u0644\u0642\u0627\u0647\u0631\u0629",
            ),
        ),
    ),
    Case(
        "leading and trailing spaces kept",
        "a.csv",
        _csv(
            ORDERS,
            _order("O1", customer_id=" C1 ", status="  paid  ", payment_method="card "),
            _order("O2", status='"  placed  "'),
        ),
        loaded=2,
        check=(
            "select string_agg('[' || customer_id || '|' || status || '|' || payment_method || ']', ''"
            " order by order_id) from raw.orders",
            ("[ C1 |  paid  |card ][C1|  placed  |card]",),
        ),
    ),
    Case(
        "NULL, null and \\N are text in a csv",
        "a.csv",
        _csv(ORDERS, _order("O1", customer_id="\\N", status="NULL", payment_method="null")),
        loaded=1,
        check=("select customer_id, status, payment_method from raw.orders", ("\\N", "NULL", "null")),
    ),
]

# -- 8. Compression ----------------------------------------------------------------------------------------
TRUNCATED_NDJSON = "".join(
    json.dumps({"order_id": f"O{i}", "status": str(i * 7919)}) + "\n" for i in range(5000)
)
TRUNCATED_ARRAY = json.dumps([{"order_id": f"O{i}", "status": str(i * 7919)} for i in range(5000)])
COMPRESSION = [
    Case(
        "gzip bytes in a .csv",
        "a.csv",
        gzip.compress(_csv(ORDERS, O1, O2)),
        loaded=2,
        check=(PAYMENTS, ("card|paypal",)),
        notes="gzip",
    ),
    Case("gzip bytes in a .ndjson", "a.ndjson", gzip.compress(_csv(J1, J2)), loaded=2, notes="gzip"),
    Case(
        "trailing garbage after the gzip member",
        "a.csv.gz",
        gzip.compress(_csv(ORDERS, O1, O2)) + b"GARBAGE AFTER THE MEMBER\n",
        loaded=2,
        optional_reject="trailing",
        mention="trailing",
    ),
    Case(
        "zero padding after the gzip member",
        "a.csv.gz",
        gzip.compress(_csv(ORDERS, O1, O2)) + b"\x00" * 512,
        loaded=2,
        optional_reject="trailing",
    ),
    # the content decides, not the name: read as is, and said
    Case("a .csv.gz that is not gzip", "a.csv.gz", _csv(ORDERS, O1), loaded=1, notes="not compressed"),
    Case(
        "a .json.gz that is not gzip",
        "a.json.gz",
        json.dumps([OBJ1]).encode(),
        loaded=1,
        notes="not compressed",
    ),
    Case("a .ndjson.gz that is not gzip", "a.ndjson.gz", _csv(J1), loaded=1, notes="not compressed"),
    Case(
        "two gzip members",
        "a.csv.gz",
        gzip.compress(_csv(ORDERS, O1)) + gzip.compress(_csv(O2, _order("O3"))),
        loaded=3,
        check=(PAYMENTS, ("card|paypal|card",)),
    ),
    Case(
        "two gzip members of ndjson",
        "a.ndjson.gz",
        gzip.compress(_csv(J1)) + gzip.compress(_csv(J2)),
        loaded=2,
    ),
    Case(
        "truncated gzip ndjson",
        "a.ndjson.gz",
        gzip.compress(TRUNCATED_NDJSON.encode())[:8000],
        loaded=-1,
        rejected=["compressed stream broken"],
    ),
    Case(
        "truncated gzip json array",
        "a.json.gz",
        gzip.compress(TRUNCATED_ARRAY.encode())[:8000],
        loaded=-1,
        rejected=["compressed stream broken"],
    ),
    Case("gzip of nothing", "a.csv.gz", gzip.compress(b""), file_error="empty"),
    Case("a zero-byte .csv.gz", "a.csv.gz", b"", file_error=("empty", "gzip")),
    Case("an upper-case .CSV.GZ", "A.CSV.GZ", gzip.compress(_csv(ORDERS, O1, O2)), loaded=2),
    Case("a .jsonl.gz", "a.jsonl.gz", gzip.compress(_csv(J1, J2)), loaded=2),
]

# -- 10. Odd rows, odd names -------------------------------------------------------------------------------
ODD = [
    Case(
        "a key-only row",
        "a.csv",
        _csv(ORDERS, "O1,,,,,,,"),
        loaded=1,
        check=("select order_id, customer_id, payment_method from raw.orders", ("O1", None, None)),
    ),
    Case(
        "a key-only file",
        "a.csv",
        _csv("order_id", "O1", "O2"),
        loaded=2,
        check=("select count(*), count(status) from raw.orders", (2, 0)),
    ),
    Case(
        "a trailing delimiter on one row",
        "a.csv",
        _csv(ORDERS, O1 + ",", O2),
        loaded=1,
        rejected=["expected 8 fields, got 9"],
        check=(REJECT, (1, O1 + ",")),
    ),
    Case(
        "a whitespace-only line",
        "a.csv",
        _csv(ORDERS, O1, "   ", O2),
        loaded=2,
        rejected=["expected 8 fields, got 1"],
        check=(REJECT, (2, "   ")),
    ),
    Case(
        "a row of only delimiters",
        "a.csv",
        _csv(ORDERS, O1, ",,,,,,,"),
        loaded=2,
        check=("select count(*) from raw.orders where order_id is null and payment_method is null", (1,)),
    ),
    Case(
        "a row of too few delimiters",
        "a.csv",
        _csv(ORDERS, ",,,", O1),
        loaded=1,
        rejected=["expected 8 fields, got 4"],
        check=(REJECT, (1, ",,,")),
    ),
    Case(
        "a row of 10,000 fields",
        "a.csv",
        _csv(ORDERS, O1, "O2" + ",x" * 9_999),
        loaded=1,
        rejected=["expected 8 fields, got 10000"],
        check=(
            "select position, length(raw_content), left(raw_content, 6) from raw.load_rejects",
            (2, 20_000, "O2,x,x"),
        ),
    ),
    Case("a .csv.bak", "a.csv.bak", _csv(ORDERS, O1), file_error="unknown format 'bak'"),
    Case("no extension", "orders", _csv(ORDERS, O1), file_error="unknown format ''"),
    Case("a .txt.gz", "a.txt.gz", gzip.compress(_csv(ORDERS, O1)), file_error="unknown format 'txt'"),
    Case("a dotted name", "orders.2026-11-20.csv", _csv(ORDERS, O1), loaded=1),
    Case(
        "a file nobody may read",
        "a.csv",
        _csv(ORDERS, O1),
        file_error=("Permission denied", "permission denied", "cannot read", "not readable", "unreadable"),
        mode=0o000,
    ),
]

CASES.extend(
    [
        *QUOTING,
        *UNTERMINATED,
        *BYTES,
        *LINE_ENDINGS,
        *NUMBERS,
        *JSON_SHAPES,
        *HEADERS,
        *ENCODINGS,
        *COMPRESSION,
        *ODD,
    ]
)


def _fragments(expected: str | tuple[str, ...]) -> tuple[str, ...]:
    return (expected,) if isinstance(expected, str) else expected


@pytest.fixture
def raw(warehouse_url: str):
    return reset_raw(warehouse_url)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, raw: str, tmp_path: Path) -> None:
    path = tmp_path / case.filename
    path.write_bytes(case.content)
    if case.mode is not None:
        if os.geteuid() == 0:
            pytest.skip("root reads any file")
        path.chmod(case.mode)
    result = load_file(raw, case.entity, path)
    with psycopg.connect(raw) as conn:
        ledger = conn.execute(
            "select status, rows_read, rows_loaded, rows_rejected, error from raw.load_ledger"
        ).fetchall()
        rejects = conn.execute("select position, reason from raw.load_rejects order by position").fetchall()
        notes = None
        if case.notes or case.mention:
            (notes,) = conn.execute("select coalesce(notes::text, '') from raw.load_ledger").fetchone()
        checks = [case.check] if case.check else []
        got = [(q, conn.execute(q).fetchone(), expected) for q, expected in [*checks, *case.checks]]
    reasons = [reason for _, reason in rejects]
    if case.file_error or (case.or_file_error and result.status == "rejected"):
        error = result.error or ""
        assert result.status == "rejected", f"{result.status}: loaded {result.rows_loaded}, rejects {reasons}"
        assert any(f in error for f in _fragments(case.file_error or case.or_file_error)), error
        assert "\x00" not in error and len(error) < 1000 and case.filename in error, error
        assert ledger == [("rejected", 0, 0, 0, result.error)] and reasons == []
        return
    assert result.status == "loaded", result.error
    summary = f"loaded {result.rows_loaded}, rejects {reasons}"
    if case.loaded >= 0:
        assert result.rows_loaded == case.loaded, summary
    if case.optional_reject is not None:
        assert len(reasons) <= 1 and all(case.optional_reject in r for r in reasons), summary
    else:
        assert len(reasons) == len(case.rejected), summary
        for reason, fragment in zip(reasons, case.rejected, strict=True):
            assert fragment in reason, summary
    assert result.rows_rejected == len(reasons) and all(p is not None and p >= 1 for p, _ in rejects), rejects
    ((status, read, loaded, rejected, _),) = ledger
    assert (status, loaded, rejected) == ("loaded", result.rows_loaded, result.rows_rejected)
    assert read == loaded + rejected == result.rows_read
    if case.notes:
        assert any(f in notes for f in _fragments(case.notes)), f"notes: {notes!r}"
    if case.mention:
        assert case.mention in notes or any(case.mention in r for r in reasons), f"notes {notes!r}, {summary}"
    for query, row, expected in got:
        assert row == expected, query


def test_a_rejected_file_does_not_stop_the_others(raw: str, tmp_path: Path) -> None:
    (tmp_path / "1-bad.csv").write_bytes(_csv("id,name", "1,x"))
    (tmp_path / "2-good.csv").write_bytes(_csv(ORDERS, O1, O2))
    (tmp_path / "notes.txt").write_text("not a source file")
    results = load_folder(raw, "orders", tmp_path)
    assert [(Path(r.source).name, r.status, r.rows_loaded) for r in results] == [
        ("1-bad.csv", "rejected", 0),
        ("2-good.csv", "loaded", 2),
    ]


def test_a_directory_named_like_a_source_file_is_not_loaded(raw: str, tmp_path: Path) -> None:
    (tmp_path / "a.csv").mkdir()
    (tmp_path / "a.csv" / "inner.csv").write_bytes(_csv(ORDERS, O2))
    (tmp_path / "b.csv").write_bytes(_csv(ORDERS, O1))
    results = load_folder(raw, "orders", tmp_path)
    assert [(Path(r.source).name, r.status, r.rows_loaded) for r in results] == [("b.csv", "loaded", 1)]


def test_a_symlink_in_the_folder_is_not_loaded(raw: str, tmp_path: Path) -> None:
    folder, elsewhere = tmp_path / "orders", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    (elsewhere / "secret.csv").write_bytes(_csv(ORDERS, O2))
    (folder / "a-link.csv").symlink_to(elsewhere / "secret.csv")
    (folder / "b-dangling.csv").symlink_to(elsewhere / "missing.csv")
    (folder / "c.csv").write_bytes(_csv(ORDERS, O1))
    results = load_folder(raw, "orders", folder)
    assert [(Path(r.source).name, r.status, r.rows_loaded) for r in results] == [("c.csv", "loaded", 1)]
