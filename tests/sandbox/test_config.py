"""A configuration written for the sandbox loads, points only at it, and keeps secrets apart."""

from __future__ import annotations

import stat
from pathlib import Path

import yaml

from leadbridge.sandbox.config import write_sandbox_config
from leadbridge.sandbox.server import Sandbox
from leadbridge.sandbox.world import default_pipeline
from leadbridge.settings import load_settings

REPO = Path(__file__).resolve().parents[2]


def test_written_config_loads_and_points_at_the_sandbox(sandbox: Sandbox, tmp_path: Path) -> None:
    written = write_sandbox_config(sandbox, tmp_path, state_url="sqlite:///elsewhere.db")
    settings = load_settings(written.path, secrets_dir=written.secrets_dir)
    assert settings.monday.api_url == f"{sandbox.url}/monday/v2"
    assert settings.monday.token is not None
    assert settings.monday.token.get_secret_value() == sandbox.monday_token
    assert settings.github.token is not None
    assert settings.github.token.get_secret_value() == sandbox.github_token
    assert settings.google.token_uri == f"{sandbox.url}/google/token"
    assert settings.google.service_account_file == written.service_account_file
    assert settings.state.url == "sqlite:///elsewhere.db"
    assert settings.mail.archive_dir == tmp_path / "sent-mail"
    templates = settings.effects["quote_copies"].templates  # type: ignore[union-attr]
    assert {t.file_id for t in templates.values()} <= set(sandbox.state.google.files)
    assert settings.google.leads_folder_id in sandbox.state.google.files
    assert settings.monday.board_id in sandbox.state.monday.boards


def test_tokens_live_only_in_private_secret_files(sandbox: Sandbox, tmp_path: Path) -> None:
    written = write_sandbox_config(sandbox, tmp_path)
    text = written.path.read_text(encoding="utf-8")
    assert sandbox.monday_token not in text and sandbox.github_token not in text
    for name in ("monday__token", "github__token"):
        assert stat.S_IMODE((written.secrets_dir / name).stat().st_mode) == 0o600


def test_overrides_merge_into_sections(sandbox: Sandbox, tmp_path: Path) -> None:
    written = write_sandbox_config(
        sandbox, tmp_path, retry={"backoff_seconds": [0]}, monday={"page_limit": 2}
    )
    settings = load_settings(written.path, secrets_dir=written.secrets_dir)
    assert settings.retry.backoff_seconds == (0,)
    # The sandbox's quick in-call retries survive an override of another retry key.
    assert settings.retry.in_call.attempts == 3
    assert settings.retry.in_call.cap_seconds < 1
    assert settings.monday.page_limit == 2
    assert settings.monday.api_url == f"{sandbox.url}/monday/v2"


def test_packaged_pipeline_matches_the_example_configuration() -> None:
    example = yaml.safe_load((REPO / "config" / "leadbridge.example.yaml").read_text("utf-8"))
    packaged = default_pipeline()
    for section in ("columns", "effects", "rules"):
        assert packaged[section] == example[section], section
