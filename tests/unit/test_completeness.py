"""Completeness checks per stage (issue 15).

A stage's missing piece (empty MANIAC-T fields at In Scope, no signed contract in the lead
folder some days after Contract Signed) is one note on the item, shown in ``status`` as
needing a person, and cleared when people fix it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from leadbridge.domain.ledger import EffectState
from leadbridge.service.status import StatusFilter, build_status, render_status

from .harness import Harness, lead

DAY = 24 * 3600
MANIAC_T = {
    "money": "grant",
    "authority": "PI",
    "need": "hub",
    "impending_event": "workshop",
    "application": "teaching",
    "competition": "none",
    "timeline": "spring",
}


@pytest.fixture
def h(example_settings, store) -> Harness:
    h = Harness(example_settings, store)
    h.start_empty()
    return h


def paste(h: Harness, item_id: str, **values: str) -> None:
    current = h.board.items[item_id]
    h.board.put(replace(current, values={**current.values, **values}))


def notes(h: Harness, item_id: str, fragment: str) -> list[str]:
    return [n for n in h.board.notes.get(item_id, []) if fragment in n]


def problem_effects(h: Harness, item_id: str) -> list[str]:
    """What `status --problems` shows of this lead: its effects a person must look at."""
    status = build_status(h.settings, h.store, h.now, StatusFilter(problems=True))
    for shown in status["leads"]:
        if shown["item_id"] == item_id:
            return [
                e["effect"]
                for e in shown["effects"]
                if e["state"] in ("waiting", "failed", "parked")
            ]
    return []


def test_empty_maniac_t_fields_wait_with_one_note_until_filled(h: Harness) -> None:
    h.board.put(lead("1", triage_status="In Scope", money="grant"))
    for _ in range(3):
        h.cycle()
        h.advance(300)

    assert h.entry("1", "check_maniac_t").state is EffectState.WAITING
    said = notes(h, "1", "MANIAC-T")
    assert len(said) == 1
    assert "authority" in said[0] and "money" not in said[0].split("empty:")[1]
    assert problem_effects(h, "1") == ["check_maniac_t"]
    shown = render_status(build_status(h.settings, h.store, h.now), state_url="sqlite://")
    assert "check_maniac_t: waiting" in shown

    paste(h, "1", **MANIAC_T)
    h.cycle()
    h.cycle()
    assert h.entry("1", "check_maniac_t").state is EffectState.DONE
    assert len(notes(h, "1", "MANIAC-T")) == 1
    assert problem_effects(h, "1") == []


def test_filled_maniac_t_fields_are_done_at_once_without_a_note(h: Harness) -> None:
    h.board.put(lead("1", triage_status="In Scope", **MANIAC_T))
    h.cycle()
    assert h.entry("1", "check_maniac_t").state is EffectState.DONE
    assert notes(h, "1", "MANIAC-T") == []


def test_a_signed_contract_missing_after_the_configured_days_is_one_note_until_filed(
    h: Harness,
) -> None:
    h.board.put(
        lead("7", triage_status="In Scope", negotiation_status="Contract Signed", **MANIAC_T)
    )
    h.cycle()
    folder = h.entry("7", "lead_folder").ref["file_id"]
    assert h.entry("7", "check_signed_contract").state is EffectState.WAITING

    # Before the 14 days: nothing said, nothing for a person in status.
    for _ in range(5):
        h.advance(2 * DAY)
        h.cycle()
    entry = h.entry("7", "check_signed_contract")
    assert entry.state is EffectState.WAITING and entry.attempts == 0
    # The first-due time is kept, not moved on by each cycle.
    assert entry.ref["due_since"] == (h.now - 10 * timedelta(days=1)).isoformat()
    assert not any("check that a file" in n for n in h.board.notes.get("7", []))
    assert problem_effects(h, "7") == []

    # After them: exactly one note over several cycles, and status shows it waiting.
    h.advance(5 * DAY)
    for _ in range(4):
        h.cycle()
        h.advance(600)
    said = [n for n in h.board.notes.get("7", []) if "check that a file" in n]
    assert len(said) == 1, h.board.notes.get("7")
    assert folder in said[0] and "'contract'" in said[0]
    assert h.entry("7", "check_signed_contract").state is EffectState.WAITING
    assert problem_effects(h, "7") == ["check_signed_contract"]
    shown = render_status(build_status(h.settings, h.store, h.now), state_url="sqlite://")
    assert "check_signed_contract: waiting" in shown

    # A file that is not the contract does not count; the signed contract does.
    h.drive.add_file("INV7", "Invoice.pdf", folder)
    h.cycle()
    assert h.entry("7", "check_signed_contract").state is EffectState.WAITING
    h.drive.add_file("SC7", "Signed contract.pdf", folder, "application/pdf")
    h.cycle()
    h.cycle()
    entry = h.entry("7", "check_signed_contract")
    assert entry.state is EffectState.DONE
    assert entry.ref["file_id"] == "SC7"
    assert problem_effects(h, "7") == []
    assert len([n for n in h.board.notes.get("7", []) if "check that a file" in n]) == 1


def test_a_contract_filed_in_time_is_done_without_a_note(h: Harness) -> None:
    h.board.put(
        lead("8", triage_status="In Scope", negotiation_status="Contract Signed", **MANIAC_T)
    )
    h.cycle()
    folder = h.entry("8", "lead_folder").ref["file_id"]
    h.advance(3 * DAY)
    h.drive.add_file("SC8", "ACME CONTRACT (signed).pdf", folder)
    h.cycle()
    assert h.entry("8", "check_signed_contract").state is EffectState.DONE
    assert not any("check that a file" in n for n in h.board.notes.get("8", []))


def test_before_it_is_due_the_folder_is_listed_hourly_not_every_cycle(h: Harness) -> None:
    """A file put into Drive changes nothing on the board, so the check looks by the clock:
    a quiet cycle in between costs no Drive call (and loads no Drive client)."""
    h.board.put(
        lead("9", triage_status="In Scope", negotiation_status="Contract Signed", **MANIAC_T)
    )
    h.cycle()
    listed = h.drive.count("list_files")
    entry = h.entry("9", "check_signed_contract")
    assert entry.state is EffectState.WAITING
    assert entry.next_attempt_at == h.now + timedelta(hours=1)
    for _ in range(5):
        h.advance(120)
        h.cycle()
    assert h.drive.count("list_files") == listed
    h.advance(3600)
    h.cycle()
    assert h.drive.count("list_files") == listed + 1
