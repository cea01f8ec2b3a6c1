"""The shop's export contract (docs/contract.md): entities, their fields, their keys, the order statuses.

The statuses are written down once, as the dbt project's vars `order_statuses` and `revenue_statuses`
(dbt_project/dbt_project.yml, which the staging and mart models read); they are read from there at import.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

DBT_PROJECT_FILE = Path(__file__).resolve().parent.parent / "dbt_project" / "dbt_project.yml"


@cache
def _project(project_file: Path) -> object:
    """dbt_project.yml parsed once per process (every DAG parse imports this module)."""
    try:
        return yaml.safe_load(project_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RuntimeError(f"cannot read the dbt project's vars from {project_file}: {exc}") from exc


def _var(name: str, project_file: Path) -> object:
    project = _project(project_file)
    variables = project.get("vars") if isinstance(project, dict) else None
    return variables.get(name) if isinstance(variables, dict) else None


def dbt_list_var(name: str, project_file: Path = DBT_PROJECT_FILE) -> tuple[str, ...]:
    """The dbt project's var `name` (`vars:` in dbt_project.yml), a non-empty list of strings, as a tuple."""
    value = _var(name, project_file)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise RuntimeError(f"{project_file}: vars.{name} must be a non-empty list of strings, not {value!r}")
    return tuple(value)


def dbt_str_var(name: str, project_file: Path = DBT_PROJECT_FILE) -> str:
    """The dbt project's var `name`, a non-empty string."""
    value = _var(name, project_file)
    if not isinstance(value, str) or not value:
        raise RuntimeError(f"{project_file}: vars.{name} must be a non-empty string, not {value!r}")
    return value


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

ORDER_STATUSES = dbt_list_var("order_statuses")
REVENUE_STATUSES = dbt_list_var("revenue_statuses")  # the statuses whose orders count as revenue
EMAIL_PATTERN = dbt_str_var("email_pattern")  # a well-formed e-mail (POSIX regex, as Postgres' ~ reads it)

# Lineage columns every raw table carries after the contract's fields (all of which land as text).
LINEAGE_COLUMNS = ("_batch_id", "_line", "_extra", "_loaded_at")  # the source: raw.load_ledger


def normalise_field(name: str) -> str:
    """Field names match case-insensitively, surrounding spaces ignored (and a UTF-8 BOM dropped)."""
    return name.replace("\ufeff", "").strip().lower()
