"""An incremental cycle plans what changed and what is due, never the whole board, and still
leaves nothing behind when it is cut short: the unsettled set and the due-time index."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from leadbridge.domain.errors import TransientError
from leadbridge.domain.ledger import EffectState
from leadbridge.service import sync

from .harness import Harness, lead

BOARD = 60


@pytest.fixture
def h(example_settings, store) -> Harness:
    harness = Harness(example_settings, store)
    for number in range(1, BOARD + 1):
        harness.board.put(lead(str(number), triage_status="Questionnaire Received"))
    harness.cycle()  # the first meeting adopts all of them
    return harness


@pytest.fixture
def planned(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The item ids ``decide`` is asked about, cycle after cycle."""
    seen: list[str] = []
    original = sync.decide

    def counting(lead_: Any, *args: Any) -> Any:
        seen.append(lead_.item_id)
        return original(lead_, *args)

    monkeypatch.setattr(sync, "decide", counting)
    yield seen


def test_a_quiet_cycle_plans_nothing_and_reads_no_whole_ledger(
    h: Harness, planned: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def whole_ledger(item_id: str | None = None) -> Any:
        raise AssertionError("an incremental cycle read the whole ledger")

    monkeypatch.setattr(h.store, "ledger", whole_ledger)
    h.advance(120)
    report = h.cycle()
    assert report.read_ok and not report.full_reconcile
    assert planned == []


def test_a_change_plans_only_its_lead(h: Harness, planned: list[str]) -> None:
    h.board.set_status("7", "triage_status", "Send Questionnaire")
    h.advance(120)
    h.cycle()
    assert planned == ["7"]
    assert h.states("7")["send_questionnaire"] is EffectState.DONE
    assert len(h.mailer.sent) == 1


def test_a_failed_effect_is_planned_again_when_due_without_a_board_change(
    h: Harness, planned: list[str]
) -> None:
    h.mailer.fail_next("send", TransientError("smtp", "421 try later"))
    h.board.set_status("9", "triage_status", "Send Questionnaire")
    h.advance(120)
    h.cycle()
    assert h.states("9")["send_questionnaire"] is EffectState.FAILED
    planned.clear()
    h.advance(5)
    h.cycle()  # not due yet: nobody is planned
    assert planned == []
    h.advance(h.settings.retry.backoff_seconds[0])
    h.cycle()
    assert planned == ["9"]
    assert h.states("9")["send_questionnaire"] is EffectState.DONE
    assert len(h.mailer.sent) == 1


def test_an_incremental_cycle_cut_short_leaves_the_rest_to_the_next_one(
    h: Harness, planned: list[str]
) -> None:
    """The board reads those items once; the watermark has moved on when the next cycle
    runs, so only the durable unsettled set brings the leads it did not reach."""
    for item in ("20", "21", "22"):
        h.board.set_status(item, "triage_status", "Send Questionnaire")
    h.advance(120)
    stop = threading.Event()
    service = h.service()
    original = service._apply

    def stop_after_first(lead_: Any, *args: Any) -> None:
        original(lead_, *args)
        stop.set()

    service._apply = stop_after_first  # type: ignore[method-assign]
    report = service.run_cycle(stop=stop)
    assert report.interrupted
    assert len(h.mailer.sent) == 1
    planned.clear()
    h.advance(120)
    h.cycle()
    # The board returns only item 20 again (the cycle's own write-back touched it).
    assert sorted(planned) == ["20", "21", "22"]
    assert {i: h.states(i)["send_questionnaire"] for i in ("20", "21", "22")} == dict.fromkeys(
        ("20", "21", "22"), EffectState.DONE
    )
    assert len(h.mailer.sent) == 3
    assert h.store.unsettled_items() == set()


def test_a_full_reconcile_still_plans_every_lead(h: Harness, planned: list[str]) -> None:
    h.advance(h.settings.monday.full_reconcile_minutes * 60 + 1)
    report = h.cycle()
    assert report.full_reconcile
    assert len(planned) == BOARD


def test_a_retry_by_an_operator_is_planned_without_a_board_change(
    h: Harness, planned: list[str]
) -> None:
    h.board.set_status("12", "triage_status", "Send Questionnaire")
    for _ in range(h.settings.retry.max_attempts):
        h.mailer.fail_next("send", TransientError("smtp", "421 try later"))
    h.advance(120)
    h.cycle()
    while h.states("12")["send_questionnaire"] is not EffectState.PARKED:
        h.advance(86400)
        h.cycle()
    assert sync.rearm_effects(h.store, "12", None, h.now)
    planned.clear()
    h.advance(60)
    h.cycle()
    assert planned == ["12"]
    assert h.states("12")["send_questionnaire"] is EffectState.DONE
