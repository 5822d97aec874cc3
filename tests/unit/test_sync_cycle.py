"""The reconciliation contract of DESIGN.md, on fakes of every port and a real state store."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from leadbridge.domain.errors import PermanentError, TransientError
from leadbridge.domain.ledger import EffectState
from leadbridge.service.sync import rearm_effects

from .harness import Harness, lead

ALL_NEGOTIATION = {
    "lead_folder",
    "quote_copies",
    "notify_icsi_quote_sent",
    "notify_icsi_contract",
    "request_invoice",
    "hub_issue",
}


@pytest.fixture
def h(example_settings, store) -> Harness:
    harness = Harness(example_settings, store)
    harness.start_empty()
    return harness


def test_lead_jumping_statuses_gets_every_effect_once_in_dependency_order(h: Harness) -> None:
    h.board.put(lead("1", triage_status="Send Questionnaire"))
    h.cycle()
    h.board.put(
        lead(
            "1",
            triage_status="In Scope",
            negotiation_status="Contract Signed",
            money="grant",
            authority="PI",
            need="hub",
            impending_event="course",
            application="teaching",
            competition="none",
            timeline="Q1",
        )
    )
    h.cycle()
    h.cycle()

    states = h.states("1")
    assert {k for k, v in states.items() if v is EffectState.DONE} == ALL_NEGOTIATION | {
        "send_questionnaire",
        "check_maniac_t",
    }
    assert len(h.drive.created("lead_folder")) == 1
    assert len(h.drive.created("quote_copies:pricing_sheet")) == 1
    assert len(h.drive.created("quote_copies:price_quote")) == 1
    assert len(h.issues.issues) == 1
    subjects = sorted(m.subject for m in h.mailer.sent)
    assert subjects == sorted(
        [
            "2i2c questionnaire for Org 1",
            "2i2c lead: Org 1 has been sent a price quote",
            "2i2c: please send a contract to Org 1",
            "2i2c: please invoice Org 1",
        ]
    )
    # dependency order: the folder before the copies, the copies before the quote-sent e-mail
    ops = [name for name, _ in h.drive.calls if name in ("create_folder", "copy_file")]
    assert ops == ["create_folder", "copy_file", "copy_file"]
    quote_mail = next(m for m in h.mailer.sent if "price quote" in m.subject)
    assert "https://drive.test/" in quote_mail.body  # the quote link was known when it was sent
    # links written back onto the item
    item = h.board.items["1"]
    assert item.value("lead_folder").startswith("https://drive.test/")
    assert item.value("hub_issue") == h.issues.issues[0][0].url
    assert item.value("triage_status") == "In Scope"


def test_questionnaire_sets_status_and_own_write_is_not_a_transition(h: Harness) -> None:
    h.board.put(lead("7", triage_status="Send Questionnaire"))
    first = h.cycle()
    assert first.transitions == 0
    assert h.board.items["7"].value("triage_status") == "Questionnaire Sent"
    second = h.cycle()
    assert second.transitions == 0  # our own status write is not reported as a staff change
    assert len(h.mailer.sent) == 1
    h.board.set_status("7", "triage_status", "Questionnaire Received")
    third = h.cycle()
    assert third.transitions == 1
    assert h.states("7")["lead_folder"] is EffectState.DONE


def test_running_twice_duplicates_nothing(h: Harness) -> None:
    h.board.put(lead("2", triage_status="In Scope", negotiation_status="Quote Sent"))
    for _ in range(3):
        h.cycle()
    assert len(h.drive.created()) == 3  # folder + two copies
    assert len(h.mailer.sent) == 1
    assert h.drive.count("create_folder") == 1
    assert h.drive.count("copy_file") == 2


@pytest.mark.parametrize(
    ("port", "operation"),
    [
        ("drive", "create_folder"),
        ("drive", "copy_file"),
        ("mailer", "send"),
        ("issues", "create_issue"),
        ("board", "write_columns"),
    ],
)
def test_crash_after_acting_then_rerun_duplicates_nothing(
    h: Harness, port: str, operation: str
) -> None:
    """The fake acts, then raises: as if the process died before the ledger was updated."""
    getattr(h, port).fail_next(
        operation, TransientError("fake", "connection reset"), after_acting=True
    )
    h.board.put(lead("3", triage_status="In Scope", negotiation_status="Contract Signed"))
    h.cycle()
    for _ in range(4):
        h.advance(3600)
        h.cycle()
    assert {k for k, v in h.states("3").items() if v is EffectState.DONE} >= ALL_NEGOTIATION
    assert len(h.drive.created("lead_folder")) == 1
    assert len(h.drive.created("quote_copies:pricing_sheet")) == 1
    assert len(h.drive.created("quote_copies:price_quote")) == 1
    assert len(h.issues.issues) == 1
    ids = [m.message_id for m in h.mailer.sent]
    assert len(ids) == len(set(ids)) == 3


def test_interrupted_send_is_checked_with_the_backend_before_sending_again(h: Harness) -> None:
    h.board.put(lead("4", negotiation_status="Quote Accepted"))
    h.mailer.fail_next("send", TransientError("fake", "killed"), after_acting=True)
    h.cycle()  # the first e-mail (quote sent) goes out, then the call "fails"
    h.advance(3600)
    h.cycle()
    ids = [m.message_id for m in h.mailer.sent]
    assert sorted(ids) == [
        "leadbridge.4.notify_icsi_contract",
        "leadbridge.4.notify_icsi_quote_sent",
    ]
    assert h.mailer.count("was_sent") == 1
    assert h.states("4")["notify_icsi_quote_sent"] is EffectState.DONE


def test_process_killed_mid_send_with_smtp_parks_instead_of_risking_a_second_mail(
    h: Harness,
) -> None:
    """An entry left RUNNING and a backend that cannot tell: never send twice."""
    h.mailer.can_tell = False
    h.board.put(lead("5", negotiation_status="Quote Accepted"))
    service = h.service()
    original = service.runner.run

    def die_after_start(lead_, entry, entries, **options):
        if entry.effect != "notify_icsi_quote_sent":
            return original(lead_, entry, entries, **options)
        started = entry.start(h.now)
        h.store.save_entry(started, entry)  # RUNNING recorded, then the process "dies"
        raise SystemExit

    service.runner.run = die_after_start  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        service.run_cycle()
    h.cycle()
    entry = h.entry("5", "notify_icsi_quote_sent")
    assert entry.state is EffectState.PARKED
    assert "cannot tell whether it went out" in entry.last_error
    assert [m.message_id for m in h.mailer.sent] == ["leadbridge.5.notify_icsi_contract"]


def test_failing_effect_backs_off_then_parks_while_others_proceed(h: Harness) -> None:
    max_attempts = h.settings.retry.max_attempts
    for _ in range(100):
        h.drive.fail_next("create_folder", TransientError("drive", "503 backend error"))
    h.board.put(lead("10", triage_status="Questionnaire Received"))
    h.cycle()
    entry = h.entry("10", "lead_folder")
    assert entry.state is EffectState.FAILED and entry.attempts == 1
    assert entry.next_attempt_at == h.now + timedelta(seconds=60)

    h.board.put(lead("11", triage_status="Send Questionnaire"))
    h.cycle()  # 10 is not due yet; 11, another lead, proceeds
    assert h.entry("10", "lead_folder").attempts == 1
    assert h.entry("11", "send_questionnaire").state is EffectState.DONE

    for _ in range(40):
        h.advance(86400)
        h.cycle()
        if h.entry("10", "lead_folder").state is EffectState.PARKED:
            break
    parked = h.entry("10", "lead_folder")
    assert parked.state is EffectState.PARKED
    assert parked.attempts == max_attempts
    assert "503 backend error" in parked.last_error
    assert any("leadbridge retry 10 lead_folder" in note for note in h.board.notes["10"])

    rearmed = rearm_effects(h.store, "10", "lead_folder", h.now)
    assert [(before.state, after.effect) for before, after in rearmed] == [
        (EffectState.PARKED, "lead_folder")
    ]
    assert h.entry("10", "lead_folder").state is EffectState.PENDING
    h.drive.failures.clear()
    h.cycle()
    assert h.entry("10", "lead_folder").state is EffectState.DONE


def test_permanent_error_parks_at_once_with_a_note(h: Harness) -> None:
    h.drive.fail_next(
        "copy_file",
        PermanentError("drive", "template 1PriceQuoteTemplateId missing, or not shared with sa@x"),
    )
    h.board.put(
        lead("12", triage_status="Questionnaire Received", negotiation_status="Create Quote")
    )
    h.cycle()
    entry = h.entry("12", "quote_copies")
    assert entry.state is EffectState.PARKED and entry.attempts == 1
    assert "not shared with sa@x" in h.board.notes["12"][-1]


def test_lead_without_contact_email_parks_the_email_with_a_clear_reason(h: Harness) -> None:
    h.board.put(lead("13", triage_status="Send Questionnaire", contact_email=""))
    h.cycle()
    entry = h.entry("13", "send_questionnaire")
    assert entry.state is EffectState.PARKED
    assert "not an e-mail address" in entry.last_error
    assert h.mailer.sent == []


def test_first_run_adopts_and_later_changes_act(example_settings, store) -> None:
    h = Harness(example_settings, store)
    h.board.put(lead("20", triage_status="In Scope", negotiation_status="Contract Signed"))
    report = h.cycle()
    assert report.adopted >= len(ALL_NEGOTIATION)
    assert set(h.states("20").values()) == {EffectState.ADOPTED}
    assert h.mailer.sent == [] and h.issues.issues == [] and h.drive.created() == []
    h.board.put(
        lead("21", triage_status="Questionnaire Received")
    )  # a new lead after the first run
    h.cycle()
    assert h.states("21")["lead_folder"] is EffectState.DONE
    assert h.issues.issues == []


def test_backfill_acts_on_what_the_first_run_would_adopt(example_settings, store) -> None:
    h = Harness(example_settings, store)
    h.board.put(lead("30", triage_status="In Scope", negotiation_status="Quote Sent"))
    h.cycle(backfill=True)
    assert h.states("30")["quote_copies"] is EffectState.DONE
    assert len(h.mailer.sent) == 1


def test_backfill_later_acts_on_adopted_effects(example_settings, store) -> None:
    h = Harness(example_settings, store)
    h.board.put(lead("31", triage_status="Questionnaire Received"))
    h.cycle()
    assert h.states("31")["lead_folder"] is EffectState.ADOPTED
    h.cycle(backfill=True)
    assert h.states("31")["lead_folder"] is EffectState.DONE
    assert len(h.drive.created("lead_folder")) == 1


def test_dry_run_changes_nothing_anywhere(h: Harness) -> None:
    h.board.put(lead("40", triage_status="In Scope", negotiation_status="Create Quote"))
    calls_before = len(h.board.calls)
    report = h.preview()
    assert {a.effect for a in report.actions if a.outcome == "would run"} >= {
        "lead_folder",
        "quote_copies",
    }
    assert h.store.ledger("40") == []
    assert h.drive.created() == [] and h.mailer.sent == []
    assert [name for name, _ in h.board.calls[calls_before:]] == ["read_items"]


def test_effect_no_longer_required_is_skipped_and_rearmed_when_needed_again(h: Harness) -> None:
    h.drive.fail_next("create_folder", TransientError("drive", "503"))
    h.board.put(lead("50", triage_status="Questionnaire Received"))
    h.cycle()
    assert h.entry("50", "lead_folder").state is EffectState.FAILED
    h.board.set_status("50", "triage_status", "Out of Scope")
    h.cycle()
    assert h.entry("50", "lead_folder").state is EffectState.SKIPPED
    h.board.set_status("50", "triage_status", "In Scope")
    h.cycle()
    assert h.entry("50", "lead_folder").state is EffectState.DONE


def test_board_read_failure_is_reported_and_recorded(h: Harness) -> None:
    h.board.fail_next("read_items", TransientError("monday", "HTTP 503"))
    report = h.cycle()
    assert not report.read_ok and "HTTP 503" in (report.error or "")
    assert h.store.runs(1)[0].outcome == "read_failed"


def test_hub_issue_states_are_read_back_on_full_reconcile(h: Harness) -> None:
    h.board.put(lead("60", hub_status="Create Hub Issue", triage_status="Questionnaire Received"))
    h.cycle()
    ref, *rest = h.issues.issues[0]
    h.issues.issues[0] = (type(ref)(ref.number, ref.url, "closed"), *rest)
    h.advance(3 * 3600)
    h.cycle()
    assert h.entry("60", "hub_issue").ref["state"] == "closed"


def test_a_first_run_stopped_half_way_still_adopts_the_rest_next_time(
    example_settings, store
) -> None:
    import threading

    h = Harness(example_settings, store)
    for item in ("70", "71", "72"):
        h.board.put(lead(item, triage_status="Questionnaire Received"))
    stop = threading.Event()
    service = h.service()
    original = service._apply

    def stop_after_first(lead_, *args):
        original(lead_, *args)
        stop.set()

    service._apply = stop_after_first  # type: ignore[method-assign]
    report = service.run_cycle(stop=stop)
    assert report.interrupted and report.adopted == 1
    h.cycle()
    assert {i: h.states(i)["lead_folder"] for i in ("70", "71", "72")} == dict.fromkeys(
        ("70", "71", "72"), EffectState.ADOPTED
    )
    assert h.drive.created() == []


def test_a_backfill_cut_short_is_finished_by_the_next_plain_cycle(example_settings, store) -> None:
    """The backfill started an effect and died; the next cycle finishes it, adopts nothing."""
    h = Harness(example_settings, store)
    h.board.put(
        lead("80", triage_status="Questionnaire Received", negotiation_status="Create Quote")
    )
    service = h.service(backfill=True)
    original = service.runner.run

    def die_in_copies(lead_, entry, entries, **options):
        if entry.effect != "quote_copies":
            return original(lead_, entry, entries, **options)
        h.store.save_entry(entry.start(h.now), entry)  # RUNNING, then the process dies
        raise SystemExit

    service.runner.run = die_in_copies  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        service.run_cycle()
    h.cycle()
    assert h.states("80")["quote_copies"] is EffectState.DONE
    assert h.states("80")["lead_folder"] is EffectState.DONE
    assert EffectState.ADOPTED not in set(h.states("80").values())


def test_an_unexpected_error_in_one_lead_does_not_stop_the_others(h: Harness) -> None:
    h.board.put(lead("90", triage_status="Questionnaire Received"))
    h.board.put(lead("91", triage_status="Questionnaire Received"))
    service = h.service()
    original = service._apply

    def broken_for_90(lead_, *args):
        if lead_.item_id == "90":
            raise RuntimeError("a bug in planning")
        return original(lead_, *args)

    service._apply = broken_for_90  # type: ignore[method-assign]
    report = service.run_cycle()
    assert "a bug in planning" in (report.error or "")
    assert h.states("91")["lead_folder"] is EffectState.DONE


def test_a_row_taken_over_during_the_call_writes_nothing_back(h: Harness) -> None:
    """Another process changed the row while our send was in flight: it owns the effect now."""
    h.board.put(lead("95", triage_status="Send Questionnaire"))
    send = h.mailer.send

    def send_while_another_process_takes_over(mail):
        send(mail)
        (row,) = [e for e in h.store.ledger("95") if e.effect == "send_questionnaire"]
        assert h.store.save_entry(replace(row, attempts=row.attempts + 1), row)

    h.mailer.send = send_while_another_process_takes_over  # type: ignore[method-assign]
    report = h.cycle()

    assert h.board.count("write_columns") == 0
    assert h.board.items["95"].value("triage_status") == "Send Questionnaire"
    (action,) = [a for a in report.actions if a.effect == "send_questionnaire"]
    assert action.outcome == "superseded" and "another leadbridge" in action.detail
    assert report.done == 0
