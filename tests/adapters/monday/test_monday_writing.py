"""Write-backs and notes: one aliased mutation for a batch, the right JSON per column type,
idempotency keys per attempt, a refused part failing alone, hostile text intact."""

from __future__ import annotations

import json

import httpx
import pytest
from graphql import parse
from monday_fake import BOARD_ID, FakeMonday, graphql_error, make_settings

from leadbridge.adapters.monday import MondayBoard
from leadbridge.adapters.monday.board import MUTATIONS_PER_REQUEST
from leadbridge.domain.errors import PermanentError, TransientError
from leadbridge.domain.model import ColumnValue, LinkValue, StatusValue, TextValue
from leadbridge.domain.ports import ColumnWrite, ItemNote

HOSTILE = [
    'She said "hi" \\o/ ‘quoted’',
    "back\\slash\\n not a newline, } { $var",
    "emoji 🚀👩🏽‍💻 and CJK 漢字",
    "line one\nline two\r\nline three",
    "x" * 10_000,
    '{"label": "Done"} ) { me { id } }',
]
FOLDER = {"lead_folder": LinkValue("https://drive.test/f", "Folder")}


def _write(item_id: str, values: dict[str, ColumnValue], attempt: str = "e#1@t") -> ColumnWrite:
    return ColumnWrite(item_id, values, attempt)


def _sent_values(fake: FakeMonday, alias: int = 0) -> dict[str, object]:
    body = fake.bodies[-1]
    assert body["operationName"] == "ChangeColumnValues"
    assert isinstance(body["variables"][f"v{alias}"], str)
    return json.loads(body["variables"][f"v{alias}"])


def test_one_call_with_the_json_shape_of_each_column_type(
    fake: FakeMonday, board: MondayBoard
) -> None:
    fake.add_items(1)

    failures = board.write_columns(
        [
            _write(
                "100000",
                {
                    "lead_folder": LinkValue("https://drive.test/folder", "Lead folder"),
                    "triage_status": StatusValue("Questionnaire Sent"),
                    "organization": TextValue("ACME"),
                    "notes": TextValue("multi\nline"),
                },
            )
        ]
    )

    assert failures == [None]
    assert len(fake.requests) == 1
    assert fake.bodies[0]["variables"]["board"] == BOARD_ID
    assert fake.bodies[0]["variables"]["i0"] == "100000"
    assert _sent_values(fake) == {
        "link_folder": {"url": "https://drive.test/folder", "text": "Lead folder"},
        "status_triage": {"label": "Questionnaire Sent"},
        "text_org": "ACME",
        "long_text_notes": {"text": "multi\nline"},
    }


def test_many_write_backs_are_one_request_of_aliases(fake: FakeMonday, board: MondayBoard) -> None:
    fake.add_items(5)
    writes = [
        _write(item["id"], {"organization": TextValue(f"Org {n}!")}, f"e#{n}")
        for n, item in enumerate(fake.items)
    ]

    assert board.write_columns(writes) == [None] * 5

    assert len(fake.requests) == 1 and board.usage().requests == 1
    [body] = fake.bodies
    [operation] = parse(body["query"]).definitions
    assert [f.alias.value for f in operation.selection_set.selections if f.alias] == [
        f"w{n}" for n in range(5)
    ]
    assert [body["variables"][f"i{n}"] for n in range(5)] == [i["id"] for i in fake.items]
    for n, item in enumerate(fake.items):
        assert item["values"]["text_org"] == {"text": f"Org {n}!"}
        assert item["id"] not in body["query"]


def test_more_write_backs_than_one_request_takes_go_in_several(
    fake: FakeMonday, board: MondayBoard
) -> None:
    fake.add_items(MUTATIONS_PER_REQUEST + 3)
    writes = [_write(item["id"], {"organization": TextValue("x")}) for item in fake.items]

    assert board.write_columns(writes) == [None] * len(writes)

    assert [len(b["variables"]) - 1 for b in fake.bodies] == [2 * MUTATIONS_PER_REQUEST, 2 * 3]


def test_a_refused_part_fails_alone_and_the_others_are_written(
    fake: FakeMonday, board: MondayBoard, sleeps: list[float]
) -> None:
    """monday answers HTTP 200 with ``data`` for the others and an error on the alias's path."""
    fake.add_items(3)
    fake.refusing["100001"] = ("ColumnValueException", "This status label doesn't exist")
    writes = [_write(item["id"], {"organization": TextValue("new")}) for item in fake.items]

    first, refused, third = board.write_columns(writes)

    assert first is None and third is None
    assert isinstance(refused, PermanentError) and "refused a column value" in refused.message
    assert [i["values"]["text_org"] for i in fake.items] == [
        {"text": "new"},
        {"text": "Org 100001"},
        {"text": "new"},
    ]
    assert len(fake.requests) == 1 and sleeps == []  # a refused part is not retried in the call
    assert board.usage().complexity > 0


