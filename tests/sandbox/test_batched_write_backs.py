"""A cycle's write-backs and notes cost one request each, against the sandbox's monday.

The sandbox executes the adapter's aliased mutations with graphql-core (each alias on its
own, a refused one null with an error on its path), counts one document as one request, and
replays an Idempotency-Key for 30 minutes: a new attempt carries a new key and is executed.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pytest

from leadbridge.adapters.monday import MondayBoard
from leadbridge.bootstrap import build_sync_service
from leadbridge.domain.errors import PermanentError
from leadbridge.domain.model import StatusValue, TextValue
from leadbridge.domain.ports import ColumnWrite, ItemNote
from leadbridge.sandbox.config import write_sandbox_config
from leadbridge.sandbox.server import Sandbox
from leadbridge.sandbox.world import add_item
from leadbridge.service.sync import SyncService
from leadbridge.settings import Settings, load_settings

TRIAGE = "status_triage"
LEADS = 5


def _settings(sandbox: Sandbox, tmp_path: Path, **overrides: Any) -> Settings:
    written = write_sandbox_config(
        sandbox, tmp_path, state_url=f"sqlite:///{tmp_path / 'state.db'}", **overrides
    )
    return load_settings(written.path, secrets_dir=written.secrets_dir)


def _service(sandbox: Sandbox, tmp_path: Path, **overrides: Any) -> SyncService:
    service = build_sync_service(_settings(sandbox, tmp_path, **overrides))
    assert service.run_cycle().read_ok  # meets the empty board: the leads added next are new
    return service


def _lead(sandbox: Sandbox, number: int) -> str:
    return add_item(
        sandbox.state,
        f"Uni {number}",
        {
            TRIAGE: "Send Questionnaire",
            "text_contact": "Ada",
            "email_contact": f"ada{number}@uni.example",
            "text_org": f"Uni {number}",
        },
    )


def _label(sandbox: Sandbox, item_id: str) -> str:
    with sandbox.state.lock:
        board = sandbox.state.board()
        stored = board.items[item_id].values.get(TRIAGE)
        return board.columns[TRIAGE].labels.get(stored["index"], "") if stored else ""


def _monday_requests(sandbox: Sandbox) -> dict[str, int]:
    with sandbox.state.lock:
        return dict(sandbox.state.requests.get("monday", {}))


@pytest.mark.parametrize(
    ("recheck", "notes", "expected"),
    [
        # The poll a moment ago stands for the read before the write.
        (20, "failures", {"items_page": 1, "change_multiple_column_values": 1}),
        # Always read again first: one request for the five items.
        (0, "failures", {"items_page": 1, "items": 1, "change_multiple_column_values": 1}),
        # A note per lead (what was done), all five in one request.
        (20, "all", {"items_page": 1, "change_multiple_column_values": 1, "create_update": 1}),
    ],
    ids=["recent-poll", "recheck-always", "with-notes"],
)
def test_five_leads_write_back_in_one_request(
    sandbox: Sandbox, tmp_path: Path, recheck: int, notes: str, expected: dict[str, int]
) -> None:
    service = _service(
        sandbox, tmp_path, monday={"write_back_recheck_seconds": recheck}, notes={"post": notes}
    )
    items = [_lead(sandbox, n) for n in range(LEADS)]
    sandbox.state.reset_counters()

    report = service.run_cycle()

    requests = _monday_requests(sandbox)
    print(
        f"\n{LEADS} leads, each e-mailed with a status write-back "
        f"(write_back_recheck_seconds={recheck}, notes.post={notes}): "
        f"{sum(requests.values())} monday requests {requests}, complexity {report.complexity}"
    )
    assert report.done == LEADS and report.failed == report.parked == 0
    assert [_label(sandbox, i) for i in items] == ["Questionnaire Sent"] * LEADS
    assert {op: requests.get(op, 0) for op in expected} == expected
    assert report.requests == sum(requests.values())
    if notes == "all":
        with sandbox.state.lock:
            noted = {u.item_id for u in sandbox.state.monday.updates}
        assert noted == set(items)

    quiet = service.run_cycle()  # nothing is written twice
    assert quiet.done == 0 and [_label(sandbox, i) for i in items] == ["Questionnaire Sent"] * 5


def test_aliased_write_backs_run_each_on_its_own(sandbox: Sandbox, tmp_path: Path) -> None:
    board = MondayBoard.from_settings(_settings(sandbox, tmp_path))
    first, second = _lead(sandbox, 1), _lead(sandbox, 2)
    sandbox.state.reset_counters()

    ok, bad_label, gone, also_ok = board.write_columns(
        [
            ColumnWrite(first, {"triage_status": StatusValue("In Scope")}, "a#1"),
            ColumnWrite(second, {"triage_status": StatusValue("No Such Label")}, "b#1"),
            ColumnWrite("999999", {"organization": TextValue("x")}, "c#1"),
            ColumnWrite(second, {"organization": TextValue("Renamed")}, "d#1"),
        ]
    )
    board.close()

    assert ok is None and also_ok is None
    assert isinstance(bad_label, PermanentError) and "refused a column value" in bad_label.message
    assert isinstance(gone, PermanentError) and "not found" in gone.message
    assert _label(sandbox, first) == "In Scope" and _label(sandbox, second) == "Send Questionnaire"
    with sandbox.state.lock:
        assert sandbox.state.board().items[second].values["text_org"] == "Renamed"
    assert _monday_requests(sandbox) == {"change_multiple_column_values": 1}


def test_a_new_attempt_is_carried_out_and_a_resent_one_replayed(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    board = MondayBoard.from_settings(_settings(sandbox, tmp_path))
    item_id = _lead(sandbox, 1)
    note = ItemNote(item_id, "could not e-mail: refused", "send#1@2026-11-02T09:00:00+00:00")

    def posted() -> int:
        with sandbox.state.lock:
            return sum(u.item_id == item_id for u in sandbox.state.monday.updates)

    assert board.post_notes([note]) == [None] and posted() == 1
    assert board.post_notes([note]) == [None] and posted() == 1  # same attempt: replayed
    retried = ItemNote(note.item_id, note.text, "send#1@2026-11-02T09:10:00+00:00")
    assert board.post_notes([retried]) == [None] and posted() == 2  # a retry: a new note
    sandbox.state.clock.advance(31 * 60)
    assert board.post_notes([note]) == [None] and posted() == 3  # the replay window is over
    board.close()
    with sandbox.state.lock:
        bodies = [html.unescape(u.body) for u in sandbox.state.monday.updates]
    assert bodies == ["could not e-mail: refused"] * 3
