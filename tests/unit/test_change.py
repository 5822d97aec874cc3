"""Exactly once survives change: config edits, re-arms, staff edits, crashes on moved leads."""

from __future__ import annotations

from typing import Any

import pytest

from leadbridge.domain.errors import TransientError
from leadbridge.domain.ledger import EffectState
from leadbridge.service.sync import rearm_effects
from leadbridge.settings import Settings

from .harness import Harness, lead


def changed(settings: Settings, edit: Any) -> Settings:
    """The same deployment after an operator edited its configuration."""
    document = settings.model_dump(mode="python")
    document["monday"]["token"] = "monday-test-token"
    document["github"]["token"] = "github-test-token"
    edit(document)
    return Settings(**document)


def historic(h: Harness) -> None:
    """A running deployment with leads at every stage, every effect already handled."""
    h.start_empty()
    h.board.put(lead("1", triage_status="In Scope", negotiation_status="Quote Sent"))
    h.board.put(lead("2", triage_status="In Scope", negotiation_status="Contract Signed"))
    h.board.put(lead("3", triage_status="In Scope"))
    h.cycle()
    h.cycle()


def sent_of(h: Harness, message_id: str) -> int:
    return [m.message_id for m in h.mailer.sent].count(message_id)


def counts(h: Harness) -> tuple[int, int, int]:
    return len(h.mailer.sent), len(h.drive.created()), len(h.issues.issues)


@pytest.fixture
def h(example_settings, store) -> Harness:
    return Harness(example_settings, store)


def test_an_added_rule_adopts_the_leads_already_past_it(h: Harness) -> None:
    shipped = h.settings
    h.settings = changed(shipped, without_quote_sent)
    historic(h)
    before = counts(h)

    h.settings = shipped  # the operator adds the "Quote Sent → notify ICSI" rule
    h.cycle()
    assert counts(h) == before
    assert h.states("1")["notify_icsi_quote_sent"] is EffectState.ADOPTED
    assert h.states("2")["notify_icsi_quote_sent"] is EffectState.ADOPTED

    h.board.put(lead("4", triage_status="In Scope", negotiation_status="Quote Sent"))
    h.cycle()
    h.cycle()
    sent = [m.message_id for m in h.mailer.sent]
    assert sent.count("leadbridge.4.notify_icsi_quote_sent") == 1
    assert "leadbridge.1.notify_icsi_quote_sent" not in sent


def test_backfill_of_one_effect_acts_on_what_a_change_adopted(h: Harness) -> None:
    shipped = h.settings
    h.settings = changed(shipped, without_quote_sent)
    historic(h)
    h.settings = shipped
    h.cycle()
    report = h.service(backfill_effects=frozenset({"notify_icsi_quote_sent"})).run_cycle()
    sent = [m.message_id for m in h.mailer.sent]
    assert sent.count("leadbridge.1.notify_icsi_quote_sent") == 1
    assert report.adopted == 0


def without_quote_sent(document: dict[str, Any]) -> None:
    document["rules"] = [r for r in document["rules"] if r["label"] != "Quote Sent"]


def test_a_widened_rule_e_mails_nobody_already_past_it(h: Harness) -> None:
    historic(h)
    before = counts(h)

    def not_exactly(document: dict[str, Any]) -> None:
        for rule in document["rules"]:
            rule["exactly"] = False

    h.settings = changed(h.settings, not_exactly)
    report = h.cycle()
    assert counts(h) == before
    assert report.adopted >= 3
    assert h.board.items["3"].value("triage_status") == "In Scope"  # not moved back

    h.board.put(lead("5", triage_status="Questionnaire Sent"))
    h.cycle()
    assert [m.message_id for m in h.mailer.sent].count("leadbridge.5.send_questionnaire") == 1


def rename_folder_effect(*, keep_id: bool) -> Any:
    """``lead_folder`` → ``lead_folder_v2`` everywhere, with or without ``id: lead_folder``."""

    def rename(document: dict[str, Any]) -> None:
        effects = document["effects"]
        effects["lead_folder_v2"] = effects.pop("lead_folder")
        if keep_id:
            effects["lead_folder_v2"]["id"] = "lead_folder"
        for effect in effects.values():
            effect["needs"] = [
                "lead_folder_v2" if n == "lead_folder" else n for n in effect.get("needs", [])
            ]
            if effect.get("folder_effect") == "lead_folder":
                effect["folder_effect"] = "lead_folder_v2"
        for rule in document["rules"]:
            rule["effects"] = [
                "lead_folder_v2" if e == "lead_folder" else e for e in rule["effects"]
            ]

    return rename


