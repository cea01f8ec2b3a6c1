"""The shop data generator and its landing writer: deterministic, dirty as asked, and its manifest true.

The landing files are parsed here with csv/json only (not with the project's loader), the contract's
rules are applied to them independently, and the result must equal the manifest's ground truth.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from extract.contract import FIELDS, KEYS, REVENUE_STATUSES
from simshop import faults
from simshop.__main__ import main as cli
from simshop.generator import GeneratorConfig, iter_days
from simshop.writers import write_landing

DIRTY = GeneratorConfig(seed=11, start=date(2026, 3, 6), days=4, orders_per_day=200, fault_rate=0.05)
CLEAN = GeneratorConfig(seed=5, start=date(2026, 3, 6), days=3, orders_per_day=150, fault_rate=0)


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    landing = tmp_path_factory.mktemp("dirty")
    return landing, write_landing(DIRTY, landing, progress=False)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    landing = tmp_path_factory.mktemp("clean")
    return landing, write_landing(CLEAN, landing, progress=False)


# -- reading the files back, like a loader, with csv and json only ---------------------------------
def _bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def _record(entity: str, obj: dict[str, Any]) -> dict[str, str | None]:
    named = {str(k).strip().lower(): v for k, v in obj.items()}
    return {f: (named.get(f) if named.get(f) != "" else None) for f in FIELDS[entity]}


def read_file(landing: Path, entry: dict) -> tuple[list[dict], list[int]]:
    """(records that load, positions that must be rejected), found from the bytes alone."""
    data, entity = _bytes(landing / entry["path"]), entry["entity"]
    records, rejects = [], []
    if entry["format"] == "json":
        text, decoder = data.decode("utf-8"), json.JSONDecoder()
        at = text.index("[") + 1
        while True:
            while at < len(text) and text[at] in " \r\n\t,":
                at += 1
            if at >= len(text) or text[at] == "]":
                return records, rejects
            try:
                obj, at = decoder.raw_decode(text, at)
            except json.JSONDecodeError:
                return records, [len(records) + 1]
            records.append(_record(entity, obj))
    if entry["format"] == "ndjson":
        for line_no, line in enumerate(data.decode("utf-8").split("\n"), start=1):
            if line:
                try:
                    records.append(_record(entity, json.loads(line)))
                except json.JSONDecodeError:
                    rejects.append(line_no)
        return records, rejects
    text = data.decode(entry["encoding"], errors="surrogateescape")
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=entry["delimiter"])
    header = [h.strip().lower() for h in next(rows)]
    if not set(KEYS[entity]) <= set(header):
        return [], [-1]  # no recognisable header: the whole file
    for position, row in enumerate(rows, start=1):
        try:
            "".join(row).encode("utf-8")
        except UnicodeEncodeError:
            rejects.append(position)
            continue
        if len(row) != len(header):
            rejects.append(position)
            continue
        records.append(_record(entity, dict(zip(header, row, strict=True))))
    return records, rejects


def read_landing(landing: Path, manifest: dict) -> dict[str, list[tuple[str, dict]]]:
    """entity -> [(day folder, record)] over every file, checking each file's rejects against the manifest."""
    out: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    for entry in manifest["files"]:
        records, rejects = read_file(landing, entry)
        if entry["file_rejected"]:
            assert rejects == [-1], entry["path"]
        else:
            assert rejects == [r["position"] for r in entry["rejects"]], entry["path"]
            assert len(records) == entry["loadable"], entry["path"]
        out[entry["entity"]] += [(entry["date"], r) for r in records]
    return out


# -- the contract's rules, applied independently ---------------------------------------------------
def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _positive(value: str | None) -> bool:
    return value is not None and Decimal(value) > 0


