"""``read_values``: one item's columns read fresh, as the very text ``read_items`` shows.

The core writes a column back only when its fresh value still equals what the poll saw or
what it is about to write, so the two reads must render every column type the same way.
"""

from __future__ import annotations

import httpx
import pytest
from graphql import parse
from monday_fake import COLUMNS, FakeMonday, graphql_error

from leadbridge.adapters.monday import MondayBoard
from leadbridge.domain.errors import PermanentError
from leadbridge.domain.model import LinkValue, StatusValue, TextValue, rendered

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

    now_filled = board.read_values(filled, ALL)
    now_empty = board.read_values(empty, ALL)

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
    board.write_values("100000", writes)

    assert board.read_values("100000", list(writes)) == {
        name: rendered(value) for name, value in writes.items()
    }


def test_only_the_asked_columns_of_that_item_are_requested_in_one_call(
    fake: FakeMonday, board: MondayBoard
) -> None:
    fake.add_items(3)

    now = board.read_values("100001", ["triage_status", "lead_folder"])

    assert now == {"triage_status": "Send Questionnaire", "lead_folder": ""}
    assert len(fake.requests) == 1
    assert board.usage().requests == 1
    assert board.usage().complexity == 100
    [body] = fake.bodies
    assert body["operationName"] == "ItemValues"
    assert body["variables"] == {"item": "100001", "columns": ["link_folder", "status_triage"]}
    assert "100001" not in body["query"] and "status_triage" not in body["query"]
    assert parse(body["query"]) is not None


def test_no_columns_asks_nothing(fake: FakeMonday, board: MondayBoard) -> None:
    assert board.read_values("100000", []) == {}
    assert fake.requests == []


def test_an_item_monday_does_not_know_is_a_permanent_error_in_words(
    fake: FakeMonday, board: MondayBoard
) -> None:
    fake.add_items(1)

    with pytest.raises(PermanentError) as caught:
        board.read_values("999", ["triage_status"])

    assert "item 999 is no longer on monday" in caught.value.message
    assert "restore" in caught.value.fix
    assert len(fake.requests) == 1


@pytest.mark.parametrize("state", ["deleted", "archived"])
def test_a_deleted_or_archived_item_is_a_permanent_error_in_words(
    fake: FakeMonday, board: MondayBoard, state: str
) -> None:
    """``items(ids:)`` still answers for such items; their ``state`` gives them away."""
    fake.add_items(1)
    fake.items[0]["state"] = state

    with pytest.raises(PermanentError) as caught:
        board.read_values("100000", ["triage_status"])

    assert f"item 100000 is {state} on monday" in caught.value.message
    assert "restore" in caught.value.fix


def test_an_unknown_logical_column_is_refused_before_any_request(
    fake: FakeMonday, board: MondayBoard
) -> None:
    with pytest.raises(PermanentError) as caught:
        board.read_values("100000", ["no_such"])

    assert "no_such" in caught.value.message
    assert fake.requests == []


def test_blips_are_retried_and_refusals_translated_like_every_other_call(
    fake: FakeMonday, board: MondayBoard, sleeps: list[float]
) -> None:
    fake.add_items(1)
    fake.faults.append(httpx.Response(503, text="unavailable"))

    assert board.read_values("100000", ["triage_status"]) == {"triage_status": "Send Questionnaire"}
    assert len(fake.requests) == 2 and len(sleeps) == 1
    assert "Idempotency-Key" not in fake.requests[-1].headers

    fake.faults.append(graphql_error("UserUnauthorizedException", "no", status_code=403))
    with pytest.raises(PermanentError) as caught:
        board.read_values("100000", ["triage_status"])
    assert "not allowed" in caught.value.message
