"""Orders, their items and sessions for the generator.

An order's header (customer, ordered_at, amounts, payment, status timeline, faults) is a pure function of
its number `n` (`plan_order`), so a status change days later re-creates it instead of keeping it in
memory. Items and sessions are drawn once, on the order's day, from the day's random stream.
"""

from __future__ import annotations

import random
from bisect import bisect
from dataclasses import dataclass, field
from itertools import accumulate
from typing import TYPE_CHECKING

from extract.contract import REQUIRED
from simshop import faults
from simshop.generator_records import DAY, T_ORDER, money, rng_for, ts

if TYPE_CHECKING:
    from simshop.generator import Shop

Record = dict[str, str | None]

PAYMENTS = ("card", "paypal", "klarna", "bank_transfer", "apple_pay")
_PAY_CUM = list(accumulate((45, 25, 12, 10, 8)))
_SHIPPING, _SHIP_CUM = (0, 490, 690, 1290), list(accumulate((45, 35, 15, 5)))
_DISCOUNT, _DISC_CUM = (0, 250, 500), list(accumulate((85, 5, 10)))  # never above the cheapest line (525)
_LINES_CUM = list(accumulate((40, 25, 15, 12, 8)))  # 1..5 lines
_QTY_CUM = list(accumulate((70, 18, 8, 4)))  # quantity 1..4
# orders per hour of day (UTC): weekdays peak at lunch and in the evening, weekends all afternoon
_HOURS_WEEKDAY = list(accumulate((1, .6, .4, .3, .3, .5, 1.2, 2.5, 3.5, 4, 4.2, 4.5,
                                  5.5, 5, 4.5, 4.3, 4.5, 5, 6, 7, 7.5, 6.5, 4.5, 2.5)))  # fmt: skip
_HOURS_WEEKEND = list(accumulate((2, 1.2, .8, .5, .4, .4, .7, 1.2, 2.5, 4, 5.5, 6,
                                  6.5, 6.5, 6, 5.5, 5.5, 6, 6.5, 7, 7, 6, 4.5, 3)))  # fmt: skip
DEVICES = ("mobile", "desktop", "tablet")
CHANNELS = ("organic", "paid_search", "direct", "email", "social", "referral")
_CHANNEL_CUM = list(accumulate((30, 20, 18, 12, 12, 8)))
RULE_BREAKING = ("missing_value", "future_timestamp", "negative_amount")  # sent once, never re-sent


def _draw(rng: random.Random, cum: list) -> int:
    return bisect(cum, rng.random() * cum[-1])


def time_of_day(rng: random.Random, weekend: bool) -> int:
    hour = _draw(rng, _HOURS_WEEKEND if weekend else _HOURS_WEEKDAY)
    return hour * 3600 + int(rng.random() * 3600)


@dataclass(slots=True)
class OrderPlan:
    n: int
    day: int  # day index of ordered_at
    order_id: str
    customer: int
    ordered_at: int  # epoch seconds
    shipping: int  # cents
    discount: int
    payment: str
    events: list[tuple[int, str]] = field(default_factory=list)  # (epoch, status), in time order
    fault: str | None = None  # one of faults.ORDER_KINDS
    fault_field: str | None = None
    future_at: int = 0
    late: bool = False  # the customer record comes a day late
    resend_at: int | None = None  # epoch of an injected re-sent version
    stale_day: int | None = None  # day index on which the first version is sent again
    placed_also: bool = False  # the 'placed' version is sent too when the order is paid the same day

    def emissions(self, start: int, last: int) -> list[tuple[int, int, str]]:
        """(day index, updated_at, status) of every version sent up to day index `last`: the day's last
        status, one per day, plus 'placed' on the order's day when `placed_also`."""
        out: list[tuple[int, int, str]] = []
        for epoch, status in self.events:
            day = epoch // DAY - start
            if day > last:
                break
            if out and out[-1][0] == day and not (self.placed_also and len(out) == 1 and day == self.day):
                out[-1] = (day, epoch, status)
            else:
                out.append((day, epoch, status))
        return out

    def status_at(self, epoch: int) -> str:
        status = self.events[0][1]
        for when, what in self.events:
            if when <= epoch:
                status = what
        return status


