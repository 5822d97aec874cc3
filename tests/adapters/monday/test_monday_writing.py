"""Write-back and notes: the right JSON per column type, idempotency keys, hostile text intact."""

from __future__ import annotations

import json

import httpx
import pytest
from monday_fake import BOARD_ID, FakeMonday, make_settings

from leadbridge.adapters.monday import MondayBoard
from leadbridge.domain.errors import PermanentError
from leadbridge.domain.model import LinkValue, StatusValue, TextValue

HOSTILE = [
    'She said "hi" \\o/ ‘quoted’',
    "back\\slash\\n not a newline, } { $var",
    "emoji 🚀👩🏽‍💻 and CJK 漢字",
    "line one\nline two\r\nline three",
    "x" * 10_000,
    '{"label": "Done"} ) { me { id } }',
]


def _sent_values(fake: FakeMonday) -> dict[str, object]:
    body = fake.bodies[-1]
    assert body["operationName"] == "ChangeColumnValues"
    assert isinstance(body["variables"]["values"], str)
    return json.loads(body["variables"]["values"])


def test_one_call_with_the_json_shape_of_each_column_type(
    fake: FakeMonday, board: MondayBoard
) -> None:
    fake.add_items(1)

    board.write_values(
        "100000",
        {
            "lead_folder": LinkValue("https://drive.test/folder", "Lead folder"),
            "triage_status": StatusValue("Questionnaire Sent"),
            "organization": TextValue("ACME"),
            "notes": TextValue("multi\nline"),
        },
    )

    assert len(fake.requests) == 1
    assert fake.bodies[0]["variables"]["board"] == BOARD_ID
    assert fake.bodies[0]["variables"]["item"] == "100000"
    assert _sent_values(fake) == {
        "link_folder": {"url": "https://drive.test/folder", "text": "Lead folder"},
        "status_triage": {"label": "Questionnaire Sent"},
        "text_org": "ACME",
        "long_text_notes": {"text": "multi\nline"},
    }


def test_mutations_carry_a_deterministic_idempotency_key(
    fake: FakeMonday, board: MondayBoard, sleeps: list[float]
) -> None:
    fake.add_items(1)
    fake.faults.append(httpx.Response(503, text="unavailable"))
    values = {"lead_folder": LinkValue("https://drive.test/f", "Folder")}

    board.write_values("100000", values)
    other = MondayBoard.from_settings(make_settings(), sleep=sleeps.append)
    other.write_values("100000", values)
    board.write_values("100000", {"lead_folder": LinkValue("https://drive.test/g", "Folder")})
    board.read_items(None)

    keys = [r.headers.get("Idempotency-Key") for r in fake.requests]
    assert keys[0] and keys[0] == keys[1] == keys[2]  # retry and another process: same key
    assert keys[3] and keys[3] != keys[0]  # other values: another key
    assert keys[4] is None  # reads carry none


def test_note_is_escaped_html_with_an_idempotency_key(fake: FakeMonday, board: MondayBoard) -> None:
    board.post_note("100000", 'Folder created for <b>"ACME" & co</b>\n@everyone look')

    assert fake.notes == [
        (
            "100000",
            "Folder created for &lt;b&gt;&quot;ACME&quot; &amp; co&lt;/b&gt;<br>@everyone look",
        )
    ]
    assert fake.requests[0].headers["Idempotency-Key"]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_round_trips_through_read_and_write(
    fake: FakeMonday, board: MondayBoard, text: str
) -> None:
    fake.add_items(1)
    item = fake.items[0]
    item["name"] = text
    item["values"]["text_org"] = {"text": text}

    lead = board.read_items(None).items[0]
    assert lead.name == text
    assert lead.values["organization"] == text

    board.write_values(
        "100000",
        {
            "notes": TextValue(text),
            "organization": TextValue(text + "!"),
            "lead_folder": LinkValue("https://drive.test/f?q=\"'", text),
        },
    )
    sent = _sent_values(fake)
    assert sent["long_text_notes"] == {"text": text}
    assert sent["link_folder"] == {"url": "https://drive.test/f?q=\"'", "text": text}
    assert text not in fake.bodies[-1]["query"]

    lead = board.read_items(None).items[0]
    assert lead.values["notes"] == text
    assert lead.values["organization"] == text + "!"
    assert fake.item("100000")["values"]["link_folder"]["url_text"] == text


def test_value_of_the_wrong_type_is_refused_before_any_request(
    fake: FakeMonday, board: MondayBoard
) -> None:
    with pytest.raises(PermanentError) as caught:
        board.write_values("100000", {"triage_status": LinkValue("https://x", "x")})

    assert "triage_status" in caught.value.message
    assert fake.requests == []


def test_unknown_logical_column_is_refused(fake: FakeMonday, board: MondayBoard) -> None:
    with pytest.raises(PermanentError) as caught:
        board.write_values("100000", {"no_such": TextValue("x")})

    assert "no_such" in caught.value.message
    assert fake.requests == []


def test_refused_status_label_is_permanent(fake: FakeMonday, board: MondayBoard) -> None:
    from monday_fake import graphql_error

    fake.faults.append(graphql_error("ColumnValueException", "This status label doesn't exist"))

    with pytest.raises(PermanentError) as caught:
        board.write_values("100000", {"triage_status": StatusValue("Questionaire Sent")})

    assert "refused" in caught.value.message
    assert "label" in caught.value.fix
    assert len(fake.requests) == 1
