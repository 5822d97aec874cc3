"""/healthz follows the age of the last good poll; /metrics shows what a known cycle did."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from leadbridge import telemetry
from leadbridge.adapters.store.lock import NoLock
from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.runtime.coordinator import PollCoordinator
from leadbridge.runtime.http import HealthServer
from leadbridge.service.sync import CycleReport
from leadbridge.settings import ConfigError, Settings

from ..unit.harness import Harness, lead
from .doubles import Clock, ScriptedLock, ScriptedService, coordinator, pacing, tick
from .support import get

INTERVAL = 60


def _report(at: datetime, *, read_ok: bool, error: str | None = None) -> CycleReport:
    return CycleReport(
        started_at=at - timedelta(seconds=2),
        finished_at=at,
        read_ok=read_ok,
        items_read=7 if read_ok else 0,
        transitions=2 if read_ok else 0,
        done=3 if read_ok else 0,
        parked=1 if read_ok else 0,
        error=error,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service() -> ScriptedService:
    return ScriptedService()


@pytest.fixture
def poller(clock: Clock, service: ScriptedService) -> PollCoordinator:
    return coordinator(clock, lambda: service)


def test_ok_then_failing_after_three_intervals_of_failed_polls_then_ok_again(
    poller: PollCoordinator, service: ScriptedService, clock: Clock
) -> None:
    tick(poller, service, _report(clock.now, read_ok=True))
    verdict = poller.verdict()
    assert verdict.status == 200
    assert verdict.body["status"] == "ok"
    assert verdict.body["last_cycle"]["done"] == 3

    for _ in range(2):
        failed = _report(clock.advance(INTERVAL), read_ok=False, error="monday: HTTP 500")
        tick(poller, service, failed)
        assert poller.verdict().status == 200
    tick(poller, service, _report(clock.advance(INTERVAL), read_ok=False, error="monday: HTTP 503"))
    verdict = poller.verdict()
    assert verdict.status == 503
    assert verdict.body["status"] == "failing"
    assert "no successful poll for 180s (limit 180s)" in verdict.body["reason"]
    assert "monday: HTTP 503" in verdict.body["reason"]

    tick(poller, service, _report(clock.advance(INTERVAL), read_ok=True))
    verdict = poller.verdict()
    assert verdict.status == 200
    assert "last_error" not in verdict.body


def test_last_cycle_is_the_report_summary_with_its_times(
    poller: PollCoordinator, service: ScriptedService, clock: Clock
) -> None:
    report = _report(clock.now, read_ok=True)
    tick(poller, service, report)
    assert report.finished_at is not None
    assert poller.verdict().body["last_cycle"] == {
        "started_at": report.started_at.isoformat(),
        "finished_at": report.finished_at.isoformat(),
        **report.summary(),
    }


def test_a_held_mass_action_is_shown_on_healthz_without_failing_it(
    poller: PollCoordinator, service: ScriptedService, clock: Clock
) -> None:
    report = _report(clock.now, read_ok=True)
    report.held["email"] = 57
    tick(poller, service, report)
    verdict = poller.verdict()
    assert verdict.status == 200
    assert verdict.body["held"] == {"email": 57}
    assert "leadbridge plan --confirm" in verdict.body["attention"]


def test_a_cycle_that_raised_counts_as_a_failed_poll(
    poller: PollCoordinator, service: ScriptedService, clock: Clock
) -> None:
    tick(poller, service, _report(clock.now, read_ok=True))
    clock.advance(3 * INTERVAL)
    tick(poller, service, sqlite3.OperationalError("database is locked"))
    verdict = poller.verdict()
    assert verdict.status == 503
    assert "OperationalError: database is locked" in verdict.body["reason"]


def test_starting_is_healthy_for_three_intervals_then_not(clock: Clock) -> None:
    def build() -> ScriptedService:
        raise ConfigError(["monday.token: missing"])

    poller = coordinator(clock, build)
    assert poller.verdict().body["status"] == "starting"
    assert poller.verdict().status == 200
    clock.advance(3 * INTERVAL)
    poller.poll()
    verdict = poller.verdict()
    assert verdict.status == 503
    assert "since the start" in verdict.body["reason"]
    assert "ConfigError: monday.token: missing" in verdict.body["reason"]


def test_standby_is_healthy_and_says_so(service: ScriptedService, clock: Clock) -> None:
    lock = ScriptedLock()
    lock.holder = "leadbridge host-a pid 7"
    poller = coordinator(clock, lambda: service, lock=lock)
    clock.advance(100 * INTERVAL)
    poller.poll()
    verdict = poller.verdict()
    assert verdict.status == 200
    assert verdict.body["standby"] is True
    assert verdict.body["reason"] == "standby: another replica holds the lock"
    assert verdict.body["holder"] == "leadbridge host-a pid 7"
    assert service.deadlines == []


def test_the_threshold_follows_the_interval_in_force(
    service: ScriptedService, clock: Clock
) -> None:
    # One poll a minute until 09:00, then one every ten minutes.
    pace = pacing(
        interval_seconds=600, business_hours_interval_seconds=INTERVAL, business_hours="08:00-09:00"
    )
    clock.advance(-1)
    poller = coordinator(clock, lambda: service, pace=pace)
    assert poller.verdict().body["limit_seconds"] == 3 * INTERVAL
    tick(poller, service, _report(clock.advance(1), read_ok=True))
    clock.advance(10 * INTERVAL)
    verdict = poller.verdict()
    assert verdict.status == 200
    assert verdict.body["interval_seconds"] == 600
    assert verdict.body["limit_seconds"] == 1800


def test_error_texts_are_redacted_before_being_served(
    service: ScriptedService, clock: Clock
) -> None:
    poller = coordinator(
        clock, lambda: service, redact=lambda s: s.replace("tok-123", "[REDACTED]")
    )
    clock.advance(3 * INTERVAL)
    tick(poller, service, RuntimeError("401 for https://api/?token=tok-123"))
    assert "tok-123" not in json.dumps(poller.verdict().body)
    tick(poller, service, _report(clock.now, read_ok=False, error="401 token=tok-123"))
    body = poller.verdict().body
    assert body["last_cycle"]["error"] == "401 token=[REDACTED]"
    assert "tok-123" not in json.dumps(body)


@contextmanager
def _serving(poller: PollCoordinator) -> Iterator[HealthServer]:
    server = HealthServer(poller, "127.0.0.1", 0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(poller: PollCoordinator) -> Iterator[HealthServer]:
    with _serving(poller) as server:
        yield server


def _sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def _scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """/metrics as served over HTTP, parsed the way Prometheus reads it."""
    status, body = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def _key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def test_http_endpoints_serve_health_and_metrics(
    server: HealthServer, poller: PollCoordinator, service: ScriptedService, clock: Clock
) -> None:
    base = f"http://127.0.0.1:{server.port}"
    finished = clock.advance(5)
    tick(poller, service, _report(finished, read_ok=True))
    status, body = get(f"{base}/healthz")
    assert status == 200
    assert json.loads(body)["last_successful_poll"] == finished.isoformat()

    clock.advance(3 * INTERVAL)
    tick(poller, service, RuntimeError("boom"))
    status, body = get(f"{base}/healthz")
    assert status == 503
    assert "boom" in json.loads(body)["reason"]

    scraped = _scrape(server.port)
    assert (
        scraped[_key("leadbridge_last_successful_poll_timestamp_seconds")] == finished.timestamp()
    )
    status, metrics = get(f"{base}/metrics")
    text = metrics.decode()
    for series in (
        "leadbridge_poll_duration_seconds_bucket",
        "leadbridge_api_requests_total",
        "leadbridge_monday_calls_today",
        "leadbridge_monday_complexity_total",
        "leadbridge_transitions_total",
        "leadbridge_effects_total",
        "leadbridge_parked_effects",
    ):
        assert f"# TYPE {series.removesuffix('_bucket').removesuffix('_total')}" in text

    assert get(f"{base}/nothing-here")[0] == 404


def test_metrics_carry_the_values_of_a_known_cycle(server: HealthServer) -> None:
    """What adapters and the service record shows on /metrics with the values they set."""
    before = {
        "ok": _sample("leadbridge_api_requests_total", {"service": "monday", "outcome": "ok"}),
        "done": _sample("leadbridge_effects_total", {"kind": "email", "outcome": "done"}),
        "moved": _sample("leadbridge_transitions_total", {"column": "Triage status"}),
        "polls": _sample("leadbridge_poll_duration_seconds_count"),
    }
    telemetry.count_request("monday", "ok")
    telemetry.count_request("monday", "ok")
    telemetry.EFFECTS.labels(kind="email", outcome="done").inc()
    telemetry.TRANSITIONS.labels(column="Triage status").inc()
    telemetry.POLL_DURATION.observe(1.5)
    telemetry.MONDAY_CALLS_TODAY.set(42)
    telemetry.PARKED.set(2)

    scraped = _scrape(server.port)
    assert scraped[_key("leadbridge_api_requests_total", service="monday", outcome="ok")] == (
        before["ok"] + 2
    )
    assert scraped[_key("leadbridge_effects_total", kind="email", outcome="done")] == (
        before["done"] + 1
    )
    assert scraped[_key("leadbridge_transitions_total", column="Triage status")] == (
        before["moved"] + 1
    )
    assert scraped[_key("leadbridge_poll_duration_seconds_count")] == before["polls"] + 1
    assert scraped[_key("leadbridge_monday_calls_today")] == 42
    assert scraped[_key("leadbridge_parked_effects")] == 2


def test_metrics_after_a_real_cycle_on_fakes(
    example_settings: Settings, store: SqlStateStore
) -> None:
    """One lead moved to "Send Questionnaire": one transition, one e-mail, one good poll."""
    harness = Harness(example_settings, store)
    harness.start_empty()
    harness.board.put(lead("1", triage_status=""))
    harness.advance(60)
    harness.cycle()
    before = {
        "moved": _sample("leadbridge_transitions_total", {"column": "triage_status"}),
        "sent": _sample("leadbridge_effects_total", {"kind": "email", "outcome": "done"}),
        "polls": _sample("leadbridge_poll_duration_seconds_count"),
    }
    harness.board.put(lead("1", triage_status="Send Questionnaire"))
    harness.advance(60)
    poller = coordinator(lambda: harness.now, harness.service, lock=NoLock())

    with _serving(poller) as server:
        poller.poll()
        status, body = get(f"http://127.0.0.1:{server.port}/healthz")
        scraped = _scrape(server.port)
    cycle = json.loads(body)["last_cycle"]
    assert status == 200
    assert cycle["read_ok"] and cycle["finished_at"] == harness.now.isoformat()
    assert scraped[_key("leadbridge_transitions_total", column="triage_status")] == (
        before["moved"] + 1
    )
    assert scraped[_key("leadbridge_effects_total", kind="email", outcome="done")] == (
        before["sent"] + 1
    )
    assert scraped[_key("leadbridge_poll_duration_seconds_count")] == before["polls"] + 1
    assert scraped[_key("leadbridge_last_successful_poll_timestamp_seconds")] == (
        harness.now.timestamp()
    )
    assert scraped[_key("leadbridge_parked_effects")] == 0
