"""The call governor's decisions, played on a hand-moved clock: no scheduler, no network.

Default settings throughout (09:00-17:00 at 120 s, 1800 s outside, a third of the account's
daily calls), so every figure here is the one a fresh installation lives with.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadbridge.domain.ports import AccountBudget
from leadbridge.runtime.governor import (
    POLL_SHARE,
    RESET_MARGIN,
    CallGovernor,
    PaceState,
    busiest_day_plan,
    next_midnight,
)
from leadbridge.runtime.pacing import PollPacing
from leadbridge.settings import Settings

# 2026-03-03 is a Tuesday, a business day.
MIDNIGHT = datetime(2026, 3, 3, tzinfo=UTC)
SETTINGS = Settings()
PACING = PollPacing.from_settings(SETTINGS.service)


def at(hours: float) -> datetime:
    return MIDNIGHT + timedelta(hours=hours)


def governor(start: datetime = MIDNIGHT) -> CallGovernor:
    return CallGovernor.from_settings(SETTINGS, PACING, start)


def budget(used: int, when: datetime, limit: int = 1000) -> AccountBudget:
    return AccountBudget(limit=limit, used_today=used, read_at=when)


def day_of_polls(pace: CallGovernor, start: datetime, end: datetime) -> list[datetime]:
    """The fire times the trigger would ask for between ``start`` and ``end``."""
    fires, moment = [], start
    while moment < end:
        fires.append(moment)
        moment = pace.next_fire(moment)
    return fires


def test_default_schedule_fits_a_third_of_a_small_plan_with_room_for_write_backs() -> None:
    pace = governor()
    verdict = pace.budget_read(budget(0, MIDNIGHT), 0, MIDNIGHT)

    assert verdict.state is PaceState.NORMAL
    polls = day_of_polls(pace, MIDNIGHT, MIDNIGHT + timedelta(days=1))
    # 18 polls before 09:00, 240 in business hours, 14 after 17:00; 8 budget reads.
    assert len(polls) == 272
    assert sum(PACING.in_business_hours(p) for p in polls) == 240
    planned, allowed = busiest_day_plan(PACING, 0.33, 1000)
    assert (planned, allowed) == (280, 297)
    # 20 write-backs on top still stay within 300 calls.
    assert planned + 20 <= 300


def test_the_budget_is_read_at_start_and_on_three_hour_marks_not_per_poll() -> None:
    pace = governor(at(10.3))
    assert pace.read_due(at(10.3))
    pace.budget_read(budget(100, at(10.3)), 0, at(10.3))

    assert not pace.read_due(at(10.3) + timedelta(seconds=120))
    assert not pace.read_due(at(11.99))
    assert pace.read_due(at(12))
    pace.budget_read(budget(150, at(12)), 20, at(12))
    assert not pace.read_due(at(14.9))
    assert pace.read_due(at(15.01))


def test_an_account_near_its_limit_stretches_the_pace_to_fit_what_is_left() -> None:
    now = at(10)
    pace = governor(now)
    # Other tools used 900 of the account's 1,000 calls by 10:00.
    verdict = pace.budget_read(budget(930, now), 30, now)

    assert verdict.state is PaceState.SLOWED
    assert verdict.allowance_left == int(0.33 * 70)
    assert "930 of its 1000" in verdict.reason and "0.33" in verdict.reason
    polls = day_of_polls(pace, now, next_midnight(now))
    reads = 4  # 12:00, 15:00, 18:00, 21:00
    assert len(polls) + reads <= verdict.allowance_left
    # Slower than configured, but business hours still faster than the evening.
    business = pace.interval_at(at(11))
    evening = pace.interval_at(at(20))
    assert business > 120 and evening > 1800 and business < evening
    assert verdict.interval_seconds == business


def test_never_faster_than_configured_whatever_the_budget() -> None:
    for used in (0, 300, 900, 999):
        for hour in (0.5, 8.99, 9, 12, 16.98, 17, 23.9):
            now = at(hour)
            pace = governor(now)
            pace.budget_read(budget(used, now), min(used, 200), now)
            fire = pace.next_fire(now)
            configured = PACING.next_fire(now)
            assert fire >= configured, (used, hour)


def test_own_calls_count_against_the_share_even_when_the_account_has_plenty() -> None:
    now = at(15)
    pace = governor(now)
    # A Pro account: 330 calls are a tenth of leadbridge's share of its 10,000.
    pace.budget_read(budget(330, now, limit=10_000), 330, now)
    assert pace.verdict().state is PaceState.NORMAL

    small = governor(now)
    verdict = small.budget_read(budget(340, now), 330, now)
    assert verdict.state is PaceState.PAUSED
    assert not small.may_poll(at(23.9))
    assert small.may_poll(next_midnight(now))
    assert "share of today's calls is used up" in verdict.reason
    # While paused, the next tick is the next budget read (which may find a raised limit).
    assert small.next_fire(now) == at(18)


def test_daily_limit_exceeded_stops_every_call_until_after_midnight_but_the_budget_read() -> None:
    now = at(14.5)
    pace = governor(now)
    pace.budget_read(budget(500, now), 100, now)

    verdict = pace.cycle_done(110, now, limit_refused=True)

    assert verdict.state is PaceState.LIMIT_REACHED
    assert verdict.resumes_at == next_midnight(now) + RESET_MARGIN
    assert "DAILY_LIMIT_EXCEEDED" in verdict.reason
    assert not pace.may_poll(now + timedelta(hours=1))
    # The only wake-ups are the budget reads at 15:00, 18:00, 21:00 and 00:00.
    wakes = day_of_polls(pace, pace.next_fire(now), next_midnight(now) + timedelta(minutes=5))
    assert wakes == [at(15), at(18), at(21), at(24)]
    # A read at 15:00 refused as well: still stopped.
    refused = pace.budget_unreadable("daily limit", at(15), limit_reached=True)
    assert refused.state is PaceState.LIMIT_REACHED
    assert not pace.may_poll(at(15))
    # After midnight monday counts again.
    fresh = pace.budget_read(budget(1, at(24)), 0, at(24))
    assert fresh.state is PaceState.NORMAL
    assert pace.may_poll(at(24))
    assert pace.next_fire(at(24)) == at(24.5)


def test_a_limit_raised_during_the_day_lifts_the_stop_at_the_next_read() -> None:
    now = at(11)
    pace = governor(now)
    pace.cycle_done(50, now, limit_refused=True)
    assert not pace.may_poll(at(12))

    verdict = pace.budget_read(budget(1000, at(12), limit=1500), 50, at(12))

    assert verdict.state is not PaceState.LIMIT_REACHED
    assert pace.may_poll(at(12))


def test_usage_at_the_limit_stops_polls_before_monday_refuses_one() -> None:
    now = at(9.5)
    pace = governor(now)
    verdict = pace.budget_read(budget(1000, now), 60, now)
    assert verdict.state is PaceState.LIMIT_REACHED
    assert "DAILY_LIMIT_EXCEEDED" not in verdict.reason


def test_an_unreadable_budget_falls_back_to_the_configured_limit_and_says_so() -> None:
    now = at(9)
    pace = governor(now)
    verdict = pace.budget_unreadable("monday did not answer in time", now, limit_reached=False)

    assert verdict.source == "setting"
    assert verdict.limit == SETTINGS.monday.daily_call_limit
    assert verdict.state is PaceState.NORMAL
    assert "could not be read (monday did not answer in time)" in verdict.reason
    # Only leadbridge's own calls are known: 300 of them leave 30 of its 330.
    tight = pace.cycle_done(300, at(10), limit_refused=False)
    assert tight.state is PaceState.SLOWED


def test_yesterdays_budget_is_not_todays() -> None:
    pace = governor(at(23))
    pace.budget_read(budget(999, at(23)), 300, at(23))
    assert pace.verdict().state is PaceState.PAUSED

    # After midnight, before the 00:00 read: yesterday's usage no longer counts.
    verdict = pace.cycle_done(1, at(24.01), limit_refused=False)
    assert verdict.source == "setting"
    assert verdict.state is PaceState.NORMAL
    assert verdict.own_used_today == 1


def test_writes_spent_late_in_the_day_slow_the_evening_down() -> None:
    now = at(16)
    pace = governor(now)
    pace.budget_read(budget(240, now), 240, now)
    assert pace.verdict().state is PaceState.NORMAL

    # A burst of write-backs: 70 more calls by 16:30.
    verdict = pace.cycle_done(310, at(16.5), limit_refused=False)
    assert verdict.state is PaceState.SLOWED
    polls = day_of_polls(pace, at(16.5), next_midnight(now))
    reads = 2  # 18:00 and 21:00
    # Within what is left; the tenth kept back is for the write-backs still to come.
    assert len(polls) + reads <= verdict.allowance_left
    assert len(polls) <= POLL_SHARE * verdict.allowance_left


@pytest.mark.parametrize("hours", [0, 8.5, 16.9, 23.5])
def test_a_slowed_pace_polls_again_soon_after_the_new_day_starts(hours: float) -> None:
    now = at(hours)
    pace = governor(now)
    pace.budget_read(budget(995, now), 10, now)
    assert pace.verdict().state is not PaceState.NORMAL
    midnight = next_midnight(now)
    moment = now
    while moment < midnight:
        moment = pace.next_fire(moment)
    # The first poll of the new day, with its new allowance, within one configured interval.
    assert moment - midnight <= timedelta(seconds=PACING.base_seconds)
