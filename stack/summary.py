"""What `make run` prints after a run: what it collected per day folder, what the marts now say, and (for
the demo) whether they match the simulated shop's ground truth.

Reads the run's report (monitoring/run_report.py: the collection per day folder) and the warehouse as its
owner: quarantined and held records by the day folder of the batch they came in, net revenue per day.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import psycopg


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", [relation]).fetchone()[0]


def other_inbox(conninfo: str, inbox: str) -> str | None:
    """An inbox (other than `inbox`) the warehouse already holds files from (the latest), else None; "the
    shop API" when it holds API extracts and `inbox` is a folder or URL."""
    prefix = inbox.rstrip("/") + "/"
    with psycopg.connect(conninfo) as conn:
        if not _exists(conn, "raw.load_ledger"):
            return None
        row = conn.execute(
            "select source, day_folder is not null from raw.load_ledger where source_kind = 'file'"
            " and not starts_with(source, %s) order by batch_id desc limit 1",
            [prefix],
        ).fetchone()
        if (
            not row
            and conn.execute("select 1 from raw.load_ledger where source_kind = 'api' limit 1").fetchone()
        ):
            return "the shop API"
    if not row:
        return None
    source, from_inbox = row
    # an inbox file's source is <inbox>/<entity>/<day>/<name>: its inbox is three levels up
    return source.rsplit("/", 3)[0] if from_inbox else str(Path(source).parent)


def held_orders(conninfo: str) -> set[str]:
    """The orders the published marts hold back (customer or product not arrived yet)."""
    with psycopg.connect(conninfo) as conn:
        if not _exists(conn, "marts.rpt_quarantined_records"):
            return set()
        rows = conn.execute(
            "select distinct record_key from marts.rpt_quarantined_records where disposition = 'held'"
        ).fetchall()
    return {key for (key,) in rows}


def _by_day(conn: psycopg.Connection, disposition: str) -> dict[str, dict[str, int]]:
    rows = conn.execute(
        "select coalesce(l.day_folder, '-'), q.rule_name, count(*) from marts.rpt_quarantined_records q"
        " left join raw.load_ledger l on l.batch_id = q.batch_id where q.disposition = %s group by 1, 2",
        [disposition],
    ).fetchall()
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for day, rule, n in rows:
        found[day][rule] = n
    return found


def print_run(conninfo: str, report_json: Path, held_before: set[str]) -> None:
    from monitoring.run_report import collected_line

    report = json.loads(report_json.read_text())
    collected = report["collected"]
    print(f"\n  {collected_line(collected)}")
    per_day: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in collected["per_day"]:
        day = per_day[row["day_folder"]]
        for key in ("files", "rows_loaded", "rows_rejected", "rejected_whole", "duplicates"):
            day[key] += row[key]
    for item in collected["waiting"]:
        print(f"    waiting (still being written?): {item}")
    for item in collected["ignored"]:
        print(f"    ignored: {item['path']}: {item['reason']}")
    with psycopg.connect(conninfo) as conn:
        if not _exists(conn, "marts.rpt_daily_revenue"):
            return
        quarantined, held = _by_day(conn, "quarantined"), _by_day(conn, "held")
        revenue = {
            d.isoformat(): (n, r)
            for d, n, r in conn.execute(
                "select order_date, order_count, net_revenue from marts.rpt_daily_revenue"
            )
        }
        released = conn.execute(
            "select count(*) from marts.fct_orders where order_id = any(%s)", [sorted(held_before)]
        ).fetchone()[0]
    days = sorted(per_day)
    if days:
        print(
            "\n  Collected by this run, per day folder (quarantined and held: as the published marts stand)"
        )
        print(
            f"    {'day folder':<12}{'files':>6}{'rows':>9}{'rejected':>9}{'whole':>6}"
            f"{'quarantined':>12}{'held':>6}"
        )
        for day in days:
            d = per_day[day]
            print(
                f"    {day:<12}{d['files']:>6}{d['rows_loaded']:>9,}{d['rows_rejected']:>9,}"
                f"{d['rejected_whole']:>6}"
                f"{sum(quarantined.get(day, {}).values()):>12,}{sum(held.get(day, {}).values()):>6}"
            )
        rules = sorted({rule for day in days for rule in quarantined.get(day, {})})
        if rules:
            print("\n  Records quarantined per rule (rpt_quarantined_records), per day folder")
            print(f"    {'rule':<24}" + "".join(f"{day[5:]:>7}" for day in days))
            for rule in rules:
                print(
                    f"    {rule:<24}"
                    + "".join(f"{quarantined.get(day, {}).get(rule, 0):>7,}" for day in days)
                )
    print(f"\n  Orders released by this run (their customer or product came): {released}")
    held_now = sum(sum(rules.values()) for rules in held.values())
    print(f"  Orders held back now (waiting for their customer or product): {held_now}")
    print("\n  Published marts, per order date")
    print(f"    {'day':<11} {'orders':>7} {'net revenue (EUR)':>18}")
    for day in sorted(revenue)[-14:]:
        n, r = revenue[day]
        print(f"    {day:<11} {n:>7,} {r:>18,.2f}")


def print_reconciliation(checks) -> None:
    print("\n  Reconciliation with the simulated shop's ground truth")
    for check in checks:
        print(f"    {'✓' if check.ok else '✗'} {check.name:<20} {check.detail}")
    if all(check.ok for check in checks):
        print("  The published marts match the ground truth.")
    else:
        print("  The published marts DIFFER from the ground truth: see ✗ above.")
