"""Volume and distribution per published mart and day, and drift against a trailing window.

`measure` upserts, per fact mart and day, the row count, the revenue and the nulls of the columns that
should rarely be null into `monitoring.mart_volumes`. `detect_drift` compares each of the latest days
with the median of the `window` days before it: a metric further than `threshold` from its median (0.5:
half as much, or 1.5 times as much) is a breach. A day with breaches is one drift event
(`monitoring.drift_events`, unique per day, so a drop is recorded exactly once however often the
monitoring runs).
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from monitoring import schema
from publish import PUBLISHED_SCHEMA

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MartDay:
    """How a mart splits into days: its date column, its revenue (if any), the columns to count nulls of."""

    day: str
    revenue: str | None
    nullable: tuple[str, ...]
    rows: str = "count(*)"


MARTS = {
    "fct_orders": MartDay("order_date", "net_revenue", ("customer_id", "payment_method")),
    "fct_order_items": MartDay("order_date", "line_total", ("product_id", "customer_id")),
    "fct_sessions": MartDay("session_date", None, ("customer_id", "channel", "device")),
    "rpt_daily_revenue": MartDay("order_date", "net_revenue", (), rows="sum(order_count)"),
}
LOOKBACK_DAYS = 3  # the latest days re-examined on every run


def _measure_sql(mart: str, spec: MartDay) -> sql.Composed:
    nulls = sql.SQL(", ").join(
        sql.SQL("{}, count(*) filter (where {} is null)").format(sql.Literal(col), sql.Identifier(col))
        for col in spec.nullable
    )
    return sql.SQL(
        "insert into monitoring.mart_volumes (mart, day, row_count, revenue, null_counts, measured_at)"
        " select {mart}, {day}, {rows}, {revenue}, jsonb_build_object({nulls}), now()"
        " from {table} where {day} is not null group by {day}"
        " on conflict (mart, day) do update set row_count = excluded.row_count,"
        " revenue = excluded.revenue, null_counts = excluded.null_counts, measured_at = now()"
    ).format(
        mart=sql.Literal(mart),
        day=sql.Identifier(spec.day),
        rows=sql.SQL(spec.rows),
        revenue=sql.SQL("sum({})").format(sql.Identifier(spec.revenue)) if spec.revenue else sql.NULL,
        nulls=nulls,
        table=sql.Identifier(PUBLISHED_SCHEMA, mart),
    )


def measure(url: str) -> int:
    """Upsert every published mart's volume per day; the number of (mart, day) rows measured."""
    total = 0
    with psycopg.connect(url) as conn:
        schema.ensure(conn)
        for mart, spec in MARTS.items():
            if not schema.exists(conn, f"{PUBLISHED_SCHEMA}.{mart}"):
                log.warning("%s.%s is not published yet: no volumes", PUBLISHED_SCHEMA, mart)
                continue
            total += conn.execute(_measure_sql(mart, spec)).rowcount
    return total


def series(conn: psycopg.Connection) -> dict[str, dict[date, float]]:
    """metric -> day -> value, the metrics being each mart's rows and each revenue."""
    found: dict[str, dict[date, float]] = {}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("select mart, day, row_count, revenue from monitoring.mart_volumes").fetchall()
    for row in rows:
        found.setdefault(f"{row['mart']}.rows", {})[row["day"]] = float(row["row_count"])
        if row["revenue"] is not None:
            found.setdefault(f"{row['mart']}.revenue", {})[row["day"]] = float(row["revenue"])
    return found


def breaches(metrics: dict[str, dict[date, float]], day: date, threshold: float, window: int) -> list[dict]:
    """The metrics of `day` further than `threshold` (relative) from the median of the `window` days
    before it; a metric with fewer than half a window of history is not judged."""
    found = []
    for metric, values in sorted(metrics.items()):
        if day not in values:
            continue
        history = [v for d, v in sorted(values.items()) if d < day][-window:]
        if len(history) < max(3, window // 2 + 1):
            continue
        baseline = statistics.median(history)
        if baseline <= 0:
            continue
        deviation = values[day] / baseline - 1
        if abs(deviation) > threshold:
            found.append(
                {
                    "metric": metric,
                    "value": values[day],
                    "baseline": baseline,
                    "deviation": round(deviation, 4),
                }
            )
    return found


def detect_drift(url: str, threshold: float, window: int, run_id: str | None = None) -> list[dict]:
    """Judge the latest days; record a drift event for each day newly found drifting. The new events."""
    new = []
    with psycopg.connect(url, row_factory=dict_row) as conn:
        schema.ensure(conn)
        metrics = series(conn)
        days = sorted({d for values in metrics.values() for d in values})[-LOOKBACK_DAYS:]
        for day in days:
            found = breaches(metrics, day, threshold, window)
            if not found:
                continue
            row = conn.execute(
                "insert into monitoring.drift_events (day, breaches, threshold, window_days, run_id)"
                " values (%s, %s, %s, %s, %s) on conflict (day) do nothing returning drift_id, day, breaches",
                [day, Jsonb(found), threshold, window, run_id],
            ).fetchone()
            if row:
                log.warning("drift on %s: %s", day, found)
                new.append(row)
    return new
