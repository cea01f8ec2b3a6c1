"""Building blocks of the suites: GX expectations, each tagged blocking or warning and with a dimension.

Every expectation carries `meta = {"severity": "blocking" | "warning", "dimension": "completeness" |
"consistency" | "freshness"}`; GX's own `severity` mirrors it (blocking → critical) for data docs.
Checks GX has no built-in for are SQL (`ExpectQueryToReturnNoRows`, gx/query_check.py: the query returns
the offending rows, so zero rows is a pass; they are counted and sampled in one statement). `{batch}` in
such a query is the validated relation; literal braces would have to be doubled (GX fills the query with
`str.format`). Freshness is SQL on purpose: it
compares with the database's `now()`, so it means the same thing wherever the check runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import great_expectations.expectations as gxe
from great_expectations.expectations.row_conditions import Column, Condition

from gx.query_check import ExpectQueryToReturnNoRows

Severity = Literal["blocking", "warning"]
Dimension = Literal["completeness", "consistency", "freshness"]

DEFAULT_FRESHNESS_HOURS = 26.0


@dataclass(frozen=True)
class Relation:
    """What a suite guards. `schema` None: a mart, resolved through the checkpoint's search_path
    (the unpublished build for `marts_publish`, the published marts for `marts_published`)."""

    schema: str | None
    table: str

    def __str__(self) -> str:
        return f"{self.schema or '<marts>'}.{self.table}"


def tags(severity: Severity, dimension: Dimension) -> dict:
    return {
        "meta": {"severity": severity, "dimension": dimension},
        "severity": "critical" if severity == "blocking" else "warning",
    }


def changed_rows(after: int | None, column: str) -> str:
    """The validated rows, in an SQL check without a JOIN (GX aliases `{batch}` there itself): the whole
    relation, or its rows whose batch `column` is above `after`. Columns are then named unqualified."""
    if after is None:
        return "{batch}"
    # a literal, so the planner sees "a few batches" and reads the index on the column; SQL of names
    # and a number, no input (ruff S608, bandit B608)
    return f"(select * from {{batch}} where {column} > {int(after)}) as changed"  # noqa: S608  # nosec B608


def changed_joined(after: int | None, alias: str, column: str) -> str:
    """The validated rows as `alias`, in an SQL check with a JOIN (GX leaves `{batch}` unaliased there)."""
    if after is None:
        return f"{{batch}} as {alias}"
    # as in changed_rows: SQL of names and a number, no input (ruff S608, bandit B608)
    return f"(select * from {{batch}} as b where b.{column} > {int(after)}) as {alias}"  # noqa: S608  # nosec B608


def changed_where(after: int | None, column: str) -> dict[str, Condition]:
    """The row condition of a column rule (`where=`): the rows above `after` only, or (none) every row."""
    return {} if after is None else {"where": Column(column) > int(after)}


def _rows_of(where: Condition | None) -> dict:
    """GX's `row_condition` (the rows a column rule reads) when there is one."""
    return {} if where is None else {"row_condition": where}


def not_null(
    column: str, severity: Severity = "blocking", mostly: float = 1.0, where: Condition | None = None
) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToNotBeNull(
        column=column, mostly=mostly, **_rows_of(where), **tags(severity, "completeness")
    )


def unique(column: str, severity: Severity = "blocking", where: Condition | None = None) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToBeUnique(column=column, **_rows_of(where), **tags(severity, "consistency"))


def in_set(
    column: str, values: tuple[str, ...], severity: Severity = "blocking", where: Condition | None = None
) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToBeInSet(
        column=column, value_set=list(values), **_rows_of(where), **tags(severity, "consistency")
    )


def matches(
    column: str, regex: str, severity: Severity, mostly: float = 1.0, where: Condition | None = None
) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToMatchRegex(
        column=column, regex=regex, mostly=mostly, **_rows_of(where), **tags(severity, "consistency")
    )


def positive(column: str, severity: Severity = "blocking", where: Condition | None = None) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToBeBetween(
        column=column, min_value=0, strict_min=True, **_rows_of(where), **tags(severity, "consistency")
    )


def rows(query: str, description: str, severity: Severity, dimension: Dimension) -> gxe.Expectation:
    """Fails when `query` returns any row (the offending rows are its examples).

    GX substitutes `{batch}` with an aliased subquery, except in a query that contains a JOIN: there
    the query must alias it itself (`from {batch} as t ... join ...`), everywhere it appears.
    """
    return ExpectQueryToReturnNoRows(
        unexpected_rows_query=query, description=description, **tags(severity, dimension)
    )


def freshness(column: str, hours: float, severity: Severity = "blocking") -> gxe.Expectation:
    """One row (the newest time and its age) when the relation is empty or its newest row is too old."""
    hours = float(hours)  # a number, never text: it is formatted into the SQL below
    if hours <= 0:
        raise ValueError(f"freshness threshold must be positive, got {hours}")
    query = (
        # SQL of names from the contract and the suites, no input (ruff S608, bandit B608)
        f"select max({column}) as newest, now() - max({column}) as age from {{batch}}"  # noqa: S608  # nosec B608
        f" having max({column}) is null or max({column}) < now() - interval '1 hour' * {hours}"
    )
    return rows(query, f"newest {column} within {hours:g} hours of the database clock", severity, "freshness")


def quoted(values: tuple[str, ...]) -> str:
    """`'a', 'b'` for an SQL `in (...)` list; the values are the project's own constants."""
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)
