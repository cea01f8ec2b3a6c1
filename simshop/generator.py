"""Realistic, dirty shop data in the contract's format (`docs/contract.md`), deterministic from a seed.

Public API (stable: the shop's REST API server and the landing writer build on it)::

    GeneratorConfig(seed, start, days, orders_per_day, fault_rate, products=400, customers=None, ...)
    iter_days(config) -> Iterator[Day]
        One Day at a time: `.date`, `.records` (entity -> list of records; a record maps every contract
        field to a string, None when missing; record-level faults applied), `.truth` (DayTruth: the day's
        clean orders and net revenue by the contract's rules) and `.faults` (kind -> entity -> count).
        Memory holds one day.
    iter_day_streams(config, on_orders=None) -> Iterator[DayStream]
        The same records as `(entity, batch)` pairs of a few thousand records (`DayStream.batches()`), for
        writers that must not hold a whole day; `.truth`/`.faults` are complete once the batches are read.
    order_counts(config) -> list[int]: orders placed per day (for progress bars).

The same config always gives the same records, in the same order.

The shop: a catalogue (categories, EUR prices as 2-decimal strings, a popularity skew, a few price changes
and new products a day); a customer base that grows every day, most orders (`returning_share`) from
returning customers skewed towards the loyal ones, the rest from the day's sign-ups; more orders at
weekends and at other hours; every order has a converting session (`order_id` set) plus non-converting
and anonymous (empty `customer_id`) sessions; orders move placed -> paid -> shipped -> delivered (some
cancelled, returned, or unpaid bank transfers) and each day's change is sent as a new version with a later
`updated_at` (the latest wins); 1-5 items of quantity 1-4 at the catalogue price (8% promotions). The
files of day D are loaded at D+1 00:00Z ("load time"). Record-level faults: see `simshop.faults`.

Ground truth (`Day.truth`): an order placed on day D (its real `ordered_at`) is *clean* when its latest
version sent in the period is valid, it has items and none of its items breaks a rule, and its customer
has arrived by the end of the period (a late customer on the last day has not). Net revenue is the sum of
Σ quantity × unit_price − discount_amount + shipping_amount over the clean orders whose latest status is
paid, shipped or delivered. Faulty customers and products are never ordered, so they never decide an
order's fate.
"""

from __future__ import annotations

import random
from array import array
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate

from extract.contract import FIELDS, REVENUE_STATUSES
from simshop import faults
from simshop.generator_orders import (
    Record,
    make_items,
    make_session,
    order_record,
    plan_order,
    time_of_day,
)
from simshop.generator_records import DAY, Catalogue, Customers, epoch_day, money

__all__ = ["Day", "DayStream", "DayTruth", "GeneratorConfig", "iter_day_streams", "iter_days", "order_counts"]

BLOCK = 2_000  # orders (or records) per batch
_WEEKDAY = (0.92, 0.94, 0.96, 1.0, 1.06, 1.14, 1.2)  # Monday..Sunday
_MEAN = sum(_WEEKDAY) / 7
ON_TIME, RESENT, STALE = 0, 1, 2  # kinds of a pending order version


