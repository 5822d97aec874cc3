"""Reading the board: full scans, cursor expiry, cheap incremental polls, label renames."""

from __future__ import annotations

from datetime import timedelta

from graphql import FieldNode, OperationDefinitionNode, parse
from monday_fake import T0, FakeMonday, iso

from leadbridge.adapters.monday import MondayBoard
from leadbridge.adapters.monday.board import CHANGES_FIRST_PAGE

#: When the tests' staff edit items, hours after the newest seeded item.
LATER = T0 + timedelta(hours=5)


def read_then_touch(fake: FakeMonday, board: MondayBoard, item_ids: list[str]) -> str | None:
    """A full read, then edits to ``item_ids`` a second apart from ``LATER`` on: the watermark
    the next incremental read starts from. Requests before the edits are forgotten."""
    watermark = board.read_items(None).watermark
    for n, item_id in enumerate(item_ids):
        fake.touch(item_id, LATER + timedelta(seconds=n))
    fake.requests.clear()
    fake.bodies.clear()
    return watermark


def test_full_scan_reads_1200_items_over_three_pages(fake: FakeMonday, board: MondayBoard) -> None:
    fake.add_items(1200)

    read = board.read_items(None)

    assert read.complete is True
    assert len(fake.requests) == 3
    assert [b["operationName"] for b in fake.bodies] == [
        "FirstItemsPage",
        "NextItemsPage",
        "NextItemsPage",
    ]
    assert all(b["variables"]["limit"] == 500 for b in fake.bodies)
    assert len({lead.item_id for lead in read.items}) == 1200
    assert read.watermark == iso(T0 + timedelta(seconds=1199))
    assert board.usage().requests == 3
    assert board.usage().complexity == 300


def test_a_scan_asks_for_its_cost_and_the_board_only(fake: FakeMonday, board: MondayBoard) -> None:
    """Nothing unused rides along on every poll (the token's user is asked by ``check``)."""
    fake.add_items(2)
    board.read_items(None)

    operation = parse(fake.bodies[0]["query"]).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    selections = operation.selection_set.selections
    fields = [selection.name.value for selection in selections if isinstance(selection, FieldNode)]
    assert fields == ["complexity", "boards"] and len(selections) == 2


def test_only_configured_columns_are_asked_for_and_mapped_to_logical_names(
    fake: FakeMonday, board: MondayBoard
) -> None:
    fake.add_items(1)
    fake.items[0]["values"]["link_folder"] = {"url": "https://drive.test/x", "url_text": "F"}

    lead = board.read_items(None).items[0]

    assert fake.bodies[0]["variables"]["columns"] == sorted(
        ["status_triage", "text_org", "long_text_notes", "email_contact", "link_folder"]
    )
    assert lead.item_id == "100000"
    assert lead.name == "Lead 100000"
    assert lead.url.endswith("/pulses/100000")
    assert lead.values == {
        "triage_status": "Send Questionnaire",
        "organization": "Org 100000",
        "notes": "",
        "contact_email": "c100000@example.org",
        "lead_folder": "https://drive.test/x",
    }


def test_expired_cursor_restarts_the_scan_without_duplicates(
    fake: FakeMonday, board: MondayBoard, sleeps: list[float]
) -> None:
    fake.add_items(1200)
    fake.expiring_cursors = 1

    read = board.read_items(None)

    ops = [b["operationName"] for b in fake.bodies]
    expired = ["FirstItemsPage", "NextItemsPage"]
    assert ops == [*expired, "FirstItemsPage", "NextItemsPage", "NextItemsPage"]
    assert len(read.items) == 1200
    assert len({lead.item_id for lead in read.items}) == 1200
    assert sleeps == []


def test_quiet_poll_of_10000_items_is_one_request_for_a_small_page(
    fake: FakeMonday, board: MondayBoard
) -> None:
    fake.add_items(10_000, step=timedelta(seconds=5))
    full = board.read_items(None)
    assert len(fake.requests) == 20
    fake.requests.clear()
    fake.bodies.clear()

    quiet = board.read_items(full.watermark)

    assert len(fake.requests) == 1
    assert quiet.complete is False
    assert quiet.watermark == full.watermark
    # Only the skew window is re-read: items updated in the last two minutes.
    assert 0 < len(quiet.items) <= 25
    # Not a full page of the newest 500: the page holds what the look-back reads again, and
    # room for new changes, so the poll's cost does not grow with the board.
    assert fake.bodies[0]["variables"]["limit"] == len(quiet.items) + CHANGES_FIRST_PAGE


