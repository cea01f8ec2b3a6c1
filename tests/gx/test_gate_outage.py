"""An outage is not bad data: what a lost connection looks like to the gate, and what the gate does then.

A connection lost or refused while a checkpoint runs (raised, or reported by GX as errored expectations)
makes the gate raise WarehouseUnavailable, which Airflow retries, and record nothing in
monitoring.gx_results; any other error stays a verdict (QualityGateFailed) as before. The whole DAG
through real Postgres restarts is tests/e2e/test_outage.py.
"""

from __future__ import annotations

import psycopg
import psycopg2
import pytest
import sqlalchemy.exc

import gx.checkpoints
import gx.results
from gx.gate import QualityGateFailed, WarehouseUnavailable, run_gate
from gx.results import ExpectationOutcome, connection_lost_reason, is_connection_lost, lost_connection

# what Postgres, libpq, psycopg 2/3, SQLAlchemy and GX said in this project's outages (tests/e2e)
LOST = [
    "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally",
    "FATAL:  terminating connection due to administrator command",
    "terminating connection because of crash of another server process",
    "the database system is shutting down",
    "FATAL:  the database system is starting up",
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: Connection refused',
    'An SQL execution Exception occurred.  OperationalError: "(psycopg2.OperationalError) connection to'
    ' server at "127.0.0.1", port 37039 failed: Connection refused',
    "consuming input failed: server closed the connection unexpectedly",
    "the connection is lost",
    "could not receive data from server: Connection reset by peer",
]
NOT_LOST = [
    'relation "raw.orders" does not exist',
    'column "order_total" does not exist',
    'connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed',
    "division by zero",
    "[Errno 111] Connection refused",  # not Postgres' words: an HTTP client's, say
    "",
]


@pytest.mark.parametrize("message", LOST)
def test_what_a_lost_connection_says_is_recognised(message: str) -> None:
    assert is_connection_lost(message) and connection_lost_reason(message)


@pytest.mark.parametrize("message", NOT_LOST)
def test_other_errors_are_not_taken_for_an_outage(message: str) -> None:
    assert not is_connection_lost(message) and connection_lost_reason(message) is None


def test_exceptions_are_recognised_by_type_sqlstate_or_cause() -> None:
    assert is_connection_lost(psycopg.errors.AdminShutdown())  # SQLSTATE 57P01, whatever its words
    assert is_connection_lost(psycopg.errors.CannotConnectNow())  # 57P03
    assert is_connection_lost(ConnectionRefusedError())
    wrapped = sqlalchemy.exc.OperationalError(
        "select 1", {}, psycopg2.OperationalError("server closed the connection unexpectedly")
    )
    assert is_connection_lost(wrapped)
    try:
        try:
            raise psycopg.OperationalError("the connection is lost")
        except psycopg.OperationalError as lost:
            raise RuntimeError("metric resolution failed") from lost
    except RuntimeError as chained:
        assert is_connection_lost(chained)
    assert not is_connection_lost(psycopg.errors.UndefinedTable('relation "x" does not exist'))
    assert not is_connection_lost(psycopg.errors.LockNotAvailable("lock timeout"))
    assert not is_connection_lost(ValueError("bad value"))
    assert not is_connection_lost(None)


def test_a_validation_that_lost_its_connection_says_so() -> None:
    def evr(message: str | None) -> dict:
        info = {"raised_exception": message is not None, "exception_message": message}
        return {"success": False, "exception_info": {"metric.id": info}}

    assert lost_connection({"results": [evr(None), evr("server closed the connection unexpectedly")]})
    assert not lost_connection({"results": [evr(None), evr('column "x" does not exist')]})
    assert not lost_connection({"results": []})


def _outcome(success: bool = True, errored: bool = False, details: str = "") -> ExpectationOutcome:
    return ExpectationOutcome(
        suite="fct_orders", relation="marts_build.fct_orders", expectation_type="expect_x",
        column="order_id", dimension="completeness", severity="blocking", success=success,
        errored=errored, observed_value=None, unexpected_count=None if errored else 0, details=details,
    )  # fmt: skip


def _recorded(url: str, run_id: str) -> int:
    with psycopg.connect(url) as conn:
        exists = conn.execute("select to_regclass('monitoring.gx_results') is not null").fetchone()[0]
        if not exists:
            return 0
        return conn.execute(
            "select count(*) from monitoring.gx_results where run_id = %s", [run_id]
        ).fetchone()[0]


@pytest.fixture
def checkpoint_returns(monkeypatch: pytest.MonkeyPatch):
    """Make the checkpoint return (or raise) what the test says, without GX."""

    def install(result):
        def run_checkpoint(name, url, **options):
            if isinstance(result, BaseException):
                raise result
            return result

        monkeypatch.setattr(gx.checkpoints, "run_checkpoint", run_checkpoint)

    return install


def test_expectations_errored_by_an_outage_are_no_verdict_and_not_recorded(
    warehouse_url: str, checkpoint_returns
) -> None:
    lost = 'connection to server at "127.0.0.1", port 5432 failed: Connection refused'
    checkpoint_returns(
        [
            _outcome(),
            _outcome(success=False),  # a real failure seen before the outage: the retry sees it again
            *[_outcome(success=False, errored=True, details=f"(psycopg2.OperationalError) {lost}")] * 3,
        ]
    )
    with pytest.raises(WarehouseUnavailable, match=r"connection was lost \(.*Connection refused\)") as raised:
        run_gate("marts_publish", warehouse_url, "run-outage")
    assert not isinstance(raised.value, QualityGateFailed)  # the DAGs fail that without a retry
    assert _recorded(warehouse_url, "run-outage") == 0


def test_an_outage_raised_by_the_checkpoint_is_no_verdict(warehouse_url: str, checkpoint_returns) -> None:
    checkpoint_returns(
        sqlalchemy.exc.OperationalError(
            "select 1", {}, psycopg2.OperationalError("the database system is shutting down")
        )
    )
    with pytest.raises(WarehouseUnavailable, match="the database system is shutting down"):
        run_gate("raw_landed", warehouse_url, "run-raised")
    assert _recorded(warehouse_url, "run-raised") == 0


def test_an_outage_while_recording_is_no_verdict(
    warehouse_url: str, checkpoint_returns, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint_returns([_outcome()])

    def persist(*args, **kwargs):
        raise psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly")

    monkeypatch.setattr(gx.results, "persist_outcomes", persist)
    with pytest.raises(WarehouseUnavailable, match="consuming input failed"):
        run_gate("raw_landed", warehouse_url, "run-persist")


def test_other_errors_keep_their_meaning(warehouse_url: str, checkpoint_returns) -> None:
    checkpoint_returns(ValueError("not an outage"))
    with pytest.raises(ValueError, match="not an outage"):
        run_gate("raw_landed", warehouse_url, "run-other")
    missing = 'column "order_id" does not exist'
    checkpoint_returns([_outcome(), _outcome(success=False, errored=True, details=missing)])
    with pytest.raises(QualityGateFailed, match="1 blocking expectation"):
        run_gate("marts_publish", warehouse_url, "run-errored")
    assert _recorded(warehouse_url, "run-errored") == 2  # a real error is a verdict, recorded


def test_a_warehouse_that_refuses_connections_is_an_outage_through_real_gx() -> None:
    """Nothing listens on port 1: GX reports every expectation errored with "Connection refused"."""
    with pytest.raises(WarehouseUnavailable, match="Connection refused"):
        run_gate("raw_landed", "postgresql://nobody:secret@127.0.0.1:1/warehouse", "run-refused")