def expected_truth(data: dict[str, list[tuple[str, dict]]]) -> dict[str, tuple[int, str]]:
    """day -> (clean orders, net revenue) from the landed records."""
    latest: dict[str, tuple[str, dict]] = {}
    for day, rec in data["orders"]:
        if rec["order_id"] not in latest or rec["updated_at"] > latest[rec["order_id"]][1]["updated_at"]:
            latest[rec["order_id"]] = (day, rec)
    items: dict[str, dict] = defaultdict(dict)
    for _, rec in data["order_items"]:
        items[rec["order_id"]][rec["line_number"]] = rec
    customers = {rec["customer_id"] for _, rec in data["customers"]}
    truth: dict[str, list] = defaultdict(lambda: [0, Decimal("0.00")])
    for order_id, (day, o) in latest.items():
        lines = list(items[order_id].values())
        if not (o["customer_id"] and o["status"] and o["ordered_at"]) or not lines:
            continue
        load_time = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(days=1)
        if _at(o["ordered_at"]) > load_time + timedelta(days=1) or o["customer_id"] not in customers:
            continue
        if Decimal(o["shipping_amount"]) < 0 or Decimal(o["discount_amount"]) < 0:
            continue
        if not all(
            it["product_id"] and _positive(it["quantity"]) and _positive(it["unit_price"]) for it in lines
        ):
            continue
        ordered = o["ordered_at"][:10]
        truth[ordered][0] += 1
        if o["status"] in REVENUE_STATUSES:
            subtotal = sum(Decimal(it["quantity"]) * Decimal(it["unit_price"]) for it in lines)
            truth[ordered][1] += subtotal - Decimal(o["discount_amount"]) + Decimal(o["shipping_amount"])
    return {day: (n, str(revenue)) for day, (n, revenue) in truth.items()}


def _manifest_truth(manifest: dict) -> dict[str, tuple[int, str]]:
    return {d["date"]: (d["clean_orders"], d["net_revenue"]) for d in manifest["days"]}


# -- tests -------------------------------------------------------------------------------------------
def test_same_config_gives_the_same_bytes(tmp_path: Path) -> None:
    config = GeneratorConfig(seed=3, start=date(2026, 5, 1), days=2, orders_per_day=80, fault_rate=0.05)
    first, second = tmp_path / "a", tmp_path / "b"
    write_landing(config, first, progress=False)
    write_landing(config, second, progress=False)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)
    assert [d.records for d in iter_days(config)] == [d.records for d in iter_days(config)]


def test_clean_run_has_no_faults_and_its_revenue_is_in_the_files(clean: tuple[Path, dict]) -> None:
    landing, manifest = clean
    assert all(kind["count"] == 0 for kind in manifest["faults"].values())
    assert manifest["load"]["rows_rejected"] == manifest["load"]["files_rejected"] == 0
    assert {f["encoding"] for f in manifest["files"]} == {"utf-8"}
    data = read_landing(landing, manifest)
    assert expected_truth(data) == _manifest_truth(manifest)
    day = manifest["days"][0]
    assert day["clean_orders"] == day["orders"] > 0 and Decimal(day["net_revenue"]) > 0
    assert {f["format"] for f in manifest["files"]} == {"csv", "json", "ndjson"}
    assert any(f["gzip"] for f in manifest["files"])


def test_dirty_run_truth_equals_the_contract_rules_applied_to_the_files(dirty: tuple[Path, dict]) -> None:
    landing, manifest = dirty
    data = read_landing(landing, manifest)
    assert expected_truth(data) == _manifest_truth(manifest)
    days = manifest["days"]
    assert all(0 < d["clean_orders"] < d["orders"] for d in days)
    total = sum(Decimal(d["net_revenue"]) for d in days)
    assert str(total) == manifest["totals"]["net_revenue"]


def test_files_hold_exactly_the_records_of_iter_days(dirty: tuple[Path, dict]) -> None:
    landing, manifest = dirty
    data = read_landing(landing, manifest)
    for day in iter_days(DIRTY):
        for entity, records in day.records.items():
            landed = [r for d, r in data[entity] if d == day.date.isoformat()]
            key = sorted(FIELDS[entity])
            assert sorted(map(str, (tuple(r[k] for k in key) for r in landed))) == sorted(
                map(str, (tuple(r[k] for k in key) for r in records))
            ), (day.date, entity)


def test_every_fault_kind_is_injected_and_counted(dirty: tuple[Path, dict]) -> None:
    _, manifest = dirty
    for name, kind in faults.KINDS.items():
        counted = manifest["faults"][name]
        assert counted["count"] > 0, name
        assert counted["unit"] == kind.unit and counted["level"] == kind.level
        assert sum(counted["by_entity"].values()) == counted["count"]
        assert sum(d["faults"].get(name, 0) for d in manifest["days"]) == counted["count"], name


