"""The poll pace: the default fits monday's small-plan budget; business hours go faster."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from leadbridge.runtime.pacing import PacedIntervalTrigger, PollPacing
from leadbridge.settings import ConfigError, ServiceSettings, Settings, load_settings

# 2026-03-02 is a Monday.
MONDAY_NOON_PARIS = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)


def _pacing(**service: object) -> PollPacing:
    return PollPacing.from_settings(ServiceSettings(**service))  # type: ignore[arg-type]


def test_default_pace_polls_every_2_minutes_in_business_hours_and_30_outside() -> None:
    pacing = _pacing()
    assert pacing.interval_at(MONDAY_NOON_PARIS) == 120  # 11:00 UTC, business hours
    assert pacing.interval_at(MONDAY_NOON_PARIS.replace(hour=8, minute=59)) == 1800
    assert pacing.interval_at(MONDAY_NOON_PARIS.replace(hour=17)) == 1800
    # 8 hours at 120 s and 16 at 1800 s: within a third of a small plan's 1,000 calls.
    assert pacing.polls_on_busiest_day() == 240 + 32
    monday = Settings().monday
    assert pacing.polls_on_busiest_day() <= monday.call_share * monday.daily_call_limit


def test_a_slow_night_pace_never_delays_the_first_poll_of_business_hours() -> None:
    pacing = _pacing()
    night = MONDAY_NOON_PARIS.replace(hour=8, minute=40)
    assert pacing.next_fire(night) == night.replace(hour=9, minute=0)
    opening = night.replace(hour=9, minute=0)
    assert pacing.next_fire(opening) == opening + timedelta(seconds=120)
    assert pacing.next_fire(night.replace(hour=16, minute=59)) == night.replace(hour=17, minute=1)
    # Saturday has no business hours: nothing to wait for.
    saturday = night + timedelta(days=5)
    assert pacing.next_fire(saturday) == saturday + timedelta(seconds=1800)


def test_polls_between_counts_what_the_trigger_would_fire() -> None:
    pacing = _pacing(timezone="Europe/Paris", business_hours="09:00-17:30")
    start = MONDAY_NOON_PARIS.replace(hour=5, minute=17)
    for hours in (1, 4, 12, 24, 30):
        end = start + timedelta(hours=hours)
        fired, moment = 0, start
        while moment < end:
            fired, moment = fired + 1, pacing.next_fire(moment)
        assert pacing.polls_between(start, end) == fired, hours


def test_business_hours_only_ever_make_the_pace_faster() -> None:
    pacing = _pacing(interval_seconds=30)  # business hours' default 120 would be slower
    assert pacing.interval_at(MONDAY_NOON_PARIS) == 30


def test_business_hours_use_the_faster_interval_in_their_time_zone() -> None:
    pacing = _pacing(
        interval_seconds=300,
        business_hours_interval_seconds=60,
        business_hours="09:00-17:30",
        timezone="Europe/Paris",
    )
    assert pacing.interval_at(MONDAY_NOON_PARIS) == 60
    # 08:30 UTC is 09:30 in Paris in winter but 07:30 UTC is still before opening.
    assert pacing.interval_at(MONDAY_NOON_PARIS.replace(hour=8, minute=30)) == 60
    assert pacing.interval_at(MONDAY_NOON_PARIS.replace(hour=7, minute=30)) == 300
    assert pacing.interval_at(MONDAY_NOON_PARIS.replace(hour=16, minute=30)) == 300
    assert pacing.interval_at(MONDAY_NOON_PARIS + timedelta(days=5)) == 300  # Saturday
    assert pacing.polls_on_busiest_day() == 8 * 60 + 30 + (24 * 3600 - 8.5 * 3600) // 300


def test_trigger_polls_at_start_then_at_the_pace_in_force() -> None:
    pacing = _pacing(
        interval_seconds=600, business_hours_interval_seconds=120, business_hours="12:00-13:00"
    )
    start = MONDAY_NOON_PARIS.replace(hour=11, minute=50)
    trigger = PacedIntervalTrigger(pacing, start)
    first = trigger.get_next_fire_time(None, start)
    assert first == start
    second = trigger.get_next_fire_time(first, start)
    assert second == start + timedelta(seconds=600)  # 12:00, business hours begin
    third = trigger.get_next_fire_time(second, start)
    assert third == second + timedelta(seconds=120)
    assert "120s in business hours" in str(trigger)


@pytest.mark.parametrize(
    ("service", "problem"),
    [
        ({"business_hours": "18:00-08:00"}, "service.business_hours: '18:00-08:00' ends before"),
        ({"business_hours": "9 to 5"}, "service.business_hours: '9 to 5' is not a span"),
        ({"timezone": "Mars/Olympus"}, "service.timezone: 'Mars/Olympus' is not a known"),
        ({"business_days": ["monday"]}, "service.business_days[0]: should be 'mon'"),
        ({"interval_seconds": 0}, "service.interval_seconds"),
    ],
)
def test_bad_service_settings_name_the_key(
    service: dict[str, object], problem: str, tmp_path: Path
) -> None:
    path = tmp_path / "leadbridge.yaml"
    path.write_text(yaml.safe_dump({"service": service}))
    with pytest.raises(ConfigError) as raised:
        load_settings(path, secrets_dir=tmp_path)
    assert any(line.startswith(problem) for line in raised.value.problems), raised.value.problems
