"""A cycle's write-backs go to the board together, one request, and still exactly once.

What a call made is recorded (the row RUNNING with its ref) before the batched write-back; an
effect is DONE only once its own write is on the board. A failed write fails only the
effects whose writes it carried; a process killed (or a lock lost, or a row taken over)
between the record and the write leaves the row for the next attempt, which finds the
object again and writes back, never making it twice.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from leadbridge.domain.errors import PermanentError, TransientError
from leadbridge.domain.ledger import EffectState
from leadbridge.domain.ports import ColumnWrite, Lease
from leadbridge.service.apply import this_process

from .harness import Harness, lead

QUESTIONNAIRE = "send_questionnaire"


@pytest.fixture
def h(example_settings, store) -> Harness:
    harness = Harness(example_settings, store)
    harness.start_empty()
    return harness


def asking(h: Harness, *item_ids: str) -> None:
    for item_id in item_ids:
        h.board.put(lead(item_id, triage_status="Send Questionnaire"))


def batches(h: Harness) -> list[tuple[ColumnWrite, ...]]:
    return [args[0] for name, args in h.board.calls if name == "write_columns"]  # type: ignore[misc]


def sent(h: Harness, item_id: str) -> int:
    return [m.message_id for m in h.mailer.sent].count(f"leadbridge.{item_id}.{QUESTIONNAIRE}")


def test_five_leads_cost_one_write_and_one_note_request(example_settings, store) -> None:
    """With notes on what was done (``notes.post: all``; the default notes only problems)."""
    notes = example_settings.notes.model_copy(update={"post": "all"})
    h = Harness(example_settings.model_copy(update={"notes": notes}), store)
    h.start_empty()
    asking(h, "1", "2", "3", "4", "5")
    before = len(h.board.calls)

    report = h.cycle()

    assert report.done == 5
    calls = [name for name, _ in h.board.calls[before:]]
    assert calls == ["read_items", "write_columns", "post_notes"]
    [batch] = batches(h)
    assert [w.item_id for w in batch] == ["1", "2", "3", "4", "5"]
    assert {h.board.items[i].value("triage_status") for i in "12345"} == {"Questionnaire Sent"}
    assert [n.item_id for n in h.board.posted] == ["1", "2", "3", "4", "5"]
    assert report.requests == 3


def test_an_effect_after_another_in_the_same_cycle_uses_what_it_made(h: Harness) -> None:
    """The folder's write-back is still to come when the copies and the e-mail run."""
    h.board.put(lead("2", triage_status="In Scope", negotiation_status="Quote Sent"))

    h.cycle()

    states = h.states("2")
    for effect in ("lead_folder", "quote_copies", "notify_icsi_quote_sent"):
        assert states[effect] is EffectState.DONE
    [folder] = h.drive.created("lead_folder")
    [quote] = h.drive.created("quote_copies:price_quote")
    assert h.drive.parent_of(quote.id) == folder.id
    [mail] = h.mailer.sent
    assert folder.url in mail.body and quote.url in mail.body
    [batch] = batches(h)
    assert [set(w.values) for w in batch] == [{"lead_folder"}, {"pricing_sheet", "price_quote"}]
    assert h.board.items["2"].value("lead_folder") == folder.url


def test_a_part_monday_refuses_fails_alone_and_is_retried_with_a_new_attempt(
    h: Harness,
) -> None:
    asking(h, "11", "12", "13")
    h.board.refusing["12"] = TransientError("monday", "board locked (HTTP 423)")

    report = h.cycle()

    assert (report.done, report.failed) == (2, 1)
    failed = h.entry("12", QUESTIONNAIRE)
    assert failed.state is EffectState.FAILED and "board locked" in failed.last_error
    assert failed.ref["sent"] is True  # what the call did is kept for the next attempt
    assert h.board.items["12"].value("triage_status") == "Send Questionnaire"
    assert h.states("11")[QUESTIONNAIRE] is h.states("13")[QUESTIONNAIRE] is EffectState.DONE

    del h.board.refusing["12"]
    h.advance(61)
    h.cycle()

    assert h.entry("12", QUESTIONNAIRE).state is EffectState.DONE
    assert h.board.items["12"].value("triage_status") == "Questionnaire Sent"
    assert sent(h, "12") == 1
    first, retried = [w for batch in batches(h) for w in batch if w.item_id == "12"]
    assert first.attempt.startswith(f"{QUESTIONNAIRE}#1@")
    assert retried.attempt.startswith(f"{QUESTIONNAIRE}#2@") and retried.attempt != first.attempt


