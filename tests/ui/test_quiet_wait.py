"""The status page lists a completeness check as needing a person only once it is due."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.domain.ledger import QUIET, EffectState, LedgerEntry
from leadbridge.settings import Settings
from leadbridge.ui.app import UiApp
from tests.ui.support import BEARER, NOW, Board, Client, seed, ui_settings


@pytest.fixture
def settings(secrets_dir: Path) -> Settings:
    return ui_settings(secrets_dir)


def listed(html: str) -> list[str]:
    return re.findall(r'class="lead-name" href="/leads/([^"]+)"', html)


def test_a_quiet_wait_is_not_needs_a_person_until_it_is_due(
    settings: Settings, store: SqlStateStore
) -> None:
    board: Board = seed(store)
    operator = Client(UiApp(settings, lambda: store, now=lambda: NOW), BEARER)
    lead = board.plain[0]
    quiet = LedgerEntry(
        lead,
        "check_signed_contract",
        EffectState.WAITING,
        ref={QUIET: True, "due_since": NOW.isoformat()},
        last_error="leadbridge: not due before later.",
        updated_at=NOW,
    )
    assert store.save_entry(quiet, None)
    assert lead not in listed(operator.text("/leads?needs=1"))
    assert lead not in listed(operator.text("/leads?needs=1&sort=problems"))

    due = LedgerEntry(
        lead,
        "check_signed_contract",
        EffectState.WAITING,
        ref={QUIET: False, "due_since": NOW.isoformat()},
        last_error="leadbridge: no file with 'contract' in its name is in the lead folder.",
        updated_at=NOW,
    )
    assert store.save_entry(due, quiet)
    assert lead in listed(operator.text("/leads?needs=1"))
