"""The expectation suites, built in code and named after the relation they guard.

Raw: `raw__<entity>` for each of the shop's five entities (gx/suites_raw.py). Marts: one suite per
published mart table (gx/suites_marts.py). Helpers and tagging: gx/expectations.py.
"""

from __future__ import annotations

from great_expectations import ExpectationSuite

from extract.contract import FIELDS
from gx import suites_marts, suites_raw
from gx.expectations import DEFAULT_FRESHNESS_HOURS, Relation
from publish import MARTS

RAW_SUITES = tuple(f"raw__{entity}" for entity in FIELDS)
MART_SUITES = MARTS

# suite name -> the relation it guards (the GX table asset of the same name points at it).
RELATIONS: dict[str, Relation] = {
    **{f"raw__{entity}": suites_raw.relation(entity) for entity in FIELDS},
    **{mart: suites_marts.relation(mart) for mart in MARTS},
}


def build_suite(
    name: str,
    freshness_hours: float = DEFAULT_FRESHNESS_HOURS,
    scope: suites_raw.Scope | suites_marts.Scope | None = None,
) -> ExpectationSuite:
    """A fresh (unsaved) suite by name; raises KeyError for an unknown suite. `scope` narrows a raw
    suite to the pending batches, a mart's to the rows no audit has passed (gx/scope.py); without it,
    a suite reads every row."""
    if name not in RELATIONS:
        raise KeyError(name)
    if name in RAW_SUITES:
        return suites_raw.raw_suite(name.removeprefix("raw__"), freshness_hours, scope)
    return suites_marts.mart_suite(name, freshness_hours, scope)