def timeline(rng: random.Random, t0: int, payment: str) -> list[tuple[int, str]]:
    """(epoch, status) from 'placed' on: paid, shipped, delivered, maybe returned; or cancelled."""
    u = rng.random
    r = u()
    if payment == "bank_transfer" and r < 0.15:  # never paid: cancelled after a week
        return [(t0, "placed"), (t0 + 7 * DAY + int(u() * 3600), "cancelled")]
    if r < 0.04:
        return [(t0, "placed"), (t0 + 600 + int(u() * 2 * DAY), "cancelled")]
    paid = t0 + (6 * 3600 + int(u() * 2.75 * DAY) if payment == "bank_transfer" else 20 + int(u() * 1780))
    if r < 0.06:
        return [(t0, "placed"), (paid, "paid"), (paid + 3600 + int(u() * 82_800), "cancelled")]
    shipped = paid + 12 * 3600 + int(u() * 48 * 3600)
    delivered = shipped + DAY + int(u() * 4 * DAY)
    events = [(t0, "placed"), (paid, "paid"), (shipped, "shipped"), (delivered, "delivered")]
    if u() < 0.06:
        events.append((delivered + 3 * DAY + int(u() * 18 * DAY), "returned"))
    return events


def plan_order(shop: Shop, n: int) -> OrderPlan:
    """Order n's header and timeline; the same n always gives the same plan."""
    i, j = shop.locate(n)
    rng = rng_for(shop.seed, T_ORDER, n)
    u = rng.random
    u_fault, u_resend, u_stale, u_placed, u_when = u(), u(), u(), u(), u()
    midnight = (shop.start + i) * DAY
    customers = shop.customers
    if j < customers.buyers[i]:  # a new customer, ordering soon after signing up
        k = customers.before(i) + 1 + j
        t0 = customers.created(k) + 120 + int(rng.random() * 5280)
    else:
        k = customers.pick(rng, i)
        t0 = midnight + time_of_day(rng, shop.weekend(i))
    plan = OrderPlan(
        n=n,
        day=i,
        order_id=f"O-{shop.ymd(i)}-{j + 1:06d}",
        customer=k,
        ordered_at=t0,
        shipping=_SHIPPING[_draw(rng, _SHIP_CUM)],
        discount=_DISCOUNT[_draw(rng, _DISC_CUM)],
        payment=PAYMENTS[_draw(rng, _PAY_CUM)],
        late=customers.late(k) if j < customers.buyers[i] else False,
    )
    plan.events = timeline(rng, t0, plan.payment)
    plan.fault = kind = faults.pick(u_fault, shop.rate, faults.ORDER_KINDS)
    if kind == "missing_value":
        plan.fault_field = rng.choice(REQUIRED["orders"])
    elif kind == "negative_amount":
        plan.fault_field = rng.choice(("shipping_amount", "discount_amount"))
    elif kind == "future_timestamp":
        plan.future_at = midnight + DAY + faults.future_offset(rng)
    if kind in RULE_BREAKING:  # a broken record is sent once: the state at the end of its day
        plan.events = [e for e in plan.events if e[0] < midnight + DAY]
        return plan
    plan.placed_also = u_placed < 0.3
    if u_resend < shop.rate:
        plan.resend_at = midnight + DAY * (1 + int(u_when * 3)) + int(u_when * 1e9) % DAY
    if u_stale < shop.rate:  # the day after the second day's version, the first day's is sent again
        later = [d for d, _, _ in plan.emissions(shop.start, i + 60) if d > i]
        plan.stale_day = later[0] + 1 if later else None
    return plan


