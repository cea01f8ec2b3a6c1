"""What a raw gate validates: the day's new batches (`raw_landed`), or every batch (`raw_history`).

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
