"""``run_service`` in real processes: signals, bounded shutdown, standby and takeover."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from leadbridge.runtime.service import EXIT_ABANDONED

from .support import FakeRun, wait_for


def _effects(lines: list[list[str]], kind: str) -> list[tuple[str, str, str]]:
    return [(cycle, n, pid) for word, cycle, n, pid in lines if word == kind]


def _assert_consistent(lines: list[list[str]]) -> None:
    """Every effect that started also finished, exactly once: nothing half-recorded."""
    started = Counter(_effects(lines, "start"))
    finished = Counter(_effects(lines, "done"))
    assert started == finished
    assert all(count == 1 for count in started.values())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_cycle_lets_the_effect_finish_and_exits_0(
    tmp_path: Path, fake_runs: Callable[..., FakeRun], sig: signal.Signals
) -> None:
    run = fake_runs(
        tmp_path / "journal",
        state_url=f"sqlite:///{tmp_path / 'state.db'}",
        interval=60,
        effects=50,
        effect_seconds=0.5,
        grace=30,
    )
    wait_for(lambda: len(_effects(run.journal_lines(), "done")) >= 2, "two effects done")
    started_before = len(_effects(run.journal_lines(), "start"))
    run.signal(sig)

    assert run.wait() == 0
    lines = run.journal_lines()
    _assert_consistent(lines)
    # The effect in flight finished; no new one started after the signal (one may have been
    # starting while the signal was on its way).
    assert len(_effects(lines, "start")) <= started_before + 1
    assert len(_effects(lines, "start")) < 50
    events = [line["event"] for line in run.drain()]
    assert "signal_received" in events
    assert events[-1] == "service_stopped"


def test_an_effect_outliving_the_grace_is_abandoned_with_its_own_status(
    tmp_path: Path, fake_runs: Callable[..., FakeRun]
) -> None:
    run = fake_runs(
        tmp_path / "journal",
        state_url=f"sqlite:///{tmp_path / 'state.db'}",
        interval=60,
        effects=1,
        effect_seconds=600,
        grace=1,
    )
    wait_for(lambda: _effects(run.journal_lines(), "start"), "the long effect to start")
    run.signal(signal.SIGTERM)

    assert run.wait() == EXIT_ABANDONED
    assert not _effects(run.journal_lines(), "done")
    assert run.wait_event("service_abandoned_cycle")


def test_a_cycle_stops_starting_effects_at_its_deadline(
    tmp_path: Path, fake_runs: Callable[..., FakeRun]
) -> None:
    run = fake_runs(
        tmp_path / "journal",
        state_url=f"sqlite:///{tmp_path / 'state.db'}",
        interval=600,
        cycle_timeout=2,
        effects=1000,
        effect_seconds=0.2,
        grace=30,
    )
    status, body = wait_for(
        lambda: (health := run.health())[1].get("last_cycle") and health, "the first cycle"
    )
    assert status == 200
    assert 0 < body["last_cycle"]["done"] < 1000
    run.signal(signal.SIGTERM)
    assert run.wait() == 0
    _assert_consistent(run.journal_lines())


def _cycles_by(lines: list[list[str]]) -> list[str]:
    return [line[3] for line in lines if line[0] == "cycle"]


def _standby_then_takeover(tmp_path: Path, fake_runs: Callable[..., FakeRun], url: str) -> None:
    journal = tmp_path / "journal"
    args = {"state_url": url, "interval": 1, "effects": 2, "effect_seconds": 0.05, "grace": 30}
    first = fake_runs(journal, **args)
    wait_for(lambda: len(_cycles_by(first.journal_lines())) >= 2, "the first replica's cycles")
    second = fake_runs(journal, **args)
    status, body = wait_for(
        lambda: (health := second.health())[1]["role"] == "standby" and health,
        "the second replica to report standby",
    )
    assert status == 200
    assert body["standby"] is True
    assert body["reason"] == "standby: another replica holds the lock"
    assert "another leadbridge process is working on" in second.wait_event("standby")["reason"]
    # Let the active replica poll a few more times while the other retries the lock.
    cycles = len(_cycles_by(first.journal_lines()))
    wait_for(lambda: len(_cycles_by(first.journal_lines())) >= cycles + 3, "more cycles")
    assert set(_cycles_by(first.journal_lines())) == {str(first.process.pid)}

    first.signal(signal.SIGKILL)
    first.wait()
    acting = str(second.process.pid)
    wait_for(lambda: acting in _cycles_by(second.journal_lines()), "the standby to take over")
    status, body = wait_for(
        lambda: (health := second.health())[1]["role"] == "active" and health, "active health"
    )
    assert status == 200
    assert body["standby"] is False
    lines = second.journal_lines()
    # Once the survivor acted, the dead one never did again, and no cycle ran twice at once.
    takeover = next(i for i, line in enumerate(lines) if line[0] == "cycle" and line[3] == acting)
    assert {line[3] for line in lines[takeover:]} == {acting}
    second.signal(signal.SIGTERM)
    assert second.wait() == 0


def test_sqlite_second_process_stands_by_and_takes_over_when_the_first_dies(
    tmp_path: Path, fake_runs: Callable[..., FakeRun]
) -> None:
    _standby_then_takeover(tmp_path, fake_runs, f"sqlite:///{tmp_path / 'state.db'}")


@pytest.mark.postgres
def test_postgres_replicas_one_acts_and_the_other_takes_over_when_it_dies(
    tmp_path: Path, fake_runs: Callable[..., FakeRun], postgres_url: str
) -> None:
    _standby_then_takeover(tmp_path, fake_runs, postgres_url)
