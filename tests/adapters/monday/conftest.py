from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx
from monday_fake import API_URL, BOARD_ID, FakeMonday

from leadbridge.adapters.monday import MondayBoard
from leadbridge.settings import ColumnSettings, Settings

TOKEN = "tok-SECRET-0123456789"

COLUMNS = {
    "triage_status": ColumnSettings(
        id="status_triage",
        type="status",
        labels=("Send Questionnaire", "Questionnaire Sent", "In Scope"),
    ),
    "organization": ColumnSettings(id="text_org", type="text"),
    "notes": ColumnSettings(id="long_text_notes", type="long_text"),
    "contact_email": ColumnSettings(id="email_contact", type="email"),
    "lead_folder": ColumnSettings(id="link_folder", type="link"),
}


def make_settings(**monday: object) -> Settings:
    return Settings(
        monday={"token": TOKEN, "board_id": BOARD_ID, "api_url": API_URL, **monday},
        columns=COLUMNS,
    )


@pytest.fixture
def fake() -> Iterator[FakeMonday]:
    server = FakeMonday()
    with respx.mock(assert_all_called=False) as router:
        router.post(API_URL).mock(side_effect=server.handle)
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def board(fake: FakeMonday, sleeps: list[float]) -> Iterator[MondayBoard]:
    adapter = MondayBoard.from_settings(make_settings(), sleep=sleeps.append)
    yield adapter
    adapter.close()
