"""``leadbridge init`` fits the default pipeline to a board: column ids by title, labels by text
(case, spaces and punctuation aside), what it cannot find listed with the fix, the rest the
example's placeholders, which it lists as exactly what ``check`` refuses; never the token."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from leadbridge.adapters.monday.layout import BoardColumn, BoardLayout
from leadbridge.defaults import default_pipeline
from leadbridge.exits import ConfigError
from leadbridge.initial_config import (
    EXAMPLE_KEY_FILE,
    EXAMPLE_STATE_URL,
    InitRequest,
    fit_pipeline,
    render_file,
    run_init,
)
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.world import BOARD_ID
from leadbridge.settings.placeholders import (
    EXAMPLE_IDS,
    EXAMPLE_MAILBOX,
    EXAMPLE_TEMPLATE_IDS,
    placeholder_problems,
)
from tests.conftest import EXAMPLE_CONFIG

API = "https://api.monday.com/v2"
TODAY = date(2026, 11, 2)
#: A board as staff built it: monday's own column ids, titles typed their own way.
TITLES = {
    "contact_name": "Contact Name",
    "contact_email": "Contact e-mail",
    "organization": "ORGANIZATION",
    "community": "Community",
    "hub_url": "Hub URL",
    "money": "Money",
    "authority": "Authority",
    "need": "Need",
    "impending_event": "Impending  event",
    "application": "Application",
    "competition": "Competition",
    "timeline": "Timeline",
    "triage_status": "Triage Status",
    "negotiation_status": "Negotiation status",
    "hub_status": "Hub status",
    "lead_folder": "Lead folder",
    "pricing_sheet": "Pricing sheet",
    "price_quote": "Price quote",
    "hub_issue": "Hub issue",
}
#: The board spells some labels its own way.
SPELLED = {
    "In Scope": "In scope",
    "Contract Signed": "Contract signed",
    "Create Quote": "create quote",
}


def _board(**changes: Any) -> BoardLayout:
    """The default pipeline's columns on a board; ``changes`` replaces (or with None, drops)
    the board's column for a key."""
    columns = [BoardColumn("name", "Name", "name")]
    for number, (key, spec) in enumerate(default_pipeline()["columns"].items()):
        labels = tuple(
            SPELLED.get(label, label)
            for label in (*spec.get("labels", ()), *spec.get("off_path", ()))
        )
        column = BoardColumn(f"{spec['type']}_mkx{number:04d}", TITLES[key], spec["type"], labels)
        column = changes.get(key, column)
        if column is not None:
            columns.append(column)
    return BoardLayout("4711000001", "Sales", "leadbridge bot", tuple(columns))


def test_every_column_is_found_by_title_and_every_label_in_the_boards_spelling() -> None:
    fitted = fit_pipeline(_board(), api_url=API, api_version="2026-10")

    document = fitted.document
    assert fitted.unmatched == []
    assert len(fitted.matched) == len(TITLES)
    assert document["columns"]["impending_event"]["id"] == "long_text_mkx0008"
    assert document["columns"]["contact_email"]["id"] == "email_mkx0001"
    triage = document["columns"]["triage_status"]
    assert triage["labels"][-1] == "In scope"
    negotiation = document["columns"]["negotiation_status"]
    assert negotiation["requests"] == ["create quote"]
    assert "Contract signed" in negotiation["labels"]
    rules = {(rule["column"], rule["label"]) for rule in document["rules"]}
    assert ("triage_status", "In scope") in rules and ("triage_status", "In Scope") not in rules
    assert ("negotiation_status", "create quote") in rules
    assert document["ui"] == {
        "signed_column": "negotiation_status",
        "signed_label": "Contract signed",
    }
    assert document["monday"] == {
        "api_url": API,
        "api_version": "2026-10",
        "board_id": "4711000001",
    }


def test_what_the_board_lacks_is_listed_with_the_fix() -> None:
    twice = BoardColumn("text_mkxdup", "Organization", "text")
    board = _board(
        timeline=None,
        contact_email=BoardColumn("text_mkx0001", "Contact e-mail", "text"),
        hub_status=BoardColumn("status_mkx0014", "Hub status", "status", ("Create Hub Issue",)),
    )
    board = BoardLayout(board.board_id, board.name, board.user, (*board.columns, twice))

    fitted = fit_pipeline(board, api_url=API, api_version="2026-10")

    problems = "\n".join(fitted.unmatched)
    assert "columns.timeline: no column titled “timeline” (a long_text column)" in problems
    assert (
        "columns.contact_email: the board's column “Contact e-mail” (text_mkx0001) is of type text"
        in problems
    )
    assert (
        "columns.organization: 2 columns are titled “organization” (text_mkx0002, text_mkxdup)"
        in problems
    )
    assert "columns.hub_status: the board's “Hub status” has no label “Hub Running”" in problems
    assert all("Fix:" in line for line in fitted.unmatched)
    # What was not found keeps the default's id, for `check` to compare with the board.
    assert fitted.document["columns"]["timeline"]["id"] == "long_text_timeline"


