"""The coordinator's ticks: who may act, for how long, and what a tick leaves for the probes."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from structlog.testing import capture_logs

from leadbridge.service.sync import CycleReport

from .doubles import Clock, ScriptedLock, ScriptedService, coordinator, pacing, tick

INTERVAL = 60


def _ok(clock: Clock) -> CycleReport:
    return CycleReport(started_at=clock.now, finished_at=clock.now, read_ok=True)


def test_a_slow_first_build_does_not_eat_the_first_cycles_budget() -> None:
    """The deadline is counted once the service is built, not from the tick (an e2e flake)."""
    clock = Clock()
    service = ScriptedService()

    def slow_build() -> ScriptedService:
        clock.advance(0.5)
        return service

    # One poll a second: a cycle may use 0.8 s of it.
    poller = coordinator(clock, slow_build, pace=pacing(interval_seconds=1))
    tick(poller, service, _ok(clock))
    built_at = clock.now
    tick(poller, service, _ok(clock))

    first, second = service.deadlines
    assert first is not None and first - built_at >= timedelta(seconds=0.8)
    # Later cycles reuse the service and get the same budget from their own start.
    assert second == clock.now + timedelta(seconds=0.8)


def test_the_cycle_timeout_caps_the_budget_below_the_share_of_the_interval() -> None:
    clock = Clock()
    service = ScriptedService()
    poller = coordinator(clock, lambda: service, cycle_timeout_seconds=2)
    tick(poller, service, _ok(clock))
    assert service.deadlines == [clock.now + timedelta(seconds=2)]


def test_a_failed_build_is_a_failed_poll_and_is_tried_again_at_the_next_tick() -> None:
    clock = Clock()
    service = ScriptedService()
    builds: list[str] = []

    def build() -> ScriptedService:
        builds.append("build")
        if len(builds) == 1:
            raise ConnectionError("state database unreachable")
        return service

    poller = coordinator(clock, build)
    clock.advance(3 * INTERVAL)
    poller.poll()
    verdict = poller.verdict()
    assert verdict.status == 503
    assert verdict.body["last_error"] == "ConnectionError: state database unreachable"
    tick(poller, service, _ok(clock))
    assert poller.verdict().status == 200
    tick(poller, service, _ok(clock))
    assert builds == ["build", "build"]


def test_a_lost_lock_stops_the_cycles_until_it_is_taken_again() -> None:
    clock = Clock()
    service = ScriptedService()
    lock = ScriptedLock()
    poller = coordinator(clock, lambda: service, lock=lock)
    tick(poller, service, _ok(clock))
    assert poller.verdict().body["role"] == "active"

    lock.held, lock.holder = False, "leadbridge host-b pid 9"
    with capture_logs() as logs:
        for _ in range(3):
            clock.advance(INTERVAL)
            poller.poll()
    events = [line["event"] for line in logs]
    assert events == ["runner_lock_lost", "standby"]
    assert len(service.deadlines) == 1
    verdict = poller.verdict()
    assert (verdict.status, verdict.body["role"]) == (200, "standby")
    assert verdict.body["holder"] == "leadbridge host-b pid 9"

    lock.holder = ""
    with capture_logs() as logs:
        tick(poller, service, _ok(clock))
    assert [line["event"] for line in logs] == ["runner_lock_acquired"]
    assert len(service.deadlines) == 2
    verdict = poller.verdict()
    assert (verdict.status, verdict.body["role"], verdict.body["standby"]) == (200, "active", False)


def test_an_unreachable_lock_is_a_failed_poll_not_a_standby() -> None:
    clock = Clock()
    service = ScriptedService()
    lock = ScriptedLock()
    lock.unreachable = sqlite3.OperationalError("unable to open database file")
    poller = coordinator(clock, lambda: service, lock=lock)
    clock.advance(3 * INTERVAL)
    poller.poll()
    verdict = poller.verdict()
    assert verdict.status == 503
    assert verdict.body["role"] == "active"
    assert "cannot reach the state database to take the runner lock" in verdict.body["reason"]
    assert service.deadlines == []


def test_no_cycle_starts_once_stop_is_set_and_the_lock_can_be_released() -> None:
    clock = Clock()
    service = ScriptedService()
    lock = ScriptedLock()
    poller = coordinator(clock, lambda: service, lock=lock)
    tick(poller, service, _ok(clock))
    poller.stop.set()
    poller.poll()
    assert len(service.deadlines) == 1
    assert poller.wait_idle(0)
    poller.release()
    assert not lock.is_held()


def test_each_cycle_runs_under_the_lease_of_the_lock_taking_it_holds() -> None:
    clock = Clock()
    service = ScriptedService()
    lock = ScriptedLock()
    poller = coordinator(clock, lambda: service, lock=lock)
    tick(poller, service, _ok(clock))
    clock.advance(INTERVAL)
    tick(poller, service, _ok(clock))
    first, second = service.leases
    assert first is not None and second is not None
    assert first.epoch == second.epoch == lock.epoch == 1
    assert first.held()

    lock.held = False  # the session died; nobody else wanted the lock, so it is taken again
    clock.advance(INTERVAL)
    tick(poller, service, _ok(clock))
    third = service.leases[-1]
    assert third is not None and third.epoch == 2
    assert third.held() and not first.held()
