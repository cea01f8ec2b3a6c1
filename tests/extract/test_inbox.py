"""The inbox on a real Postgres: what is new wherever it sits, what is not an export, files still being
written, and an inbox that is only ever read."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import psycopg
import pytest

from extract.inbox import collect, scan
from extract.landing import land
from simshop.sample import write_days
from tests.inbox_runs import inbox_state
from tests.raw_layer import reset_raw

DAY1, DAY2 = date(2026, 11, 19), date(2026, 11, 20)
HEADER = "order_id,customer_id,status,ordered_at,updated_at,shipping_amount,discount_amount,payment_method\n"


@pytest.fixture
def db(warehouse_url: str) -> str:
    return reset_raw(warehouse_url)


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    write_days(folder, DAY1, 2)
    return folder


def _ledger(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select source, status, day_folder, rows_loaded, duplicate_of is not null from raw.load_ledger"
            " order by batch_id"
        ).fetchall()


def test_collects_everything_new_in_load_order_and_never_writes_the_inbox(db: str, inbox: Path) -> None:
    before = inbox_state(inbox)
    found, results = land(db, inbox, progress=False, settle_seconds=0)
    assert [(r.entity, r.status, r.day_folder) for r in results][:2] == [
        ("customers", "loaded", "2026-11-19"),
        ("customers", "loaded", "2026-11-20"),
    ]
    order = [r.entity for r in results]
    assert order.index("orders") > max(order.index("customers"), order.index("products"))
    assert len(results) == len(found.new) == 10 and found.seen == 0 and not found.ignored
    assert sum(r.rows_read for r in results) == sum(r.rows_loaded for r in results) > 200
    again = scan(db, inbox, settle_seconds=0)
    assert (again.new, again.seen) == ([], 10)
    assert inbox_state(inbox) == before


def test_a_file_resent_into_an_old_day_folder_is_collected_by_the_next_run(db: str, inbox: Path) -> None:
    land(db, inbox, progress=False, settle_seconds=0)
    late = inbox / "orders" / DAY1.isoformat() / "orders-late.csv"
    late.write_text(HEADER + "O-LATE,C0000001,paid,2026-11-19T10:00:00Z,2026-11-19T10:00:00Z,0,0,card\n")
    found, results = land(db, inbox, progress=False, settle_seconds=0)
    assert [f.relative for f in found.new] == [f"orders/{DAY1}/orders-late.csv"]
    assert [(r.status, r.rows_loaded, r.day_folder) for r in results] == [("loaded", 1, "2026-11-19")]


def test_the_same_content_again_is_a_recorded_duplicate_and_a_touched_file_is_not_reloaded(
    db: str, inbox: Path
) -> None:
    land(db, inbox, progress=False, settle_seconds=0)
    original = inbox / "orders" / DAY1.isoformat() / "orders.csv"
    copy = inbox / "orders" / DAY2.isoformat() / "orders-again.csv"
    copy.write_bytes(original.read_bytes())
    os.utime(original, ns=(original.stat().st_atime_ns, original.stat().st_mtime_ns + 10**9))
    _, results = land(db, inbox, progress=False, settle_seconds=0)
    assert sorted((r.source.rsplit("/", 1)[-1], r.status) for r in results) == [
        ("orders-again.csv", "duplicate"),
        ("orders.csv", "duplicate"),  # touched, not changed: recorded as seen, nothing loaded
    ]
    ledger = _ledger(db)
    assert (str(copy), "duplicate", "2026-11-20", 0, True) in ledger
    assert sum(1 for source, status, *_ in ledger if source == str(original) and status == "loaded") == 1
    assert scan(db, inbox, settle_seconds=0).new == []  # both recorded: not read again


def test_what_is_not_an_export_is_listed_with_the_reason(db: str, inbox: Path, tmp_path: Path) -> None:
    (inbox / "refunds" / "2026-11-19").mkdir(parents=True)
    (inbox / "refunds" / "2026-11-19" / "r.csv").write_text("x\n")
    (inbox / "orders" / "stray.csv").write_text(HEADER)
    (inbox / "orders" / "latest").mkdir()
    (inbox / "orders" / DAY1.isoformat() / "notes.txt").write_text("hello")
    (inbox / "orders" / DAY1.isoformat() / ".orders-3.csv.part").write_text(HEADER)
    outside = tmp_path / "elsewhere.csv"
    outside.write_text(HEADER)
    (inbox / "orders" / DAY1.isoformat() / "linked.csv").symlink_to(outside)
    (inbox / "Customers").mkdir()  # the entity folder in another case: still customers
    (inbox / "customers" / DAY1.isoformat() / "customers.csv").rename(inbox / "Customers" / "x.csv")
    (inbox / "Customers" / DAY2.isoformat()).mkdir()
    (inbox / "Customers" / "x.csv").rename(inbox / "Customers" / DAY2.isoformat() / "more.csv")
    found = scan(db, inbox, settle_seconds=0)
    reasons = dict(found.ignored)
    assert reasons["refunds/"].startswith("not an entity folder")
    assert reasons["orders/stray.csv"].startswith("not in a day folder")
    assert reasons["orders/latest/"] == "not a day folder (YYYY-MM-DD)"
    assert reasons[f"orders/{DAY1}/notes.txt"].startswith("not an export")
    assert reasons[f"orders/{DAY1}/.orders-3.csv.part"].startswith("a hidden or temporary file")
    assert reasons[f"orders/{DAY1}/linked.csv"].startswith("a symbolic link")
    assert f"Customers/{DAY2}/more.csv" in {f.relative for f in found.new if f.entity == "customers"}


def test_a_file_still_being_written_waits_and_one_that_changes_while_loading_is_rolled_back(
    db: str, inbox: Path
) -> None:
    path = inbox / "orders" / DAY2.isoformat() / "orders.csv"
    clock = {"now": path.stat().st_mtime + 1}

    def sleep(seconds: float) -> None:  # the writer appends while the scan waits
        clock["now"] += seconds
        with path.open("a") as out:
            out.write("O-MORE,C0000001,paid,2026-11-20T10:00:00Z,2026-11-20T10:00:00Z,0,0,card\n")

    found = scan(db, inbox, settle_seconds=5, clock=lambda: clock["now"], sleep=sleep)
    assert [f.relative for f in found.waiting] == [f"orders/{DAY2}/orders.csv"]
    assert path.name not in {f.name for f in found.new if f.day == DAY2.isoformat() and f.entity == "orders"}

    found = scan(db, inbox, settle_seconds=0)
    target = next(f for f in found.new if f.relative == f"orders/{DAY2}/orders.csv")
    with path.open("a") as out:  # it changes after the scan: the load takes nothing
        out.write("O-LAST,C0000001,paid,2026-11-20T11:00:00Z,2026-11-20T11:00:00Z,0,0,card\n")
    (result,) = collect(db, inbox, [target])
    assert result.status == "changed"
    with psycopg.connect(db) as conn:
        assert conn.execute("select count(*) from raw.load_ledger").fetchone()[0] == 0
    assert scan(db, inbox, settle_seconds=0).new[0].entity == "customers"  # everything still new


def test_what_is_ignored_is_kept_in_the_ledger_and_a_file_that_breaks_the_reader_stops_no_other(
    db: str, inbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (inbox / "orders" / "stray.csv").write_text(HEADER)
    from extract import inbox as module

    real = module.load_file

    def explode(conninfo, entity, path, *args):
        if path.name == "orders.csv" and DAY1.isoformat() in str(path):
            raise RuntimeError("a reader bug")
        return real(conninfo, entity, path, *args)

    monkeypatch.setattr(module, "load_file", explode)
    _, results = land(db, inbox, progress=False, settle_seconds=0, run_id="run-1")
    broken = [r for r in results if r.status == "rejected"]
    assert len(broken) == 1 and "RuntimeError: a reader bug" in broken[0].error
    assert sum(r.status == "loaded" for r in results) == 9  # every other file loaded
    with psycopg.connect(db) as conn:
        ignored = conn.execute("select source, reason, run_id from raw.load_ignored").fetchall()
    assert ignored == [
        (f"{inbox}/orders/stray.csv", "not in a day folder (<entity>/<YYYY-MM-DD>/<file>)", "run-1")
    ]
    monkeypatch.setattr(module, "load_file", real)
    again = scan(db, inbox, settle_seconds=0)  # a file that could not be read is tried again
    assert [f.name for f in again.new] == ["orders.csv"]