def test_a_failed_batch_fails_every_effect_in_it_and_repeats_no_call(h: Harness) -> None:
    asking(h, "21", "22")
    h.board.fail_next("write_columns", TransientError("monday", "HTTP 503"))

    report = h.cycle()

    assert (report.done, report.failed) == (0, 2)
    assert all(h.states(i)[QUESTIONNAIRE] is EffectState.FAILED for i in ("21", "22"))
    h.advance(61)
    h.cycle()
    assert all(h.states(i)[QUESTIONNAIRE] is EffectState.DONE for i in ("21", "22"))
    assert sent(h, "21") == sent(h, "22") == 1
    assert [len(b) for b in batches(h)] == [2, 2]


def test_a_permanent_refusal_parks_only_its_effect(h: Harness) -> None:
    asking(h, "31", "32")
    h.board.refusing["31"] = PermanentError("monday", "monday refused a column value")

    report = h.cycle()

    assert (report.done, report.parked) == (1, 1)
    assert h.entry("31", QUESTIONNAIRE).state is EffectState.PARKED
    [notes] = [args[0] for name, args in h.board.calls if name == "post_notes"]
    assert any("leadbridge retry 31" in n.text for n in notes if n.item_id == "31")  # type: ignore[union-attr]


def test_a_process_killed_before_the_write_back_writes_back_next_cycle(h: Harness) -> None:
    h.board.put(lead("41", triage_status="Questionnaire Received"))
    asking(h, "42")
    write = h.board.write_columns

    def killed(writes: Any) -> Any:
        raise SystemExit  # the process dies with the calls recorded, nothing written

    h.board.write_columns = killed  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        h.cycle()
    h.board.write_columns = write  # type: ignore[method-assign]

    folder = h.entry("41", "lead_folder")
    assert folder.state is EffectState.RUNNING and folder.ref["links"]["folder"]
    assert h.entry("42", QUESTIONNAIRE).state is EffectState.RUNNING
    assert h.board.items["41"].value("lead_folder") == ""

    h.cycle()

    assert h.states("41")["lead_folder"] is h.states("42")[QUESTIONNAIRE] is EffectState.DONE
    [made] = h.drive.created("lead_folder")
    assert h.board.items["41"].value("lead_folder") == made.url
    assert h.board.items["42"].value("triage_status") == "Questionnaire Sent"
    assert sent(h, "42") == 1 and h.drive.count("create_folder") == 1


def test_a_process_that_lost_the_lock_finishes_what_it_started_and_starts_no_more(
    h: Harness,
) -> None:
    """Writes after a call are bound to the row, as before batching: another holder leaves a
    row in flight alone, so the process that started it writes it back."""
    asking(h, "51", "52")
    holding = {"held": True}
    send = h.mailer.send

    def send_then_lose_the_lock(mail: Any) -> None:
        send(mail)
        holding["held"] = False

    h.mailer.send = send_then_lose_the_lock  # type: ignore[method-assign]
    report = h.service().run_cycle(lease=Lease(4, this_process(), lambda: holding["held"]))
    h.mailer.send = send  # type: ignore[method-assign]

    assert report.interrupted and report.done == 1
    assert h.entry("51", QUESTIONNAIRE).state is EffectState.DONE
    assert h.board.items["51"].value("triage_status") == "Questionnaire Sent"
    assert QUESTIONNAIRE not in h.states("52") and sent(h, "52") == 0
    h.cycle()
    assert h.entry("52", QUESTIONNAIRE).state is EffectState.DONE
    assert sent(h, "51") == sent(h, "52") == 1


def test_a_row_taken_over_before_the_batch_is_not_written(h: Harness) -> None:
    asking(h, "61", "62")
    send = h.mailer.send

    def send_while_another_process_takes_61_over(mail: Any) -> None:
        send(mail)
        if "62" in mail.message_id:
            row = h.entry("61", QUESTIONNAIRE)
            assert h.store.save_entry(replace(row, attempts=row.attempts + 1), row)

    h.mailer.send = send_while_another_process_takes_61_over  # type: ignore[method-assign]
    report = h.cycle()

    [batch] = batches(h)
    assert [w.item_id for w in batch] == ["62"]
    assert h.board.items["61"].value("triage_status") == "Send Questionnaire"
    outcomes = {a.item_id: a.outcome for a in report.actions if a.effect == QUESTIONNAIRE}
    assert outcomes == {"61": "superseded", "62": "done"}


def test_adoption_notes_of_a_first_run_are_one_request(example_settings, store) -> None:
    h = Harness(example_settings, store)
    for item_id in ("71", "72", "73"):
        h.board.put(lead(item_id, triage_status="In Scope"))

    h.cycle()

    assert h.board.count("post_notes") == 1
    assert [n.item_id for n in h.board.posted] == ["71", "72", "73"]
    for note in h.board.posted:
        assert "first met this lead already under way" in note.text
        assert note.attempt.startswith("adopted")