def test_an_item_gone_from_the_board_fails_its_part_only(
    fake: FakeMonday, board: MondayBoard
) -> None:
    fake.add_items(1)

    ok, gone = board.write_columns([_write("100000", FOLDER), _write("999", FOLDER)])

    assert ok is None
    assert isinstance(gone, PermanentError) and "not found" in gone.message


def test_a_failed_request_fails_every_part_of_it(
    fake: FakeMonday, board: MondayBoard, sleeps: list[float]
) -> None:
    fake.add_items(2)
    fake.faults.extend([httpx.Response(503, text="unavailable")] * 3)

    failures = board.write_columns([_write(i["id"], FOLDER) for i in fake.items])

    assert len(failures) == 2 and all(isinstance(f, TransientError) for f in failures)
    assert len(fake.requests) == 3 and len(sleeps) == 2  # the in-call retries, then given up


def test_the_idempotency_key_is_the_same_for_a_resent_request_and_new_for_a_new_attempt(
    fake: FakeMonday, board: MondayBoard, sleeps: list[float]
) -> None:
    """A transport retry of the same attempt is replayed by monday; an operator's retry,
    a new attempt, is carried out even within monday's 30-minute replay window."""
    fake.add_items(2)
    fake.faults.append(httpx.Response(503, text="unavailable"))
    first = _write("100000", FOLDER, "lead_folder#1@2026-11-02T09:00:00+00:00")
    retried = _write("100000", FOLDER, "lead_folder#1@2026-11-02T09:30:00+00:00")
    again = _write("100000", FOLDER, "lead_folder#2@2026-11-02T09:31:00+00:00")

    board.write_columns([first])  # 503, then resent within the call
    MondayBoard.from_settings(make_settings(), sleep=sleeps.append).write_columns([first])
    board.write_columns([retried])
    board.write_columns([again])
    board.write_columns([_write("100000", {"notes": TextValue("n")}, first.attempt)])
    board.write_columns([first, _write("100001", FOLDER)])
    board.write_columns([first, _write("100001", FOLDER, "other#2")])
    board.read_items(None)

    keys = [r.headers.get("Idempotency-Key") for r in fake.requests]
    assert keys[0] and keys[0] == keys[1] == keys[2]  # resent, and another process: same key
    assert len(set(keys[:8])) == 6  # new attempts, other values, other batches: new keys
    assert keys[8] is None  # reads carry none


def test_notes_are_one_request_of_escaped_html_with_a_key_per_attempt(
    fake: FakeMonday, board: MondayBoard
) -> None:
    fake.add_items(2)
    notes = [
        ItemNote("100000", 'Folder created for <b>"ACME" & co</b>\n@everyone look', "a#1@t"),
        ItemNote("100001", "done", "b#1@t"),
    ]

    assert board.post_notes(notes) == [None, None]
    assert board.post_notes([ItemNote("100001", "done", "b#2@u")]) == [None]

    assert fake.notes == [
        (
            "100000",
            "Folder created for &lt;b&gt;&quot;ACME&quot; &amp; co&lt;/b&gt;<br>@everyone look",
        ),
        ("100001", "done"),
        ("100001", "done"),
    ]
    assert [b["operationName"] for b in fake.bodies] == ["CreateUpdates"] * 2
    keys = [r.headers["Idempotency-Key"] for r in fake.requests]
    assert all(keys) and keys[0] != keys[1]


def test_a_note_on_a_missing_item_fails_alone(fake: FakeMonday, board: MondayBoard) -> None:
    fake.add_items(1)

    ok, gone = board.post_notes([ItemNote("100000", "a", "x"), ItemNote("999", "b", "y")])

    assert ok is None and isinstance(gone, PermanentError)
    assert fake.notes == [("100000", "a")]


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

    board.write_columns(
        [
            _write(
                "100000",
                {
                    "notes": TextValue(text),
                    "organization": TextValue(text + "!"),
                    "lead_folder": LinkValue("https://drive.test/f?q=\"'", text),
                },
            )
        ]
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
    [failure] = board.write_columns(
        [_write("100000", {"triage_status": LinkValue("https://x", "x")})]
    )

    assert isinstance(failure, PermanentError) and "triage_status" in failure.message
    assert fake.requests == []


def test_a_bad_write_is_refused_alone_and_the_rest_of_the_batch_goes(
    fake: FakeMonday, board: MondayBoard
) -> None:
    fake.add_items(1)

    unknown, ok = board.write_columns(
        [_write("100000", {"no_such": TextValue("x")}), _write("100000", FOLDER)]
    )

    assert isinstance(unknown, PermanentError) and "no_such" in unknown.message
    assert ok is None
    assert len(fake.requests) == 1 and list(fake.bodies[0]["variables"]) == ["board", "i0", "v0"]


def test_refused_status_label_is_permanent(fake: FakeMonday, board: MondayBoard) -> None:
    fake.faults.append(graphql_error("ColumnValueException", "This status label doesn't exist"))

    [failure] = board.write_columns(
        [_write("100000", {"triage_status": StatusValue("Questionaire Sent")})]
    )

    assert isinstance(failure, PermanentError)
    assert "refused" in failure.message
    assert "label" in failure.fix
    assert len(fake.requests) == 1
