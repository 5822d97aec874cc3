"""A whole business day of ``leadbridge run`` in seconds of wall time, against the sandbox.

What runs is the real thing: the sandbox on a loopback port (monday, Drive, Gmail, GitHub over
HTTP), the real adapters, ``SyncService``, ``PollCoordinator``, ``CallGovernor`` and the
``PacedIntervalTrigger`` that APScheduler asks for fire times. Only the scheduler's waiting is
replaced: the sandbox's clock is frozen and moved from one fire time to the next, and the
service's ``now`` reads that same clock, so 09:00:00 for the sales team is 09:00:00 for
leadbridge and for monday's daily count. Nothing waits in real time.

The order of a tick is APScheduler's: the trigger is asked for the next fire time when the job
is submitted, before the poll runs (so a decision made in a cycle moves the tick after next,
exactly as in production), then the coordinator polls.

A ``Scenario`` scripts the day: status changes by the sales team (each with the effect that
acting on it means), ``PollHint``\\ s (a "poll now", as a webhook delivery gives: the poll job is
moved to that moment, as ``job.modify(next_run_time=…)`` does, and the schedule goes on from
it) and ``AccountUse`` (what the account's other tools used by then). ``run_day`` plays it
and returns what happened: monday requests counted by the sandbox at the HTTP layer, polls,
full reads, budget reads, and per change how long leadbridge took to act on it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from leadbridge.adapters.monday.board import MondayBoard
from leadbridge.adapters.store.lock import RunnerLock
from leadbridge.bootstrap import build_adapters, build_sync_service, open_store
from leadbridge.domain.ledger import EffectState
from leadbridge.runtime.coordinator import PollCoordinator
from leadbridge.runtime.governor import CallGovernor, PaceState
from leadbridge.runtime.pacing import PacedIntervalTrigger, PollPacing
from leadbridge.sandbox import DEMO_LEADS, Sandbox, SeedLead, seed_board, set_values
from leadbridge.sandbox.config import write_sandbox_config
from leadbridge.sandbox.world import default_columns
from leadbridge.service.alerts import Alerts
from leadbridge.settings import Settings, load_settings

#: A Tuesday: business hours apply.
DAY = date(2026, 3, 3)
MIDNIGHT = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
COLUMNS = default_columns()
STATUSES = ("triage_status", "negotiation_status", "hub_status")
#: Settings every simulated day shares besides the defaults under test: the sandbox has no
#: GitHub write limit to space for, and the day moves leads one by one (no mass action).
BASE_OVERRIDES: dict[str, Any] = {"github": {"seconds_between_writes": 0}}


def clock_time(hours: int, minutes: int = 0, seconds: int = 0) -> timedelta:
    """A moment of the simulated day, as time since its 00:00 UTC."""
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


@dataclass(frozen=True)
class StatusChange:
    """The sales team sets ``column`` of lead number ``lead`` to ``label`` at ``at``;
    leadbridge has acted on it when ``effect`` of that lead is done."""

    at: timedelta
    lead: int
    column: str
    label: str
    effect: str


@dataclass(frozen=True)
class PollHint:
    """A "poll now" at ``at`` (a webhook delivery, say): the poll job moves to that moment."""

    at: timedelta


@dataclass(frozen=True)
class AccountUse:
    """By ``at``, the account's other tools have used ``others_today`` calls today."""

    at: timedelta
    others_today: int


@dataclass(frozen=True)
class Scenario:
    name: str
    changes: Sequence[StatusChange]
    hints: Sequence[PollHint] = ()
    account: Sequence[AccountUse] = ()
    leads: int = 300
    #: The account's daily call limit (Basic/Standard plans: 1,000).
    daily_limit: int = 1000
    #: Settings sections merged over the sandbox configuration (defaults otherwise).
    overrides: dict[str, Any] = field(default_factory=dict)
    #: Webhooks on: the schedule is the slower safety net (``PollPacing(hinted=True)``) and
    #: deliveries come as ``hints``.
    webhooks: bool = False
    #: The service starts this long before the day, so the day counted is a steady one
    #: (its first cycle, which meets the board, is not part of it).
    warmup: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class Reaction:
    change: StatusChange
    #: The tick whose cycle did the effect (None: never within the day).
    acted_at: datetime | None
    in_business_hours: bool

    @property
    def seconds(self) -> float | None:
        if self.acted_at is None:
            return None
        return (self.acted_at - (MIDNIGHT + self.change.at)).total_seconds()


