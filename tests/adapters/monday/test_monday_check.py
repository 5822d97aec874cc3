"""``leadbridge check`` against the live board: token, board, columns, types, labels."""

from __future__ import annotations

import pytest
from monday_fake import BOARD_COLUMNS, FakeMonday, make_settings

from leadbridge.adapters.monday import MondayBoard
from leadbridge.adapters.monday.check import parse_labels
from leadbridge.domain.ports import CheckFinding


def _failed(findings: list[CheckFinding]) -> list[CheckFinding]:
    return [f for f in findings if not f.ok]


def test_everything_in_order(fake: FakeMonday, board: MondayBoard) -> None:
    findings = board.check()

    assert _failed(findings) == []
    whats = [f.what for f in findings]
    assert "API token" in whats
    assert "board 1234567890" in whats
    assert "labels of triage_status" in whats
    assert len(fake.requests) == 1


def test_renamed_label_is_reported_with_a_suggestion(fake: FakeMonday, board: MondayBoard) -> None:
    fake.labels["1"] = "Questionnaire sent!"

    failed = _failed(board.check())

    assert [f.what for f in failed] == ["label 'Questionnaire Sent' of triage_status"]
    assert "Did you mean 'Questionnaire sent!'?" in failed[0].detail
    assert "columns.triage_status" in failed[0].fix


def test_missing_column_and_wrong_type(
    fake: FakeMonday, board: MondayBoard, monkeypatch: pytest.MonkeyPatch
) -> None:
    columns = dict(BOARD_COLUMNS)
    columns["text_organisation"] = columns.pop("text_org")
    columns["link_folder"] = ("Lead folder", "text")
    monkeypatch.setattr("monday_fake.BOARD_COLUMNS", columns)

    failed = {f.what: f for f in _failed(board.check())}

    assert set(failed) == {"column organization (text_org)", "column lead_folder (link_folder)"}
    assert "Did you mean 'text_organisation'?" in failed["column organization (text_org)"].detail
    assert "type text" in failed["column lead_folder (link_folder)"].detail


def test_labels_come_from_typed_settings_when_settings_str_has_none(
    fake: FakeMonday, board: MondayBoard
) -> None:
    fake.labels = {}
    calls: list[str] = []
    original = fake._op_StatusSettings

    def typed(v: dict[str, object]) -> dict[str, object]:
        calls.append("typed")
        fake.labels = {"0": "Send Questionnaire", "1": "Questionnaire Sent", "2": "In Scope"}
        return original(v)

    fake._op_StatusSettings = typed  # type: ignore[method-assign]

    assert _failed(board.check()) == []
    assert calls == ["typed"]


def test_unknown_board_and_version_mismatch(fake: FakeMonday, sleeps: list[float]) -> None:
    fake.served_version = "2026-04"
    board = MondayBoard.from_settings(make_settings(board_id="42"), sleep=sleeps.append)

    failed = {f.what: f for f in _failed(board.check())}

    assert set(failed) == {"API version", "board 42"}
    assert "2026-04" in failed["API version"].detail
    assert "board_id" in failed["board 42"].fix


def test_bad_token_is_one_finding_not_a_crash(fake: FakeMonday, board: MondayBoard) -> None:
    import httpx

    fake.faults.append(httpx.Response(401, text="Unauthorized"))

    findings = board.check()

    assert len(findings) == 1
    assert not findings[0].ok
    assert "LEADBRIDGE_MONDAY__TOKEN" in findings[0].fix


@pytest.mark.parametrize(
    "settings",
    [
        '{"labels": {"1": "Done", "5": ""}}',
        '{"labels": [{"id": 1, "label": "Done"}, {"id": 2, "label": "Old", "is_deactivated": true}]}',
        {"type": "status", "labels": [{"id": 1, "name": "Done"}]},
    ],
)
def test_label_shapes(settings: object) -> None:
    active = [label.text for label in parse_labels(settings) if not label.deactivated]
    assert active == ["Done"]
