"""When to poll: the interval in force at a moment, and an APScheduler trigger that follows it.

The pace is a pure function of the wall clock so that it can be tested without a scheduler,
and so that a restart at any hour picks up the right pace at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger

from leadbridge.settings import ServiceSettings

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY = 86400


@dataclass(frozen=True)
class PollPacing:
    base_seconds: int
    business_seconds: int | None
    opens: time
    closes: time
    days: frozenset[int]
    zone: tzinfo

    @classmethod
    def from_settings(cls, service: ServiceSettings) -> PollPacing:
        opens, closes = (time.fromisoformat(p.strip()) for p in service.business_hours.split("-"))
        return cls(
            base_seconds=service.interval_seconds,
            business_seconds=service.business_hours_interval_seconds,
            opens=opens,
            closes=closes,
            days=frozenset(_WEEKDAYS.index(day) for day in service.business_days),
            zone=ZoneInfo(service.timezone),
        )

    def in_business_hours(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        return local.weekday() in self.days and self.opens <= local.time() < self.closes

    def interval_at(self, moment: datetime) -> int:
        if self.business_seconds is not None and self.in_business_hours(moment):
            return self.business_seconds
        return self.base_seconds

    @property
    def longest_seconds(self) -> int:
        return max(self.base_seconds, self.business_seconds or 0)

    def polls_on_busiest_day(self) -> int:
        """Polls on a business day, the figure to hold against monday's daily call limit."""
        slow = _DAY
        fast = 0
        if self.business_seconds is not None and self.days:
            open_seconds = _seconds(self.closes) - _seconds(self.opens)
            fast = open_seconds // self.business_seconds
            slow = _DAY - open_seconds
        return fast + slow // self.base_seconds


def _seconds(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


class PacedIntervalTrigger(BaseTrigger):
    """An interval trigger whose interval is re-read from ``PollPacing`` at every fire time.

    APScheduler's own ``IntervalTrigger`` has one fixed interval; rescheduling the job at the
    edges of business hours would race with a running cycle, while a trigger is only asked
    for the next time, by the scheduler, between runs.
    """

    def __init__(self, pacing: PollPacing, start: datetime) -> None:
        self.pacing = pacing
        self.start = start

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        if previous_fire_time is None:
            return self.start
        return previous_fire_time + timedelta(seconds=self.pacing.interval_at(previous_fire_time))

    def __str__(self) -> str:
        fast = self.pacing.business_seconds
        extra = f", {fast}s in business hours" if fast is not None else ""
        return f"paced interval[{self.pacing.base_seconds}s{extra}]"
