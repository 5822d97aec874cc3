"""/healthz follows the age of the last good poll; /metrics shows what a known cycle did."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from leadbridge import telemetry
from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.health import HealthServer, HealthState
from leadbridge.service.sync import CycleReport
from leadbridge.settings import Settings

from ..unit.harness import Harness, lead
from .support import get

INTERVAL = 60
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


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
def state(clock: Clock) -> HealthState:
    return HealthState(interval_seconds=INTERVAL, now=clock)


def test_ok_then_failing_after_three_intervals_of_failed_polls_then_ok_again(
    state: HealthState, clock: Clock
) -> None:
    state.record(_report(clock.now, read_ok=True), INTERVAL)
    verdict = state.verdict()
    assert verdict.status == 200
    assert verdict.body["status"] == "ok"
    assert verdict.body["last_cycle"]["done"] == 3

    for _ in range(2):
        state.record(_report(clock.advance(INTERVAL), read_ok=False, error="monday: HTTP 500"), 60)
        assert state.verdict().status == 200
    state.record(_report(clock.advance(INTERVAL), read_ok=False, error="monday: HTTP 503"), 60)
    verdict = state.verdict()
    assert verdict.status == 503
    assert verdict.body["status"] == "failing"
    assert "no successful poll for 180s (limit 180s)" in verdict.body["reason"]
    assert "monday: HTTP 503" in verdict.body["reason"]

    state.record(_report(clock.advance(INTERVAL), read_ok=True), INTERVAL)
    verdict = state.verdict()
    assert verdict.status == 200
    assert "last_error" not in verdict.body


def test_a_cycle_that_raised_counts_as_a_failed_poll(state: HealthState, clock: Clock) -> None:
    state.record(_report(clock.now, read_ok=True), INTERVAL)
    clock.advance(3 * INTERVAL)
    state.record_failure("OperationalError: database is locked", INTERVAL)
    verdict = state.verdict()
    assert verdict.status == 503
    assert "database is locked" in verdict.body["reason"]


def test_starting_is_healthy_for_three_intervals_then_not(state: HealthState, clock: Clock) -> None:
    assert state.verdict().body["status"] == "starting"
    assert state.verdict().status == 200
    clock.advance(3 * INTERVAL)
    state.record_failure("ConfigError: monday.token: missing", INTERVAL)
    verdict = state.verdict()
    assert verdict.status == 503
    assert "since the start" in verdict.body["reason"]
    assert "monday.token: missing" in verdict.body["reason"]


def test_standby_is_healthy_and_says_so(state: HealthState, clock: Clock) -> None:
    clock.advance(100 * INTERVAL)
    state.standby("leadbridge host-a pid 7", INTERVAL)
    verdict = state.verdict()
    assert verdict.status == 200
    assert verdict.body["standby"] is True
    assert verdict.body["reason"] == "standby: another replica holds the lock"
    assert verdict.body["holder"] == "leadbridge host-a pid 7"


def test_the_threshold_follows_the_interval_in_force(state: HealthState, clock: Clock) -> None:
    state.record(_report(clock.now, read_ok=True), 600)
    clock.advance(10 * INTERVAL)
    assert state.verdict().status == 200


def test_error_texts_are_redacted_before_being_served(clock: Clock) -> None:
    state = HealthState(
        interval_seconds=INTERVAL, now=clock, redact=lambda s: s.replace("tok-123", "[REDACTED]")
    )
    clock.advance(3 * INTERVAL)
    state.record_failure("401 for https://api/?token=tok-123", INTERVAL)
    assert "tok-123" not in json.dumps(state.verdict().body)


@pytest.fixture
def server(state: HealthState) -> Iterator[HealthServer]:
    server = HealthServer(state, "127.0.0.1", 0)
    server.start()
    yield server
    server.stop()


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
    server: HealthServer, state: HealthState, clock: Clock
) -> None:
    base = f"http://127.0.0.1:{server.port}"
    finished = clock.advance(5)
    state.record(_report(finished, read_ok=True), INTERVAL)
    status, body = get(f"{base}/healthz")
    assert status == 200
    assert json.loads(body)["last_successful_poll"] == finished.isoformat()

    clock.advance(3 * INTERVAL)
    state.record_failure("boom", INTERVAL)
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
    example_settings: Settings, store: SqlStateStore, server: HealthServer, state: HealthState
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
    report = harness.cycle()
    state.record(report, INTERVAL)
    assert report.read_ok and report.finished_at is not None

    scraped = _scrape(server.port)
    assert scraped[_key("leadbridge_transitions_total", column="triage_status")] == (
        before["moved"] + 1
    )
    assert scraped[_key("leadbridge_effects_total", kind="email", outcome="done")] == (
        before["sent"] + 1
    )
    assert scraped[_key("leadbridge_poll_duration_seconds_count")] == before["polls"] + 1
    assert scraped[_key("leadbridge_last_successful_poll_timestamp_seconds")] == (
        report.finished_at.timestamp()
    )
    assert scraped[_key("leadbridge_parked_effects")] == 0
