"""The durable history behind the lead timelines: migration 4, the store, the cycle's hooks."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import inspect

from leadbridge.adapters.store import schema
from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.bootstrap import build_sync_service
from leadbridge.domain.ledger import EffectState
from leadbridge.domain.timeline import EffectAttempt, StatusChange
from leadbridge.sandbox import Sandbox, SeedLead, seed_board, set_values, write_sandbox_config
from leadbridge.settings import load_settings
from leadbridge.ui.app import UiApp
from leadbridge.ui.server import HistoryPruner
from tests.ui.support import NOW, ui_settings

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_migration_4_adds_the_history_tables(store: SqlStateStore) -> None:
    assert (4, "history: status changes and effect attempts, for the status page") in [
        (number, description) for number, description, _ in schema.MIGRATIONS
    ]
    assert schema.MIGRATIONS[-1][0] >= 4
    with store.engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    assert {"status_changes", "effect_attempts"} <= tables


def test_history_round_trips_newest_first_and_is_pruned(store: SqlStateStore) -> None:
    store.record_status_change("7", "triage_status", "", "In Scope", T0)
    store.record_status_change(
        "7", "negotiation_status", "Quote Sent", "Contract Signed", T0 + timedelta(days=1)
    )
    store.record_status_change("8", "triage_status", "", "Send Questionnaire", T0)
    attempt = EffectAttempt(
        "7",
        "hub_issue",
        2,
        T0,
        T0 + timedelta(seconds=3),
        "failed",
        "GitHub answered 502",
        "open the hub issue",
    )
    store.record_attempt(attempt)
    assert store.status_changes("7") == [
        StatusChange(
            "7", "negotiation_status", "Quote Sent", "Contract Signed", T0 + timedelta(days=1)
        ),
        StatusChange("7", "triage_status", "", "In Scope", T0),
    ]
    assert store.attempts("7") == [attempt]
    assert store.attempts("8") == []
    signed = store.first_reached("negotiation_status", ["Contract Signed"])
    assert signed == {"7": T0 + timedelta(days=1)}
    assert store.prune_history(T0 + timedelta(hours=1)) == 3
    assert [c.new for c in store.status_changes("7")] == ["Contract Signed"]
    assert store.attempts("7") == [] and store.status_changes("8") == []


def test_a_cycle_records_what_it_saw_and_did_and_a_dry_run_records_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    contact = {"organization": "LDEO", "contact_name": "Miguel", "contact_email": "m@ldeo.example"}
    (item,) = seed_board(sandbox.state, None, [SeedLead("Earth Data Lab", contact)])
    written = write_sandbox_config(
        sandbox, tmp_path, state_url=f"sqlite:///{tmp_path / 'state.db'}"
    )
    settings = load_settings(written.path, secrets_dir=written.secrets_dir)
    service = build_sync_service(settings)
    store = service.store
    assert service.run_cycle().read_ok  # the first meeting: nothing is seen changing
    assert store.status_changes(item) == [] and store.attempts(item) == []

    column = settings.columns["triage_status"].id
    set_values(sandbox.state, item, {column: "Questionnaire Received"})
    service.preview()
    assert store.status_changes(item) == [] and store.attempts(item) == []

    service.run_cycle()
    (change,) = store.status_changes(item)
    assert (change.column, change.old, change.new) == (
        "triage_status",
        "",
        "Questionnaire Received",
    )
    (folder,) = store.attempts(item)
    assert (folder.effect, folder.attempt, folder.outcome, folder.error) == (
        "lead_folder",
        1,
        "done",
        "",
    )
    assert folder.started_at <= folder.finished_at and "folder" in folder.summary

    sandbox.faults.add("drive", "files.copy", "status", status=404, probability=1.0)
    set_values(sandbox.state, item, {settings.columns["negotiation_status"].id: "Create Quote"})
    service.run_cycle()
    parked = store.attempts(item)[0]
    assert (parked.effect, parked.outcome) == ("quote_copies", "parked")
    assert "missing, or not shared" in parked.error
    assert {e.effect: e.state for e in store.ledger(item)}["quote_copies"] is EffectState.PARKED


def test_history_older_than_ui_history_days_is_pruned_by_the_page(
    secrets_dir: Path, store: SqlStateStore
) -> None:
    settings = ui_settings(secrets_dir, history_days=30)
    store.record_status_change("1", "triage_status", "", "In Scope", NOW - timedelta(days=31))
    store.record_status_change("1", "triage_status", "In Scope", "Lost", NOW - timedelta(days=29))
    app = UiApp(settings, lambda: store, now=lambda: NOW)
    rounds: list[int] = []
    pruner = HistoryPruner(lambda: rounds.append(app.prune()) or 0, every=0.01).start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while len(rounds) < 2 and datetime.now(UTC) < deadline:
            time.sleep(0.01)
    finally:
        pruner.stop()
    assert rounds[:2] == [1, 0]
    assert [c.new for c in store.status_changes("1")] == ["Lost"]
