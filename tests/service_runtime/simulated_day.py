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

With webhooks on, leadbridge's webhook side is the real one too, wired as ``start_webhooks``
wires it: the service's HTTP server on a loopback port with the ``WebhookReceiver`` behind it,
``PollSoon`` and ``WebhookUpkeep`` with its checker. The sandbox creates the webhooks after
their challenge and delivers every change on its own thread; the harness waits for those
deliveries before the clock moves on, so a delivery arrives at the moment of its change. What
the scheduler would do is played in time order with the polls: the one-shot poll ``PollSoon``
asks for runs at the moment it asked for (the poll job keeping its pace, as in production),
and the upkeep ticks every ``min(recheck_seconds, UPKEEP_TICK_SECONDS)`` from one second after
the start. So the webhooks' own monday calls are counted like the others.

A ``Scenario`` scripts the day: status changes by the sales team (each with the effect that
acting on it means), ``PollHint``\\ s (a scripted "poll now": the poll job is moved to that
moment, as ``job.modify(next_run_time=…)`` does, and the schedule goes on from it),
``AccountUse`` (what the account's other tools used by then) and ``WebhookDeleted`` (someone
removes one of leadbridge's webhooks on monday). ``run_day`` plays it and returns what
happened: monday requests counted by the sandbox at the HTTP layer, polls, full reads, budget
reads, webhook checks, and per change how long leadbridge took to act on it.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from leadbridge import telemetry
from leadbridge.adapters.monday.board import MondayBoard
from leadbridge.adapters.store.lock import RunnerLock
from leadbridge.bootstrap import build_adapters, build_sync_service, open_store
from leadbridge.domain.ledger import EffectState
from leadbridge.runtime.coordinator import PollCoordinator
from leadbridge.runtime.governor import CallGovernor, PaceState
from leadbridge.runtime.http import HealthServer
from leadbridge.runtime.pacing import PacedIntervalTrigger, PollPacing
from leadbridge.runtime.webhooks import (
    UPKEEP_TICK_SECONDS,
    PollSoon,
    UpkeepCheck,
    WebhookReceiver,
    WebhookUpkeep,
)
from leadbridge.sandbox import DEMO_LEADS, Sandbox, SeedLead, seed_board, set_values
from leadbridge.sandbox.config import merge_sections, write_sandbox_config
from leadbridge.sandbox.world import default_columns
from leadbridge.service.alerts import Alerts
from leadbridge.service.webhooks import Upkeep
from leadbridge.settings import Settings, load_settings
from tests.network import LOOPBACK, free_port

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
class WebhookDeleted:
    """At ``at``, someone removes leadbridge's webhook for status changes of ``column`` on
    monday (its UI, another tool): nothing tells leadbridge but its next check."""

    at: timedelta
    column: str


Event = StatusChange | PollHint | AccountUse | WebhookDeleted


@dataclass(frozen=True)
class Scenario:
    name: str
    changes: Sequence[StatusChange]
    hints: Sequence[PollHint] = ()
    account: Sequence[AccountUse] = ()
    deletions: Sequence[WebhookDeleted] = ()
    leads: int = 300
    #: The account's daily call limit (Basic/Standard plans: 1,000).
    daily_limit: int = 1000
    #: Settings sections merged over the sandbox configuration (defaults otherwise).
    overrides: dict[str, Any] = field(default_factory=dict)
    #: Webhooks on: the schedule is the slower safety net (``PollPacing(hinted=True)``), and
    #: the receiver, ``PollSoon`` and the upkeep run against the sandbox's deliveries.
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
    """One tick of the poll job, or one poll a webhook delivery asked for (``hinted``):
    whether a cycle ran and read the whole board, the monday requests it made (by operation,
    budget read included) and the governor's state after it."""

    at: datetime
    ran: bool
    calls: dict[str, int]
    state: PaceState
    full_read: bool
    hinted: bool


@dataclass(frozen=True)
class WebhookCheck:
    """One look of the upkeep at the board's webhooks, at ``at``, and what it found and did."""

    at: datetime
    found: Upkeep

    def describe(self) -> str:
        found = self.found
        done = [
            f"{name} {len(ids)}"
            for name, ids in (
                ("kept", found.kept),
                ("created", found.created),
                ("recreated", found.recreated),
                ("retired", found.retired),
            )
            if ids
        ]
        return f"{self.at:%H:%M:%S} {', '.join(done) or 'none there'}"


@dataclass
class DayResult:
    scenario: Scenario
    #: monday requests of the day, as the sandbox counted them at the HTTP layer.
    calls: int
    calls_by_operation: dict[str, int]
    #: Ticks (hinted polls included), cycles run, full reads among them, and ticks the
    #: governor held back.
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
    #: Every check of the webhook upkeep, warm-up included (webhooks on).
    webhook_checks: list[WebhookCheck] = field(default_factory=list)
    #: The day's deliveries by what the receiver made of them (``poll``, ``debounced``,
    #: ``own_change``: an echo of leadbridge's own write…), as /metrics counts them.
    deliveries: dict[str, int] = field(default_factory=dict)

    @property
    def hinted_polls(self) -> int:
        """Cycles run because a webhook delivery asked for them."""
        return sum(t.ran and t.hinted for t in self.tick_log)

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
            f"  ticks {self.ticks}, polls {self.polls} (full reads {self.full_reads}, after a "
            f"delivery {self.hinted_polls}), held back by the governor {self.held_ticks}",
            f"  reaction in business hours: {len(business)} changes, worst "
            f"{self.worst(True):.0f} s; outside: {len(outside)} changes, worst "
            f"{self.worst(False):.0f} s",
            "  pace: "
            + (", ".join(f"{m:%H:%M} {s.value}" for m, s in self.pace_changes) or "unchanged"),
            f"  account at the end of the day: {self.account_after}",
        ]
        if self.scenario.webhooks:
            checks = "; ".join(check.describe() for check in self.webhook_checks)
            lines.append(f"  webhook checks: {checks or 'none'}")
            received = ", ".join(f"{k} {v}" for k, v in sorted(self.deliveries.items()))
            lines.append(f"  deliveries received: {received or 'none'}")
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


