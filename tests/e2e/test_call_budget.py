"""``leadbridge run`` keeps to its share of the account's daily monday calls, and says so.

The real CLI against the sandbox, whose account (limit, and what "other tools" used today) the
test sets. What the service decided is read where an operator reads it: the ``call_pace`` log
line, ``/healthz`` and ``leadbridge status``, which reads the state database alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from leadbridge.sandbox import Sandbox, SandboxConfig, write_sandbox_config
from tests.e2e.test_run_service import Service
from tests.service_runtime.support import wait_for

pytestmark = pytest.mark.e2e


def _config(sandbox: Sandbox, directory: Path) -> SandboxConfig:
    # A one-second pace, so that a poll the governor did not hold back would come at once.
    service = {"interval_seconds": 1, "http_host": "127.0.0.1", "http_port": 0}
    return write_sandbox_config(
        sandbox, directory, github={"seconds_between_writes": 0}, service=service
    )


def _env(config: SandboxConfig) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADBRIDGE_")}
    return {**env, "LEADBRIDGE_SECRETS_DIR": str(config.secrets_dir)}


def _status(config: SandboxConfig, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "leadbridge", "--config", str(config.path), "status", *args]
    result = subprocess.run(command, env=_env(config), capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr
    return result


def _pace_line(service: Service, state: str) -> dict[str, Any]:
    def seen() -> dict[str, Any] | None:
        found = [line for line in service.named("call_pace") if line.get("state") == state]
        assert service.process.poll() is None, service.output()
        return found[0] if found else None

    line: dict[str, Any] = wait_for(seen, f"a call_pace line saying {state}")
    return line


def test_an_account_near_its_limit_slows_the_polls_and_every_view_says_why(
    sandbox: Sandbox, tmp_path: Path, services: Callable[..., Service]
) -> None:
    # Other tools of the account used 950 of its 1,000 calls today.
    sandbox.monday.set_account(daily_limit=1000, others_today=950)
    config = _config(sandbox, tmp_path)
    service = services(config, _env(config))

    line = _pace_line(service, "slowed")
    assert "of its 1000 daily calls" in line["reason"]
    assert line["interval_seconds"] > line["configured_interval_seconds"] == 1
    assert len(service.named("call_pace")) == 1  # said once, not per poll

    status, body = wait_for(
        lambda: (health := service.health())[1].get("status") == "ok" and health,
        "a successful poll",
    )
    assert status == 200
    assert body["call_pace"]["state"] == "slowed"
    assert body["call_pace"]["limit_source"] == "account"
    assert body["call_pace"]["account_used_today"] >= 951
    assert body["interval_seconds"] > 1

    shown = _status(config).stdout
    assert "Poll pace: SLOWED on purpose" in shown, shown
    assert "leadbridge keeps to 0.33 of what is left" in shown
    assert "of the account's 1000" in shown
    document = json.loads(_status(config, "--json").stdout)
    assert document["call_pace"]["state"] == "slowed"
    assert document["monday_daily_call_limit"] == 1000


def test_daily_limit_exceeded_stops_every_call_until_midnight_and_stays_healthy(
    sandbox: Sandbox, tmp_path: Path, services: Callable[..., Service]
) -> None:
    # The account's calls are used up before leadbridge starts: monday refuses every call.
    sandbox.monday.set_account(daily_limit=1000, others_today=1000)
    config = _config(sandbox, tmp_path)
    service = services(config, _env(config))

    line = _pace_line(service, "limit_reached")
    assert "DAILY_LIMIT_EXCEEDED" in line["reason"]
    today = datetime.now(UTC).date()
    resumes = datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(
        days=1, minutes=1
    )
    assert datetime.fromisoformat(line["resumes_at"]) == resumes

    status, body = service.health()
    # Waiting on purpose: healthy, and /healthz says why and until when.
    assert status == 200
    assert body["status"] == "paused"
    assert "no call until 00:01 UTC" in body["reason"]
    assert body["call_pace"]["state"] == "limit_reached"
    # The next tick is the next budget read (at most three hours away), not a poll each second.
    assert body["interval_seconds"] > 1
    # The refused budget read was the only call: no poll, no in-call retry.
    assert dict(sandbox.state.requests["monday"]) == {"platform_api": 1}
    assert service.named("cycle_started") == []

    shown = _status(config).stdout
    assert "Poll pace: LIMIT REACHED on purpose" in shown, shown
    assert "polls resume " + resumes.isoformat() in shown
