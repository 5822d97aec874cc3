"""``leadbridge check`` against the sandbox: every service is checked, each on its own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from leadbridge.sandbox import Sandbox, SandboxConfig, write_sandbox_config


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


def _check(config: SandboxConfig) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEADBRIDGE_SECRETS_DIR": str(config.secrets_dir)}
    return subprocess.run(
        [sys.executable, "-m", "leadbridge", "--config", str(config.path), "check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.e2e
def test_check_passes_against_a_matching_sandbox(sandbox: Sandbox, tmp_path: Path) -> None:
    result = _check(write_sandbox_config(sandbox, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✗" not in result.stdout
    for service in ("state:", "service:", "monday:", "google:", "mail:", "github:"):
        assert service in result.stdout
    assert "✓ state: runner lock: free" in result.stdout
    assert "✓ mail: Gmail scopes for sales@2i2c.example: gmail.send and gmail.readonly" in (
        result.stdout
    )


@pytest.mark.e2e
def test_one_broken_service_does_not_hide_the_others(sandbox: Sandbox, tmp_path: Path) -> None:
    config = write_sandbox_config(sandbox, tmp_path)
    data = yaml.safe_load(config.path.read_text())
    data["google"]["service_account_file"] = str(tmp_path / "missing-key.json")
    labels = data["columns"]["negotiation_status"]["labels"]
    labels[labels.index("Quote Sent")] = "Quote Sen"
    data["rules"] = [
        {**rule, "label": "Quote Sen"} if rule["label"] == "Quote Sent" else rule
        for rule in data["rules"]
    ]
    config.path.write_text(yaml.safe_dump(data))
    result = _check(config)
    assert result.returncode == 1
    out = result.stdout
    assert "✗ google: set up the client" in out
    assert "missing-key.json" in out
    assert "did you mean 'quote sent'" in out.lower().replace('"', "'")
    assert "✓ github:" in out  # checked although Google could not even be set up
    assert "Traceback" not in result.stderr


@pytest.mark.e2e
def test_a_gmail_scope_the_delegation_lacks_is_named(sandbox: Sandbox, tmp_path: Path) -> None:
    readonly = "https://www.googleapis.com/auth/gmail.readonly"
    sandbox.state.google.delegated_scopes.discard(readonly)

    result = _check(write_sandbox_config(sandbox, tmp_path))

    assert result.returncode == 1, result.stdout + result.stderr
    [line] = [x for x in result.stdout.splitlines() if x.startswith("✗")]
    assert line.startswith(
        f"✗ mail: Gmail scopes for sales@2i2c.example: domain-wide delegation does not grant "
        f"{readonly}: without gmail.readonly leadbridge cannot look in sent mail"
    )
    assert "Fix: in the Admin console" in result.stdout
    assert "✓ google: credentials" in result.stdout  # Drive acts as the account itself
    assert "Traceback" not in result.stdout + result.stderr