def receiver_outcomes() -> Counter[str]:
    """The receiver's outcomes so far in this process (its /metrics counter)."""
    counted: Counter[str] = Counter()
    for metric in telemetry.WEBHOOK_DELIVERIES.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                counted[sample.labels["outcome"]] = int(sample.value)
    return counted


class WebhookSide:
    """leadbridge's webhook pieces as ``start_webhooks`` wires them, on the simulated clock.

    The receiver answers behind the service's own HTTP server; its hints go to a real
    ``PollSoon``, whose one-shot poll waits in ``hinted_at``/``take_hinted`` until the day
    reaches it (the scheduler's ``DateTrigger`` job, ``replace_existing`` included); the
    upkeep, with the checker ``start_webhooks`` uses, ticks at ``next_tick``, as its
    ``IntervalTrigger`` job would.
    """

    def __init__(
        self,
        settings: Settings,
        coordinator: PollCoordinator,
        *,
        now: Callable[[], datetime],
        clock: Callable[[], float],
        start: datetime,
    ) -> None:
        webhook = settings.monday.webhook
        self._now = now
        self._guard = threading.Lock()
        self._hinted: tuple[datetime, Callable[[], None]] | None = None
        self.checks: list[WebhookCheck] = []
        soon = PollSoon(
            debounce_seconds=webhook.debounce_seconds,
            poll=coordinator.poll,
            schedule=self._schedule,
            now=now,
        )
        self.receiver = WebhookReceiver.from_settings(webhook, settings.monday.board_id, soon.hint)
        self._checker = UpkeepCheck(settings, now=now)
        self._upkeep = WebhookUpkeep(
            check=self._check,
            may_act=coordinator.lock.is_held,
            on_user=self.receiver.own_user,
            every_seconds=webhook.recheck_seconds,
            clock=clock,
        )
        self._every = timedelta(seconds=min(webhook.recheck_seconds, UPKEEP_TICK_SECONDS))
        # Production's first upkeep run: one second after the start, behind the first poll.
        self.next_tick = start + timedelta(seconds=1)
        service = settings.service
        self.server = HealthServer(
            coordinator, service.http_host, service.http_port, webhook=self.receiver
        )

    def _schedule(self, when: datetime, fire: Callable[[], None]) -> None:
        """``PollSoon``'s scheduler, on the HTTP server's thread: one pending poll at most."""
        with self._guard:
            self._hinted = (when, fire)

    def hinted_at(self) -> datetime | None:
        with self._guard:
            return self._hinted[0] if self._hinted is not None else None

    def take_hinted(self) -> Callable[[], None]:
        """The pending poll, no longer pending: a hint during it may ask for the next one."""
        with self._guard:
            assert self._hinted is not None
            fire = self._hinted[1]
            self._hinted = None
        return fire

    def _check(self) -> Upkeep:
        found = self._checker()
        self.checks.append(WebhookCheck(self._now(), found))
        return found

    def tick(self) -> None:
        """The upkeep job's run at ``next_tick``; it calls monday only when a check is due."""
        self._upkeep.tick()
        self.next_tick += self._every

    def close(self) -> None:
        self.server.stop()
        self._checker.close()


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
        if scenario.webhooks:
            port = free_port()
            overrides = merge_sections(
                overrides,
                {
                    "service": {"http_host": LOOPBACK, "http_port": port},
                    "monday": {"webhook": {"public_url": f"http://{LOOPBACK}:{port}"}},
                },
            )
        config = write_sandbox_config(sandbox, directory, **overrides)
        if scenario.webhooks:
            # As an operator gives it: a secret file, never in the YAML.
            token = config.secrets_dir / "monday__webhook__path_token"
            token.write_text(secrets.token_urlsafe(32))
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
        self.webhooks = (
            WebhookSide(
                self.settings, self.coordinator, now=self.now, clock=clock.now, start=self.start
            )
            if scenario.webhooks
            else None
        )

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

    def _settle(self) -> None:
        """Wait for the sandbox's deliveries of what just happened, so each arrives at the
        simulated moment of its change (none are queued without webhooks)."""
        if not self.sandbox.monday.webhooks.wait_idle():
            raise AssertionError("the sandbox's webhook deliveries did not finish in 10 s")

    def _events(self) -> Iterator[tuple[datetime, Event]]:
        scripted: list[Event] = [
            *self.scenario.changes,
            *self.scenario.hints,
            *self.scenario.account,
            *self.scenario.deletions,
        ]
        for event in sorted(scripted, key=lambda e: e.at):
            yield MIDNIGHT + event.at, event

    def run(self) -> DayResult:
        if self.webhooks is not None:
            self.webhooks.server.start()
        try:
            return self._play()
        finally:
            if self.webhooks is not None:
                self.webhooks.close()
            self.coordinator.release()
            self.store.close()

    def _play(self) -> DayResult:
        """The day in time order: at one moment, scripted events first, then the hinted
        poll, the upkeep's tick and the poll job's tick."""
        events = list(self._events())
        webhooks = self.webhooks
        reactions: dict[StatusChange, Reaction] = {}
        tick_log: list[Tick] = []
        fire: datetime | None = self.trigger.get_next_fire_time(None, self.start)
        counting = False
        outcomes = receiver_outcomes()
        while fire is not None:
            hinted = webhooks.hinted_at() if webhooks is not None else None
            due = [fire]
            due += [events[0][0]] if events else []
            due += [webhooks.next_tick] if webhooks is not None else []
            due += [hinted] if hinted is not None else []
            moment = min(due)
            if moment >= self.end:
                break
            if not counting and moment >= MIDNIGHT:
                # The day counted starts at its midnight.
                self.sandbox.state.reset_counters()
                outcomes = receiver_outcomes()
                counting = True
            self._move_to(moment)
            if events and events[0][0] == moment:
                _, event = events.pop(0)
                if isinstance(event, PollHint):
                    fire = moment  # the poll job moves to now; the schedule goes on from it
                else:
                    self._happen(event, reactions)
            elif webhooks is not None and hinted == moment:
                self._poll(moment, webhooks.take_hinted(), True, counting, tick_log, reactions)
            elif webhooks is not None and webhooks.next_tick == moment:
                webhooks.tick()
            else:
                upcoming = self.trigger.get_next_fire_time(fire, fire)
                self._poll(fire, self.coordinator.poll, False, counting, tick_log, reactions)
                fire = upcoming
        requests = dict(self._monday_calls())
        deliveries = dict(receiver_outcomes() - outcomes)
        account = self.sandbox.monday.account()  # the day's figures, before it ends
        pace_changes: list[tuple[datetime, PaceState]] = []
        for tick in tick_log:
            if not pace_changes or pace_changes[-1][1] is not tick.state:
                pace_changes.append((tick.at, tick.state))
        return DayResult(
            scenario=self.scenario,
            calls=sum(requests.values()),
            calls_by_operation=requests,
            ticks=len(tick_log),
            polls=sum(t.ran for t in tick_log),
            full_reads=sum(t.full_read for t in tick_log),
            held_ticks=sum(not t.ran for t in tick_log),
            reactions=sorted(reactions.values(), key=lambda r: r.change.at),
            pace_changes=pace_changes,
            tick_log=tick_log,
            account_after=account,
            webhook_checks=list(webhooks.checks) if webhooks is not None else [],
            deliveries=deliveries,
        )

    def _poll(
        self,
        at: datetime,
        poll: Callable[[], None],
        hinted: bool,
        counting: bool,
        tick_log: list[Tick],
        reactions: dict[StatusChange, Reaction],
    ) -> None:
        """One run of ``poll`` at ``at``; logged in ``tick_log`` once the day is counted."""
        before = self.store.runs(1)
        calls_before = self._monday_calls()
        poll()
        # The deliveries of leadbridge's own write-backs arrive while the cycle's moment lasts.
        self._settle()
        latest = self.store.runs(1)
        ran = bool(latest) and (not before or latest[0].id != before[0].id)
        if counting:
            made = self._monday_calls() - calls_before
            full = ran and bool(latest[0].summary.get("full_reconcile"))
            state = self.governor.verdict().state
            tick_log.append(Tick(at, ran, dict(made), state, full_read=full, hinted=hinted))
        self._acted(at, reactions)

    def _happen(self, event: Event, reactions: dict[StatusChange, Reaction]) -> None:
        if isinstance(event, AccountUse):
            self.sandbox.monday.set_account(others_today=event.others_today)
            return
        if isinstance(event, WebhookDeleted):
            self._delete_webhook(event.column)
            return
        assert isinstance(event, StatusChange)
        item = self.items[event.lead]
        set_values(self.sandbox.state, item, {COLUMNS[event.column].id: event.label})
        in_hours = self.pacing.in_business_hours(MIDNIGHT + event.at)
        reactions[event] = Reaction(event, None, in_hours)
        self._settle()

    def _delete_webhook(self, column: str) -> None:
        dispatcher = self.sandbox.monday.webhooks
        watching = [
            hook["id"]
            for hook in dispatcher.describe()["webhooks"]
            if (hook["config"] or {}).get("columnId") == COLUMNS[column].id
        ]
        if not watching:
            raise AssertionError(f"no webhook watches {column} to delete")
        for webhook_id in watching:
            dispatcher.delete(webhook_id)

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
