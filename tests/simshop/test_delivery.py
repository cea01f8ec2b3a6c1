"""The demo shop's deliveries: a week first, then one complete day per call, never touching what it
delivered before; its ground truth covers every day delivered."""

from __future__ import annotations

from datetime import date

from simshop.delivery import deliver, truth
from tests.inbox_runs import inbox_state

TODAY = date(2026, 11, 30)


def test_a_week_then_a_day_at_a_time_and_only_complete_days(tmp_path) -> None:
    first = deliver(tmp_path, TODAY, orders_per_day=60)
    assert first.new_days == [f"2026-11-{d}" for d in range(22, 29)]  # ends the day before yesterday
    assert (first.inbox / "orders" / "2026-11-22").is_dir() and first.files > 35
    delivered = inbox_state(first.inbox)
    assert not [p for p in delivered if "/." in p or p.startswith(".")]  # no temporary file left

    second = deliver(tmp_path, TODAY)
    assert second.new_days == ["2026-11-29"] and second.days[-1] == "2026-11-29"
    now = inbox_state(second.inbox)
    assert {p: now[p] for p in delivered} == delivered  # what was delivered is never rewritten
    assert {p.split("/")[1] for p in set(now) - set(delivered)} == {"2026-11-29"}

    third = deliver(tmp_path, TODAY)  # today is not over: nothing
    assert third.new_days == [] and "2026-11-30 comes after it ends" in third.note
    assert inbox_state(third.inbox) == now
    manifest = truth(tmp_path)
    assert [d["date"] for d in manifest["days"]] == second.days
    assert manifest["config"]["orders_per_day"] == 60  # the first call's settings stay
