"""The write-back after an effect is conditional: a staff change made meanwhile wins.

The real SyncService, wired by ``build_sync_service`` from a sandbox configuration, runs the
default pipeline's questionnaire e-mail, which moves Triage status from "Send Questionnaire"
to "Questionnaire Sent" once the e-mail is out. When staff set the lead "Out of Scope" while
the e-mail is being sent (after the board was read), the status must stay as staff set it,
when the write-back reads the item again first: always with ``write_back_recheck_seconds: 0``,
otherwise once the poll is older than that. Within the window the poll stands for the read
and costs no request. The write-backs of a cycle go to monday together, in one request.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from leadbridge.bootstrap import build_sync_service
from leadbridge.domain.ports import OutgoingMail
from leadbridge.sandbox.config import write_sandbox_config
from leadbridge.sandbox.server import Sandbox
from leadbridge.sandbox.state import SentMail
from leadbridge.sandbox.world import add_item, set_values
from leadbridge.service.report import CycleReport
from leadbridge.service.sync import SyncService
from leadbridge.settings import load_settings

TRIAGE = "status_triage"
EFFECT = "send_questionnaire"
CONTACT = "ada@uni.example"
SUBJECT = "2i2c questionnaire for Uni Example"
KEPT = "triage status left as “Out of Scope”: staff changed it since the poll"


def _service(sandbox: Sandbox, tmp_path: Path, **overrides: Any) -> SyncService:
    written = write_sandbox_config(
        sandbox, tmp_path, state_url=f"sqlite:///{tmp_path / 'state.db'}", **overrides
    )
    service = build_sync_service(load_settings(written.path, secrets_dir=written.secrets_dir))
    # The first cycle meets the (still empty) board, so the lead added next is acted on.
    first = service.run_cycle()
    assert first.read_ok and first.actions == []
    return service


def _new_lead(sandbox: Sandbox, name: str = "Uni Example", contact: str = CONTACT) -> str:
    return add_item(
        sandbox.state,
        name,
        {
            TRIAGE: "Send Questionnaire",
            "text_contact": "Ada",
            "email_contact": contact,
            "text_org": name,
        },
    )


def _triage_label(sandbox: Sandbox, item_id: str) -> str:
    with sandbox.state.lock:
        board = sandbox.state.board()
        stored = board.items[item_id].values.get(TRIAGE)
        return board.columns[TRIAGE].labels.get(stored["index"], "") if stored else ""


def _questionnaires(sandbox: Sandbox) -> list[SentMail]:
    with sandbox.state.lock:
        return [m for m in sandbox.state.google.mail if m.subject == SUBJECT]


def _notes(sandbox: Sandbox, item_id: str) -> list[str]:
    """The item's notes as a person reads them (bodies are escaped HTML)."""
    with sandbox.state.lock:
        updates = [u.body for u in sandbox.state.monday.updates if u.item_id == item_id]
    return [html.unescape(body) for body in updates]


def _questionnaire_line(report: CycleReport, item_id: str) -> tuple[str, str]:
    [action] = [a for a in report.actions if a.item_id == item_id and a.effect == EFFECT]
    return action.outcome, action.detail


def test_staff_change_during_the_send_is_left_as_staff_set_it(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    service = _service(sandbox, tmp_path, monday={"write_back_recheck_seconds": 0})
    item_id = _new_lead(sandbox)
    mailer = service.ports.adapters["mailer"]
    send = mailer.send

    def send_while_staff_rule_it_out(mail: OutgoingMail) -> None:
        # Between the board read and the write-back, a person moves the lead off the path.
        set_values(sandbox.state, item_id, {TRIAGE: "Out of Scope"})
        send(mail)

    mailer.send = send_while_staff_rule_it_out
    sandbox.state.reset_counters()

    report = service.run_cycle()

    assert _triage_label(sandbox, item_id) == "Out of Scope"
    assert [m.recipients for m in _questionnaires(sandbox)] == [(CONTACT,)]
    outcome, detail = _questionnaire_line(report, item_id)
    assert outcome == "done"
    assert detail.startswith(f"e-mailed {CONTACT}") and detail.endswith(KEPT)
    assert any(KEPT in note for note in _notes(sandbox, item_id))
    # The fresh read was one request for the item; nothing was written to its columns.
    assert sandbox.state.request_count("monday", "items") == 1
    assert sandbox.state.request_count("monday", "change_multiple_column_values") == 0

    later = service.run_cycle()

    assert later.read_ok and later.failed == later.parked == 0
    assert _triage_label(sandbox, item_id) == "Out of Scope"
    assert len(_questionnaires(sandbox)) == 1


def test_without_a_staff_change_the_status_moves_on(sandbox: Sandbox, tmp_path: Path) -> None:
    """The default window: the poll a moment ago stands for the read, no extra request."""
    service = _service(sandbox, tmp_path)
    item_id = _new_lead(sandbox)
    sandbox.state.reset_counters()

    report = service.run_cycle()

    assert _triage_label(sandbox, item_id) == "Questionnaire Sent"
    assert [m.recipients for m in _questionnaires(sandbox)] == [(CONTACT,)]
    outcome, detail = _questionnaire_line(report, item_id)
    assert outcome == "done" and "left as" not in detail
    assert sandbox.state.request_count("monday", "items") == 0
    assert sandbox.state.request_count("monday", "change_multiple_column_values") == 1

    later = service.run_cycle()

    assert later.read_ok and later.failed == later.parked == 0
    assert _triage_label(sandbox, item_id) == "Questionnaire Sent"
    assert len(_questionnaires(sandbox)) == 1
