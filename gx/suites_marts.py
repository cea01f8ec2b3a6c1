"""Suites of the marts: strict, nearly all blocking. They audit a build before it is published.

The relations are unqualified: the checkpoint's connection sets `search_path` to the schema under
audit (`marts_build` before publishing, `marts` after), so one suite checks either, and the
cross-table queries here read the same build as the table they validate.
"""

from __future__ import annotations

from great_expectations import ExpectationSuite

from extract.contract import EMAIL_PATTERN, ORDER_STATUSES, REVENUE_STATUSES
from gx.expectations import (
    Relation,
    freshness,
    in_set,
    matches,
    not_null,
    positive,
    quoted,
    rows,
    unique,
)


def relation(mart: str) -> Relation:
    return Relation(None, mart)


def _fct_orders(hours: float) -> list:
    total = (
        "select order_id, order_total, items_subtotal, discount_amount, shipping_amount from {batch}"
        " where order_total is distinct from items_subtotal - discount_amount + shipping_amount"
    )
    revenue = (
        # SQL of names from the contract and the suites, no input (ruff S608, bandit B608)
        "select order_id, status, order_total, net_revenue from {batch}"  # noqa: S608  # nosec B608
        f" where net_revenue is distinct from case when status in ({quoted(REVENUE_STATUSES)})"
        " then order_total else 0 end"
    )
    customers = (
        "select orders.order_id, orders.customer_id from {batch} as orders"
        " left join dim_customers as c on c.customer_id = orders.customer_id where c.customer_id is null"
    )
    return [
        not_null("order_id"),
        unique("order_id"),
        *(not_null(column) for column in ("customer_id", "order_total", "order_date")),
        in_set("status", ORDER_STATUSES),
        rows(
            total,
            "order_total = items_subtotal - discount_amount + shipping_amount",
            "blocking",
            "consistency",
        ),
        rows(
            revenue, "net_revenue = order_total for paid/shipped/delivered, else 0", "blocking", "consistency"
        ),
        rows(customers, "every order's customer is in dim_customers", "blocking", "consistency"),
        freshness("loaded_at", hours),
    ]


def _fct_order_items(hours: float) -> list:
    orphans = (
        "select items.order_item_id, items.order_id from {batch} as items"
        " left join fct_orders as o on o.order_id = items.order_id where o.order_id is null"
    )
    subtotal = (
        "select o.order_id, o.items_subtotal, i.lines_total from fct_orders as o"
        " left join (select order_id, sum(line_total) as lines_total from {batch} as t group by 1) as i"
        " using (order_id) where o.items_subtotal is distinct from coalesce(i.lines_total, 0)"
    )
    return [
        unique("order_item_id"),
        *(not_null(column) for column in ("order_item_id", "order_id", "product_id")),
        positive("quantity"),
        positive("unit_price"),
        rows(orphans, "every line belongs to an order in fct_orders", "blocking", "consistency"),
        rows(subtotal, "each order's items_subtotal = the sum of its line totals", "blocking", "consistency"),
    ]


def _rpt_daily_revenue(hours: float) -> list:
    reconcile = (
        "with facts as (select order_date, count(*) as order_count, sum(net_revenue) as net_revenue"
        " from fct_orders group by 1)"
        " select order_date, report.order_count, facts.order_count as fct_order_count,"
        " report.net_revenue, facts.net_revenue as fct_net_revenue"
        " from {batch} as report full join facts using (order_date)"
        " where report.order_count is distinct from facts.order_count"
        " or report.net_revenue is distinct from facts.net_revenue"
    )
    return [
        not_null("order_date"),
        unique("order_date"),
        not_null("net_revenue"),
        rows(reconcile, "orders and net revenue per day equal fct_orders'", "blocking", "consistency"),
        freshness("loaded_at", hours),  # the latest day was refreshed by a recent load
    ]


def _dim_customers(hours: float) -> list:
    return [
        not_null("customer_id"),
        unique("customer_id"),
        not_null("email"),
        matches("email", EMAIL_PATTERN, "blocking"),
    ]


def _dim_products(hours: float) -> list:
    return [not_null("product_id"), unique("product_id"), not_null("unit_price"), positive("unit_price")]


def _fct_sessions(hours: float) -> list:
    ended = "select session_id, started_at, ended_at from {batch} where ended_at < started_at"
    return [
        not_null("session_id"),
        unique("session_id"),
        not_null("started_at"),
        rows(ended, "no session ends before it starts", "blocking", "consistency"),
        in_set("channel", ("direct", "email", "paid_search", "organic", "social", "referral"), "warning"),
    ]


_BUILDERS = {
    "fct_orders": _fct_orders,
    "fct_order_items": _fct_order_items,
    "rpt_daily_revenue": _rpt_daily_revenue,
    "dim_customers": _dim_customers,
    "dim_products": _dim_products,
    "fct_sessions": _fct_sessions,
}


def mart_suite(mart: str, freshness_hours: float) -> ExpectationSuite:
    return ExpectationSuite(
        name=mart,
        meta={"relation": str(relation(mart))},
        expectations=_BUILDERS[mart](freshness_hours),
    )
