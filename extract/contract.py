"""The shop's export contract (docs/contract.md): entities, their fields, their keys."""

from __future__ import annotations

FIELDS: dict[str, tuple[str, ...]] = {
    "customers": (
        "customer_id",
        "email",
        "first_name",
        "last_name",
        "country",
        "city",
        "created_at",
        "updated_at",
    ),
    "products": (
        "product_id",
        "sku",
        "name",
        "category",
        "unit_price",
        "is_active",
        "created_at",
        "updated_at",
    ),
    "orders": (
        "order_id",
        "customer_id",
        "status",
        "ordered_at",
        "updated_at",
        "shipping_amount",
        "discount_amount",
        "payment_method",
    ),
    "order_items": ("order_id", "line_number", "product_id", "quantity", "unit_price"),
    "sessions": (
        "session_id",
        "customer_id",
        "started_at",
        "ended_at",
        "device",
        "channel",
        "page_views",
        "order_id",
    ),
}

KEYS: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "products": ("product_id",),
    "orders": ("order_id",),
    "order_items": ("order_id", "line_number"),
    "sessions": ("session_id",),
}

# Fields a record must carry beyond its key; dbt quarantines a record missing one as `missing_value`.
REQUIRED: dict[str, tuple[str, ...]] = {
    "customers": ("email", "created_at"),
    "products": ("name", "unit_price"),
    "orders": ("customer_id", "status", "ordered_at"),
    "order_items": ("product_id", "quantity", "unit_price"),
    "sessions": ("started_at", "device"),
}

# The order a run lands entities in: customers and products before the orders, items and sessions naming them.
ENTITY_ORDER = ("customers", "products", "orders", "order_items", "sessions")

ORDER_STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled", "returned")
REVENUE_STATUSES = ("paid", "shipped", "delivered")

# Lineage columns every raw table carries after the contract's fields (all of which land as text).
LINEAGE_COLUMNS = ("_batch_id", "_line", "_extra", "_loaded_at")  # the source: raw.load_ledger


def normalise_field(name: str) -> str:
    """Field names match case-insensitively, surrounding spaces ignored (and a UTF-8 BOM dropped)."""
    return name.replace("\ufeff", "").strip().lower()
