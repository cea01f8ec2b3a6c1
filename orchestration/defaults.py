"""What every DAG of the project sets the same way."""

from __future__ import annotations

from datetime import datetime, timedelta

# the monitoring, health_check and data_quality DAGs' start date (no catch-up: their logical date labels a
# run). elt_ecommerce's is orchestration.connections.ELT_START_DATE, which `make run DATE=…` checks.
START_DATE = datetime(2026, 11, 1)


def default_args(retries: int = 1) -> dict:
    """Every task's defaults: the owner, and `retries` retries 30 seconds apart."""
    return {"owner": "data-platform", "retries": retries, "retry_delay": timedelta(seconds=30)}
