"""``leadbridge status``: filters (one item, the leads needing a person, a stage), effects in
pipeline order with ISO times, exit status 1 when something needs a person, and no token
needed: it reads the state database alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.cli import main
from leadbridge.domain.ledger import EffectState, LedgerEntry
from leadbridge.domain.model import Lead
from leadbridge.domain.ports import BoardState
from leadbridge.service.guard import HELD
from leadbridge.service.status import StatusFilter, build_status, render_status
from leadbridge.settings import Settings
from tests.conftest import EXAMPLE_CONFIG

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
T = NOW - timedelta(hours=1)
TOKENS = ("LEADBRIDGE_MONDAY__TOKEN", "LEADBRIDGE_GITHUB__TOKEN", "LEADBRIDGE_UI__TOKEN")


def fill(store: SqlStateStore) -> None:
    """Four leads: 101 has a parked effect (and one waiting for it), 103 one backing off,
    102 and 104 are fine. Entries are stored out of pipeline order."""
    store.save_snapshots(
        [
            Lead("101", "Alpha", {"triage_status": "In Scope", "negotiation_status": "Quote Sent"}),
            Lead("102", "Beta", {"triage_status": "Questionnaire Received"}),
            Lead("103", "Gamma", {"triage_status": "In Scope"}),
            Lead(
                "104",
                "Delta",
                {"triage_status": "Questionnaire Received", "negotiation_status": "Create Quote"},
            ),
        ],
        complete=True,
    )
    store.save_board_state(BoardState("1234567890", NOW - timedelta(days=3), "5", NOW))
    done = EffectState.DONE
    entries = [
        LedgerEntry(
            "101",
            "quote_copies",
            EffectState.PARKED,
            attempts=1,
            last_error="drive: template not shared with sa@x",
            updated_at=T,
        ),
        LedgerEntry("101", "check_maniac_t", done, attempts=1, updated_at=T - timedelta(minutes=5)),
        LedgerEntry(
            "101",
            "lead_folder",
            done,
            attempts=1,
            ref={"url": "https://drive.test/f1"},
            updated_at=T - timedelta(minutes=10),
        ),
        LedgerEntry("102", "lead_folder", done, attempts=1, updated_at=T),
        LedgerEntry(
            "103",
            "lead_folder",
            EffectState.FAILED,
            attempts=2,
            next_attempt_at=NOW + timedelta(minutes=5),
            last_error="drive: 503",
            updated_at=T,
        ),
        LedgerEntry("103", "check_maniac_t", EffectState.ADOPTED, updated_at=T),
        LedgerEntry("104", "lead_folder", done, attempts=1, updated_at=T),
        LedgerEntry("104", "quote_copies", done, attempts=1, updated_at=T),
    ]
    for entry in entries:
        assert store.save_entry(entry, None)
    run = store.start_run(NOW - timedelta(minutes=3))
    store.finish_run(run, NOW - timedelta(minutes=2), "ok", {"done": 2, "parked": 1})


@pytest.fixture
def filled(tmp_path: Path) -> Iterator[SqlStateStore]:
    opened = SqlStateStore.open(f"sqlite:///{tmp_path / 'state.db'}", "1234567890")
    fill(opened)
    yield opened
    opened.close()


def shown(status: dict) -> list[str]:
    return [lead["item_id"] for lead in status["leads"]]


def test_effects_in_pipeline_order_with_iso_times(
    example_settings: Settings, filled: SqlStateStore
) -> None:
    status = build_status(example_settings, filled, NOW)

    assert shown(status) == ["101", "102", "103", "104"]
    alpha = status["leads"][0]
    assert [e["effect"] for e in alpha["effects"]] == [
        "lead_folder",
        "check_maniac_t",
        "quote_copies",
    ]
    assert alpha["waiting"] == [
        {"effect": "notify_icsi_quote_sent", "waiting_for": ["quote_copies"]}
    ]
    assert status["needs_person"] is True and alpha["needs_person"] is True

    text = render_status(status, state_url="sqlite:///state.db")
    lines = text.splitlines()
    folder = next(i for i, line in enumerate(lines) if "lead_folder: done" in line)
    maniac = next(i for i, line in enumerate(lines) if "check_maniac_t: done" in line)
    parked = next(i for i, line in enumerate(lines) if "quote_copies: parked" in line)
    waiting = next(i for i, line in enumerate(lines) if "notify_icsi_quote_sent: waits" in line)
    assert folder < maniac < parked < waiting
    assert "lead_folder: done 2026-03-02T10:50:00Z https://drive.test/f1" in text
    assert "quote_copies: parked 2026-03-02T11:00:00Z after 1 attempt(s)" in text
    assert "next try 2026-03-02T12:05:00Z: drive: 503" in text
    assert "Last run: 2026-03-02T11:57:00Z, ok" in text
    assert "leadbridge retry 101 quote_copies" in text


def test_problems_lists_parked_failed_and_waiting_leads_only(
    example_settings: Settings, filled: SqlStateStore
) -> None:
    status = build_status(example_settings, filled, NOW, StatusFilter(problems=True))
    assert shown(status) == ["101", "103"]
    # Only the parked effect needs a person; a backing-off one retries by itself.
    assert [lead["needs_person"] for lead in status["leads"]] == [True, False]
    text = render_status(status, state_url="x")
    assert "Showing 2 lead(s): needing a person" in text
    assert "Beta" not in text and "Delta" not in text


def test_item_filter_and_exit_status_follow_what_is_shown(
    example_settings: Settings, filled: SqlStateStore
) -> None:
    fine = build_status(example_settings, filled, NOW, StatusFilter(item="102"))
    assert shown(fine) == ["102"] and fine["needs_person"] is False
    assert fine["totals"]["parked"] == 1  # the board's totals are never filtered
    parked = build_status(example_settings, filled, NOW, StatusFilter(item="101"))
    assert parked["needs_person"] is True
    assert build_status(example_settings, filled, NOW, StatusFilter(item="999"))["leads"] == []


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        (("negotiation_status", "Quote Sent"), ["101"]),
        ((None, "Questionnaire Received"), ["102", "104"]),
        (("negotiation_status", ""), ["102", "103"]),
        ((None, "Lost"), []),
    ],
)
def test_stage_filter(
    example_settings: Settings,
    filled: SqlStateStore,
    stage: tuple[str | None, str],
    expected: list[str],
) -> None:
    status = build_status(example_settings, filled, NOW, StatusFilter(stage=stage))
    assert shown(status) == expected


def test_a_held_mass_action_needs_a_person(
    example_settings: Settings, filled: SqlStateStore
) -> None:
    hold = {"count": 25, "limit": 20, "since": NOW.isoformat(), "items": ["102"]}
    filled.save_fact(HELD, {"email": hold})
    status = build_status(example_settings, filled, NOW, StatusFilter(item="102"))
    assert status["needs_person"] is True
    assert status["leads"][0]["held"] == ["email"]
    problems = build_status(example_settings, filled, NOW, StatusFilter(problems=True))
    assert shown(problems) == ["101", "102", "103"]
    assert "HELD: its new email effect(s)" in render_status(status, state_url="x")


# ---------------------------------------------------------------- the command


def config_without_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch | None) -> Path:
    """The example configuration on the test's database, with no token anywhere."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["state"]["url"] = f"sqlite:///{tmp_path / 'state.db'}"
    path = tmp_path / "leadbridge.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    empty = tmp_path / "no-secrets"
    empty.mkdir(exist_ok=True)
    if monkeypatch is not None:
        monkeypatch.setenv("LEADBRIDGE_SECRETS_DIR", str(empty))
        for name in TOKENS:
            monkeypatch.delenv(name, raising=False)
    return path


