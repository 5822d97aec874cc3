"""``leadbridge check``, ``webhooks list`` and ``webhooks remove`` against the sandbox's webhooks.

leadbridge's own webhooks are those it recorded when it created them (monday lists no URL):
a webhook another tool made on the board is listed, never removed.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from leadbridge import cli
from leadbridge.bootstrap import build_webhook_registry, open_store
from leadbridge.sandbox import Sandbox, write_sandbox_config
from leadbridge.sandbox.world import BOARD_ID
from leadbridge.service.webhooks import ensure_webhooks, wanted_webhooks
from leadbridge.settings import Settings, load_settings
from tests.sandbox.conftest import Receiver

#: The commands configure process-wide logging (onto the captured stderr): undo it.
pytestmark = pytest.mark.usefixtures("isolated_logging")


@pytest.fixture
def config(
    sandbox: Sandbox, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    public = receiver.url.split("/monday/", 1)[0]
    written = write_sandbox_config(sandbox, tmp_path, monday={"webhook": {"public_url": public}})
    (written.secrets_dir / "monday__webhook__path_token").write_text(secrets.token_urlsafe(32))
    monkeypatch.setenv("LEADBRIDGE_SECRETS_DIR", str(written.secrets_dir))
    return written.path


def _register(settings: Settings) -> None:
    """What ``leadbridge run`` does at start."""
    registry = build_webhook_registry(settings)
    store = open_store(settings)
    try:
        ensure_webhooks(
            registry,
            store,
            url=settings.monday.webhook.url(),
            wanted=wanted_webhooks(settings.columns),
        )
    finally:
        registry.close()
        store.close()


def test_check_fails_until_the_webhooks_exist_then_lists_them(
    sandbox: Sandbox, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--config", str(config), "check"]) == 1
    missing = capsys.readouterr().out
    assert "✗ monday: webhook for new items: missing" in missing
    assert "✗ monday: webhook for status changes of triage_status" in missing

    _register(load_settings(config))

    assert cli.main(["--config", str(config), "check"]) == 0
    found = capsys.readouterr().out
    ours = [line for line in found.splitlines() if line.startswith("✓ monday: webhook ")]
    assert len(ours) == 4 and all(line.endswith(", leadbridge's") for line in ours)
    assert "✗" not in found


def test_list_and_remove_touch_only_leadbridge_s_webhooks(
    sandbox: Sandbox, config: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(config)
    _register(settings)
    foreign = sandbox.monday.webhooks.create(BOARD_ID, receiver.url, "create_item", None)

    assert cli.main(["--config", str(config), "webhooks", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert sum(line.endswith("(leadbridge's)") for line in listed) == 4
    assert f"{foreign.id}  create_item  (not leadbridge's)" in listed

    assert cli.main(["--config", str(config), "webhooks", "remove"]) == 0
    removed = capsys.readouterr().out
    assert removed.count("Removed webhook") == 4
    assert list(sandbox.state.monday.webhooks) == [foreign.id]

    assert cli.main(["--config", str(config), "webhooks", "remove"]) == 0
    assert "no webhook of leadbridge's to remove" in capsys.readouterr().out
