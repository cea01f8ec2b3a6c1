"""The GX gates as Airflow sees them: a blocking failure fails the task without a retry."""

from __future__ import annotations

from orchestration.connections import warehouse_url


def run_gate(checkpoint: str, run_id: str, freshness_hours: float | None = None) -> dict:
    """Run GX checkpoint `checkpoint` on the warehouse (inside a running task); returns its counts.

    A blocking failure is a verdict: AirflowFailException, no retry. A lost warehouse connection
    (gx.gate.WarehouseUnavailable: nothing recorded) is not: it propagates and Airflow retries the task.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from gx import gate

    try:
        return gate.run_gate(checkpoint, warehouse_url(), run_id, freshness_hours=freshness_hours)
    except gate.QualityGateFailed as failed:
        raise AirflowFailException(str(failed)) from failed
