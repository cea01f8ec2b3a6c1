"""A corpus of what real exports get wrong, each with its expected outcome on a real Postgres:
loaded (maybe with some rows rejected, each with its reason) or the whole file rejected with a clear error.
For every batch the ledger holds rows read = loaded + rejected."""

from __future__ import annotations

import gzip
import json
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
OBJ1 = {"order_id": "O1", "customer_id": "C1", "status": "paid", "shipping_amount": "4.90"}
OBJ2 = {"order_id": "O2", "customer_id": "C2", "status": "placed", "shipping_amount": 0}


def _csv(*lines: str, sep: str = "\n") -> bytes:
    return (sep.join(lines) + sep).encode("utf-8")


@dataclass
class Case:
    name: str
    filename: str
    content: bytes
    loaded: int = 0
    rejected: list[str] = field(default_factory=list)  # a reason fragment per rejected row
    file_error: str | None = None  # the whole file is rejected with this in its error
    entity: str = "orders"
    check: tuple[str, tuple] | None = None  # (query, expected first row)


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


@pytest.fixture
def raw(warehouse_url: str):
    return reset_raw(warehouse_url)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, raw: str, tmp_path: Path) -> None:
    path = tmp_path / case.filename
    path.write_bytes(case.content)
    result = load_file(raw, case.entity, path)
    with psycopg.connect(raw) as conn:
        ledger = conn.execute(
            "select status, rows_read, rows_loaded, rows_rejected, error from raw.load_ledger"
        ).fetchall()
        reasons = [r for (r,) in conn.execute("select reason from raw.load_rejects order by position")]
        if case.check:
            assert conn.execute(case.check[0]).fetchone() == case.check[1]
    if case.file_error:
        assert result.status == "rejected" and case.file_error in result.error
        assert ledger == [("rejected", 0, 0, 0, result.error)] and reasons == []
        return
    assert result.status == "loaded"
    if case.loaded >= 0:
        assert result.rows_loaded == case.loaded
    assert len(reasons) == len(case.rejected) == result.rows_rejected
    for reason, fragment in zip(reasons, case.rejected, strict=True):
        assert fragment in reason
    ((status, read, loaded, rejected, _),) = ledger
    assert (status, loaded, rejected) == ("loaded", result.rows_loaded, result.rows_rejected)
    assert read == loaded + rejected


def test_a_rejected_file_does_not_stop_the_others(raw: str, tmp_path: Path) -> None:
    (tmp_path / "1-bad.csv").write_bytes(_csv("id,name", "1,x"))
    (tmp_path / "2-good.csv").write_bytes(_csv(ORDERS, O1, O2))
    (tmp_path / "notes.txt").write_text("not a source file")
    results = load_folder(raw, "orders", tmp_path)
    assert [(Path(r.source).name, r.status, r.rows_loaded) for r in results] == [
        ("1-bad.csv", "rejected", 0),
        ("2-good.csv", "loaded", 2),
    ]