def test_a_renamed_effect_keeps_its_identity_and_repeats_nothing(h: Harness) -> None:
    historic(h)
    before = counts(h)

    folders = len(h.drive.created("lead_folder"))
    h.settings = changed(h.settings, rename_folder_effect(keep_id=True))
    h.cycle()
    assert counts(h) == before
    h.board.put(lead("6", triage_status="Questionnaire Received"))
    h.cycle()
    assert len(h.drive.created("lead_folder")) == folders + 1


def test_a_renamed_key_without_an_id_is_adopted_not_repeated(h: Harness) -> None:
    historic(h)
    before = counts(h)
    h.settings = changed(h.settings, rename_folder_effect(keep_id=False))
    report = h.cycle()
    assert counts(h) == before  # no second folder for any historic lead
    assert report.adopted >= 3


def test_duplicate_ids_are_refused_with_a_fix(example_settings) -> None:
    def clash(document: dict[str, Any]) -> None:
        document["effects"]["request_invoice"]["id"] = "notify_icsi_quote_sent"

    with pytest.raises(ValueError) as error:
        changed(example_settings, clash)
    assert "effects.request_invoice.id: 'notify_icsi_quote_sent' is already the id" in str(
        error.value
    )


# ---------------------------------------------------------------- re-arm keeps memory


def test_a_lost_send_answer_then_retry_asks_before_sending_and_sends_once(h: Harness) -> None:
    h.start_empty()
    h.mailer.fail_next("send", TransientError("gmail", "answer lost"), after_acting=True)
    h.board.put(lead("20", negotiation_status="Quote Accepted"))
    h.cycle()
    entry = h.entry("20", "notify_icsi_quote_sent")
    assert entry.state is EffectState.FAILED
    rearm_effects(h.store, "20", "notify_icsi_quote_sent", h.now)
    assert h.entry("20", "notify_icsi_quote_sent").attempts == 0
    h.cycle()
    ids = [m.message_id for m in h.mailer.sent]
    assert ids.count("leadbridge.20.notify_icsi_quote_sent") == 1
    assert h.mailer.count("was_sent") >= 1
    assert h.entry("20", "notify_icsi_quote_sent").state is EffectState.DONE


def test_a_lost_send_answer_then_lead_moved_away_and_back_sends_once(h: Harness) -> None:
    h.start_empty()
    h.mailer.fail_next("send", TransientError("gmail", "answer lost"), after_acting=True)
    h.board.put(lead("21", negotiation_status="Quote Accepted"))
    h.cycle()
    h.board.set_status("21", "negotiation_status", "Lost")
    h.cycle()
    assert h.entry("21", "notify_icsi_quote_sent").state is EffectState.SKIPPED
    h.board.set_status("21", "negotiation_status", "Quote Accepted")
    asked = h.mailer.count("was_sent")
    h.cycle()
    ids = [m.message_id for m in h.mailer.sent]
    assert ids.count("leadbridge.21.notify_icsi_quote_sent") == 1
    assert h.mailer.count("was_sent") > asked


def test_with_a_backend_that_cannot_tell_a_rearmed_uncertain_send_parks(h: Harness) -> None:
    h.start_empty()
    h.mailer.can_tell = False
    h.mailer.fail_next("send", TransientError("smtp", "connection lost"), after_acting=True)
    h.board.put(lead("22", negotiation_status="Quote Accepted"))
    h.cycle()
    rearm_effects(h.store, "22", "notify_icsi_quote_sent", h.now)
    h.cycle()
    entry = h.entry("22", "notify_icsi_quote_sent")
    assert entry.state is EffectState.PARKED
    assert "cannot tell" in entry.last_error
    assert sent_of(h, "leadbridge.22.notify_icsi_quote_sent") == 1
    rearm_effects(h.store, "22", "notify_icsi_quote_sent", h.now, resend=True)
    h.cycle()
    # The operator checked that it had not arrived, and said so with --resend.
    assert sent_of(h, "leadbridge.22.notify_icsi_quote_sent") == 2


def test_a_refusal_that_certainly_sent_nothing_is_retried_even_on_smtp(h: Harness) -> None:
    h.start_empty()
    h.mailer.can_tell = False
    h.mailer.fail_next("send", TransientError("smtp", "451 try later", not_acted=True))
    h.board.put(lead("23", negotiation_status="Quote Accepted"))
    h.cycle()
    h.advance(3600)
    h.cycle()
    assert h.entry("23", "notify_icsi_quote_sent").state is EffectState.DONE
    assert sent_of(h, "leadbridge.23.notify_icsi_quote_sent") == 1