def order_record(plan: OrderPlan, status: str, updated: int) -> Record:
    rec: Record = {
        "order_id": plan.order_id,
        "customer_id": f"C{plan.customer:07d}",
        "status": status,
        "ordered_at": ts(plan.future_at or plan.ordered_at),
        "updated_at": ts(updated),
        "shipping_amount": money(plan.shipping),
        "discount_amount": money(plan.discount),
        "payment_method": plan.payment,
    }
    if plan.fault == "missing_value":
        rec[plan.fault_field] = None  # type: ignore[index]
    elif plan.fault == "negative_amount":
        rec[plan.fault_field] = "-" + money(max(plan.shipping, plan.discount, 490))  # type: ignore[index]
    return rec


def make_items(shop: Shop, rng: random.Random, plan: OrderPlan) -> tuple[list[Record], int, bool]:
    """The order's lines; returns (records, subtotal in cents, every line valid)."""
    catalogue, rate = shop.catalogue, shop.rate
    items: list[Record] = []
    subtotal, valid, seen = 0, True, set()
    for line in range(1, _draw(rng, _LINES_CUM) + 2):
        p = catalogue.pick(rng)
        if p in seen:
            p = catalogue.pick(rng)
        seen.add(p)
        qty = _draw(rng, _QTY_CUM) + 1
        price = catalogue.prices[p]
        if rng.random() < 0.08:  # a promotion
            price = int(price * rng.uniform(0.7, 0.95))
        subtotal += qty * price
        rec: Record = {
            "order_id": plan.order_id,
            "line_number": str(line),
            "product_id": f"P{p:05d}",
            "quantity": str(qty),
            "unit_price": money(price),
        }
        kind = faults.pick(rng.random(), rate, faults.ITEM_KINDS) if rate else None
        if kind:
            valid = False
            shop.faults.add(kind, "order_items")
            if kind == "nonpositive_quantity":
                rec["quantity"] = faults.nonpositive_quantity(rng)
            elif kind == "nonpositive_price":
                rec["unit_price"] = faults.nonpositive_price(rng, price)
            else:
                rec[rng.choice(REQUIRED["order_items"])] = None
        items.append(rec)
    return items, subtotal, valid


def make_session(
    shop: Shop, rng: random.Random, i: int, started: int, customer: int | None, plan: OrderPlan | None = None
) -> Record:
    """A session of day i; with `plan`, the session that converted into that order."""
    end_of_day = (shop.start + i + 1) * DAY - 1
    u = rng.random
    if plan:
        ended = min(plan.ordered_at + 30 + int(u() * 870), end_of_day)
        views = 4 + int(u() * 36)
    else:
        ended = min(started + int(u() ** 2 * 1800), end_of_day)
        views = 1 + int(u() ** 2 * 14)
    r = u()
    device = DEVICES[0 if r < (0.65 if shop.weekend(i) else 0.55) else 1 if r < 0.93 else 2]
    shop.session_no += 1
    rec: Record = {
        "session_id": f"S-{shop.ymd(i)}-{shop.session_no:07d}",
        "customer_id": None if customer is None else f"C{customer:07d}",
        "started_at": ts(started),
        "ended_at": ts(ended),
        "device": device,
        "channel": CHANNELS[_draw(rng, _CHANNEL_CUM)],
        "page_views": str(views),
        "order_id": plan.order_id if plan else None,
    }
    kind = faults.pick(u(), shop.rate, faults.SESSION_KINDS) if shop.rate else None
    if kind:
        shop.faults.add(kind, "sessions")
        if kind == "missing_value":
            rec[rng.choice(REQUIRED["sessions"])] = None
        elif kind == "future_timestamp":
            offset = end_of_day + 1 + faults.future_offset(rng) - started
            rec["started_at"], rec["ended_at"] = ts(started + offset), ts(ended + offset)
        else:
            rec["ended_at"] = ts(started - rng.randrange(60, 3600))
    return rec