def test_labels_the_pipeline_does_not_use_are_said() -> None:
    extra = BoardColumn(
        "status_mkx0014", "Hub status", "status", ("Create Hub Issue", "Hub Running", "Paused")
    )

    fitted = fit_pipeline(_board(hub_status=extra), api_url=API, api_version="2026-10")

    assert fitted.unmatched == []
    assert fitted.unused_labels == ["“Hub status”: Paused"]


def test_the_file_says_where_secrets_go_and_lists_exactly_what_check_refuses() -> None:
    fitted = fit_pipeline(_board(), api_url=API, api_version="2026-10")

    text = render_file(fitted, _board(), TODAY)

    assert yaml.safe_load(text) == fitted.document
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert "#   LEADBRIDGE_MONDAY__TOKEN or the file monday__token" in header
    listed = [
        line.removeprefix("#   ")
        for line in header[
            header.index(
                "# Still the example's placeholders (every command but status refuses them):"
            )
            + 1 : -1
        ]
    ]
    refused = [problem.split(":", 1)[0] for problem in placeholder_problems(fitted.document)]
    assert listed == refused
    assert {"google.leads_folder_id", "effects.notify_icsi_contract.to[1]"} <= set(listed)
    assert "token" not in yaml.safe_load(text)["monday"]


def test_the_placeholders_and_defaults_are_the_examples() -> None:
    """init writes what the example ships for what a board cannot tell, and check refuses
    the example's placeholders: both hold only while these are the example's values."""
    example = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    assert example["state"]["url"] == EXAMPLE_STATE_URL
    assert example["google"]["service_account_file"] == EXAMPLE_KEY_FILE
    assert example["google"]["subject"] == example["mail"]["sender"] == EXAMPLE_MAILBOX
    for key, value in EXAMPLE_IDS.items():
        section, name = key.split(".")
        assert str(example[section][name]) == value
    templates = example["effects"]["quote_copies"]["templates"].values()
    assert {template["file_id"] for template in templates} == EXAMPLE_TEMPLATE_IDS


# ---------------------------------------------------------------- the command, in-process


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


def _environ(sandbox: Sandbox, tmp_path: Path, **more: str) -> dict[str, str]:
    return {
        "LEADBRIDGE_MONDAY__API_URL": f"{sandbox.url}/monday/v2",
        "LEADBRIDGE_SECRETS_DIR": str(tmp_path / "no-secrets"),
        **more,
    }


def test_at_a_terminal_it_asks_for_the_board_and_the_token_without_echo(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    output = tmp_path / "config" / "leadbridge.yaml"
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return f"https://2i2c.monday.com/boards/{BOARD_ID}"

    code = run_init(
        InitRequest(None, None, output, force=False),
        environ=_environ(sandbox, tmp_path),
        interactive=True,
        ask=ask,
        ask_secret=lambda prompt: sandbox.monday_token,
        out=io.StringIO(),
        today=TODAY,
    )

    assert code == 0
    assert asked == ["monday board id (the number in the board's URL): "]
    written = output.read_text()
    assert f"board_id: '{BOARD_ID}'" in written
    assert sandbox.monday_token not in written


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"token_file": "empty"}, "--token-file: "),
        ({"board_id": "sales"}, "monday.board_id: 'sales' is not a board id. Fix:"),
        ({}, "monday.token: not given. Fix: set LEADBRIDGE_MONDAY__TOKEN"),
        ({"LEADBRIDGE_MONDAY__API_URL": "api.monday.com/v2"}, "monday.api_url: "),
    ],
    ids=["empty-token-file", "board-id-not-a-number", "no-token-anywhere", "api-url-no-scheme"],
)
def test_what_cannot_be_used_is_refused_before_anything_is_written(
    sandbox: Sandbox, tmp_path: Path, given: dict[str, str], expected: str
) -> None:
    (tmp_path / "empty").write_text("\n")
    token_file = tmp_path / "empty" if given.get("token_file") else None
    environ = _environ(sandbox, tmp_path)
    environ.update({k: v for k, v in given.items() if k.startswith("LEADBRIDGE_")})
    if "LEADBRIDGE_MONDAY__API_URL" in given:
        environ["LEADBRIDGE_MONDAY__TOKEN"] = sandbox.monday_token
    output = tmp_path / "leadbridge.yaml"

    with pytest.raises(ConfigError) as raised:
        run_init(
            InitRequest(given.get("board_id", BOARD_ID), token_file, output, force=False),
            environ=environ,
            interactive=False,
            out=io.StringIO(),
            today=TODAY,
        )

    [problem] = raised.value.problems
    assert problem.startswith(expected) and "Fix:" in problem
    assert not output.exists()
