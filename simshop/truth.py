"""Reconcile a warehouse with the simulated shop's ground truth (its `_manifest.json`): does it show what
the shop really sent, to the cent, and did it catch exactly the faults the shop injected?

Three checks, each saying where it differs:
- revenue: per day, orders, revenue orders and net revenue of `marts.rpt_daily_revenue`;
- quarantine: rule-breaking records in `marts.rpt_quarantined_records`, per entity and rule;
- rejects: per file, the rows `raw.load_rejects` holds (position and reason) and the files rejected whole.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg

# the simulator's fault kind -> the quarantine rule that must catch it
RULE_OF_FAULT = {
    "missing_value": "missing_value",
    "malformed_email": "malformed_email",
    "nonpositive_price": "nonpositive_unit_price",
    "nonpositive_quantity": "nonpositive_quantity",
    "negative_amount": "negative_amount",
    "future_timestamp": "future_timestamp",
    "ended_before_started": "ended_before_started",
    "no_items": "no_items",
}
# the loader's reject reason (its start) -> the manifest's reason name
REASONS = {
    "expected ": "wrong_field_count",
    "undecodable bytes": "undecodable_bytes",
    "truncated JSON": "truncated_json",
    "invalid JSON": "truncated_ndjson",
}


def reason_name(text: str) -> str:
    return next((name for prefix, name in REASONS.items() if text.startswith(prefix)), text)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _rows(conn: psycopg.Connection, query: str, params: Any = None) -> list[tuple]:
    return conn.execute(query, params).fetchall()


def _revenue(conn: psycopg.Connection, manifest: dict) -> Check:
    rows = _rows(
        conn, "select order_date, order_count, revenue_order_count, net_revenue from marts.rpt_daily_revenue"
    )
    found = {d.isoformat(): (n, r, revenue) for d, n, r, revenue in rows}
    expected = {
        day["date"]: (day["clean_orders"], day["revenue_orders"], Decimal(day["net_revenue"]))
        for day in manifest["days"]
    }
    wrong = [
        f"{day}: marts {found.get(day, '(none)')} ≠ truth {expected.get(day, '(none)')} (orders, revenue"
        " orders, net revenue)"
        for day in sorted(set(found) | set(expected))
        if found.get(day) != expected.get(day)
    ]
    total = sum((v[2] for v in expected.values()), Decimal(0))
    detail = (
        f"{len(expected)} days, net revenue {total:,} EUR, to the cent" if not wrong else "; ".join(wrong)
    )
    return Check("revenue per day", not wrong, detail)


def _quarantine(conn: psycopg.Connection, manifest: dict) -> Check:
    rows = _rows(
        conn,
        "select entity, rule_name, count(*) from marts.rpt_quarantined_records"
        " where disposition = 'quarantined' group by 1, 2",
    )
    found = {(entity, rule): n for entity, rule, n in rows}
    expected = Counter()
    for kind, fault in manifest["faults"].items():
        if fault["breaks_rule"]:
            for entity, n in fault["by_entity"].items():
                expected[(entity, RULE_OF_FAULT[kind])] += n
    # an order with a broken line is kept out as `rejected_item`: one per such order, on top of the truth
    (bad_orders,) = conn.execute(
        "select count(distinct record->>'order_id') from marts.rpt_quarantined_records"
        " where entity = 'order_items' and disposition = 'quarantined'"
    ).fetchone()
    if bad_orders:
        expected[("orders", "rejected_item")] = bad_orders
    wrong = [
        f"{entity}/{rule}: marts {found.get((entity, rule), 0)} ≠ truth {expected.get((entity, rule), 0)}"
        for entity, rule in sorted(set(found) | set(expected))
        if found.get((entity, rule), 0) != expected.get((entity, rule), 0)
    ]
    caught = sum(n for key, n in expected.items() if key[1] != "rejected_item")
    detail = f"{caught} injected rule breaks, each caught by its rule" if not wrong else "; ".join(wrong)
    return Check("quarantine per rule", not wrong, detail)


def _rejects(conn: psycopg.Connection, manifest: dict, inbox: str) -> Check:
    prefix = inbox.rstrip("/") + "/"
    rows = _rows(
        conn, "select source, position, reason from raw.load_rejects where starts_with(source, %s)", [prefix]
    )
    found = Counter(
        (source.removeprefix(prefix), position, reason_name(reason)) for source, position, reason in rows
    )
    expected = Counter(
        (f["path"], r["position"], r["reason"]) for f in manifest["files"] for r in f["rejects"]
    )
    whole = {
        source.removeprefix(prefix)
        for (source,) in _rows(
            conn,
            "select source from raw.load_ledger where status = 'rejected' and starts_with(source, %s)",
            [prefix],
        )
    }
    whole_expected = {f["path"] for f in manifest["files"] if f["file_rejected"]}
    wrong = [f"{path} row {pos}: {reason} (not in the truth)" for path, pos, reason in found - expected]
    wrong += [f"{path} row {pos}: {reason} (missed)" for path, pos, reason in expected - found]
    wrong += [f"{path}: rejected whole (not in the truth)" for path in sorted(whole - whole_expected)]
    wrong += [f"{path}: should be rejected whole" for path in sorted(whole_expected - whole)]
    files = len({path for path, _, _ in expected} | whole_expected)
    detail = (
        f"{sum(expected.values())} rows in {files} files, and {len(whole_expected)} files rejected whole,"
        " position by position"
        if not wrong
        else "; ".join(wrong[:10]) + (f" … and {len(wrong) - 10} more" if len(wrong) > 10 else "")
    )
    return Check("rejects per file", not wrong, detail)


def reconcile(conninfo: str, manifest: dict, inbox: str) -> list[Check]:
    """Every check of the warehouse at `conninfo` against the truth of the shop whose inbox is `inbox`."""
    with psycopg.connect(conninfo) as conn:
        return [_revenue(conn, manifest), _quarantine(conn, manifest), _rejects(conn, manifest, inbox)]
