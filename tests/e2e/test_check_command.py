"""``leadbridge check`` against the sandbox: every service is checked, each on its own."""

from __future__ import annotations

import os
import re
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


def _budget_lines(out: str) -> list[str]:
    """The call-budget line and the Fix or Note under it."""
    lines = out.splitlines()
    [at] = [i for i, line in enumerate(lines) if line[2:].startswith("monday: call budget: ")]
    return lines[at : at + 2]


@pytest.mark.e2e
def test_a_schedule_within_the_share_passes_with_the_accounts_figures(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.monday.set_account(daily_limit=1000, others_today=212)

    result = _check(write_sandbox_config(sandbox, tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    line, after = _budget_lines(result.stdout)
    # The other tools' 212 and check's own calls so far, this read included.
    used = re.fullmatch(r"✓ monday: call budget: daily limit 1,000, used today (\d+); .*", line)
    assert used is not None, line
    assert 213 <= int(used[1]) <= 216
    assert (
        "; leadbridge's share 330 (monday.call_share 0.33); the schedule needs at most 280 calls "
        "on a business day, within the 297 kept for polls (the rest is for write-backs)"
    ) in line
    assert not after.startswith("    ")
    assert sandbox.state.request_count("monday", "platform_api") == 1  # one extra call


@pytest.mark.e2e
def test_an_account_at_its_limit_fails_until_00_00_utc(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.monday.set_account(daily_limit=1000, others_today=1000)

    result = _check(write_sandbox_config(sandbox, tmp_path))

    assert result.returncode == 1
    line, fix = _budget_lines(result.stdout)
    assert line.startswith(
        "✗ monday: call budget: no calls left today: monday refused even this read, so the "
        "governor makes no poll until monday's count starts again at 00:00 UTC (in "
    )
    assert fix == (
        "    Fix: none needed for leadbridge, which polls again by itself after 00:00 UTC; if the "
        "account runs low often, find which of its tools uses the calls or raise the plan's limit"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.e2e
def test_a_free_plan_passes_with_a_note_that_the_governor_will_slow_down(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """The default schedule needs 280 calls a day and a Free plan has 200: ``run`` copes by
    polling more slowly, so ``check`` does not fail the deployment but says so."""
    sandbox.monday.set_account(daily_limit=200)

    result = _check(write_sandbox_config(sandbox, tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    line, note = _budget_lines(result.stdout)
    assert line.startswith("✓ monday: call budget: daily limit 200, used today ")
    assert (
        "; leadbridge's share 66 (monday.call_share 0.33); the schedule needs at most 280 calls "
        "on a business day, more than the 59 kept for polls (the rest is for write-backs): the "
        "governor will poll more slowly than configured to fit"
    ) in line
    assert note == (
        "    Note: to keep the configured pace, raise service.interval_seconds and "
        "service.business_hours_interval_seconds, or monday.call_share if the account's other "
        "tools need few calls"
    )
    assert result.stdout.rstrip().endswith("live checks passed. 1 of them with a note.")
