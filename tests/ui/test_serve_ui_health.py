"""The overview's health card in ``serve-ui``, which does not poll: a run is stale after three
gaps of the pace ``run`` keeps at that hour (business hours are faster), stretched by the call
governor, and not stale at all while the governor holds polls for the daily budget."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.service.status import PACE_FACT
from leadbridge.settings import Settings
from leadbridge.ui.app import UiApp
from tests.ui.support import BEARER, NOW, Client, ui_settings

#: NOW is a Monday at 12:00 UTC: business hours, a poll every 120 s (example configuration).
EVENING = NOW.replace(hour=17, minute=40)


@pytest.fixture
def settings(secrets_dir: Path) -> Settings:
    return ui_settings(secrets_dir)


def _card(settings: Settings, store: SqlStateStore, now: datetime) -> tuple[str, str]:
    """The health card's status and reason, as the overview shows them at ``now``."""
    html = Client(UiApp(settings, lambda: store, now=lambda: now), BEARER).text("/")
    card = html.split('<p class="big">', 1)[1]
    status = card.split("</p>", 1)[0]
    reason = re.search(r'<p class="error">(.*?)</p>', card.split("</div>", 1)[0])
    return status, reason.group(1) if reason else ""


def _last_poll(store: SqlStateStore, finished: datetime) -> None:
    run = store.start_run(finished - timedelta(seconds=1))
    store.finish_run(run, finished, "ok", {})


def _pace(store: SqlStateStore, now: datetime, **decision: object) -> None:
    store.save_fact(
        PACE_FACT,
        {"day": now.date().isoformat(), "reason": "the governor's words", "daily_limit": 1000}
        | decision,
    )


def test_in_business_hours_three_missed_polls_are_stale(
    settings: Settings, store: SqlStateStore
) -> None:
    _last_poll(store, NOW - timedelta(minutes=5))
    assert _card(settings, store, NOW) == ("ok", "")
    # 7 minutes is three and a half business-hours polls: the night's 1800 s would hide it.
    assert _card(settings, store, NOW + timedelta(minutes=2)) == (
        "stale",
        "no successful poll for 7 min",
    )


def test_the_first_slow_poll_of_the_evening_is_not_stale(
    settings: Settings, store: SqlStateStore
) -> None:
    _last_poll(store, NOW.replace(hour=16, minute=59))
    assert _card(settings, store, EVENING)[0] == "ok"
    assert _card(settings, store, NOW.replace(hour=18, minute=30))[0] == "stale"


def test_a_pace_the_governor_stretched_is_not_stale(
    settings: Settings, store: SqlStateStore
) -> None:
    _last_poll(store, NOW - timedelta(minutes=20))
    assert _card(settings, store, NOW)[0] == "stale"
    _pace(store, NOW, state="slowed", interval_seconds=900)
    assert _card(settings, store, NOW)[0] == "ok"


def test_polls_held_for_the_daily_budget_are_paused_not_stale(
    settings: Settings, store: SqlStateStore
) -> None:
    _last_poll(store, NOW - timedelta(hours=3))
    midnight = (NOW + timedelta(days=1)).replace(hour=0)
    _pace(
        store,
        NOW,
        state="limit_reached",
        interval_seconds=43200,
        resumes_at=midnight.isoformat(),
    )
    assert _card(settings, store, NOW) == (
        "paused",
        "the governor&#39;s words",
    )
