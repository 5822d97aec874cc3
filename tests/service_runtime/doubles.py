"""Stand-ins for what the coordinator drives: a hand-moved clock, a scripted sync service and a
runner lock the test holds or takes away, so that ticks are played without a scheduler."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import cast

from leadbridge.adapters.store.lock import RunnerLock
from leadbridge.domain.ports import Lease
from leadbridge.runtime.coordinator import PollCoordinator
from leadbridge.runtime.pacing import PollPacing
from leadbridge.service.sync import CycleReport, SyncService
from leadbridge.settings import ServiceSettings

# 2026-03-02 is a Monday.
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class ScriptedService:
    """A sync service whose cycles return, or raise, what the test queued; it notes deadlines."""

    def __init__(self) -> None:
        self.outcomes: list[CycleReport | Exception] = []
        self.deadlines: list[datetime | None] = []
        self.leases: list[Lease | None] = []

    def run_cycle(
        self,
        *,
        stop: threading.Event | None = None,
        deadline: datetime | None = None,
        lease: Lease | None = None,
    ) -> CycleReport:
        self.deadlines.append(deadline)
        self.leases.append(lease)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


class ScriptedLock(RunnerLock):
    """Free unless ``holder`` names another replica; ``unreachable`` makes taking it raise."""

    def __init__(self) -> None:
        self.holder = ""
        self.unreachable: Exception | None = None
        self.held = False
        #: How many times the lock was taken: the epoch of the latest taking.
        self.taken = 0

    @property
    def target(self) -> str:
        return "the scripted database"

    def acquire(self, wait_seconds: float = 0) -> bool:
        if self.unreachable is not None:
            raise self.unreachable
        if not self.held and not self.holder:
            self.taken += 1
            self._epoch = self.taken
        self.held = self.held or not self.holder
        return self.held

    def release(self) -> None:
        self.held = False
        self._epoch = None

    def is_held(self) -> bool:
        return self.held

    def probe(self) -> bool:
        if self.unreachable is not None:
            raise self.unreachable
        return self.held or not self.holder

    def holder_description(self) -> str:
        return self.holder


def pacing(**service: object) -> PollPacing:
    return PollPacing.from_settings(ServiceSettings(**service))  # type: ignore[arg-type]


def coordinator(
    clock: Callable[[], datetime],
    build: Callable[[], object],
    *,
    lock: RunnerLock | None = None,
    pace: PollPacing | None = None,
    cycle_timeout_seconds: float = 3600,
    redact: Callable[[str], str] = str,
) -> PollCoordinator:
    """A coordinator on ``clock``, polling every minute unless ``pace`` says otherwise."""
    return PollCoordinator(
        pacing=pace or pacing(interval_seconds=60),
        lock=lock or ScriptedLock(),
        build=cast("Callable[[], SyncService]", build),
        cycle_timeout_seconds=cycle_timeout_seconds,
        stop=threading.Event(),
        redact=redact,
        now=clock,
    )


def tick(
    coordinator: PollCoordinator, service: ScriptedService, outcome: CycleReport | Exception
) -> None:
    """One scheduler tick whose cycle ends with ``outcome``."""
    service.outcomes.append(outcome)
    coordinator.poll()
