"""``leadbridge init`` against the sandbox, then ``check`` on what it wrote.

The sandbox's board is first made into one staff built by hand: monday's own column ids,
titles typed in another case and spacing, a label spelled its own way. ``init`` must find every
column and label, write a file with no token in it, and list as still to fill in exactly what
``check --offline`` then refuses; once those are filled in, every live check passes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.credentials import write_service_account_file
from leadbridge.sandbox.world import (
    BOARD_ID,
    HUB_REPOSITORY,
    LEADS_FOLDER_ID,
    PRICE_QUOTE_TEMPLATE_ID,
    PRICING_SHEET_TEMPLATE_ID,
    SALES_MAILBOX,
    SHARED_DRIVE_ID,
)

pytestmark = pytest.mark.e2e

PLACEHOLDER = "is a placeholder of the example configuration"


def _as_built_by_staff(sandbox: Sandbox) -> dict[str, str]:
    """monday ids and staff's own titles on the sandbox's board; returns old id → new id."""
    board = sandbox.state.board()
    with sandbox.state.lock:
        columns = list(board.columns.values())
        ids = {}
        for number, column in enumerate(columns):
            if column.id == "name":
                continue
            ids[column.id] = f"{column.type}_mkx{number:04d}"
            column.id = ids[column.id]
            column.title = column.title.upper() if number % 2 else column.title.title()
            column.labels = {
                key: "In scope" if text == "In Scope" else text
                for key, text in column.labels.items()
            }
        board.columns = {column.id: column for column in columns}
    return ids


def _leadbridge(
    directory: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEADBRIDGE_")}
    return subprocess.run(
        [sys.executable, "-m", "leadbridge", *args],
        cwd=directory,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _secrets(sandbox: Sandbox, directory: Path) -> Path:
    secrets = directory / "secrets"
    secrets.mkdir()
    (secrets / "monday__token").write_text(sandbox.monday_token)
    (secrets / "github__token").write_text(sandbox.github_token)
    return secrets


def _fill_in(sandbox: Sandbox, path: Path, directory: Path) -> None:
    """What the operator does by hand after init, for the sandbox's Drive, mail and GitHub."""
    data = yaml.safe_load(path.read_text())
    key_file = write_service_account_file(directory / "key.json", f"{sandbox.url}/google/token")
    data["state"]["url"] = f"sqlite:///{directory / 'state' / 'leadbridge.db'}"
    data["google"].update(
        service_account_file=str(key_file),
        api_base_url=f"{sandbox.url}/google/",
        token_uri=f"{sandbox.url}/google/token",
        subject=SALES_MAILBOX,
        leads_folder_id=LEADS_FOLDER_ID,
        shared_drive_id=SHARED_DRIVE_ID,
    )
    data["mail"]["sender"] = SALES_MAILBOX
    data["github"]["base_url"] = f"{sandbox.url}/github"
    templates = data["effects"]["quote_copies"]["templates"]
    templates["pricing_sheet"]["file_id"] = PRICING_SHEET_TEMPLATE_ID
    templates["price_quote"]["file_id"] = PRICE_QUOTE_TEMPLATE_ID
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    text = text.replace("icsi.example.org", "icsi.example").replace(
        "forms.example.org", "forms.2i2c.example"
    )
    path.write_text(text)


