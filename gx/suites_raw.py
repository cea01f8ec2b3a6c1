"""Suites of the raw layer (`raw__<entity>`): the shop's records as sent, every field text, plus lineage.

Raw keeps what the shop sent, including records dbt will quarantine, so most record-level rules here
warn with a tolerance (`mostly`): a few bad records are the quarantine's job, a column that is suddenly
mostly empty is an export that broke. What blocks: a missing key, a required field empty beyond the
tolerance, rows that disagree with the load ledger, and a table that stopped being loaded.

Scope (gx/scope.py): a suite built with `scope` validates only the rows of batches after its entity's
watermark (the pending batches, those the next dbt build reads); built without, every batch. Record rules
and per-batch rules then read the pending rows only. Two rules need more than the pending rows, and stay
cheap by reading indexes: "every id names a known record" looks the id up in the parent's staging model
(its unique key index: every key raw held through the parent's watermark) and in the parent's pending raw
rows; freshness reads the entity's newest loaded batch, found in the load ledger.
"""

from __future__ import annotations

from collections.abc import Mapping

from great_expectations import ExpectationSuite
from great_expectations.expectations.row_conditions import Condition

from extract.contract import EMAIL_PATTERN, FIELDS, KEYS, ORDER_STATUSES, REQUIRED
from gx.expectations import (
    Relation,
    changed_joined,
    changed_rows,
    changed_where,
    matches,
    not_null,
    quoted,
    rows,
)
from gx.scope import STAGING_SCHEMA, staging_model

REQUIRED_MOSTLY = 0.9  # a required field may be empty on up to 10% of the rows before it blocks
FORMAT_MOSTLY = 0.95  # a malformed value on up to 5% of the rows is the quarantine's job, not a warning
BOOLEANS = ("true", "false", "1", "0")
BATCH_COLUMN = "_batch_id"  # the load batch of a raw row (raw.load_ledger)


Scope = Mapping[str, int | None]  # entity -> validate batches after this id; None: every batch


def relation(entity: str) -> Relation:
    return Relation("raw", entity)


def _rows(after: int | None) -> str:
    return changed_rows(after, BATCH_COLUMN)


def _joined(after: int | None, alias: str) -> str:
    return changed_joined(after, alias, BATCH_COLUMN)


def _ledger(entity: str, after: int | None):
    """Rows per batch in the table equal the rows the load ledger says each loaded batch landed."""
    pending = "" if after is None else f" and batch_id > {int(after)}"
    query = (
        # SQL of names from the contract and the suites, no input (ruff S608, bandit B608)
        "with landed as (select _batch_id as batch_id, count(*) as landed_rows"  # noqa: S608  # nosec B608
        f" from {_joined(after, 't')} group by 1),"
        " ledger as (select batch_id, coalesce(rows_loaded, 0) as ledger_rows from raw.load_ledger"
        f" where entity = '{entity}' and status = 'loaded'{pending})"  # a contract constant
        " select batch_id, landed_rows, ledger_rows from landed full join ledger using (batch_id)"
        " where coalesce(landed_rows, 0) <> coalesce(ledger_rows, 0)"
    )
    return rows(query, "rows per batch equal raw.load_ledger.rows_loaded", "blocking", "completeness")


def _one_version_per_batch(entity: str, after: int | None):
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
        f" from {_rows(after)} where {' and '.join(f'{k} is not null' for k in KEYS[entity])}"
        f" group by {group}, _batch_id having count(distinct md5(concat_ws('|', {content}))) > 1"
    )
    description = f"one record per ({group}) and batch (exact copies are fine)"
    return rows(query, description, "warning", "consistency")


def _known(column: str, parent: str, parent_key: str, what: str, scope: Scope | None, entity: str):
    """Cross-table integrity in SQL: every non-empty `column` names a record the raw layer holds.

    Every batch: against every key of raw.<parent>. Pending batches, once the parent's staging model
    exists: against that model (every key raw held up to the parent's watermark; a unique index) and
    the parent's pending raw rows."""
    after = None if scope is None else scope[entity]
    parent_after = None if scope is None else scope.get(parent)
    if parent_after is None:
        child = f"trim(child.{column})"
        query = (
            # SQL of names from the contract and the suites, no input (ruff S608, bandit B608)
            f"select distinct {child} as {column} from {_joined(after, 'child')}"  # noqa: S608  # nosec B608
            f" left join (select distinct trim({parent_key}) as key from raw.{parent}) as parent"
            f" on parent.key = {child}"
            f" where nullif({child}, '') is not null and parent.key is null"
        )
    else:
        # each side's distinct ids first (materialized: the planner then hashes the pending parent keys;
        # left to itself it chose a nested loop of every pending child row by every pending parent row,
        # 73 s at 300k orders of history against 0.14 s), then the children in neither: the pending
        # parent rows (hashed), the staging model (its unique index, probed only for what is left)
        staged = f"{STAGING_SCHEMA}.{staging_model(parent)}"
        query = (
            # SQL of names from the contract and the suites, no input (ruff S608, bandit B608)
            f"with child as materialized (select distinct trim({column}) as {column}"  # noqa: S608  # nosec B608
            f" from {_rows(after)} where nullif(trim({column}), '') is not null),"
            f" pending_parent as materialized (select distinct trim({parent_key}) as key from raw.{parent}"
            f" where _batch_id > {int(parent_after)})"
            f" select child.{column} from child"
            f" where not exists (select 1 from pending_parent where pending_parent.key = child.{column})"
            f" and not exists (select 1 from {staged} as staged where staged.{parent_key} = child.{column})"
        )
    return rows(query, f"every {column} names {what} in raw.{parent}", "warning", "consistency")


