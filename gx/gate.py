"""A quality gate: run a checkpoint, persist one row per expectation, stop on a blocking failure.

Warnings are logged and recorded, never fatal. An expectation that raised (errored) blocks like a
failure when it is blocking, but is reported apart from it.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class QualityGateFailed(Exception):
    """At least one blocking expectation failed or errored; the message lists each one."""


def _describe(outcome) -> str:
    what = f"{outcome.suite}: {outcome.expectation_type}"
    if outcome.column:
        what += f"({outcome.column})"
    kind = "ERRORED" if outcome.errored else "FAILED"
    observed = f" observed={outcome.observed_value!r}" if outcome.observed_value is not None else ""
    unexpected = f" unexpected={outcome.unexpected_count}" if outcome.unexpected_count else ""
    details = f" — {outcome.details}" if outcome.details else ""
    return f"{kind} [{outcome.severity}/{outcome.dimension}] {what}{observed}{unexpected}{details}"


def run_gate(checkpoint: str, warehouse_url: str, run_id: str, freshness_hours: float | None = None) -> dict:
    """Run `checkpoint` against the warehouse; returns counts, raises QualityGateFailed when blocked."""
    from gx.checkpoints import run_checkpoint
    from gx.results import persist_outcomes

    options = {} if freshness_hours is None else {"freshness_hours": freshness_hours}
    outcomes = run_checkpoint(checkpoint, warehouse_url, **options)
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
