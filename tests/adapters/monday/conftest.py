from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx
from monday_fake import API_URL, FakeMonday, make_settings

from leadbridge.adapters.monday import MondayBoard


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