@dataclass(frozen=True)
class Tick:
    """One tick of the poll job: whether a cycle ran, the monday requests it made (by
    operation, budget read included) and the governor's state after it."""

    at: datetime
    ran: bool
    calls: dict[str, int]
    state: PaceState


@dataclass
class DayResult:
    scenario: Scenario
    #: monday requests of the day, as the sandbox counted them at the HTTP layer.
    calls: int
    calls_by_operation: dict[str, int]
    #: Ticks, cycles run, full reads among them, and ticks the governor held back.
    ticks: int
    polls: int
    full_reads: int
    held_ticks: int
    reactions: list[Reaction]
    #: (moment, state) each time the governor's state changed during the day.
    pace_changes: list[tuple[datetime, PaceState]]
    #: Every tick of the day, in order.
    tick_log: list[Tick]
    #: The account's figures as the sandbox keeps them, at the end of the day.
    account_after: dict[str, Any]

    def worst(self, business: bool) -> float:
        seconds = [r.seconds or 0.0 for r in self.reactions if r.in_business_hours == business]
        return max(seconds, default=0.0)

    def figures(self) -> str:
        """The day in a few lines, for the test's output."""
        business = [r for r in self.reactions if r.in_business_hours]
        outside = [r for r in self.reactions if not r.in_business_hours]
        operations = ", ".join(f"{k} {v}" for k, v in sorted(self.calls_by_operation.items()))
        lines = [
            f"simulated day '{self.scenario.name}' ({DAY.isoformat()}, "
            f"{self.scenario.leads} leads, {len(self.reactions)} status changes):",
            f"  monday calls: {self.calls} ({operations})",
            f"  ticks {self.ticks}, polls {self.polls} (full reads {self.full_reads}), "
            f"held back by the governor {self.held_ticks}",
            f"  reaction in business hours: {len(business)} changes, worst "
            f"{self.worst(True):.0f} s; outside: {len(outside)} changes, worst "
            f"{self.worst(False):.0f} s",
            "  pace: "
            + (", ".join(f"{m:%H:%M} {s.value}" for m, s in self.pace_changes) or "unchanged"),
            f"  account at the end of the day: {self.account_after}",
        ]
        for reaction in self.reactions:
            change = reaction.change
            acted = f"{reaction.seconds:.0f} s" if reaction.seconds is not None else "never"
            lines.append(
                f"    {(MIDNIGHT + change.at):%H:%M:%S} lead {change.lead} {change.column} → "
                f"{change.label}: {change.effect} after {acted}"
            )
        return "\n".join(lines)


def seed_leads(sandbox: Sandbox, count: int) -> list[str]:
    """``count`` realistic leads without any status, so meeting the board adopts nothing."""
    leads = []
    for n in range(count):
        demo = DEMO_LEADS[n % len(DEMO_LEADS)]
        values = {k: v for k, v in demo.values.items() if k not in STATUSES}
        leads.append(SeedLead(f"{demo.name} {n + 1}", values))
    return seed_board(sandbox.state, None, leads)


