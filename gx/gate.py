"""A quality gate: run a checkpoint, persist one row per expectation, stop on a blocking failure.

Warnings are logged and recorded, never fatal. An expectation that raised (errored) blocks like a
failure when it is blocking, but is reported apart from it.

An outage is not bad data. When the warehouse connection is lost or refused while the gate runs (a
Postgres restart: "the database system is shutting down", "server closed the connection
unexpectedly", "connection refused"; see `gx.results.is_connection_lost`), whether GX raised it or
reported it as errored expectations, or the results could not be written, the gate has no verdict:
it raises `WarehouseUnavailable`, which Airflow retries like any transient fault, and persists
nothing. Decided so because monitoring.gx_results holds verdicts on the data (the health page and
incidents read the latest run of each checkpoint); an outage's errored rows there would read as a
data-quality failure. The retry writes the run's rows, replacing any of the same run and checkpoint.
Only `QualityGateFailed` is a verdict, and the DAGs fail it without retrying.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


class QualityGateFailed(Exception):
    """At least one blocking expectation failed or errored; the message lists each one."""


class WarehouseUnavailable(Exception):
    """The warehouse connection was lost while the gate ran: no verdict on the data; retry."""


def _describe(outcome) -> str:
    what = f"{outcome.suite}: {outcome.expectation_type}"
    if outcome.column:
        what += f"({outcome.column})"
    kind = "ERRORED" if outcome.errored else "FAILED"
    observed = f" observed={outcome.observed_value!r}" if outcome.observed_value is not None else ""
    unexpected = f" unexpected={outcome.unexpected_count}" if outcome.unexpected_count else ""
    details = f" — {outcome.details}" if outcome.details else ""
    return f"{kind} [{outcome.severity}/{outcome.dimension}] {what}{observed}{unexpected}{details}"


def _unavailable(checkpoint: str, cause: str) -> WarehouseUnavailable:
    from gx.results import connection_lost_reason

    reason = connection_lost_reason(cause) or cause.strip()[:200]
    return WarehouseUnavailable(
        f"checkpoint {checkpoint!r}: the warehouse connection was lost ({reason}); "
        "no verdict on the data and nothing recorded: retry when Postgres is back"
    )


@contextmanager
def _outage_is_no_verdict(checkpoint: str) -> Iterator[None]:
    """Turn an exception that says the connection was lost into WarehouseUnavailable."""
    from gx.results import is_connection_lost

    try:
        yield
    except WarehouseUnavailable:
        raise
    except Exception as error:
        if not is_connection_lost(error):
            raise
        raise _unavailable(checkpoint, str(error)) from error


def run_gate(checkpoint: str, warehouse_url: str, run_id: str, freshness_hours: float | None = None) -> dict:
    """Run `checkpoint` against the warehouse; returns counts, raises QualityGateFailed when blocked
    and WarehouseUnavailable (nothing persisted) when the connection was lost."""
    from gx.checkpoints import run_checkpoint
    from gx.results import is_connection_lost, persist_outcomes

    options = {} if freshness_hours is None else {"freshness_hours": freshness_hours}
    with _outage_is_no_verdict(checkpoint):
        outcomes = run_checkpoint(checkpoint, warehouse_url, **options)
        lost = [o for o in outcomes if o.errored and is_connection_lost(o.details)]
        if lost:
            log.warning(
                "checkpoint %s: %d of %d expectation(s) errored because the connection was lost",
                checkpoint,
                len(lost),
                len(outcomes),
            )
            raise _unavailable(checkpoint, lost[0].details)
        persist_outcomes(warehouse_url, run_id, checkpoint, outcomes)
    failed = [o for o in outcomes if not o.success]
    blocking = [o for o in failed if o.severity == "blocking"]
    for outcome in failed:
        (log.error if outcome in blocking else log.warning)(_describe(outcome))
    summary = {
        "checkpoint": checkpoint,
        "evaluated": len(outcomes),
        "passed": len(outcomes) - len(failed),
        "failed": sum(1 for o in failed if not o.errored),
        "errored": sum(1 for o in failed if o.errored),
        "blocking": len(blocking),
    }
    log.info("checkpoint %s: %s", checkpoint, summary)
    if blocking:
        lines = "\n".join(f"  - {_describe(o)}" for o in blocking)
        raise QualityGateFailed(
            f"checkpoint {checkpoint!r}: {len(blocking)} blocking expectation(s)\n{lines}"
        )
    return summary
