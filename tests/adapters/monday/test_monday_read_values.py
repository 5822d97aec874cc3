"""``read_columns``: items' columns read fresh, as the very text ``read_items`` shows.

The core writes a column back only when its fresh value still equals what the poll saw or
what it is about to write, so the two reads must render every column type the same way. The
items of one cycle's write-backs are read in one request (per 100, the most ``items(ids:)``
answers).
"""

from __future__ import annotations

import httpx
import pytest
from graphql import parse
from monday_fake import COLUMNS, FakeMonday, graphql_error

from leadbridge.adapters.monday import MondayBoard
from leadbridge.domain.errors import PermanentError, TransientError
from leadbridge.domain.model import LinkValue, StatusValue, TextValue, rendered
from leadbridge.domain.ports import ColumnWrite

ALL = list(COLUMNS)


def _filled_and_empty(fake: FakeMonday) -> tuple[str, str]:
    """Item 100000 with every column type set, item 100001 with nothing set at all."""
    fake.add_items(2)
    filled, empty = fake.items
    filled["values"] |= {
        "status_triage": {"label": "Questionnaire Sent", "index": 1},
        "link_folder": {"url": "https://drive.test/folder", "url_text": "Lead folder"},
        "long_text_notes": {"text": "two\nlines"},
    }
    empty["values"] = {}
    return filled["id"], empty["id"]


def test_every_column_reads_as_the_poll_shows_it(fake: FakeMonday, board: MondayBoard) -> None:
    filled, empty = _filled_and_empty(fake)
    polled = {lead.item_id: lead for lead in board.read_items(None).items}

    now = board.read_columns({filled: ALL, empty: ALL})
    now_filled, now_empty = now[filled], now[empty]

    assert now_filled == {
        "triage_status": "Questionnaire Sent",  # the label, not the index
        "organization": "Org 100000",
        "notes": "two\nlines",
        "contact_email": "c100000@example.org",
        "lead_folder": "https://drive.test/folder",  # the URL, not "url - text"
    }
    assert now_empty == dict.fromkeys(ALL, "")
    for item_id, now in ((filled, now_filled), (empty, now_empty)):
        assert now == {name: polled[item_id].value(name) for name in ALL}


def test_what_was_written_reads_back_as_its_rendered_text(
    fake: FakeMonday, board: MondayBoard
) -> None:
    """The other half of the condition: after our own write, the column shows ``rendered``."""
    fake.add_items(1)
    writes = {
        "triage_status": StatusValue("In Scope"),
        "lead_folder": LinkValue("https://drive.test/f", "Lead folder"),
        "organization": TextValue("ACME"),
        "contact_email": TextValue("new@example.org"),
        "notes": TextValue("n"),
    }
    board.write_columns([ColumnWrite("100000", writes, "e#1")])

    assert board.read_columns({"100000": list(writes)}) == {
        "100000": {name: rendered(value) for name, value in writes.items()}
    }


def test_only_the_asked_columns_of_those_items_are_requested_in_one_call(
    fake: FakeMonday, board: MondayBoard
) -> None:
    fake.add_items(3)

    now = board.read_columns(
        {"100001": ["triage_status", "lead_folder"], "100002": ["triage_status"]}
    )

    assert now == {
        "100001": {"triage_status": "Send Questionnaire", "lead_folder": ""},
        "100002": {"triage_status": "Send Questionnaire"},
    }
    assert len(fake.requests) == 1
    assert board.usage().requests == 1
    assert board.usage().complexity == 100
    [body] = fake.bodies
    assert body["operationName"] == "ItemsValues"
    assert body["variables"] == {
        "items": ["100001", "100002"],
        "limit": 2,
        "columns": ["link_folder", "status_triage"],
    }
    assert "100001" not in body["query"] and "status_triage" not in body["query"]
    assert parse(body["query"]) is not None


def test_more_items_than_one_request_answers_are_read_100_at_a_time(
    fake: FakeMonday, board: MondayBoard
) -> None:
    fake.add_items(230)

    now = board.read_columns({item["id"]: ["organization"] for item in fake.items})

    assert [len(b["variables"]["items"]) for b in fake.bodies] == [100, 100, 30]
    assert [b["variables"]["limit"] for b in fake.bodies] == [100, 100, 30]
    assert now == {item["id"]: {"organization": f"Org {item['id']}"} for item in fake.items}


def test_no_columns_asks_nothing(fake: FakeMonday, board: MondayBoard) -> None:
    assert board.read_columns({"100000": []}) == {"100000": {}}
    assert board.read_columns({}) == {}
    assert fake.requests == []


def test_an_item_monday_does_not_know_is_a_permanent_error_in_words(
    fake: FakeMonday, board: MondayBoard
) -> None:
    fake.add_items(1)

    now = board.read_columns({"999": ["triage_status"], "100000": ["triage_status"]})

    gone = now["999"]
    assert isinstance(gone, PermanentError)
    assert "item 999 is no longer on monday" in gone.message
    assert "restore" in gone.fix
    assert now["100000"] == {"triage_status": "Send Questionnaire"}
    assert len(fake.requests) == 1


@pytest.mark.parametrize("state", ["deleted", "archived"])
def test_a_deleted_or_archived_item_is_a_permanent_error_in_words(
    fake: FakeMonday, board: MondayBoard, state: str
) -> None:
    """``items(ids:)`` still answers for such items; their ``state`` gives them away."""
    fake.add_items(1)
    fake.items[0]["state"] = state

    gone = board.read_columns({"100000": ["triage_status"]})["100000"]

    assert isinstance(gone, PermanentError)
    assert f"item 100000 is {state} on monday" in gone.message
    assert "restore" in gone.fix


def test_an_unknown_logical_column_is_refused_before_any_request(
    fake: FakeMonday, board: MondayBoard
) -> None:
    unknown = board.read_columns({"100000": ["no_such"]})["100000"]

    assert isinstance(unknown, PermanentError) and "no_such" in unknown.message
    assert fake.requests == []


def test_blips_are_retried_and_refusals_translated_like_every_other_call(
    fake: FakeMonday, board: MondayBoard, sleeps: list[float]
) -> None:
    fake.add_items(1)
    fake.faults.append(httpx.Response(503, text="unavailable"))

    asked = {"100000": ["triage_status"]}
    assert board.read_columns(asked) == {"100000": {"triage_status": "Send Questionnaire"}}
    assert len(fake.requests) == 2 and len(sleeps) == 1
    assert "Idempotency-Key" not in fake.requests[-1].headers

    fake.faults.append(graphql_error("UserUnauthorizedException", "no", status_code=403))
    refused = board.read_columns(asked)["100000"]
    assert isinstance(refused, PermanentError) and "not allowed" in refused.message

    fake.faults.extend([httpx.Response(503, text="unavailable")] * 3)
    assert isinstance(board.read_columns(asked)["100000"], TransientError)