# ---------------------------------------------------------------- write-backs are conditional


def recheck(seconds: float) -> Any:
    """An edit setting ``monday.write_back_recheck_seconds``."""

    def edit(document: dict[str, Any]) -> None:
        document["monday"]["write_back_recheck_seconds"] = seconds

    return edit


def staff_rule_out_during_the_send(h: Harness, *, after_seconds: float = 0) -> None:
    """Lead 30 asks for the questionnaire; while it is sent (``after_seconds`` after the
    poll), staff set it Out of Scope."""
    h.start_empty()
    h.board.put(lead("30", triage_status="Send Questionnaire"))
    send = h.mailer.send

    def send_while_staff_decide(mail: Any) -> None:
        send(mail)
        h.advance(after_seconds)
        h.board.set_status("30", "triage_status", "Out of Scope")

    h.mailer.send = send_while_staff_decide  # type: ignore[method-assign]


def test_a_staff_status_change_during_the_send_survives_the_write_back(h: Harness) -> None:
    """With ``write_back_recheck_seconds: 0`` the item is always read again before writing."""
    h.settings = changed(h.settings, recheck(0))
    staff_rule_out_during_the_send(h)
    report = h.cycle()
    assert h.board.items["30"].value("triage_status") == "Out of Scope"
    assert len(h.mailer.sent) == 1
    (line,) = [a for a in report.actions if a.effect == "send_questionnaire"]
    assert "triage status left as “Out of Scope”" in line.detail
    assert any("Out of Scope" in note for note in h.board.notes["30"])
    assert h.board.count("read_columns") == 1 and h.board.count("write_columns") == 0
    assert h.entry("30", "send_questionnaire").state is EffectState.DONE


def test_a_poll_older_than_the_recheck_window_is_read_again_and_staff_win(h: Harness) -> None:
    """Default window (20 s): the send took 30 s, so the poll no longer stands for a read."""
    assert h.settings.monday.write_back_recheck_seconds == 20
    staff_rule_out_during_the_send(h, after_seconds=30)
    h.cycle()
    assert h.board.items["30"].value("triage_status") == "Out of Scope"
    assert h.board.count("read_columns") == 1 and h.board.count("write_columns") == 0


def test_within_the_recheck_window_the_poll_is_the_read(h: Harness) -> None:
    """The documented trade-off: no request before the write, and a staff edit landing
    within the window after the poll is written over."""
    staff_rule_out_during_the_send(h, after_seconds=5)
    h.cycle()
    assert h.board.count("read_columns") == 0 and h.board.count("write_columns") == 1
    assert h.board.items["30"].value("triage_status") == "Questionnaire Sent"


# ---------------------------------------------------------------- interrupted, then moved away


def test_copies_interrupted_then_lead_lost_are_finished_not_left_half_made(h: Harness) -> None:
    h.start_empty()
    h.board.put(
        lead("40", triage_status="Questionnaire Received", negotiation_status="Create Quote")
    )
    fill = h.drive.fill_placeholders

    def killed(*args: Any) -> None:
        raise SystemExit  # the process dies between copying and filling

    h.drive.fill_placeholders = killed  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        h.cycle()
    h.drive.fill_placeholders = fill  # type: ignore[method-assign]
    assert h.entry("40", "quote_copies").state is EffectState.RUNNING
    copies = h.drive.created("quote_copies:pricing_sheet")
    assert len(copies) == 1 and copies[0].id not in h.drive.filled

    h.board.set_status("40", "negotiation_status", "Lost")
    report = h.cycle()
    assert h.entry("40", "quote_copies").state is EffectState.DONE
    assert copies[0].id in h.drive.filled
    assert len(h.drive.created("quote_copies:pricing_sheet")) == 1
    assert any(a.effect == "quote_copies" and "no longer needs" in a.detail for a in report.actions)
    assert EffectState.RUNNING not in set(h.states("40").values())


def test_an_interrupted_e_mail_on_a_lead_moved_away_is_not_sent(h: Harness) -> None:
    h.start_empty()
    h.board.put(lead("41", negotiation_status="Quote Accepted"))
    service = h.service()
    original = service.runner.run

    def die_before_send(lead_, entry, entries, **options):
        if entry.effect != "notify_icsi_quote_sent":
            return original(lead_, entry, entries, **options)
        h.store.save_entry(entry.start(h.now), entry)
        raise SystemExit

    service.runner.run = die_before_send  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        service.run_cycle()
    h.board.set_status("41", "negotiation_status", "Lost")
    h.cycle()
    assert h.entry("41", "notify_icsi_quote_sent").state is EffectState.SKIPPED
    assert "leadbridge.41.notify_icsi_quote_sent" not in [m.message_id for m in h.mailer.sent]