def _freshness(entity: str, hours: float):
    """One row (the newest load time and its age) when nothing was loaded, or not within `hours`: the
    newest rows are those of the entity's newest loaded batch, so one batch is read, through the BRIN
    index, whatever the scope."""
    hours = float(hours)  # a number, never text: it is formatted into the SQL below
    if hours <= 0:
        raise ValueError(f"freshness threshold must be positive, got {hours}")
    newest = (
        # SQL of a contract constant, no input (ruff S608, bandit B608)
        "select max(batch_id) from raw.load_ledger"  # noqa: S608  # nosec B608
        f" where entity = '{entity}' and status = 'loaded' and rows_loaded > 0"  # a contract constant
    )
    query = (
        # SQL of names from the contract and the suites, no input (ruff S608, bandit B608)
        "select max(_loaded_at) as newest, now() - max(_loaded_at) as age from {batch}"  # noqa: S608  # nosec B608
        f" where _batch_id = ({newest})"
        f" having max(_loaded_at) is null or max(_loaded_at) < now() - interval '1 hour' * {hours}"
    )
    description = f"newest _loaded_at within {hours:g} hours of the database clock"
    return rows(query, description, "blocking", "freshness")


def _where(after: int | None) -> dict[str, Condition]:
    return changed_where(after, BATCH_COLUMN)


def _common(entity: str, freshness_hours: float, after: int | None) -> list:
    where = _where(after)
    return [
        *(not_null(key, **where) for key in KEYS[entity]),
        *(not_null(field, mostly=REQUIRED_MOSTLY, **where) for field in REQUIRED[entity]),
        _ledger(entity, after),
        _one_version_per_batch(entity, after),
        _freshness(entity, freshness_hours),
    ]


def _specific(entity: str, scope: Scope | None) -> list:
    after = None if scope is None else scope[entity]
    if entity == "customers":
        return [matches("email", EMAIL_PATTERN, "warning", mostly=FORMAT_MOSTLY, **_where(after))]
    if entity == "products":
        query = (
            # SQL of names from the contract and the suites, no input (ruff S608, bandit B608)
            f"select product_id, is_active from {_rows(after)}"  # noqa: S608  # nosec B608
            f" where is_active is not null and lower(trim(is_active)) not in ({quoted(BOOLEANS)})"
        )
        return [rows(query, "is_active is true/false/1/0", "warning", "consistency")]
    if entity == "orders":
        query = (
            # SQL of names from the contract and the suites, no input (ruff S608, bandit B608)
            f"select _batch_id, _line, status from {_rows(after)}"  # noqa: S608  # nosec B608
            f" where status is not null and lower(trim(status)) not in ({quoted(ORDER_STATUSES)})"
        )
        return [
            rows(query, "status is one of the contract's (any case, blanks aside)", "warning", "consistency"),
            _known("customer_id", "customers", "customer_id", "a customer", scope, entity),
        ]
    if entity == "order_items":
        return [
            _known("order_id", "orders", "order_id", "an order", scope, entity),
            _known("product_id", "products", "product_id", "a product", scope, entity),
        ]
    return [_known("order_id", "orders", "order_id", "an order", scope, entity)]  # sessions


def raw_suite(entity: str, freshness_hours: float, scope: Scope | None = None) -> ExpectationSuite:
    """The suite of raw.<entity>: over every batch, or with `scope`, over the batches after
    `scope[entity]` (None there: every batch)."""
    after = None if scope is None else scope[entity]
    return ExpectationSuite(
        name=f"raw__{entity}",
        meta={"relation": str(relation(entity)), "after_batch": after},
        expectations=[*_common(entity, freshness_hours, after), *_specific(entity, scope)],
    )