def test_status_needs_no_token_and_exits_by_what_needs_a_person(
    tmp_path: Path, filled: SqlStateStore, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    config = config_without_secrets(tmp_path, monkeypatch)

    assert main(["--config", str(config), "status", "--item", "102"]) == 0
    out = capsys.readouterr().out
    assert "Beta (item 102)" in out and "Alpha" not in out

    assert main(["--config", str(config), "status"]) == 1
    assert "quote_copies: parked" in capsys.readouterr().out

    # Other commands still require the tokens they use.
    assert main(["--config", str(config), "check", "--offline"]) == 2
    assert "monday.token: missing" in capsys.readouterr().err


def test_json_keeps_working_with_filters(
    tmp_path: Path, filled: SqlStateStore, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    config = config_without_secrets(tmp_path, monkeypatch)
    code = main(["--config", str(config), "status", "--json", "--problems", "--stage", "In Scope"])
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert shown(document) == ["101", "103"]
    assert document["needs_person"] is True
    alpha = document["leads"][0]
    assert alpha["effects"][0]["updated_at"] == "2026-03-02T10:50:00Z"
    assert document["runs"][0]["started_at"] == "2026-03-02T11:57:00Z"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--stage", "negotiation_status=Quote Snet"], "did you mean 'Quote Sent'"),
        (["--stage", "negotiaton_status=Quote Sent"], "did you mean 'negotiation_status'"),
        (["--stage", "Quote Snet"], "did you mean 'Quote Sent'"),
        (["--item", "999"], "no lead with item id '999'"),
    ],
)
def test_unknown_stage_or_item_exits_2(
    tmp_path: Path,
    filled: SqlStateStore,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
    args: list[str],
    expected: str,
) -> None:
    config = config_without_secrets(tmp_path, monkeypatch)
    assert main(["--config", str(config), "status", *args]) == 2
    assert expected in capsys.readouterr().err


def test_real_process_status_problems_exits_1_when_something_is_parked(
    tmp_path: Path, filled: SqlStateStore
) -> None:
    config = config_without_secrets(tmp_path, None)
    env = {k: v for k, v in os.environ.items() if k not in TOKENS}
    env["LEADBRIDGE_SECRETS_DIR"] = str(tmp_path / "no-secrets")
    command = [sys.executable, "-m", "leadbridge", "--config", str(config), "status"]

    result = subprocess.run(
        [*command, "--problems"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Alpha (item 101)" in result.stdout and "Beta" not in result.stdout
    assert "leadbridge retry 101 quote_copies" in result.stdout
    assert "Traceback" not in result.stderr

    # Re-armed: what is left (a backing-off effect) retries by itself.
    parked = next(e for e in filled.ledger("101") if e.effect == "quote_copies")
    assert filled.save_entry(parked.rearm(NOW), parked)
    result = subprocess.run(
        [*command, "--problems"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
