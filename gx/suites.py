"""Expectation suites, built in code and named after the relation they guard.

Every expectation carries `meta = {"severity": "blocking" | "warning", "dimension": "completeness" |
"consistency" | "freshness"}`; GX's own `severity` mirrors it (blocking → critical) for data docs.
Checks GX has no built-in for are SQL (`UnexpectedRowsExpectation`: the query returns the offending
rows, so zero rows is a pass). Freshness is SQL on purpose: it compares with the database's `now()`,
so it means the same thing wherever the check runs. `{batch}` is the validated relation; literal
braces in these queries would have to be doubled (GX fills them with `str.format`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import great_expectations as gx
import great_expectations.expectations as gxe

Severity = Literal["blocking", "warning"]
Dimension = Literal["completeness", "consistency", "freshness"]

# The shop contract's statuses (extract/contract.py ORDER_STATUSES; a test keeps the two equal).
ORDER_STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled", "returned")
DEFAULT_FRESHNESS_HOURS = 26.0


@dataclass(frozen=True)
class Relation:
    schema: str
    table: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}"


# suite name -> the relation it guards (the GX table asset of the same name points at it).
RELATIONS: dict[str, Relation] = {
    "raw__orders": Relation("raw", "orders"),
    "fct_orders": Relation("marts", "fct_orders"),
}


def _meta(severity: Severity, dimension: Dimension) -> dict:
    return {
        "meta": {"severity": severity, "dimension": dimension},
        "severity": "critical" if severity == "blocking" else "warning",
    }


def _not_null(column: str, severity: Severity = "blocking") -> gxe.Expectation:
    return gxe.ExpectColumnValuesToNotBeNull(column=column, **_meta(severity, "completeness"))


def _sql(query: str, description: str, severity: Severity, dimension: Dimension) -> gxe.Expectation:
    return gxe.UnexpectedRowsExpectation(
        unexpected_rows_query=query, description=description, **_meta(severity, dimension)
    )


def _freshness(column: str, hours: float) -> gxe.Expectation:
    """One row (the last load time) when the relation is empty or its newest row is too old."""
    hours = float(hours)  # a number, never text: it is formatted into the SQL below
    if hours <= 0:
        raise ValueError(f"freshness threshold must be positive, got {hours}")
    query = (
        f"select max({column}) as last_loaded_at, now() - max({column}) as age from {{batch}}"  # noqa: S608
        f" having max({column}) is null or max({column}) < now() - interval '1 hour' * {hours}"
    )
    description = f"newest {column} within {hours:g} hours of the database clock"
    return _sql(query, description, "blocking", "freshness")


def _status_values() -> str:
    return ", ".join(f"'{status}'" for status in ORDER_STATUSES)


def raw_orders_suite(freshness_hours: float = DEFAULT_FRESHNESS_HOURS) -> gx.ExpectationSuite:
    """`raw.orders`: every column is text as the source sent it, plus lineage (`_loaded_at`, ...)."""
    status_query = (
        "select _batch_id, _line, status from {batch}"  # noqa: S608
        f" where status is null or lower(trim(status)) not in ({_status_values()})"
    )
    return gx.ExpectationSuite(
        name="raw__orders",
        meta={"relation": str(RELATIONS["raw__orders"])},
        expectations=[
            _not_null("order_id"),
            _not_null("customer_id"),
            _not_null("ordered_at"),
            _sql(
                status_query,
                "status is one of the contract's statuses (ignoring case and surrounding blanks)",
                "warning",
                "consistency",
            ),
            _freshness("_loaded_at", freshness_hours),
        ],
    )


def fct_orders_suite(freshness_hours: float = DEFAULT_FRESHNESS_HOURS) -> gx.ExpectationSuite:
    """`marts.fct_orders`: one row per order, typed and priced."""
    total_query = (
        "select order_id, order_total, items_subtotal, discount_amount, shipping_amount from {batch}"
        " where order_total is distinct from items_subtotal - discount_amount + shipping_amount"
    )
    return gx.ExpectationSuite(
        name="fct_orders",
        meta={"relation": str(RELATIONS["fct_orders"])},
        expectations=[
            _not_null("order_id"),
            gxe.ExpectColumnValuesToBeUnique(column="order_id", **_meta("blocking", "consistency")),
            _not_null("order_total"),
            _sql(
                total_query,
                "order_total = items_subtotal - discount_amount + shipping_amount on every row",
                "blocking",
                "consistency",
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column="status", value_set=list(ORDER_STATUSES), **_meta("warning", "consistency")
            ),
            _freshness("loaded_at", freshness_hours),
        ],
    )


_BUILDERS = {"raw__orders": raw_orders_suite, "fct_orders": fct_orders_suite}


def build_suite(name: str, freshness_hours: float = DEFAULT_FRESHNESS_HOURS) -> gx.ExpectationSuite:
    """A fresh (unsaved) suite by name; raises KeyError for an unknown suite."""
    return _BUILDERS[name](freshness_hours=freshness_hours)