# ---------------------------------------------------------------- the mass-action guard


def test_a_cycle_that_would_e_mail_more_than_the_limit_is_held_until_confirmed(
    example_settings, store
) -> None:
    from leadbridge.service.guard import HELD, confirm

    settings = changed(example_settings, lambda d: d["guard"].update(max_new_per_kind=6))
    h = Harness(settings, store)
    h.start_empty()
    for n in range(50, 55):
        h.board.put(lead(str(n), negotiation_status="Quote Accepted"))
    report = h.cycle()
    assert report.held == {"email": 10}  # two e-mails for each of five leads
    assert h.mailer.sent == []
    assert store.fact(HELD)["email"]["count"] == 10
    assert len(h.drive.created("lead_folder")) == 5  # kinds under the limit went on

    preview = h.preview()
    assert preview.held == {"email": 10}
    assert h.mailer.sent == []
    confirm(store, preview.held, h.now)
    report = h.cycle()
    assert report.held == {}
    assert len(h.mailer.sent) == 10
    assert store.fact(HELD) == {}


# ---------------------------------------------------------------- state database continuity


def test_an_empty_state_database_for_a_board_worked_before_is_refused(h: Harness, tmp_path) -> None:
    from leadbridge.adapters.store.sql import SqlStateStore
    from leadbridge.service.sync import WorkedBefore

    historic(h)
    before = counts(h)
    fresh = SqlStateStore.open(f"sqlite:///{tmp_path / 'new.db'}", "1234567890")
    moved = Harness(h.settings, fresh, h.board, h.drive, h.mailer, h.issues)
    with pytest.raises(WorkedBefore) as refused:
        moved.cycle()
    assert "--adopt-existing" in str(refused.value)
    assert "lead_folder of item 1 exists" in str(refused.value)
    with pytest.raises(WorkedBefore):
        moved.cycle()  # still refused: nothing was adopted meanwhile

    report = moved.service(adopt_existing=True).run_cycle()
    assert report.adopted > 0
    moved.cycle()
    assert counts(h) == before
    fresh.close()


def test_a_row_this_process_started_under_an_earlier_epoch_is_resumed_at_once(
    h: Harness,
) -> None:
    """A restarted container is PID 1 again: its predecessor's rows are not in flight."""
    from leadbridge.domain.ports import Lease
    from leadbridge.service.apply import this_process

    h.start_empty()
    h.board.put(lead("60", triage_status="Questionnaire Received"))
    h.cycle()
    done = h.entry("60", "lead_folder")
    running = done.__class__(
        **{**done.__dict__, "state": EffectState.RUNNING, "epoch": 7, "owner": this_process()}
    )
    assert h.store.save_entry(running, done)
    report = h.service().run_cycle(lease=Lease(8, this_process(), lambda: True))
    assert h.entry("60", "lead_folder").state is EffectState.DONE
    assert not [a for a in report.actions if a.outcome == "busy"]
    assert len(h.drive.created("lead_folder")) == 1


def test_a_row_another_live_holder_started_lately_is_left_busy(h: Harness) -> None:
    from leadbridge.domain.ports import Lease

    h.start_empty()
    h.board.put(lead("61", triage_status="Questionnaire Received"))
    h.cycle()
    done = h.entry("61", "lead_folder")
    running = done.__class__(
        **{**done.__dict__, "state": EffectState.RUNNING, "epoch": 7, "owner": "elsewhere:42"}
    )
    assert h.store.save_entry(running, done)
    report = h.service().run_cycle(lease=Lease(8, "here:1", lambda: True))
    assert h.entry("61", "lead_folder").state is EffectState.RUNNING
    assert [a.outcome for a in report.actions if a.effect == "lead_folder"] == ["busy"]
    h.advance(301)  # past service.takeover_after_seconds: its call cannot still be in flight
    h.service().run_cycle(lease=Lease(8, "here:1", lambda: True))
    assert h.entry("61", "lead_folder").state is EffectState.DONE
    assert len(h.drive.created("lead_folder")) == 1


def test_a_process_that_lost_the_lock_starts_no_new_effect(h: Harness) -> None:
    from leadbridge.domain.ports import Lease

    h.start_empty()
    h.board.put(lead("62", triage_status="Questionnaire Received"))
    report = h.service().run_cycle(lease=Lease(3, "here:1", lambda: False))
    assert report.interrupted
    assert h.drive.created("lead_folder") == []