class SimulatedDay:
    """The service and the sandbox of one scenario; ``run`` plays the day once."""

    def __init__(self, scenario: Scenario, sandbox: Sandbox, directory: Path) -> None:
        self.scenario = scenario
        self.sandbox = sandbox
        self.start = MIDNIGHT - scenario.warmup
        self.end = MIDNIGHT + timedelta(days=1)
        clock = sandbox.state.clock
        clock.freeze(self.start.timestamp())
        sandbox.monday.set_account(daily_limit=scenario.daily_limit)
        self.items = seed_leads(sandbox, scenario.leads)
        overrides = {**BASE_OVERRIDES, **scenario.overrides}
        config = write_sandbox_config(sandbox, directory, **overrides)
        self.settings: Settings = load_settings(config.path, secrets_dir=config.secrets_dir)
        self.pacing = PollPacing.from_settings(self.settings.service, hinted=scenario.webhooks)
        self.governor = CallGovernor.from_settings(self.settings, self.pacing, self.start)
        self.coordinator = PollCoordinator(
            pacing=self.pacing,
            lock=RunnerLock.for_url(self.settings.state.url),
            build=self._build,
            cycle_timeout_seconds=self.settings.service.cycle_timeout_seconds,
            stop=threading.Event(),
            now=self.now,
            governor=self.governor,
        )
        self.trigger = PacedIntervalTrigger(self.pacing, self.start, self.governor)
        self.store = open_store(self.settings)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.sandbox.state.clock.now(), UTC)

    def _build(self) -> Any:
        # The board reads the account's usage for the simulated day, not the machine's.
        adapters = build_adapters(self.settings)
        board = MondayBoard.from_settings(self.settings, now=self.now)
        return build_sync_service(
            self.settings,
            adapters=replace(adapters, board=board),
            now=self.now,
            alerts=Alerts.off(),
        )

    def _monday_calls(self) -> Counter[str]:
        with self.sandbox.state.lock:
            return Counter(self.sandbox.state.requests.get("monday", Counter()))

    def _move_to(self, moment: datetime) -> None:
        clock = self.sandbox.state.clock
        clock.advance((moment - self.now()).total_seconds())

    def _events(self) -> Iterator[tuple[datetime, StatusChange | PollHint | AccountUse]]:
        scripted: list[StatusChange | PollHint | AccountUse] = [
            *self.scenario.changes,
            *self.scenario.hints,
            *self.scenario.account,
        ]
        for event in sorted(scripted, key=lambda e: e.at):
            yield MIDNIGHT + event.at, event

    def run(self) -> DayResult:
        events = list(self._events())
        reactions: dict[StatusChange, Reaction] = {}
        pace_changes: list[tuple[datetime, PaceState]] = []
        tick_log: list[Tick] = []
        fire: datetime | None = self.trigger.get_next_fire_time(None, self.start)
        counting = False
        ticks = polls = full_reads = held = 0
        while fire is not None and fire < self.end:
            if events and events[0][0] <= fire:
                moment, event = events.pop(0)
                self._move_to(moment)
                if isinstance(event, PollHint):
                    fire = moment  # the poll job moves to now; the schedule goes on from it
                    continue
                self._happen(event, reactions)
                continue
            if not counting and fire >= MIDNIGHT:
                # The day counted starts with its first tick.
                self.sandbox.state.reset_counters()
                counting = True
            self._move_to(fire)
            upcoming = self.trigger.get_next_fire_time(fire, fire)
            before = self.store.runs(1)
            calls_before = self._monday_calls()
            self.coordinator.poll()
            latest = self.store.runs(1)
            ran = bool(latest) and (not before or latest[0].id != before[0].id)
            if counting:
                ticks += 1
                polls += ran
                held += not ran
                if ran and latest[0].summary.get("full_reconcile"):
                    full_reads += 1
                state = self.governor.verdict().state
                if not pace_changes or pace_changes[-1][1] is not state:
                    pace_changes.append((fire, state))
                made = self._monday_calls() - calls_before
                tick_log.append(Tick(fire, ran, dict(made), state))
            self._acted(fire, reactions)
            fire = upcoming
        requests = dict(self._monday_calls())
        account = self.sandbox.monday.account()  # the day's figures, before it ends
        self.coordinator.release()
        self.store.close()
        return DayResult(
            scenario=self.scenario,
            calls=sum(requests.values()),
            calls_by_operation=requests,
            ticks=ticks,
            polls=polls,
            full_reads=full_reads,
            held_ticks=held,
            reactions=sorted(reactions.values(), key=lambda r: r.change.at),
            pace_changes=pace_changes,
            tick_log=tick_log,
            account_after=account,
        )

    def _happen(
        self, event: StatusChange | AccountUse, reactions: dict[StatusChange, Reaction]
    ) -> None:
        if isinstance(event, AccountUse):
            self.sandbox.monday.set_account(others_today=event.others_today)
            return
        item = self.items[event.lead]
        set_values(self.sandbox.state, item, {COLUMNS[event.column].id: event.label})
        in_hours = self.pacing.in_business_hours(MIDNIGHT + event.at)
        reactions[event] = Reaction(event, None, in_hours)

    def _acted(self, tick: datetime, reactions: dict[StatusChange, Reaction]) -> None:
        """Stamp with this tick every change whose effect the cycle just did."""
        for change, reaction in reactions.items():
            if reaction.acted_at is not None:
                continue
            item = self.items[change.lead]
            done = {
                entry.effect for entry in self.store.ledger(item) if entry.state is EffectState.DONE
            }
            if change.effect in done:
                reactions[change] = replace(reaction, acted_at=tick)


def run_day(scenario: Scenario, directory: Path) -> DayResult:
    """Play ``scenario`` against a fresh sandbox with its state under ``directory``."""
    with Sandbox(seed=3) as sandbox:
        day = SimulatedDay(scenario, sandbox, directory)
        result = day.run()
        if sandbox.errors:
            raise AssertionError("the sandbox itself failed:\n" + "\n".join(sandbox.errors))
        return result
