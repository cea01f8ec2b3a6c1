"""Suites of the marts: strict, nearly all blocking. They audit a build before it is published.

The relations are unqualified: the checkpoint's connection sets `search_path` to the schema under
audit (`marts_build` before publishing, `marts` after), so one suite checks either, and the
cross-table queries here read the same build as the table they validate.

Scope (gx/scope.py `unaudited_since`): built with `scope`, the suites of the incremental marts read
only the rows the build wrote that are not published yet (their lineage column, `WATERMARKS`, above the
mart's mark): row rules, uniqueness among those rows (the marts' primary keys keep the whole unique),
every changed row's parent, each touched order's subtotal, the daily revenue of the days the changed
orders fall on. Built without (`marts_published`, the data_quality DAG), every row. What the narrow
audit cannot see: a row the build deleted (a customer or order whose newer version broke a rule) that
leaves an unchanged row without its parent, and a day whose total changed only because an order moved
away from it; the deep check reads those.
"""

from __future__ import annotations

from collections.abc import Mapping

from great_expectations import ExpectationSuite

from extract.contract import EMAIL_PATTERN, ORDER_STATUSES, REVENUE_STATUSES
from gx.expectations import (
    Relation,
    changed_joined,
    changed_rows,
    changed_where,
    freshness,
    in_set,
    matches,
    not_null,
    positive,
    quoted,
    rows,
    unique,
)

# the incremental marts and their lineage column: the newest batch a row was built from (dbt_project.yml's
# var test_scope names the same columns); the other marts are small tables rebuilt whole
WATERMARKS = {
    "fct_orders": "input_batch_id",
    "fct_order_items": "input_batch_id",
    "dim_customers": "input_batch_id",
    "fct_sessions": "batch_id",
}

Scope = Mapping[str, int | None]  # mart -> audit its rows above this batch; None or absent: every row


def relation(mart: str) -> Relation:
    return Relation(None, mart)


class _Changed:
    """A mart's rows under audit, in the forms a suite needs (gx/expectations.py `changed_*`)."""

    def __init__(self, mart: str, scope: Scope | None) -> None:
        self.column = WATERMARKS[mart]
        self.after = None if scope is None else scope.get(mart)

    def rows(self) -> str:
        return changed_rows(self.after, self.column)

    def joined(self, alias: str) -> str:
        return changed_joined(self.after, alias, self.column)

    def where(self) -> dict:
        return changed_where(self.after, self.column)


