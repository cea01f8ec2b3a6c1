"""Examples of bad rows for the SQL checks that failed, for the gate's log and monitoring.gx_results.

GX returns the rows an `UnexpectedRowsExpectation` query found only with result_format COMPLETE,
which would also make every column check return every unexpected value (tens of thousands on a
big table with a tolerated fault rate). So the gate asks only the failed SQL checks again, for a
few rows, the way GX runs them: `{batch}` becomes the relation as a subquery, aliased by GX unless
the query joins (then the query aliases it itself).
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal

import psycopg
from great_expectations.expectations.metrics.query_metric_provider import _query_has_join_clause
from psycopg import sql

log = logging.getLogger(__name__)

LIMIT = 3


def _render(query: str, relation: str) -> str:
    # SQL of names from the contract and the suites, no input (ruff S608, bandit B608)
    batch = f"(select * from {relation})"  # noqa: S608  # nosec B608
    if not _query_has_join_clause(query):
        batch += " as subselect"
    return query.replace("{batch}", batch).replace("{{", "{").replace("}}", "}")


def _value(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return repr(value) if isinstance(value, str) else str(value)


def fetch_examples(conninfo: str, search_path: str | None, relation: str, query: str) -> list[str]:
    """Up to LIMIT rows `query` returns on `relation`, each as `column=value, ...`; [] if it fails."""
    statement = sql.SQL("select * from ({}) as unexpected limit {}").format(
        sql.SQL(_render(query, relation)), sql.Literal(LIMIT)
    )
    try:
        with psycopg.connect(conninfo) as conn:
            if search_path:
                conn.execute(sql.SQL("set search_path = {}").format(sql.Identifier(search_path)))
            cur = conn.execute(statement)
            names = [column.name for column in cur.description or []]
            return [", ".join(f"{n}={_value(v)}" for n, v in zip(names, row, strict=True)) for row in cur]
    except psycopg.Error as error:  # examples are a courtesy: the verdict stands without them
        log.warning("no examples for a failed check on %s: %s", relation, error)
        return []


def add_examples(validation: dict, conninfo: str, search_path: str | None, relation: str) -> None:
    """Put examples of bad rows into each failed (not errored) SQL check of a validation's JSON form,
    as `result.details.unexpected_rows`, where GX's COMPLETE format would have put them."""
    for evr in validation.get("results") or []:
        config = evr.get("expectation_config") or {}
        if evr.get("success") or config.get("type") != "unexpected_rows_expectation":
            continue
        if (evr.get("exception_info") or {}).get("raised_exception"):
            continue
        query = (config.get("kwargs") or {}).get("unexpected_rows_query")
        examples = fetch_examples(conninfo, search_path, relation, query) if query else []
        if examples:
            result = evr.setdefault("result", {}) or {}
            result.setdefault("details", {})["unexpected_rows"] = examples
            evr["result"] = result
