"""The account's daily call budget from ``platform_api``, and the daily limit when it is used up.

Answers in monday's shapes (respx): ``daily_limit { base total }``, ``daily_analytics { by_day
{ day usage } }`` per UTC day, and ``DAILY_LIMIT_EXCEEDED`` as HTTP 200 or 429 with
``errors[].extensions.code``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from monday_fake import FakeMonday, graphql_error, make_settings

from leadbridge.adapters.monday import MondayBoard
from leadbridge.domain.errors import DailyLimitReached, PermanentError
from leadbridge.domain.ports import AccountBudget, CallBudget

NOW = datetime(2026, 7, 14, 15, 30, tzinfo=UTC)


@pytest.fixture
def dated(fake: FakeMonday, sleeps: list[float]) -> Iterator[MondayBoard]:
    """A board whose clock says 2026-07-14 15:30 UTC."""
    adapter = MondayBoard.from_settings(make_settings(), sleep=sleeps.append, now=lambda: NOW)
    yield adapter
    adapter.close()


def test_the_budget_is_todays_usage_of_the_whole_account(
    fake: FakeMonday, dated: MondayBoard
) -> None:
    fake.daily_limit = 1000
    fake.usage_by_day = {"2026-07-12": 990, "2026-07-13": 1000, "2026-07-14": 412}

    budget = dated.account_budget()

    assert isinstance(dated, CallBudget)
    assert budget == AccountBudget(limit=1000, used_today=412, read_at=NOW)
    assert budget.left == 588
    assert [b["operationName"] for b in fake.bodies] == ["AccountBudget"]
    assert dated.usage().requests == 1


def test_a_day_without_calls_yet_has_used_nothing(fake: FakeMonday, dated: MondayBoard) -> None:
    fake.usage_by_day = {"2026-07-13": 870}
    assert dated.account_budget().used_today == 0


def test_an_add_on_counts_in_the_limit(fake: FakeMonday, dated: MondayBoard) -> None:
    fake.faults.append(
        httpx.Response(
            200,
            json={
                "data": {
                    "complexity": {"query": 10},
                    "platform_api": {
                        "daily_limit": {"base": 10000, "total": 15000},
                        "daily_analytics": {
                            "last_updated": "2026-07-14T15:29:00Z",
                            "by_day": [{"day": "2026-07-14", "usage": 3000}],
                        },
                    },
                }
            },
        )
    )
    assert dated.account_budget() == AccountBudget(15000, 3000, NOW)


def test_a_limit_monday_does_not_report_is_a_permanent_error_naming_the_fallback(
    fake: FakeMonday, dated: MondayBoard
) -> None:
    fake.daily_limit = None

    with pytest.raises(PermanentError) as caught:
        dated.account_budget()

    assert "daily call limit" in caught.value.message
    assert "monday.daily_call_limit" in caught.value.fix


@pytest.mark.parametrize("status", [200, 429])
def test_daily_limit_exceeded_is_never_retried_and_is_counted(
    fake: FakeMonday, dated: MondayBoard, sleeps: list[float], status: int
) -> None:
    fake.add_items(2)
    fake.faults.append(
        graphql_error(
            "DAILY_LIMIT_EXCEEDED", "Daily limit exceeded", status=status, status_code=status
        )
    )

    with pytest.raises(DailyLimitReached) as caught:
        dated.read_items(None)

    error = caught.value
    assert error.retry_after is not None and 0 < error.retry_after <= 86_400
    assert "00:00 UTC" in error.message
    assert sleeps == []
    assert len(fake.requests) == 1
    assert dated.usage().daily_limit_refusals == 1
    # The next call is the caller's decision; when it comes, it is answered normally.
    assert len(dated.read_items(None).items) == 2
    assert dated.usage().daily_limit_refusals == 1


def test_the_budget_read_itself_refused_for_the_daily_limit(
    fake: FakeMonday, dated: MondayBoard, sleeps: list[float]
) -> None:
    fake.faults.append(graphql_error("DAILY_LIMIT_EXCEEDED", "Daily limit exceeded", status=429))

    with pytest.raises(DailyLimitReached):
        dated.account_budget()

    assert sleeps == [] and len(fake.requests) == 1
    assert dated.usage().daily_limit_refusals == 1
