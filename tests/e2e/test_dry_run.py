"""``sync --once --dry-run`` against the sandbox reads and changes nothing anywhere."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import pytest

from leadbridge.sandbox import DEMO_LEADS, Sandbox, SeedLead, seed_board, set_values
from tests.e2e.support import STATUS_IDS, Leadbridge

pytestmark = pytest.mark.e2e

#: Every operation a dry run may cause, per API: reads of the board and lookups only.
READS = {
    "monday": {"items_page", "next_items_page", "boards"},
    "oauth": {"token"},
    "drive": {"files.list", "files.get"},
    "gmail": {"messages.list", "messages.get"},
    "github": {"users.get", "repos.get", "issues.list", "issues.get"},
}


def _digest(path: object) -> str:
    with open(str(path), "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_dry_run_reads_only_and_leaves_the_state_database_alone(
    sandbox: Sandbox, leadbridge: Callable[..., Leadbridge]
) -> None:
    app = leadbridge()
    unset = [
        SeedLead(lead.name, {k: v for k, v in lead.values.items() if not k.endswith("_status")})
        for lead in DEMO_LEADS
    ]
    ids = seed_board(sandbox.state, None, unset)
    app.sync()  # the first cycle: nothing to adopt, so what follows is due
    for item, lead in zip(ids, DEMO_LEADS, strict=True):
        statuses = {STATUS_IDS[k]: v for k, v in lead.values.items() if k.endswith("_status")}
        if statuses:
            set_values(sandbox.state, item, statuses)
    before_db = _digest(app.database)
    before = sandbox.state.snapshot()
    sandbox.state.reset_counters()

    result = app.run("sync", "--once", "--dry-run")

    assert result.returncode == 0, result.stderr[-3000:]
    assert "Dry run: nothing was changed anywhere." in result.stdout
    assert result.stdout.count(": would ") >= 10
    after = sandbox.state.snapshot()
    requests = after.pop("requests")
    before.pop("requests")
    print(f"\ndry run requests: {requests}")
    assert after == before
    assert requests["monday"]
    assert {api: set(ops) - READS.get(api, set()) for api, ops in requests.items()} == {
        api: set() for api in requests
    }
    assert _digest(app.database) == before_db


def test_a_first_dry_run_on_a_board_worked_by_hand_renders_every_template(
    sandbox: Sandbox, leadbridge: Callable[..., Leadbridge]
) -> None:
    """Met for the first time, leads past their stages are adopted: every line is filled."""
    app = leadbridge()
    seed_board(sandbox.state, None, DEMO_LEADS)

    result = app.run("sync", "--once", "--dry-run")

    assert result.returncode == 0, result.stderr[-3000:]
    assert "adopted (not acted on): e-mail" in result.stdout
    assert "would e-mail priya.raman@utoronto.example" in result.stdout  # a pending request
    assert re.findall(r"\{[a-z_]+\}", result.stdout) == [], result.stdout
