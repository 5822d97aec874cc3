"""How fast leadbridge may poll today: its share of the account's daily monday calls.

monday counts calls per account and UTC day, for every tool that uses the account's tokens,
and once the limit is reached it refuses every call (``DAILY_LIMIT_EXCEEDED``) until 00:00
UTC. Counting leadbridge's own calls is not enough to stay clear of that: another
integration can use most of the day's calls by noon. So the governor reads the account's
limit and today's usage (``platform_api``) at start and every three hours, never per poll,
and keeps leadbridge's calls for the rest of the day within ``monday.call_share`` of the
limit and of what the account has left.

It decides and never calls: the coordinator reads the budget when ``read_due`` says so, tells
the governor what it read and how each cycle went, and asks ``next_fire`` and ``may_poll``.
Everything is a function of what it was told and the moment asked about, so the decisions are
tested without a scheduler, a network or waiting.

The pace it sets is never faster than the configured one: it only stretches it, by one factor
for the rest of the day (business hours stay faster than the night), and stops polls until
00:00 UTC when leadbridge's share is used up or monday refused a call for the daily limit.
While stopped, the only call is the budget read every three hours, which notices a limit
raised meanwhile.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from math import ceil
from typing import Any, Literal

from leadbridge.domain.ports import AccountBudget
from leadbridge.runtime.pacing import PollPacing
from leadbridge.settings import Settings

#: How often the account's budget is read: on the marks 00:00, 03:00, … UTC, and at start.
READ_EVERY = timedelta(hours=3)
#: Share of what leadbridge may still spend today that polls may plan for; the rest is kept
#: for write-backs, extra pages and retries, which come with changes rather than with time.
POLL_SHARE = 0.9
#: After a refusal for the daily limit, the first poll waits this long past 00:00 UTC, so
#: that a clock a little ahead of monday's does not meet the old day's limit again.
RESET_MARGIN = timedelta(minutes=1)


class PaceState(StrEnum):
    #: The configured pace.
    NORMAL = "normal"
    #: The configured pace stretched so that the day's polls fit in what is left.
    SLOWED = "slowed"
    #: leadbridge's share of today's calls is used up: no poll until 00:00 UTC.
    PAUSED = "paused"
    #: The account's limit is used up (monday refused a call, or its usage says so).
    LIMIT_REACHED = "limit_reached"


Source = Literal["account", "setting"]


@dataclass(frozen=True)
class PaceVerdict:
    """The governor's decision as the log, ``/healthz`` and ``leadbridge status`` show it."""

    state: PaceState
    reason: str
    decided_at: datetime
    #: Seconds between polls now, and what the configuration asks for at this moment.
    interval_seconds: int
    configured_seconds: int
    #: When polls start again (paused or limit reached), else None.
    resumes_at: datetime | None
    #: The account's daily limit: as read from monday ("account") or assumed from
    #: ``monday.daily_call_limit`` because it could not be read today ("setting").
    limit: int
    source: Source
    #: Calls of the whole account today: as read, plus leadbridge's own since the read.
    account_used_today: int
    own_used_today: int
    #: Calls leadbridge may still make today (its share, less what it used).
    allowance_left: int
    share: float
    budget_read_at: datetime | None
    budget_error: str | None

    def to_document(self) -> dict[str, Any]:
        """JSON-able, times in ISO 8601 UTC: the state-store fact and the ``/healthz`` field."""

        def iso(moment: datetime | None) -> str | None:
            return moment.astimezone(UTC).isoformat() if moment is not None else None

        return {
            "state": self.state.value,
            "reason": self.reason,
            "decided_at": iso(self.decided_at),
            "day": self.decided_at.astimezone(UTC).date().isoformat(),
            "interval_seconds": self.interval_seconds,
            "configured_interval_seconds": self.configured_seconds,
            "resumes_at": iso(self.resumes_at),
            "daily_limit": self.limit,
            "limit_source": self.source,
            "account_used_today": self.account_used_today,
            "own_used_today": self.own_used_today,
            "allowance_left": self.allowance_left,
            "call_share": self.share,
            "budget_read_at": iso(self.budget_read_at),
            "budget_error": self.budget_error,
        }


