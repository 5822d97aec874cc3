"""When to poll: the interval in force at a moment, and an APScheduler trigger that follows it.

The pace is a pure function of the wall clock so that it can be tested without a scheduler,
and so that a restart at any hour picks up the right pace at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from math import ceil
from typing import Protocol
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger

from leadbridge.settings import ServiceSettings

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY = 86400


class Pace(Protocol):
    """What the trigger and the coordinator ask: the configured pacing, or the call governor
    that may slow it down (``runtime/governor.py``)."""

    def interval_at(self, moment: datetime) -> int: ...

    def next_fire(self, previous: datetime) -> datetime: ...


@dataclass(frozen=True)
class PollPacing:
    base_seconds: int
    business_seconds: int | None
    opens: time
    closes: time
    days: frozenset[int]
    zone: tzinfo

    @classmethod
    def from_settings(cls, service: ServiceSettings, *, hinted: bool = False) -> PollPacing:
        """``hinted``: monday webhooks bring polls forward, so the schedule is only the
        safety net: no two polls closer than ``service.webhook_interval_seconds``, and where
        the configured pace is slower still, that pace."""
        opens, closes = (time.fromisoformat(p.strip()) for p in service.business_hours.split("-"))
        base, fast = service.interval_seconds, service.business_hours_interval_seconds
        if hinted:
            least = service.webhook_interval_seconds
            base, fast = max(base, least), (max(fast, least) if fast is not None else None)
        return cls(
            base_seconds=base,
            business_seconds=fast,
            opens=opens,
            closes=closes,
            days=frozenset(_WEEKDAYS.index(day) for day in service.business_days),
            zone=ZoneInfo(service.timezone),
        )

    def in_business_hours(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        return local.weekday() in self.days and self.opens <= local.time() < self.closes

    def interval_at(self, moment: datetime) -> int:
        """The pace at ``moment``; business hours only ever make it faster."""
        if self.business_seconds is not None and self.in_business_hours(moment):
            return min(self.business_seconds, self.base_seconds)
        return self.base_seconds

    def next_fire(self, previous: datetime) -> datetime:
        """The poll after one at ``previous``: one interval on, but never past the opening of
        business hours, so that a slow night pace cannot delay the first fast poll."""
        after = previous + timedelta(seconds=self.interval_at(previous))
        opening = self._next_opening(previous)
        return min(after, opening) if opening is not None else after

    def polls_between(self, start: datetime, end: datetime) -> int:
        """How many polls this pace makes from one at ``start`` until ``end`` (excluded).

        Counted per stretch of constant pace, as ``next_fire`` would place them, so the call
        governor can hold a day's polls against the calls left without walking every one.
        """
        count, moment = 0, start
        while moment < end:
            interval = self.interval_at(moment)
            edge = next(self._edges_after(moment), None)
            stop = end if edge is None or edge > end else edge
            polls = max(1, ceil((stop - moment).total_seconds() / interval))
            count += polls
            last = moment + timedelta(seconds=interval * (polls - 1))
            moment = self.next_fire(last)
        return count

    def _next_opening(self, moment: datetime) -> datetime | None:
        if not self._has_fast_hours():
            return None
        return next((e for e in self._edges_after(moment) if self.in_business_hours(e)), None)

    def _has_fast_hours(self) -> bool:
        fast = self.business_seconds
        return fast is not None and fast < self.base_seconds and bool(self.days)

    def _edges_after(self, moment: datetime) -> Iterator[datetime]:
        """Openings and closings of business hours after ``moment``, for the next week."""
        if not self._has_fast_hours():
            return
        local = moment.astimezone(self.zone)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            for edge in (self.opens, self.closes):
                when = datetime.combine(day, edge, tzinfo=self.zone)
                if when > moment:
                    yield when

    @property
    def longest_seconds(self) -> int:
        return max(self.base_seconds, self.business_seconds or 0)

    def polls_on_busiest_day(self) -> int:
        """Polls on a business day, the figure to hold against monday's daily call limit."""
        slow = _DAY
        fast = 0
        if self.business_seconds is not None and self.days:
            open_seconds = _seconds(self.closes) - _seconds(self.opens)
            fast = open_seconds // min(self.business_seconds, self.base_seconds)
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

    def __init__(self, pacing: PollPacing, start: datetime, pace: Pace | None = None) -> None:
        self.pacing = pacing
        self.start = start
        #: Who decides the next time: the call governor when there is one, else the pacing.
        self.pace: Pace = pace or pacing

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        if previous_fire_time is None:
            return self.start
        return self.pace.next_fire(previous_fire_time)

    def __str__(self) -> str:
        fast = self.pacing.business_seconds
        extra = f", {fast}s in business hours" if fast is not None else ""
        return f"paced interval[{self.pacing.base_seconds}s{extra}]"
