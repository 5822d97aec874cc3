"""Through the real CLI and the sandbox's Gmail: a parked effect e-mails the operators once,
with a link to the lead page, and ``status --problems`` exits 1 until it is retried."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from leadbridge.sandbox import Sandbox, SeedLead, seed_board
from tests.e2e.support import Leadbridge

pytestmark = pytest.mark.e2e

OPS = "ops@example.org"
PAGE = "https://leadbridge.example.org"


def _alerts(sandbox: Sandbox) -> list[dict[str, Any]]:
    messages = sandbox.state.snapshot()["gmail"]["messages"]
    return [m for m in messages if m["message_id"].startswith("<leadbridge.alert.")]


def test_a_parked_effect_is_e_mailed_once_and_status_exits_1(
    sandbox: Sandbox, leadbridge: Callable[..., Leadbridge]
) -> None:
    app = leadbridge(alerts={"to": [OPS], "page_url": PAGE})
    app.sync()  # meets the empty board
    (item,) = seed_board(
        sandbox.state,
        None,
        [
            SeedLead(
                "Alert lead",
                {
                    "organization": "Org A",
                    "contact_email": "a@lead.example",
                    "triage_status": "Questionnaire Received",
                    "negotiation_status": "Create Quote",
                },
            )
        ],
    )
    sandbox.faults.add("drive", "files.copy", "status", status=404, probability=1.0)
    app.sync()
    assert app.ledger()[(item, "quote_copies")] == "parked"

    [alert] = _alerts(sandbox)
    assert alert["to"] == [OPS]
    assert "quote_copies parked for Alert lead" in alert["subject"]
    assert f"{PAGE}/leads/{item}" in alert["body"]

    problems = app.run("status", "--problems")
    assert problems.returncode == 1, problems.stdout + problems.stderr
    assert f"leadbridge retry {item} quote_copies" in problems.stdout

    app.sync()
    app.sync()
    assert len(_alerts(sandbox)) == 1  # the same problem: no second e-mail

    sandbox.faults.clear()
    assert app.run("retry", item, "quote_copies").returncode == 0
    app.sync()
    assert app.ledger()[(item, "quote_copies")] == "done"
    assert app.run("status", "--problems").returncode == 0
    assert len(_alerts(sandbox)) == 1