def _fct_orders(hours: float, scope: Scope | None) -> list:
    changed = _Changed("fct_orders", scope)
    where = changed.where()
    total = (
        # SQL of names from the suites and a number, no input (ruff S608, bandit B608)
        "select order_id, order_total, items_subtotal, discount_amount, shipping_amount"  # noqa: S608  # nosec B608
        f" from {changed.rows()}"
        " where order_total is distinct from items_subtotal - discount_amount + shipping_amount"
    )
    revenue = (
        # SQL of names from the contract and the suites, no input (ruff S608, bandit B608)
        f"select order_id, status, order_total, net_revenue from {changed.rows()}"  # noqa: S608  # nosec B608
        f" where net_revenue is distinct from case when status in ({quoted(REVENUE_STATUSES)})"
        " then order_total else 0 end"
    )
    customers = (
        # SQL of names from the suites and a number, no input (ruff S608, bandit B608)
        f"select orders.order_id, orders.customer_id from {changed.joined('orders')}"  # noqa: S608  # nosec B608
        " left join dim_customers as c on c.customer_id = orders.customer_id where c.customer_id is null"
    )
    return [
        not_null("order_id", **where),
        unique("order_id", **where),
        *(not_null(column, **where) for column in ("customer_id", "order_total", "order_date")),
        in_set("status", ORDER_STATUSES, **where),
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


def _fct_order_items(hours: float, scope: Scope | None) -> list:
    changed, orders = _Changed("fct_order_items", scope), _Changed("fct_orders", scope)
    where = changed.where()
    orphans = (
        # SQL of names from the suites and a number, no input (ruff S608, bandit B608)
        f"select items.order_item_id, items.order_id from {changed.joined('items')}"  # noqa: S608  # nosec B608
        " left join fct_orders as o on o.order_id = items.order_id where o.order_id is null"
    )
    if changed.after is None or orders.after is None:
        subtotal = (
            "select o.order_id, o.items_subtotal, i.lines_total from fct_orders as o"
            " left join (select order_id, sum(line_total) as lines_total from {batch} as t group by 1) as i"
            " using (order_id) where o.items_subtotal is distinct from coalesce(i.lines_total, 0)"
        )
    else:  # the orders the build wrote, or wrote lines of: each read through its index
        subtotal = (
            # SQL of names from the suites and numbers, no input (ruff S608, bandit B608)
            "with touched as materialized (select order_id from fct_orders"  # noqa: S608  # nosec B608
            f" where {orders.column} > {int(orders.after)}"
            f" union select order_id from {{batch}} as t where t.{changed.column} > {int(changed.after)})"
            " select o.order_id, o.items_subtotal, i.lines_total from touched"
            " join fct_orders as o using (order_id)"
            " left join (select t.order_id, sum(t.line_total) as lines_total from {batch} as t"
            " join touched using (order_id) group by 1) as i using (order_id)"
            " where o.items_subtotal is distinct from coalesce(i.lines_total, 0)"
        )
    return [
        unique("order_item_id", **where),
        *(not_null(column, **where) for column in ("order_item_id", "order_id", "product_id")),
        positive("quantity", **where),
        positive("unit_price", **where),
        rows(orphans, "every line belongs to an order in fct_orders", "blocking", "consistency"),
        rows(subtotal, "each order's items_subtotal = the sum of its line totals", "blocking", "consistency"),
    ]


def _rpt_daily_revenue(hours: float, scope: Scope | None) -> list:
    orders = _Changed("fct_orders", scope)
    if orders.after is None:
        days, report = "", "{batch}"
    else:  # the days of the orders the build wrote: the report's rows of those days, their orders
        days = (
            # SQL of names from the suites and a number, no input (ruff S608, bandit B608)
            "with days as materialized (select distinct order_date from fct_orders"  # noqa: S608  # nosec B608
            f" where {orders.column} > {int(orders.after)}),"
        )
        report = "(select r.* from {batch} as r join days using (order_date))"
    facts_of = "fct_orders" if orders.after is None else "fct_orders join days using (order_date)"
    reconcile = (
        # SQL of names from the suites, no input (ruff S608, bandit B608)
        f"{days or 'with'} facts as (select order_date, count(*) as order_count,"  # noqa: S608  # nosec B608
        f" sum(net_revenue) as net_revenue from {facts_of} group by 1)"
        " select order_date, report.order_count, facts.order_count as fct_order_count,"
        " report.net_revenue, facts.net_revenue as fct_net_revenue"
        f" from {report} as report full join facts using (order_date)"
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


def _dim_customers(hours: float, scope: Scope | None) -> list:
    where = _Changed("dim_customers", scope).where()
    return [
        not_null("customer_id", **where),
        unique("customer_id", **where),
        not_null("email", **where),
        matches("email", EMAIL_PATTERN, "blocking", **where),
    ]


def _dim_products(hours: float, scope: Scope | None) -> list:
    return [not_null("product_id"), unique("product_id"), not_null("unit_price"), positive("unit_price")]


def _fct_sessions(hours: float, scope: Scope | None) -> list:
    changed = _Changed("fct_sessions", scope)
    where = changed.where()
    # SQL of names from the suites and a number, no input (ruff S608, bandit B608)
    ended = f"select session_id, started_at, ended_at from {changed.rows()} where ended_at < started_at"  # noqa: S608  # nosec B608
    channels = ("direct", "email", "paid_search", "organic", "social", "referral")
    return [
        not_null("session_id", **where),
        unique("session_id", **where),
        not_null("started_at", **where),
        rows(ended, "no session ends before it starts", "blocking", "consistency"),
        in_set("channel", channels, "warning", **where),
    ]


_BUILDERS = {
    "fct_orders": _fct_orders,
    "fct_order_items": _fct_order_items,
    "rpt_daily_revenue": _rpt_daily_revenue,
    "dim_customers": _dim_customers,
    "dim_products": _dim_products,
    "fct_sessions": _fct_sessions,
}


def mart_suite(mart: str, freshness_hours: float, scope: Scope | None = None) -> ExpectationSuite:
    """The suite of `mart`: over every row, or with `scope`, over the rows the build wrote that are not
    published yet (the module's docstring)."""
    after = None if scope is None or mart not in WATERMARKS else scope.get(mart)
    return ExpectationSuite(
        name=mart,
        meta={"relation": str(relation(mart)), "after_batch": after},
        expectations=_BUILDERS[mart](freshness_hours, scope),
    )