@dataclass(frozen=True)
class GeneratorConfig:
    seed: int = 2026
    start: date = date(2026, 1, 5)
    days: int = 7
    orders_per_day: int = 200  # on average; weekdays differ
    fault_rate: float = 0.0  # per fault kind, 0..1; 0 = clean
    products: int = 400  # catalogue on the first day
    new_products_per_day: int = 2
    customers: int | None = None  # customer base before the first day; default 5 x orders_per_day, >= 200
    signups_per_day: int | None = None  # default 30% of orders_per_day, >= 5
    returning_share: float = 0.8  # share of orders from customers who signed up before the day
    sessions_per_order: float = 3.0  # sessions a day per order placed (the converting one included)
    profile_updates: float = 0.002  # share of the customer base re-sent each day with a new address
    # An outage-like volume drop, to exercise drift detection: (day, share of that day's orders lost).
    volume_drop: tuple[date, float] | None = None

    def __post_init__(self) -> None:
        checks = {
            "days >= 1": self.days >= 1,
            "orders_per_day >= 0": self.orders_per_day >= 0,
            "0 <= fault_rate <= 1": 0 <= self.fault_rate <= 1,
            "products >= 10": self.products >= 10,
            "0 <= returning_share <= 1": 0 <= self.returning_share <= 1,
            "sessions_per_order >= 1": self.sessions_per_order >= 1,
            "0 < volume_drop share <= 1": self.volume_drop is None or 0 < self.volume_drop[1] <= 1,
        }
        failed = [rule for rule, ok in checks.items() if not ok]
        if failed:
            raise ValueError(f"invalid GeneratorConfig: {', '.join(failed)}")

    @property
    def base_customers(self) -> int:
        return self.customers if self.customers is not None else max(200, 5 * self.orders_per_day)

    @property
    def daily_signups(self) -> int:
        return (
            self.signups_per_day
            if self.signups_per_day is not None
            else max(5, self.orders_per_day * 3 // 10)
        )


@dataclass
class DayTruth:
    """What the marts must show for one day (orders by the UTC date of `ordered_at`)."""

    date: date
    orders: int = 0  # orders placed that day, clean or not
    clean_orders: int = 0  # orders that reach the marts
    revenue_orders: int = 0  # clean orders whose latest status is paid, shipped or delivered
    net_revenue_cents: int = 0
    clean_by_status: Counter = field(default_factory=Counter)

    @property
    def net_revenue(self) -> str:
        return money(self.net_revenue_cents)


@dataclass
class Day:
    date: date
    records: dict[str, list[Record]]
    truth: DayTruth
    faults: dict[str, dict[str, int]]


def order_counts(config: GeneratorConfig) -> list[int]:
    """Orders placed on each day: the weekly pattern times +-6% noise, less the `volume_drop` share on its
    day (at least 1 when orders_per_day > 0)."""
    counts = []
    for i in range(config.days):
        day = config.start + timedelta(days=i)
        noise = random.Random(f"{config.seed}:orders:{i}").uniform(0.94, 1.06)
        n = round(config.orders_per_day * _WEEKDAY[day.weekday()] / _MEAN * noise)
        if config.volume_drop and config.volume_drop[0] == day:
            n = round(n * (1 - config.volume_drop[1]))
        counts.append(max(n, 1) if config.orders_per_day else 0)
    return counts


class Shop:
    """The generator's state across days: the customer base, the catalogue, and order versions due."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.config, self.seed, self.rate = config, config.seed, config.fault_rate
        self.start, self.last = epoch_day(config.start), config.days - 1
        self.counts = order_counts(config)
        self.first_n = [0, *accumulate(self.counts)]
        signups = config.daily_signups
        buyers = [min(signups, round(n * (1 - config.returning_share))) for n in self.counts]
        self.customers = Customers(config.seed, self.start, config.base_customers, signups, buyers, self.rate)
        self.catalogue = Catalogue(
            config.seed, self.start, config.products, config.new_products_per_day, self.rate
        )
        self.pending: dict[int, array] = {}  # day index -> order numbers * 4 + kind
        self.faults = faults.Counts()
        self.session_no = 0
        self._dates = [config.start + timedelta(days=i) for i in range(config.days)]
        self._ymd = [d.strftime("%Y%m%d") for d in self._dates]

    def locate(self, n: int) -> tuple[int, int]:
        i = bisect_right(self.first_n, n) - 1
        return i, n - self.first_n[i]

    def ymd(self, i: int) -> str:
        return (
            self._ymd[i] if i < len(self._ymd) else (self.config.start + timedelta(days=i)).strftime("%Y%m%d")
        )

    def weekend(self, i: int) -> bool:
        return (self.start + i + 3) % 7 >= 5  # 1970-01-01 was a Thursday

    def schedule(self, day: int | None, n: int, kind: int) -> None:
        if day is not None and day <= self.last:
            self.pending.setdefault(day, array("q")).append(n * 4 + kind)

    def expected(self, i: int) -> dict[str, int]:
        """About how many records day i brings per entity (for sizing files)."""
        c, n = self.config, self.counts[i]
        customers = c.daily_signups + int(self.customers.before(i) * c.profile_updates)
        return {
            "customers": customers + (c.base_customers if i == 0 else 0),
            "products": c.products if i == 0 else c.new_products_per_day + len(self.catalogue._ids) // 100,
            "orders": int(n * 1.25) + len(self.pending.get(i, ())),
            "order_items": int(n * 2.25),
            "sessions": int(n * c.sessions_per_order),
        }

    # -- one day -----------------------------------------------------------------------------------
    def day(self, i: int, truth: DayTruth, on_orders: Callable[[int], None] | None) -> Iterator:
        self.faults, self.session_no = faults.Counts(), 0
        rng = random.Random(f"{self.seed}:day:{i}")
        sources = (
            self._products(i, rng),
            self._customers(i, rng),
            self._orders(i, rng, truth, on_orders),
            self._versions(i),
            self._browsing(i, rng),
        )
        for source in sources:
            for entity, batch in source:
                if self.rate and batch:
                    copies = [dict(r) for r in batch if rng.random() < self.rate]
                    self.faults.add("duplicate", entity, len(copies))
                    batch.extend(copies)
                yield entity, batch

    def _products(self, i: int, rng: random.Random) -> Iterator[tuple[str, list[Record]]]:
        cat, midnight = self.catalogue, (self.start + i) * DAY
        if i == 0:
            out, new = [], list(range(1, cat.count + 1))
        else:
            changed = cat.reprice(rng, max(1, len(cat._ids) // 100))
            out = [cat.record(p, updated=midnight + rng.randrange(600)) for p in changed]
            new = cat.grow(self.config.new_products_per_day)
        for p in new:
            out.append(cat.record(p))
            kind = cat.fault(p)
            if kind:
                self.faults.add(kind, "products")
        for at in range(0, len(out), BLOCK):
            yield "products", out[at : at + BLOCK]

    def _customers(self, i: int, rng: random.Random) -> Iterator[tuple[str, list[Record]]]:
        cu, midnight = self.customers, (self.start + i) * DAY
        first = cu.before(i) + 1
        created = [k for k in range(first, first + cu.signups) if not cu.late(k)]
        if i == 0:
            created = [*range(1, cu.base + 1), *created]
        else:  # yesterday's late ones
            yesterday = cu.before(i - 1) + 1
            created += [k for k in range(yesterday, yesterday + cu.buyers[i - 1]) if cu.late(k)]
        moves = int(cu.before(i) * self.config.profile_updates) if i else 0
        moved = sorted({cu.pick(rng, i) for _ in range(moves)})
        batch: list[Record] = []
        for k in created:
            batch.append(cu.record(k))
            kind = cu.fault(k)
            if kind:
                self.faults.add(kind, "customers")
        for k in moved:
            batch.append(cu.record(k, moved_on=i, updated=midnight + rng.randrange(DAY)))
        self.faults.add("multiline_value", "customers", sum(1 for r in batch if "\n" in (r["city"] or "")))
        for at in range(0, len(batch), BLOCK * 5):
            yield "customers", batch[at : at + BLOCK * 5]

    def _orders(self, i: int, rng: random.Random, truth: DayTruth, on_orders) -> Iterator:
        period_end = (self.start + self.last + 1) * DAY
        count, base = self.counts[i], self.first_n[i]
        truth.orders = count
        for at in range(0, count, BLOCK):
            orders: list[Record] = []
            items: list[Record] = []
            sessions: list[Record] = []
            for n in range(base + at, base + min(at + BLOCK, count)):
                plan = plan_order(self, n)
                versions = plan.emissions(self.start, self.last)
                orders += [order_record(plan, status, upd) for day, upd, status in versions if day == i]
                self.schedule(next((d for d, _, _ in versions if d > i), None), n, ON_TIME)
                if plan.resend_at is not None:
                    self.schedule(plan.resend_at // DAY - self.start, n, RESENT)
                self.schedule(plan.stale_day, n, STALE)
                if plan.fault:
                    self.faults.add(plan.fault, "orders")
                if plan.late:
                    self.faults.add("late_customer", "orders")
                lines, subtotal, valid = [], 0, False
                if plan.fault != "no_items":
                    lines, subtotal, valid = make_items(self, rng, plan)
                items += lines
                started = plan.ordered_at - rng.randrange(60, 2400)
                sessions.append(make_session(self, rng, i, started, plan.customer, plan))
                if plan.fault is None and valid and not (plan.late and i == self.last):
                    status = plan.status_at(period_end - 1)
                    truth.clean_orders += 1
                    truth.clean_by_status[status] += 1
                    if status in REVENUE_STATUSES:
                        truth.revenue_orders += 1
                        truth.net_revenue_cents += subtotal - plan.discount + plan.shipping
            yield "orders", orders
            yield "order_items", items
            yield "sessions", sessions
            if on_orders:
                on_orders(min(at + BLOCK, count) - at)

    def _versions(self, i: int) -> Iterator[tuple[str, list[Record]]]:
        """Versions of earlier orders due today: status changes, injected re-sends and stale copies."""
        due = self.pending.pop(i, array("q"))
        for at in range(0, len(due), BLOCK):
            batch: list[Record] = []
            for entry in due[at : at + BLOCK]:
                n, kind = divmod(entry, 4)
                plan = plan_order(self, n)
                versions = plan.emissions(self.start, self.last)
                if kind == ON_TIME:
                    batch += [order_record(plan, status, upd) for day, upd, status in versions if day == i]
                    self.schedule(next((d for d, _, _ in versions if d > i), None), n, ON_TIME)
                elif kind == RESENT:
                    at_ = plan.resend_at or 0
                    batch.append(order_record(plan, plan.status_at(at_), at_))
                    self.faults.add("resent_version", "orders")
                else:
                    _, upd, status = [v for v in versions if v[0] == plan.day][-1]
                    batch.append(order_record(plan, status, upd))
                    self.faults.add("stale_version", "orders")
            yield "orders", batch

    def _browsing(self, i: int, rng: random.Random) -> Iterator[tuple[str, list[Record]]]:
        """Sessions that did not convert: 45% anonymous, the rest by known customers."""
        total = round(self.counts[i] * (self.config.sessions_per_order - 1))
        midnight, weekend, known = (self.start + i) * DAY, self.weekend(i), self.customers.before(i) > 0
        for at in range(0, total, BLOCK * 2):
            batch = []
            for _ in range(min(BLOCK * 2, total - at)):
                who = self.customers.pick(rng, i) if known and rng.random() >= 0.45 else None
                batch.append(make_session(self, rng, i, midnight + time_of_day(rng, weekend), who))
            yield "sessions", batch


class DayStream:
    """One day of records in batches; read `batches()` once, then `truth`, `faults` and `records`."""

    def __init__(self, shop: Shop, i: int, on_orders: Callable[[int], None] | None) -> None:
        self.index, self.date = i, shop.config.start + timedelta(days=i)
        self.expected = shop.expected(i)
        self.truth = DayTruth(self.date)
        self.records: dict[str, int] = dict.fromkeys(FIELDS, 0)  # records per entity, copies included
        self.faults: dict[str, dict[str, int]] = {}
        self._shop, self._on_orders, self._read = shop, on_orders, False

    def batches(self) -> Iterator[tuple[str, list[Record]]]:
        if self._read:
            raise RuntimeError("a DayStream's batches can be read only once")
        self._read = True
        for entity, batch in self._shop.day(self.index, self.truth, self._on_orders):
            self.records[entity] += len(batch)
            yield entity, batch
        self.faults = self._shop.faults.by_kind()

    def drain(self) -> None:
        if not self._read:
            for _ in self.batches():
                pass


def iter_day_streams(
    config: GeneratorConfig, on_orders: Callable[[int], None] | None = None
) -> Iterator[DayStream]:
    """The period day by day, each day as a stream of batches; `on_orders(n)` after every n orders placed.

    A day must be read before the next one is asked for (a skipped day is read and dropped, so the
    following days stay the same)."""
    shop = Shop(config)
    for i in range(config.days):
        stream = DayStream(shop, i, on_orders)
        yield stream
        stream.drain()


def iter_days(config: GeneratorConfig) -> Iterator[Day]:
    """The period day by day, each day's records in memory (see the module docstring)."""
    for stream in iter_day_streams(config):
        records: dict[str, list[Record]] = {entity: [] for entity in FIELDS}
        for entity, batch in stream.batches():
            records[entity] += batch
        yield Day(stream.date, records, stream.truth, stream.faults)