def next_midnight(moment: datetime) -> datetime:
    """The next 00:00 UTC after ``moment``: when monday's daily count starts again."""
    day = moment.astimezone(UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def busiest_day_plan(pacing: PollPacing, share: float, limit: int) -> tuple[int, int]:
    """(calls the configured pace plans on a business day, budget reads included; the calls
    polls may plan for within ``share`` of ``limit``): what ``run`` warns about at start."""
    reads = int(timedelta(days=1) / READ_EVERY)
    return pacing.polls_on_busiest_day() + reads, int(POLL_SHARE * share * limit)


class CallGovernor:
    """The poll pace within the account's daily call budget; thread-safe, performs no I/O.

    The scheduler's thread asks ``next_fire``; the poll thread tells ``budget_read``,
    ``budget_unreadable`` and ``cycle_done``; the probes' thread asks ``verdict``.
    """

    def __init__(
        self,
        pacing: PollPacing,
        *,
        share: float,
        fallback_limit: int,
        start: datetime,
        read_every: timedelta = READ_EVERY,
    ) -> None:
        self.pacing = pacing
        self.share = share
        self.fallback_limit = fallback_limit
        self.read_every = read_every
        self._lock = threading.Lock()
        self._budget: AccountBudget | None = None
        #: When the budget was last read, on the governor's clock, and leadbridge's own calls
        #: today at that moment (what it spent since is added to the account's usage).
        self._read_at: datetime | None = None
        self._own_at_read = 0
        self._last_attempt: datetime | None = None
        self._budget_error: str | None = None
        self._own_today = 0
        self._own_day = _day(start)
        #: No poll before this moment (paused, or the limit reached); None: polls may run.
        self._blocked_until: datetime | None = None
        self._limit_refused = False
        self._factor = 1.0
        #: Told anything yet? Until the first read or cycle, the configured pace stands: the
        #: budget is read at the first tick, before its poll.
        self._told = False
        self._verdict = self._decide(start)

    @classmethod
    def from_settings(cls, settings: Settings, pacing: PollPacing, start: datetime) -> CallGovernor:
        return cls(
            pacing,
            share=settings.monday.call_share,
            fallback_limit=settings.monday.daily_call_limit,
            start=start,
        )

    # ------------------------------------------------------------ what the coordinator tells

    def read_due(self, now: datetime) -> bool:
        """A budget read at start, then at the first tick on or after each three-hour mark."""
        with self._lock:
            last = self._last_attempt
            return last is None or self._next_mark(last) <= now

    def budget_read(self, budget: AccountBudget, own_today: int, now: datetime) -> PaceVerdict:
        """The account's budget as monday reported it; ``own_today``: leadbridge's calls
        today as recorded so far. Returns the new decision."""
        with self._lock:
            self._roll(now)
            self._told = True
            self._last_attempt = self._read_at = now
            self._budget, self._budget_error = budget, None
            self._own_today = max(self._own_today, own_today)
            self._own_at_read = self._own_today
            if budget.used_today < budget.limit:
                # monday's count started again, or the limit was raised: polls may resume.
                self._limit_refused = False
            self._verdict = self._decide(now)
            return self._verdict

    def budget_unreadable(self, error: str, now: datetime, *, limit_reached: bool) -> PaceVerdict:
        """The read failed (``limit_reached``: monday refused it for the daily limit); the
        limit is then assumed from the setting, and the account's usage from leadbridge's."""
        with self._lock:
            self._roll(now)
            self._told = True
            self._last_attempt = now
            self._budget_error = error
            if limit_reached:
                self._limit_refused = True
            self._verdict = self._decide(now)
            return self._verdict

    def cycle_done(self, own_today: int, now: datetime, *, limit_refused: bool) -> PaceVerdict:
        """A cycle ended: leadbridge's calls today so far, and whether monday refused any of
        them for the daily limit."""
        with self._lock:
            self._roll(now)
            self._told = True
            self._own_today = max(self._own_today, own_today)
            if limit_refused:
                self._limit_refused = True
            self._verdict = self._decide(now)
            return self._verdict

    # ------------------------------------------------------------ what is asked of it

    def may_poll(self, now: datetime) -> bool:
        with self._lock:
            return self._blocked_until is None or now >= self._blocked_until

    def verdict(self) -> PaceVerdict:
        """The latest decision (made at the last read or cycle)."""
        with self._lock:
            return self._verdict

    def interval_at(self, moment: datetime) -> int:
        """Seconds between polls at ``moment``: the configured pace, stretched, or the time
        until polls may start again; never shorter than the configured pace."""
        with self._lock:
            return int((self._next_fire(moment) - moment).total_seconds())

    def next_fire(self, previous: datetime) -> datetime:
        with self._lock:
            return self._next_fire(previous)

    # ------------------------------------------------------------ deciding

    def _next_fire(self, previous: datetime) -> datetime:
        seconds = self.pacing.interval_at(previous)
        configured = timedelta(seconds=seconds)
        blocked = self._blocked_until
        if blocked is not None and previous < blocked:
            # Nothing but the budget read until the block ends; it may lift the block.
            wake = min(blocked, self._next_mark(previous))
            return max(previous + configured, wake)
        if self._factor <= 1.0:
            return self.pacing.next_fire(previous)
        stretched = previous + timedelta(seconds=ceil(seconds * self._factor))
        # A new day brings a new allowance: be there when it starts.
        return max(previous + configured, min(stretched, next_midnight(previous)))

    def _next_mark(self, moment: datetime) -> datetime:
        """The first budget-read mark (00:00, 03:00, … UTC) after ``moment``."""
        midnight = next_midnight(moment) - timedelta(days=1)
        marks = (moment - midnight) // self.read_every + 1
        return midnight + marks * self.read_every

    def _roll(self, now: datetime) -> None:
        """A new UTC day: leadbridge's own count starts from zero again."""
        today = _day(now)
        if today != self._own_day:
            self._own_day, self._own_today, self._own_at_read = today, 0, 0
            self._limit_refused = False

    def _figures(self, now: datetime) -> tuple[int, int, Source]:
        """(the account's limit, its usage today, where the limit comes from)."""
        budget, read_at = self._budget, self._read_at
        if budget is not None and read_at is not None and _day(read_at) == _day(now):
            spent_since = max(0, self._own_today - self._own_at_read)
            return budget.limit, budget.used_today + spent_since, "account"
        # Not read today: the configured limit, and only leadbridge's own usage is known.
        return self.fallback_limit, self._own_today, "setting"

    def _reads_left(self, now: datetime, day_end: datetime) -> int:
        count, mark = 0, self._next_mark(now)
        while mark < day_end:
            count, mark = count + 1, mark + self.read_every
        return count

    def _decide(self, now: datetime) -> PaceVerdict:
        day_end = next_midnight(now)
        limit, used, source = self._figures(now)
        own = self._own_today
        allowance = int(min(self.share * limit - own, self.share * (limit - used)))
        configured = self.pacing.interval_at(now)
        self._factor = 1.0
        self._blocked_until = None
        if not self._told:
            state = PaceState.NORMAL
            reason = "the configured pace until the account's budget is read, at the first poll"
        elif self._limit_refused or used >= limit:
            state = PaceState.LIMIT_REACHED
            self._blocked_until = day_end + RESET_MARGIN
            reason = (
                f"the account's {limit} daily monday calls are used up"
                + (" (monday refused a call: DAILY_LIMIT_EXCEEDED)" if self._limit_refused else "")
                + f"; no call until {_hhmm(self._blocked_until)} UTC but a read of the account's "
                f"budget every {_hours(self.read_every)}"
            )
        else:
            room = POLL_SHARE * allowance - self._reads_left(now, day_end)
            polls = self.pacing.polls_between(now, day_end)
            if room < 1:
                state = PaceState.PAUSED
                self._blocked_until = day_end
                reason = (
                    f"leadbridge's share of today's calls is used up ({own} made; at most "
                    f"{self.share:g} of the {limit} daily calls and of what the account has "
                    f"left, {limit - used}); no poll until 00:00 UTC but a read of the "
                    f"account's budget every {_hours(self.read_every)}"
                )
            elif polls <= room:
                state = PaceState.NORMAL
                reason = (
                    f"{polls} polls planned until 00:00 UTC, within leadbridge's {allowance} "
                    f"calls left ({self.share:g} of the account's {limit} and of what it has "
                    f"left, {limit - used})"
                )
            else:
                state = PaceState.SLOWED
                self._factor = polls / room
                reason = (
                    f"the account has used {used} of its {limit} daily calls (all its tools); "
                    f"leadbridge keeps to {self.share:g} of what is left, {allowance} calls "
                    f"until 00:00 UTC, so it polls {self._factor:.1f} times more slowly than "
                    f"configured (every {ceil(configured * self._factor)} s instead of "
                    f"{configured} s)"
                )
        if source == "setting" and self._told:
            why = self._budget_error or "not read yet today"
            reason += (
                f" [the account's budget could not be read ({why}): assuming "
                f"monday.daily_call_limit = {limit} and leadbridge's own calls only]"
            )
        interval = int((self._next_fire(now) - now).total_seconds())
        return PaceVerdict(
            state=state,
            reason=reason,
            decided_at=now,
            interval_seconds=interval,
            configured_seconds=configured,
            resumes_at=self._blocked_until,
            limit=limit,
            source=source,
            account_used_today=used,
            own_used_today=own,
            allowance_left=max(0, allowance),
            share=self.share,
            budget_read_at=self._read_at,
            budget_error=self._budget_error,
        )


def _day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _hhmm(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M")


def _hours(span: timedelta) -> str:
    hours = span / timedelta(hours=1)
    return f"{hours:g} hours" if hours != 1 else "hour"
