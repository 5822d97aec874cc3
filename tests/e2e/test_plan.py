"""Through the real CLI: a mass action is held, `plan` shows it, `plan --confirm` releases it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from leadbridge.sandbox import Sandbox, SeedLead, seed_board
from tests.e2e.support import Leadbridge, observe

pytestmark = pytest.mark.e2e


def test_a_held_mass_mailing_waits_for_plan_confirm_and_then_goes_out_once(
    sandbox: Sandbox, leadbridge: Callable[..., Leadbridge]
) -> None:
    app = leadbridge(guard={"max_new_per_kind": 3})
    app.sync()  # meets the empty board
    seed_board(
        sandbox.state,
        None,
        [
            SeedLead(
                f"Mass lead {n}",
                {
                    "organization": f"Org {n}",
                    "contact_email": f"c{n}@lead.example",
                    "triage_status": "In Scope",
                    "negotiation_status": "Quote Accepted",
                },
            )
            for n in range(5)
        ],
    )

    held = app.sync()
    assert "held" in held.stdout
    assert observe(sandbox).mails == {}
    status = app.status()
    assert status["held"]["email"]["count"] == 10  # two e-mails for each of five leads
    assert "HELD: 10 new email" in app.run("status").stdout

    plan = app.run("plan")
    assert plan.returncode == 1, plan.stdout + plan.stderr
    assert "email: would run 10" in plan.stdout
    assert "leadbridge plan --confirm" in plan.stdout
    assert observe(sandbox).mails == {}

    confirmed = app.run("plan", "--confirm")
    assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
    app.sync()
    mails = observe(sandbox).mails
    assert len(mails) == 10 and set(mails.values()) == {1}
    assert app.status()["held"] == {}
