"""The Airflow Assets the DAGs update and schedule on, named after the relations they stand for."""

from __future__ import annotations

from airflow.sdk import Asset

from extract.contract import ENTITY_ORDER
from publish import MARTS

ENTITIES = ENTITY_ORDER  # the shop's entities, in load order: each lands in raw.<entity>


def raw_asset(entity: str) -> Asset:
    """The Asset of a raw table: elt_ecommerce's load of the entity updates it."""
    return Asset(f"raw.{entity}")


def mart_asset(mart: str) -> Asset:
    """The Asset of a published mart: it changes when publish_marts swaps a new build in."""
    return Asset(f"marts.{mart}")


MART_ASSETS = tuple(mart_asset(mart) for mart in MARTS)
DRIFT = Asset("monitoring.drift")  # the monitoring DAG's record_drift: a day newly drifted
