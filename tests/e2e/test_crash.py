"""A sync process killed with SIGKILL at random points, then restarted, still acts once.

APIs are slowed a little (a ``latency`` fault on every request) so that the kills land in the
middle of cycles: between an external call and the ledger update, half-way through a lead's
effects, during the board read. The sales team keeps moving leads between kills so each
restart finds new work as well as the remains of the killed cycle.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections.abc import Callable

import pytest

from leadbridge.sandbox import Sandbox, SeedLead, seed_board, set_values
from leadbridge.sandbox.faults import APIS
from tests.e2e.support import (
    Leadbridge,
    Progress,
    advance,
    assert_exactly_once,
    assert_nothing_parked,
    by_column_id,
    counts,
    observe,
    pace,
)

pytestmark = pytest.mark.e2e

LEADS = 30
KILLS = 20
SEED = 20
LATENCY_SECONDS = 0.03
#: Kill after this many seconds at most; the interpreter alone needs about half a second to
#: start, so the lower part of the range kills during start-up or the board read.
MAX_DELAY_SECONDS = 3.0
QUESTIONNAIRE_LEADS = 3
#: What a lead looks like after each step of the path the sales team moves it along.
PATH = [
    {"triage_status": "Questionnaire Received"},
    {"triage_status": "In Scope"},
    {"triage_status": "In Scope", "negotiation_status": "Create Quote"},
    {"triage_status": "In Scope", "negotiation_status": "Quote Sent"},
    {"triage_status": "In Scope", "negotiation_status": "Quote Accepted"},
    {"triage_status": "In Scope", "negotiation_status": "Contract Signed"},
    {
        "triage_status": "In Scope",
        "negotiation_status": "Contract Signed",
        "hub_status": "Create Hub Issue",
    },
]


def _leads() -> list[SeedLead]:
    return [
        SeedLead(
            f"Crash lead {number}",
            {
                "organization": f"Org {number}",
                "contact_name": f"Contact {number}",
                "contact_email": f"contact{number}@lead.example",
                **({"triage_status": "Send Questionnaire"} if number < QUESTIONNAIRE_LEADS else {}),
            },
        )
        for number in range(LEADS)
    ]


def test_sigkill_at_random_points_then_restart_acts_exactly_once(
    sandbox: Sandbox, leadbridge: Callable[..., Leadbridge]
) -> None:
    app = leadbridge(notes={"post": "failures"})
    ids = seed_board(sandbox.state, None, _leads())
    progress = {item: Progress(questionnaire=n < QUESTIONNAIRE_LEADS) for n, item in enumerate(ids)}
    steps = dict.fromkeys(ids[QUESTIONNAIRE_LEADS:], -1)
    for api in APIS:
        sandbox.faults.add(api, "*", "latency", seconds=LATENCY_SECONDS, probability=1.0)
    rng = random.Random(SEED)
    started = time.monotonic()
    killed_running, interrupted_effects, delays = 0, 0, []
    for kill in range(KILLS):
        for item in rng.sample(sorted(steps), 6):
            steps[item] = min(steps[item] + rng.choice([1, 1, 2, 3]), len(PATH) - 1)
            set_values(sandbox.state, item, by_column_id(PATH[steps[item]]))
            advance(progress[item], PATH[steps[item]])
        delay = rng.uniform(0, MAX_DELAY_SECONDS)
        delays.append(delay)
        process = app.start("sync", "--once", "--backfill", log=app.directory / f"{kill}.log")
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            killed_running += 1
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        running = [key for key, state in app.ledger().items() if state == "running"]
        interrupted_effects += len(running)
    sandbox.faults.clear()
    print(
        f"\n{KILLS} kills after {min(delays):.2f}–{max(delays):.2f}s in {pace(started)}: "
        f"{killed_running} hit a running process, {interrupted_effects} effects were left "
        f"running; {counts(observe(sandbox))}"
    )
    assert killed_running >= KILLS // 2
    assert interrupted_effects > 0
    cycles = app.converge(cap=6)
    observed = assert_exactly_once(sandbox, progress)
    assert_nothing_parked(app.status())
    print(f"converged after {cycles} restart(s), {pace(started)} in all: {counts(observed)}")
