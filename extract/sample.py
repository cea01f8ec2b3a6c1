"""A small, deterministic shop day in the contract's file format (the walking skeleton's source).

`write_day(landing, day)` writes `<landing>/<entity>/<day>/<entity>.csv` for customers, products, orders,
order_items and sessions. The same day always gives byte-identical files (seeded from the date), so a rerun of
the same Airflow data interval lands the same content.
"""

from __future__ import annotations

import csv
import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from extract.contract import FIELDS, ORDER_STATUSES

_FIRST = (
    "Ada",
    "Björn",
    "Chloé",
    "Dmitri",
    "Eva",
    "Farid",
    "Grace",
    "Hugo",
    "Inès",
    "Jonas",
    "Kenji",
    "Lena",
)
_LAST = ("Lovelace", "Borg", "Martin", "Ivanov", "Novak", "Haddad", "Hopper", "Weber", "Dubois", "Berg")
_PLACES = (("DE", "Berlin"), ("FR", "Lyon"), ("NL", "Utrecht"), ("ES", "Sevilla"), ("IT", "Torino"))
_CATALOGUE = (
    ("Espresso beans 1kg", "coffee", "19.90"),
    ("Filter coffee 500g", "coffee", "8.50"),
    ("Green tea 100g", "tea", "6.20"),
    ("Ceramic mug", "kitchen", "12.00"),
    ("Pour-over kettle", "kitchen", "44.95"),
    ("Hand grinder", "equipment", "59.00"),
    ("Milk frother", "equipment", "24.99"),
    ("Gift card", "gift", "25.00"),
)
_STATUS_WEIGHTS = (3, 5, 4, 4, 2, 1)  # placed, paid, shipped, delivered, cancelled, returned
_PAYMENTS = ("card", "paypal", "klarna", "bank_transfer")
_CHANNELS = ("organic", "paid_search", "email", "social", "direct")


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_day(day: date, n_customers: int = 12, n_orders: int = 20) -> dict[str, list[dict[str, str]]]:
    """The day's records per entity, as the shop would export them (strings only)."""
    rng = random.Random(f"shop-sample-{day.isoformat()}")
    midnight = datetime.combine(day, time(), tzinfo=UTC)
    catalogue_since = datetime(2025, 1, 1, tzinfo=UTC)

    products = [
        {
            "product_id": f"P{n:04d}",
            "sku": f"SKU-{1000 + n}",
            "name": name,
            "category": category,
            "unit_price": price,
            "is_active": "true",
            "created_at": _ts(catalogue_since),
            "updated_at": _ts(catalogue_since),
        }
        for n, (name, category, price) in enumerate(_CATALOGUE, start=1)
    ]
    customers = []
    for n in range(1, n_customers + 1):
        first, last = _FIRST[n % len(_FIRST)], _LAST[n % len(_LAST)]
        country, city = _PLACES[n % len(_PLACES)]
        since = midnight - timedelta(days=30 + n)
        customers.append(
            {
                "customer_id": f"C{n:05d}",
                "email": f"{first.lower()}.{last.lower()}{n}@example.com",
                "first_name": first,
                "last_name": last,
                "country": country,
                "city": city,
                "created_at": _ts(since),
                "updated_at": _ts(since),
            }
        )

    orders, items = [], []
    for n in range(1, n_orders + 1):
        ordered_at = midnight + timedelta(seconds=rng.randrange(0, 86_400 - 3_600))
        order_id = f"O{day:%Y%m%d}-{n:04d}"
        orders.append(
            {
                "order_id": order_id,
                "customer_id": rng.choice(customers)["customer_id"],
                "status": rng.choices(ORDER_STATUSES, weights=_STATUS_WEIGHTS)[0],
                "ordered_at": _ts(ordered_at),
                "updated_at": _ts(ordered_at + timedelta(minutes=rng.randrange(1, 50))),
                "shipping_amount": rng.choice(("0.00", "4.90", "6.90")),
                "discount_amount": rng.choice(("0.00", "0.00", "0.00", "5.00")),
                "payment_method": rng.choice(_PAYMENTS),
            }
        )
        for line in range(1, rng.randint(1, 3) + 1):
            product = rng.choice(products)
            items.append(
                {
                    "order_id": order_id,
                    "line_number": str(line),
                    "product_id": product["product_id"],
                    "quantity": str(rng.randint(1, 3)),
                    "unit_price": str(Decimal(product["unit_price"])),
                }
            )
    sessions = []
    for n, order in enumerate(orders, start=1):  # each order converted a session; some visits did not
        ordered_at = datetime.fromisoformat(order["ordered_at"].replace("Z", "+00:00"))
        started = ordered_at - timedelta(minutes=rng.randrange(3, 40))
        sessions.append(
            _session(rng, f"S{day:%Y%m%d}-{n:05d}", order["customer_id"], started, order["order_id"])
        )
    for n in range(len(orders) + 1, 2 * len(orders) + 1):
        started = midnight + timedelta(seconds=rng.randrange(0, 86_400 - 3_600))
        visitor = rng.choice(customers)["customer_id"] if rng.random() < 0.5 else None
        sessions.append(_session(rng, f"S{day:%Y%m%d}-{n:05d}", visitor, started, None))
    return {
        "customers": customers,
        "products": products,
        "orders": orders,
        "order_items": items,
        "sessions": sessions,
    }


def _session(rng: random.Random, session_id: str, customer_id, started: datetime, order_id) -> dict:
    return {
        "session_id": session_id,
        "customer_id": customer_id,
        "started_at": _ts(started),
        "ended_at": _ts(started + timedelta(seconds=rng.randrange(30, 2_400))),
        "device": rng.choice(("desktop", "mobile", "tablet")),
        "channel": rng.choice(_CHANNELS),
        "page_views": str(rng.randint(1, 25)),
        "order_id": order_id,
    }


def write_day(landing: Path, day: date) -> list[Path]:
    """Write the day's CSV files under `landing`; returns their paths."""
    written = []
    for entity, rows in build_day(day).items():
        path = landing / entity / day.isoformat() / f"{entity}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=FIELDS[entity], lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        written.append(path)
    return written