def test_a_burst_inside_the_look_back_is_still_one_request(
    fake: FakeMonday, board: MondayBoard
) -> None:
    """300 items updated within a minute (an import, a first read's write-backs): the polls
    of the next two minutes read them again, on a first page sized for them."""
    fake.add_items(2000, step=timedelta(seconds=5))
    fake.add_items(300, start=T0 + timedelta(hours=3), step=timedelta(seconds=0.2))
    full = board.read_items(None)
    fake.bodies.clear()

    quiet = board.read_items(full.watermark)

    assert len(fake.bodies) == 1
    assert len(quiet.items) == 300
    assert fake.bodies[0]["variables"]["limit"] == 300 + CHANGES_FIRST_PAGE


def test_a_process_whose_first_read_is_incremental_asks_for_a_small_page(
    fake: FakeMonday, board: MondayBoard
) -> None:
    """``sync --once`` from cron: a new process, with the watermark from the state store."""
    fake.add_items(10_000, step=timedelta(seconds=60))

    board.read_items(iso(T0 + timedelta(seconds=60 * 9_999)))

    assert [b["variables"]["limit"] for b in fake.bodies] == [CHANGES_FIRST_PAGE]


def test_more_changes_than_the_first_page_holds_are_read_in_full_pages(
    fake: FakeMonday, board: MondayBoard
) -> None:
    fake.add_items(2000, step=timedelta(seconds=5))
    changed = [str(100_000 + n) for n in range(CHANGES_FIRST_PAGE + 30)]
    watermark = read_then_touch(fake, board, changed)

    read = board.read_items(watermark)

    [first, then] = [b["variables"]["limit"] for b in fake.bodies]
    assert first < len(changed) and then == 500
    assert set(changed) <= {lead.item_id for lead in read.items}


def test_incremental_read_returns_items_changed_after_the_watermark(
    fake: FakeMonday, board: MondayBoard
) -> None:
    fake.add_items(3000, step=timedelta(seconds=5))
    watermark = read_then_touch(fake, board, ["100005", "101000", "102999"])

    read = board.read_items(watermark)

    assert {"100005", "101000", "102999"} <= {lead.item_id for lead in read.items}
    assert len(fake.requests) == 1
    assert read.watermark == iso(LATER + timedelta(seconds=2))


def test_busy_incremental_read_pages_until_the_watermark(
    fake: FakeMonday, board: MondayBoard
) -> None:
    fake.add_items(2000)
    changed = [str(100_000 + n) for n in range(700)]
    watermark = read_then_touch(fake, board, changed)

    read = board.read_items(watermark)

    assert [b["variables"]["limit"] for b in fake.bodies][1:] == [500, 500]
    assert len(fake.requests) == 3
    assert set(changed) <= {lead.item_id for lead in read.items}


def test_unreadable_watermark_falls_back_to_reading_everything(
    fake: FakeMonday, board: MondayBoard
) -> None:
    fake.add_items(700)

    read = board.read_items("not-a-time")

    assert len(read.items) == 700
    assert read.complete is False


def test_renamed_status_label_is_returned_as_its_new_text(
    fake: FakeMonday, board: MondayBoard
) -> None:
    fake.add_items(1)
    fake.items[0]["values"]["status_triage"] = {"label": "Questionnaire sent ✉", "index": 1}

    lead = board.read_items(None).items[0]

    assert lead.values["triage_status"] == "Questionnaire sent ✉"


def test_each_read_logs_its_requests_and_complexity(fake: FakeMonday, board: MondayBoard) -> None:
    from structlog.testing import capture_logs

    fake.add_items(1200)
    with capture_logs() as logs:
        board.read_items(None)

    polls = [entry for entry in logs if entry["event"] == "monday_poll"]
    assert len(polls) == 1
    assert polls[0]["requests"] == 3
    assert polls[0]["complexity"] == 300
    assert polls[0]["calls_today"] == 3
    assert polls[0]["daily_call_limit"] == 1000
    assert polls[0]["kind"] == "full"