def test_init_then_check_from_an_empty_directory(sandbox: Sandbox, tmp_path: Path) -> None:
    ids = _as_built_by_staff(sandbox)
    # GitHub's rename, as it happened: the default github.repository is the new name.
    sandbox.state.github.rename(HUB_REPOSITORY, "2i2c-org/infrastructure")
    (tmp_path / "state").mkdir()
    env = {
        "LEADBRIDGE_SECRETS_DIR": str(_secrets(sandbox, tmp_path)),
        "LEADBRIDGE_MONDAY__API_URL": f"{sandbox.url}/monday/v2",
    }

    init = _leadbridge(tmp_path, env, "init", "--board-id", BOARD_ID)

    said = init.stdout + init.stderr
    assert init.returncode == 0, said
    written = tmp_path / "leadbridge.yaml"
    text = written.read_text()
    data = yaml.safe_load(text)
    assert data["columns"]["triage_status"]["id"] == ids["status_triage"]
    assert data["columns"]["impending_event"]["id"] == ids["long_text_event"]
    assert "In scope" in data["columns"]["triage_status"]["labels"]
    assert sandbox.monday_token not in text + said
    assert "token" not in data["monday"]
    to_fill = {
        line.strip().removeprefix("- ").split(":", 1)[0]
        for line in init.stdout.splitlines()
        if PLACEHOLDER in line
    }
    assert {"google.leads_folder_id", "mail.sender", "effects.request_invoice.to[0]"} <= to_fill

    state = {"LEADBRIDGE_STATE__URL": f"sqlite:///{tmp_path / 'state' / 'leadbridge.db'}"}
    offline = _leadbridge(
        tmp_path, {**env, **state}, "check", "--offline", "--config", str(written)
    )

    assert offline.returncode == 2, offline.stdout + offline.stderr
    refused = {
        line.strip().removeprefix("- ").split(":", 1)[0]
        for line in offline.stderr.splitlines()
        if PLACEHOLDER in line
    }
    assert refused == to_fill
    assert "Traceback" not in offline.stdout + offline.stderr

    _fill_in(sandbox, written, tmp_path)
    check = _leadbridge(tmp_path, env, "check", "--config", str(written))

    assert check.returncode == 0, check.stdout + check.stderr
    assert f"✓ monday: column triage_status ({ids['status_triage']})" in check.stdout
    assert "✓ monday: labels of triage_status: all 5 labels exist" in check.stdout
    assert "live checks passed." in check.stdout


def test_a_wrong_token_or_board_is_told_in_words_and_nothing_is_written(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    env = {"LEADBRIDGE_MONDAY__API_URL": f"{sandbox.url}/monday/v2"}

    token = _leadbridge(
        tmp_path, {**env, "LEADBRIDGE_MONDAY__TOKEN": "not-a-token"}, "init", "--board-id", BOARD_ID
    )
    board = _leadbridge(
        tmp_path,
        {**env, "LEADBRIDGE_MONDAY__TOKEN": sandbox.monday_token},
        "init",
        "--board-id",
        "1140216586",
    )

    assert token.returncode == 2, token.stdout + token.stderr
    assert "leadbridge init: monday.token: monday refused the API token" in token.stderr
    assert board.returncode == 2, board.stdout + board.stderr
    assert "leadbridge init: monday.board_id: board 1140216586 was not found" in board.stderr
    for result in (token, board):
        assert "Fix:" in result.stderr
        assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "leadbridge.yaml").exists()


def test_what_the_board_lacks_is_listed_and_an_existing_file_is_kept(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    board = sandbox.state.board()
    with sandbox.state.lock:
        del board.columns["long_text_timeline"]
    env = {
        "LEADBRIDGE_MONDAY__API_URL": f"{sandbox.url}/monday/v2",
        "LEADBRIDGE_MONDAY__TOKEN": sandbox.monday_token,
    }
    token_file = tmp_path / "token"
    token_file.write_text(sandbox.monday_token)

    first = _leadbridge(tmp_path, env, "init", "--board-id", BOARD_ID, "--output", "c/l.yaml")
    again = _leadbridge(tmp_path, env, "init", "--board-id", BOARD_ID, "--output", "c/l.yaml")
    forced = _leadbridge(
        tmp_path,
        {"LEADBRIDGE_MONDAY__API_URL": env["LEADBRIDGE_MONDAY__API_URL"]},
        "init",
        "--board-id",
        BOARD_ID,
        "--output",
        "c/l.yaml",
        "--token-file",
        str(token_file),
        "--force",
    )

    assert first.returncode == 1, first.stdout + first.stderr
    assert "columns.timeline: no column titled “timeline”" in first.stdout
    assert (tmp_path / "c" / "l.yaml").exists()
    assert again.returncode == 2
    assert "--output: c/l.yaml already exists. Fix: pass --force" in again.stderr
    assert forced.returncode == 1, forced.stdout + forced.stderr
    assert "Wrote c/l.yaml" in forced.stdout
