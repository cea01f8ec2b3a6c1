"""Suites of the raw layer (`raw__<entity>`): the shop's records as sent, every field text, plus lineage.

Raw keeps what the shop sent, including records dbt will quarantine, so most record-level rules here
warn with a tolerance (`mostly`): a few bad records are the quarantine's job, a column that is suddenly
mostly empty is an export that broke. What blocks: a missing key, a required field empty beyond the
tolerance, rows that disagree with the load ledger, and a table that stopped being loaded.
"""

from __future__ import annotations

from great_expectations import ExpectationSuite

from extract.contract import EMAIL_PATTERN, FIELDS, KEYS, ORDER_STATUSES, REQUIRED
from gx.expectations import (
    Relation,
    freshness,
    matches,
    not_null,
    quoted,
    rows,
)

REQUIRED_MOSTLY = 0.9  # a required field may be empty on up to 10% of the rows before it blocks
FORMAT_MOSTLY = 0.95  # a malformed value on up to 5% of the rows is the quarantine's job, not a warning
BOOLEANS = ("true", "false", "1", "0")


def relation(entity: str) -> Relation:
    return Relation("raw", entity)


def _ledger(entity: str):
    """Rows per batch in the table equal the rows the load ledger says each loaded batch landed."""
    query = (
        # SQL of names from the contract and the suites, no input (ruff S608, bandit B608)
        "with landed as (select _batch_id as batch_id, count(*) as landed_rows from {batch} as t group by 1),"  # noqa: S608  # nosec B608
        " ledger as (select batch_id, coalesce(rows_loaded, 0) as ledger_rows from raw.load_ledger"
        f" where entity = '{entity}' and status = 'loaded')"  # a contract constant
        " select batch_id, landed_rows, ledger_rows from landed full join ledger using (batch_id)"
        " where coalesce(landed_rows, 0) <> coalesce(ledger_rows, 0)"
    )
    return rows(query, "rows per batch equal raw.load_ledger.rows_loaded", "blocking", "completeness")


def _one_version_per_batch(entity: str):
    """Two different records for one key in one batch, with the same `updated_at` where the entity has
    one: which is the latest is a guess (a later updated_at in the same file is a normal status change)."""
    keys = list(KEYS[entity])
    if "updated_at" in FIELDS[entity]:
        keys.append("updated_at")
    group = ", ".join(keys)
    content = ", ".join(f for f in FIELDS[entity] if f not in keys)
    query = (
        # SQL of names from the contract and the suites, no input (ruff S608, bandit B608)
        f"select {group}, _batch_id, count(distinct md5(concat_ws('|', {content}))) as versions"  # noqa: S608  # nosec B608
        f" from {{batch}} where {' and '.join(f'{k} is not null' for k in KEYS[entity])}"
        f" group by {group}, _batch_id having count(distinct md5(concat_ws('|', {content}))) > 1"
    )
    description = f"one record per ({group}) and batch (exact copies are fine)"
    return rows(query, description, "warning", "consistency")


def _known(column: str, parent: str, parent_key: str, what: str):
    """Cross-table integrity in SQL: every non-empty `column` names a record the raw layer holds."""
    query = (
        # SQL of names from the contract and the suites, no input (ruff S608, bandit B608)
        f"select distinct trim(child.{column}) as {column} from {{batch}} as child"  # noqa: S608  # nosec B608
        f" left join (select distinct trim({parent_key}) as key from raw.{parent}) as parent"
        f" on parent.key = trim(child.{column})"
        f" where nullif(trim(child.{column}), '') is not null and parent.key is null"
    )
    return rows(query, f"every {column} names {what} in raw.{parent}", "warning", "consistency")


def _common(entity: str, freshness_hours: float) -> list:
    return [
        *(not_null(key) for key in KEYS[entity]),
        *(not_null(field, mostly=REQUIRED_MOSTLY) for field in REQUIRED[entity]),
        _ledger(entity),
        _one_version_per_batch(entity),
        freshness("_loaded_at", freshness_hours),
    ]


def _specific(entity: str) -> list:
    if entity == "customers":
        return [matches("email", EMAIL_PATTERN, "warning", mostly=FORMAT_MOSTLY)]
    if entity == "products":
        query = (
            # SQL of names from the contract and the suites, no input (ruff S608, bandit B608)
            "select product_id, is_active from {batch}"  # noqa: S608  # nosec B608
            f" where is_active is not null and lower(trim(is_active)) not in ({quoted(BOOLEANS)})"
        )
        return [rows(query, "is_active is true/false/1/0", "warning", "consistency")]
    if entity == "orders":
        query = (
            # SQL of names from the contract and the suites, no input (ruff S608, bandit B608)
            "select _batch_id, _line, status from {batch}"  # noqa: S608  # nosec B608
            f" where status is not null and lower(trim(status)) not in ({quoted(ORDER_STATUSES)})"
        )
        return [
            rows(query, "status is one of the contract's (any case, blanks aside)", "warning", "consistency"),
            _known("customer_id", "customers", "customer_id", "a customer"),
        ]
    if entity == "order_items":
        return [
            _known("order_id", "orders", "order_id", "an order"),
            _known("product_id", "products", "product_id", "a product"),
        ]
    return [_known("order_id", "orders", "order_id", "an order")]  # sessions


def raw_suite(entity: str, freshness_hours: float) -> ExpectationSuite:
    return ExpectationSuite(
        name=f"raw__{entity}",
        meta={"relation": str(relation(entity))},
        expectations=[*_common(entity, freshness_hours), *_specific(entity)],
    )