def test_file_level_faults_are_really_in_the_files(dirty: tuple[Path, dict]) -> None:
    landing, manifest = dirty
    seen: Counter = Counter()
    for entry in manifest["files"]:
        kind, raw = entry["fault"], _bytes(landing / entry["path"])
        if kind is None:
            continue
        seen[kind] += len(entry["rejects"]) if faults.KINDS[kind].unit == "rows" else 1
        if kind == "latin1_file":
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")
            assert entry["non_ascii"] and any(ch in raw.decode("latin-1") for ch in "éöüåøñçë")
        elif kind == "bom_file":
            assert raw.startswith(b"\xef\xbb\xbf")
        elif kind == "semicolon_file":
            assert raw.split(b"\n")[0].count(b";") == len(FIELDS[entry["entity"]]) - 1 + len(
                entry["extra_fields"]
            )
        elif kind == "malformed_row":
            rows = list(csv.reader(io.StringIO(raw.decode(entry["encoding"]), newline="")))
            widths = {len(rows[r["position"]]) for r in entry["rejects"]}  # rows[0] is the header
            assert len(rows[0]) not in widths and entry["rejects"]
        elif kind == "undecodable_row":
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")
            assert [r["reason"] for r in entry["rejects"]] == ["undecodable_bytes"]
        elif kind in ("truncated_json", "truncated_ndjson"):
            with pytest.raises(json.JSONDecodeError):
                json.loads(raw) if kind == "truncated_json" else json.loads(raw.rsplit(b"\n", 1)[-1])
            assert entry["rejects"] == [{"position": entry["rows"], "reason": kind}]
        elif kind == "headerless_file":
            assert entry["file_rejected"] == "no_header" and entry["loadable"] == 0
            first = next(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
            assert KEYS[entry["entity"]][0] not in [name.strip().lower() for name in first]
    for kind in faults.FILE_KINDS:
        assert seen[kind] == manifest["faults"][kind]["count"] > 0, kind
    load = manifest["load"]
    assert load["rows_rejected"] == sum(len(f["rejects"]) for f in manifest["files"])
    assert load["rows_loadable"] == sum(manifest["totals"]["records"].values())
    assert any(f["multiline_rows"] for f in manifest["files"] if f["format"] == "csv")


def test_late_customers_arrive_the_next_day() -> None:
    days = list(iter_days(DIRTY))
    known: set[str] = set()
    for i, day in enumerate(days):
        known |= {r["customer_id"] for r in day.records["customers"]}
        waiting = {
            r["order_id"]: r["customer_id"] for r in day.records["orders"] if r["customer_id"] not in known
        }
        waiting = {o: c for o, c in waiting.items() if c is not None}  # not the orders missing a customer_id
        assert len(waiting) == day.faults["late_customer"].get("orders", 0), day.date
        if i + 1 < len(days):
            assert set(waiting.values()) <= {r["customer_id"] for r in days[i + 1].records["customers"]}
    assert sum(d.faults["late_customer"].get("orders", 0) for d in days) > 0


def test_resent_orders_have_a_later_updated_at_and_stale_copies_an_older_one() -> None:
    days = list(iter_days(DIRTY))
    arrivals: dict[str, list[tuple[int, dict]]] = defaultdict(list)
    for i, day in enumerate(days):
        for rec in day.records["orders"]:
            arrivals[rec["order_id"]].append((i, rec))
    resent, stale, later = 0, set(), 0
    for order_id, versions in arrivals.items():
        first_day: dict[tuple, int] = {}
        for i, rec in versions:
            key = tuple(rec.values())
            before = [k[4] for k, d in first_day.items() if d < i]  # updated_at of earlier days' versions
            if key in first_day:  # the same version again: a duplicate that day, or a stale copy later
                if first_day[key] < i:
                    assert rec["updated_at"] < max(before)
                    stale.add((order_id, i))
                continue
            assert all(rec["updated_at"] > upd for upd in before)
            later += bool(before)
            first_day[key] = i
        by_time = sorted(first_day, key=lambda k: k[4])
        resent += sum(a[2] == b[2] for a, b in pairwise(by_time))  # same status, later updated_at
    assert later > resent > 0
    assert resent == sum(d.faults["resent_version"].get("orders", 0) for d in days)
    assert len(stale) == sum(d.faults["stale_version"].get("orders", 0) for d in days) > 0


def test_cli_generate_writes_a_landing_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["--out", str(tmp_path), "--seed", "1", "--start", "2026-02-01", "--days", "1"]
    assert cli(["generate", *args, "--orders-per-day", "20", "--fault-rate", "0.1", "--no-progress"]) == 0
    manifest = json.loads((tmp_path / "_manifest.json").read_text())
    assert manifest["config"]["fault_rate"] == 0.1 and manifest["days"][0]["date"] == "2026-02-01"
    assert "orders/s" in capsys.readouterr().out
    # the same folder again, without --overwrite: refused, with the reason
    assert cli(["generate", *args, "--no-progress"]) == 2
    assert "already holds generated files" in capsys.readouterr().out


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="fault_rate"):
        GeneratorConfig(fault_rate=1.5)
