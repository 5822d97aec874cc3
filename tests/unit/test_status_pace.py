"""``leadbridge status`` shows how ``run`` paces its polls within the daily call budget, from
the state database alone, and only what was decided today (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.domain.ports import AccountBudget
from leadbridge.runtime.governor import CallGovernor
from leadbridge.runtime.pacing import PollPacing
from leadbridge.service.status import PACE_FACT, build_status, render_status
from leadbridge.settings import Settings

NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


def _slowed_fact(settings: Settings) -> dict[str, object]:
    governor = CallGovernor.from_settings(settings, PollPacing.from_settings(settings.service), NOW)
    verdict = governor.budget_read(AccountBudget(10_000, 9_500, NOW), 40, NOW)
    return verdict.to_document()


def test_todays_decision_is_shown_with_the_accounts_limit(
    example_settings: Settings, store: SqlStateStore
) -> None:
    store.start_run(NOW - timedelta(minutes=2))
    store.save_fact(PACE_FACT, _slowed_fact(example_settings))

    status = build_status(example_settings, store, NOW)

    assert status["call_pace"]["state"] == "slowed"
    assert status["monday_daily_call_limit"] == 10_000
    shown = render_status(status, state_url="sqlite:///state.db")
    assert "leadbridge, whose share is 3300 of the account's 10000" in shown
    assert "Poll pace: SLOWED on purpose (every " in shown
    assert "the account has used 9500 of its 10000 daily calls" in shown


def test_yesterdays_decision_is_not_todays(
    example_settings: Settings, store: SqlStateStore
) -> None:
    store.start_run(NOW - timedelta(minutes=2))
    store.save_fact(PACE_FACT, _slowed_fact(example_settings))

    status = build_status(example_settings, store, NOW + timedelta(days=1))

    assert status["call_pace"] is None
    assert status["monday_daily_call_limit"] == example_settings.monday.daily_call_limit
    assert "Poll pace" not in render_status(status, state_url="sqlite:///state.db")
