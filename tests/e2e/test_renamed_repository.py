"""A hub repository renamed on GitHub (``2i2c-org/pilot-hubs`` → ``2i2c-org/infrastructure``).

GitHub redirects the old name (301 for reads, 307 for writes). ``check`` must name the new
repository, and ``sync`` must never record an issue without a number: the hub issue parks with
the problem and the fix in words, and no TypeError.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from leadbridge.sandbox import Sandbox, SandboxConfig, SeedLead, seed_board, write_sandbox_config
from leadbridge.sandbox.world import HUB_REPOSITORY

pytestmark = pytest.mark.e2e

NEW_NAME = "2i2c-org/infrastructure"
WORDS = f"the repository was renamed to {NEW_NAME}"
FIX = f"set github.repository: {NEW_NAME}"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


def _leadbridge(config: SandboxConfig, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEADBRIDGE_SECRETS_DIR": str(config.secrets_dir)}
    return subprocess.run(
        [sys.executable, "-m", "leadbridge", "--config", str(config.path), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_check_names_the_new_repository(sandbox: Sandbox, tmp_path: Path) -> None:
    config = write_sandbox_config(sandbox, tmp_path)
    sandbox.state.github.rename(HUB_REPOSITORY, NEW_NAME)

    result = _leadbridge(config, "check")

    assert result.returncode == 1, result.stdout + result.stderr
    assert WORDS in result.stdout
    assert FIX in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_sync_parks_the_hub_issue_in_words_and_creates_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    config = write_sandbox_config(sandbox, tmp_path)
    [item] = seed_board(
        sandbox.state,
        None,
        [
            SeedLead(
                "Renamed Lab",
                {
                    "organization": "Renamed Lab",
                    "contact_name": "Ada",
                    "contact_email": "ada@lead.example",
                    "hub_status": "Create Hub Issue",
                },
            )
        ],
    )
    repo = sandbox.state.github.repo(HUB_REPOSITORY)
    assert repo is not None
    before = len(repo.issues)
    sandbox.state.github.rename(HUB_REPOSITORY, NEW_NAME)

    sync = _leadbridge(config, "sync", "--once")
    status = _leadbridge(config, "status", "--json", "--item", item)

    everything = sync.stdout + sync.stderr + status.stdout + status.stderr
    assert "TypeError" not in everything and "Traceback" not in everything
    assert len(repo.issues) == before
    [lead] = json.loads(status.stdout)["leads"]
    hub = next(e for e in lead["effects"] if e["effect"] == "hub_issue")
    assert hub["state"] == "parked", hub
    assert WORDS in hub["last_error"] and FIX in hub["last_error"], hub
    assert hub["url"] == ""
