"""What a gate validates: the day's new raw batches (`raw_landed`) or every batch (`raw_history`); the
rows of the marts a build wrote and no audit has passed (`marts_publish`) or every row (`marts_published`).

Raw tables are append-only and every load batch takes the next id of one identity (raw.load_ledger), and
each staging model reads "rows of batches after the highest batch it holds" (dbt_project/macros/
incremental.sql). So the rows the next dbt build will read are exactly those of batches after its staging
model's highest `batch_id`: that is what the daily gate validates, whatever run loaded them. A batch a
failed run left behind stays pending, and is validated again by the next run, until a build reads it.

Where the staging model does not exist yet (the first run, or after a reset), everything is pending.
The deep check (`raw_history`, the `data_quality` DAG, weekly and on demand) validates every batch.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import psycopg
from psycopg import sql

from extract.contract import FIELDS

log = logging.getLogger(__name__)

STAGING_SCHEMA = "staging"  # dbt_project.yml: staging models' +schema


def staging_model(entity: str) -> str:
    """The staging model of a raw entity (`stg_<source>__<entity>`, one per raw table)."""
    return f"stg_shop__{entity}"


def staged_through(conninfo: str) -> dict[str, int | None]:
    """Per entity, the highest batch its staging model has read (0 when it holds nothing), or None when
    the model does not exist: then every batch is pending. `conninfo`: a libpq URL."""
    found: dict[str, int | None] = {}
    with psycopg.connect(conninfo) as conn:
        for entity in FIELDS:
            name = sql.Identifier(STAGING_SCHEMA, staging_model(entity))
            exists = conn.execute(
                "select to_regclass(%s) is not null", [f"{STAGING_SCHEMA}.{staging_model(entity)}"]
            ).fetchone()[0]
            if not exists:
                found[entity] = None
                continue
            # an index on batch_id (the model's config): the max is one index probe
            query = sql.SQL("select coalesce(max(batch_id), 0) from {}").format(name)
            found[entity] = int(conn.execute(query).fetchone()[0])
    log.info("raw batches already read by staging: %s", found)
    return found


def unaudited_since(
    conninfo: str, marts: Mapping[str, str], build: str, published: str
) -> dict[str, int | None]:
    """Per incremental mart (`marts`: mart -> its lineage column), the batch above which the build schema
    holds rows no audit has passed; None: every row (a first build, a full refresh, no record).

    A dbt build writes only rows above the mark it records at its start (monitoring.dbt_test_scope,
    dbt_project/macros/test_scope.sql), and the published schema holds what the last passing audit saw.
    The lower of the two covers both: a build that catches up after a publication swapped the schemas
    (its mark is one publication behind), and the rows of an earlier build whose audit failed (then the
    published mark is the lower one), which are audited again until a build of them is published."""
    found: dict[str, int | None] = {}
    with psycopg.connect(conninfo) as conn:
        recorded: dict[str, int] = {}
        if conn.execute("select to_regclass('monitoring.dbt_test_scope') is not null").fetchone()[0]:
            recorded = dict(
                conn.execute("select model, after_batch from monitoring.dbt_test_scope").fetchall()
            )
        for mart, column in marts.items():
            if mart not in recorded or not all(
                _has_column(conn, schema, mart, column) for schema in (build, published)
            ):
                found[mart] = None
                continue
            # the lineage column is indexed (dbt_project.yml): the max is one index probe
            query = sql.SQL("select coalesce(max({}), 0) from {}").format(
                sql.Identifier(column), sql.Identifier(published, mart)
            )
            mark = min(int(recorded[mart]), int(conn.execute(query).fetchone()[0]))
            found[mart] = mark or None  # 0: a full refresh, every row
    log.info("marts rows audited through batch: %s", found)
    return found


def _has_column(conn: psycopg.Connection, schema: str, table: str, column: str) -> bool:
    query = (
        "select exists (select from information_schema.columns"
        " where table_schema = %s and table_name = %s and column_name = %s)"
    )
    return conn.execute(query, [schema, table, column]).fetchone()[0]
