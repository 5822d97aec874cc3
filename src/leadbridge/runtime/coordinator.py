"""When and whether this replica polls, and how healthy that makes it.

Pace, cycle deadline, runner lock, last success and last error used to live in three objects,
with the cycle's report copied field by field from one into another; each copy was a place
for the health page to drift from what the poller did. One object now decides a tick and
records its outcome, and ``/healthz`` and ``/metrics`` read that same record.

Health is judged by the age of the last poll that read the board, not by the process being
alive: a poller whose every read fails (expired token, monday down) is alive and useless, and
that is the failure an operator must be woken for. Three intervals of grace absorb one slow or
failed poll without flapping. A standby replica is healthy: restarting it would not make it
acquire the lock.

Only the holder of the runner lock runs cycles; the other replicas stand by, healthy, and
try again at every tick, so one of them takes over within an interval of the holder's death.

Each cycle gets a deadline after which it starts no new effect, so that a slow cycle cannot
eat the next. It is counted from the moment the cycle starts, after the sync service is
built: building it (connecting, migrating the state database) can take seconds on a first
tick, and must not eat the budget of the cycle it prepares.

With a call governor (``runtime/governor.py``) the coordinator also keeps leadbridge within its
share of the account's daily monday calls: it reads the account's budget when the governor
says a read is due, tells it each cycle's calls, runs no cycle while it says to wait, and
records its decision in the state store for ``leadbridge status``. Waiting on purpose is
healthy: ``/healthz`` stays 200 and says why under ``call_pace``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import structlog

from leadbridge import telemetry
from leadbridge.adapters.store.lock import RunnerLock
from leadbridge.domain.errors import DailyLimitReached, ExternalError
from leadbridge.domain.ports import CallBudget
from leadbridge.runtime.governor import CallGovernor, PaceState, PaceVerdict
from leadbridge.runtime.pacing import Pace, PollPacing
from leadbridge.service.status import PACE_FACT

if TYPE_CHECKING:
    from leadbridge.service.alerts import Alerts
    from leadbridge.service.sync import CycleReport, SyncService

log = structlog.get_logger(__name__)

#: Share of the interval a cycle may use before it stops starting effects.
CYCLE_SHARE = 0.8
#: A poll older than this many intervals makes the service unhealthy.
STALE_AFTER_INTERVALS = 3

Role = Literal["starting", "active", "standby"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Verdict:
    """The answer to ``/healthz``: an HTTP status and its JSON body."""

    status: int
    body: dict[str, Any]


@dataclass
class _Record:
    """What the ticks so far have taught; written by the scheduler thread, read by HTTP."""

    started_at: datetime
    #: The pace in force at the last tick, which is the time until the next one.
    interval_seconds: int
    role: Role = "starting"
    holder: str = ""
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_report: CycleReport | None = None


class PollCoordinator:
    """One scheduler tick at a time: may this replica act, for how long, and how did it go."""

    def __init__(
        self,
        *,
        pacing: PollPacing,
        lock: RunnerLock,
        build: Callable[[], SyncService],
        cycle_timeout_seconds: float,
        stop: threading.Event,
        redact: Callable[[str], str] = str,
        now: Callable[[], datetime] = _utcnow,
        alerts: Alerts | None = None,
        governor: CallGovernor | None = None,
    ) -> None:
        self.pacing = pacing
        self.governor = governor
        #: The pace in force: the governor's when there is one, else the configured one.
        self.pace: Pace = governor or pacing
        #: The adapter's count of calls refused for the daily limit, as last seen.
        self._refusals_seen = 0
        self._pace_state: PaceState | None = None
        self._alerts = alerts
        self.lock = lock
        self.stop = stop
        self._build = build
        self._cycle_timeout_seconds = cycle_timeout_seconds
        # Error texts come from adapters and may quote what a server sent back.
        self._redact = redact
        self._now = now
        self._busy = threading.Lock()
        self._service: SyncService | None = None
        self._holding = False
        self._standby_logged = False
        self._guard = threading.Lock()
        started = now()
        self._record = _Record(started_at=started, interval_seconds=self.pace.interval_at(started))

    # ------------------------------------------------------------ the scheduler's side

    def poll(self) -> None:
        """One scheduler tick: make sure this replica may act, then run one bounded cycle."""
        if self.stop.is_set():
            return
        with self._busy:
            if self.stop.is_set():
                return
            interval = self.pace.interval_at(self._now())
            if self._may_act(interval):
                self._cycle(interval)

    def wait_idle(self, seconds: float) -> bool:
        """Wait for the cycle in flight; True when none runs (and none will start)."""
        if self._busy.acquire(timeout=seconds):
            self._busy.release()
            return True
        return False

    def release(self) -> None:
        """Give up the runner lock, so that a standby replica takes over at its next try."""
        self._holding = False
        self.lock.release()

    def _budget(self, interval: int) -> float:
        """Seconds a cycle may keep starting effects, so that it cannot eat the next one."""
        return min(CYCLE_SHARE * interval, self._cycle_timeout_seconds)

    def _may_act(self, interval: int) -> bool:
        if self._holding:
            if self.lock.is_held():
                return True
            self._holding = False
            log.error("runner_lock_lost", database=self.lock.target)
        try:
            acquired = self.lock.acquire()
        except Exception as error:
            log.error("runner_lock_unavailable", database=self.lock.target, error=str(error))
            self._failed(
                f"cannot reach the state database to take the runner lock: {error}", interval
            )
            return False
        if not acquired:
            self._standing_by(self.lock.holder_description(), interval)
            if not self._standby_logged:
                log.warning("standby", reason=str(self.lock.held_error()), retry_seconds=interval)
                self._standby_logged = True
            return False
        self._holding = True
        self._standby_logged = False
        log.info("runner_lock_acquired", database=self.lock.target, epoch=self.lock.epoch)
        return True

    def _cycle(self, interval: int) -> None:
        try:
            if self._service is None:
                self._service = self._build()
            if self.governor is not None and not self._may_call(self.governor, self._service):
                self._waiting(interval)
                return
            deadline = self._now() + timedelta(seconds=self._budget(interval))
            # The lease fences the cycle: its rows carry the lock's epoch, and it stops
            # starting effects as soon as the lock is found lost.
            lease = self.lock.lease()
            report = self._service.run_cycle(stop=self.stop, deadline=deadline, lease=lease)
            if self.governor is not None:
                self._count_calls(self.governor, self._service)
        except Exception as error:
            log.exception("cycle_failed", error=str(error))
            self._failed(f"{type(error).__name__}: {error}", interval)
            return
        self._finished(report, interval)

    # ------------------------------------------------------------ the daily call budget

    def _may_call(self, governor: CallGovernor, service: SyncService) -> bool:
        """Read the account's budget when a read is due; may this tick poll the board?"""
        now = self._now()
        board = service.ports.board
        if governor.read_due(now) and isinstance(board, CallBudget):
            own = self._own_calls_today(service, now)
            try:
                budget = board.account_budget()
            except ExternalError as error:
                log.warning("call_budget_unread", error=self._redact(error.describe()))
                verdict = governor.budget_unreadable(
                    self._redact(error.message),
                    now,
                    limit_reached=isinstance(error, DailyLimitReached),
                )
            else:
                verdict = governor.budget_read(budget, own, now)
            # A refusal of the read itself is already known to the governor.
            self._refusals_seen = board.usage().daily_limit_refusals
            self._decided(service, verdict)
        return governor.may_poll(now)

    def _count_calls(self, governor: CallGovernor, service: SyncService) -> None:
        """Tell the governor the calls made so far today and whether monday refused any."""
        now = self._now()
        refusals = service.ports.board.usage().daily_limit_refusals
        refused, self._refusals_seen = refusals > self._refusals_seen, refusals
        own = self._own_calls_today(service, now)
        self._decided(service, governor.cycle_done(own, now, limit_refused=refused))

    @staticmethod
    def _own_calls_today(service: SyncService, now: datetime) -> int:
        """leadbridge's monday calls today, as its cycles recorded them (across restarts)."""
        return service.store.usage(now.astimezone(UTC).date(), "monday")[0]

    def _decided(self, service: SyncService, verdict: PaceVerdict) -> None:
        """Record the decision for ``status``; log it once per change of state."""
        service.store.save_fact(PACE_FACT, verdict.to_document())
        if verdict.state is self._pace_state:
            return
        self._pace_state = verdict.state
        emit = log.info if verdict.state is PaceState.NORMAL else log.warning
        emit(
            "call_pace",
            state=verdict.state.value,
            reason=verdict.reason,
            interval_seconds=verdict.interval_seconds,
            configured_interval_seconds=verdict.configured_seconds,
            resumes_at=verdict.resumes_at.isoformat() if verdict.resumes_at else None,
        )

    def _waiting(self, interval: int) -> None:
        """A tick on which the governor allows no poll: nothing failed, nothing ran."""
        interval = self._in_force(interval)
        with self._guard:
            record = self._record
            record.role, record.holder, record.interval_seconds = "active", "", interval

    # ------------------------------------------------------------ what the ticks taught

    def _in_force(self, interval: int) -> int:
        """The pace after a tick: the governor may have changed it during the tick."""
        return self.pace.interval_at(self._now()) if self.governor is not None else interval

    def _finished(self, report: CycleReport, interval: int) -> None:
        finished = report.finished_at or self._now()
        interval = self._in_force(interval)
        with self._guard:
            record = self._record
            record.role, record.holder, record.interval_seconds = "active", "", interval
            record.last_report = report
            if report.read_ok:
                record.last_success_at = finished
                record.last_error = None
            else:
                record.last_error = self._redact(report.error or "the board could not be read")
        if report.read_ok:
            telemetry.LAST_SUCCESSFUL_POLL.set(finished.timestamp())
        self._alert()

    def _failed(self, error: str, interval: int) -> None:
        """A cycle that could not even start or that raised: it counts as a failed poll."""
        interval = self._in_force(interval)
        with self._guard:
            record = self._record
            record.role, record.holder, record.interval_seconds = "active", "", interval
            record.last_error = self._redact(error)
        self._alert()

    def _alert(self) -> None:
        """Polls failing longer than ``alerts.poll_failure_minutes`` e-mail operators once."""
        if self._alerts is None:
            return
        with self._guard:
            record = self._record
            failing = record.last_error is not None
            since = (record.last_success_at or record.started_at) if failing else None
            error = record.last_error
        self._alerts.polls(since, error)

    def _standing_by(self, holder: str, interval: int) -> None:
        with self._guard:
            record = self._record
            record.role, record.holder = "standby", self._redact(holder)
            record.interval_seconds = interval

    # ------------------------------------------------------------ the probes' side

    def verdict(self) -> Verdict:
        """``/healthz``: 200 while the last good poll is younger than three intervals."""
        now = self._now()
        with self._guard:
            record = self._record
            limit = STALE_AFTER_INTERVALS * record.interval_seconds
            body: dict[str, Any] = {
                "role": record.role,
                "interval_seconds": record.interval_seconds,
            }
            if record.role == "standby":
                body |= {
                    "status": "standby",
                    "standby": True,
                    "reason": "standby: another replica holds the lock",
                    "holder": record.holder,
                }
                return Verdict(200, body)
            body["standby"] = False
            pace = self.governor.verdict() if self.governor is not None else None
            if pace is not None:
                body["call_pace"] = pace.to_document()
            if record.last_report is not None:
                body["last_cycle"] = cycle_summary(record.last_report, self._redact)
                if record.last_report.held:
                    # Healthy (restarting would not help) but waiting for a person.
                    body["held"] = dict(record.last_report.held)
                    body["attention"] = (
                        "new effects held by the mass-action guard: review with "
                        "`leadbridge plan`, release with `leadbridge plan --confirm`"
                    )
            if record.last_error:
                body["last_error"] = record.last_error
            since = record.last_success_at or record.started_at
            age = (now - since).total_seconds()
            body |= {"age_seconds": round(age, 1), "limit_seconds": limit}
            if record.last_success_at is not None:
                body["last_successful_poll"] = record.last_success_at.isoformat()
            if pace is not None and self.governor is not None and not self.governor.may_poll(now):
                # Waiting on purpose for the daily budget: restarting would not help.
                body["status"], body["reason"] = "paused", pace.reason
                return Verdict(200, body)
            if age < limit:
                body["status"] = "ok" if record.last_success_at else "starting"
                return Verdict(200, body)
            what = (
                f"no successful poll for {age:.0f}s"
                if record.last_success_at
                else f"no successful poll since the start {age:.0f}s ago"
            )
            body["status"] = "failing"
            body["reason"] = (
                f"{what} (limit {limit}s); last error: {record.last_error or 'none recorded'}"
            )
            return Verdict(503, body)


def cycle_summary(report: CycleReport, redact: Callable[[str], str]) -> dict[str, Any]:
    """A cycle as ``/healthz`` shows it: when it ran, then the report's own summary."""
    summary = report.summary()
    if report.error:
        summary["error"] = redact(report.error)
    finished = report.finished_at.isoformat() if report.finished_at else None
    return {"started_at": report.started_at.isoformat(), "finished_at": finished, **summary}
