"""Faults on every API: whatever fails, and however often, each effect happens exactly once.

Each API fails 30% of its requests (seeded) with a mix of the ways real services fail: 500s,
rate limits, answers lost after the work was done (502 or a cut connection), connections
dropped before the work, bodies cut off mid-JSON. leadbridge must keep retrying across cycles
until its ledger is all done, and the sandbox must then hold each folder, copy, e-mail and
issue once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import pytest

from leadbridge.sandbox import Sandbox, SeedLead, seed_board
from leadbridge.sandbox.faults import APIS
from tests.e2e.support import (
    HUB,
    NEGOTIATION,
    TRIAGE,
    Leadbridge,
    Progress,
    assert_exactly_once,
    assert_nothing_parked,
    counts,
    observe,
    pace,
    progress_of,
    unfinished_in,
)

pytestmark = pytest.mark.e2e

LEADS = 100
FAULT_RATE = 0.3
#: Faulty cycles first; then the faults are removed and at most this many clean cycles follow.
FAULTY_CYCLES = 12
CLEAN_CYCLES = 6
#: The same waits a server would ask for, but zero, so the test does not sleep on them.
NO_WAIT = {"retry_after": 0}
#: Log events of an in-call retry (the sandbox's configuration keeps production's attempts but
#: waits milliseconds); Google's retries are counted in metrics only.
RETRY_EVENTS = ("monday_retry", "github.request_retry")
#: Ways every API fails; monday adds its complexity budget, the token endpoint only fails
#: before doing anything.
COMMON: list[dict[str, Any]] = [
    {"kind": "status", "status": 500},
    {"kind": "rate_limit", **NO_WAIT},
    {"kind": "commit_then_502"},
    {"kind": "commit_then_drop"},
    {"kind": "drop_connection"},
    {"kind": "malformed_body"},
]
FAULT_KINDS: dict[str, list[dict[str, Any]]] = {
    "monday": [*COMMON, {"kind": "complexity", **NO_WAIT}],
    **{api: COMMON for api in ("drive", "docs", "sheets", "gmail", "github")},
    "oauth": [
        {"kind": "status", "status": 500},
        {"kind": "drop_connection"},
        {"kind": "malformed_body"},
    ],
}


def _add_faults(sandbox: Sandbox, rate: float) -> None:
    """Per API, one rule per kind, each firing so that together they fail ``rate`` of it."""
    assert set(FAULT_KINDS) == set(APIS)
    for api, kinds in FAULT_KINDS.items():
        each = 1 - (1 - rate) ** (1 / len(kinds))
        for spec in kinds:
            options = {k: v for k, v in spec.items() if k != "kind"}
            sandbox.faults.add(api, "*", spec["kind"], probability=each, **options)


def _random_leads(count: int, seed: int) -> tuple[list[SeedLead], list[dict[str, str]]]:
    """Leads spread over every stage, contacts filled in (so no e-mail parks)."""
    rng = random.Random(seed)
    leads, statuses = [], []
    for number in range(count):
        values: dict[str, str] = {}
        triage = rng.choice([None, *TRIAGE, "Out of Scope"])
        if triage:
            values["triage_status"] = triage
        if triage in ("Questionnaire Received", "In Scope"):
            negotiation = rng.choice([None, *NEGOTIATION])
            if negotiation:
                values["negotiation_status"] = negotiation
            if negotiation == "Contract Signed" or rng.random() < 0.1:
                values["hub_status"] = rng.choice(HUB)
        statuses.append(values)
        leads.append(
            SeedLead(
                f"Lead {number:03d} “{rng.choice(['Lab', 'Hub', 'Institute'])}”",
                {
                    "organization": f"Org {number}",
                    "contact_name": f"Contact {number}",
                    "contact_email": f"contact{number}@lead.example",
                    **values,
                },
            )
        )
    return leads, statuses


def test_faults_on_every_api_leave_each_effect_done_exactly_once(
    sandbox: Sandbox, leadbridge: Callable[..., Leadbridge]
) -> None:
    app = leadbridge(notes={"post": "failures"})
    leads, statuses = _random_leads(LEADS, seed=30)
    ids = seed_board(sandbox.state, None, leads)
    progress: dict[str, Progress] = {}
    for item, values in zip(ids, statuses, strict=True):
        progress[item] = progress_of(values)
        progress[item].questionnaire = values.get("triage_status") == "Send Questionnaire"
    _add_faults(sandbox, FAULT_RATE)
    started = time.monotonic()
    exits, seconds, retried = [], [], 0
    for _ in range(FAULTY_CYCLES):
        cycle_started = time.monotonic()
        result = app.run("sync", "--once", "--backfill")
        exits.append(result.returncode)
        seconds.append(round(time.monotonic() - cycle_started, 1))
        retried += sum((result.stdout + result.stderr).count(event) for event in RETRY_EVENTS)
        states = app.ledger()
        if states and not unfinished_in(states):
            break
    fired = {rule.kind: 0 for rule in sandbox.faults.rules()}
    for rule in sandbox.faults.rules():
        fired[rule.kind] += rule.fired
    left = len(unfinished_in(app.ledger()))
    sandbox.faults.clear()
    print(
        f"\n{len(exits)} faulty cycles in {pace(started)} (exits {exits}, seconds {seconds}), "
        f"{retried} in-call retries logged, faults fired "
        f"{fired}, {left} effects unfinished; {counts(observe(sandbox))}"
    )
    assert sum(fired.values()) > 100 and all(fired.values()), fired
    assert retried > 0, "no in-call retry: every fault went straight to the ledger's backoff"
    clean = app.converge("--backfill", cap=CLEAN_CYCLES)
    observed = assert_exactly_once(sandbox, progress)
    assert_nothing_parked(app.status())
    print(f"converged after {clean} clean cycle(s), {pace(started)} in all: {counts(observed)}")


#: Each kind of create whose answer is cut off after it was carried out. The Google client
#: once sat on httplib2, which sends a request again by itself when the connection drops
#: before a status line, whatever the method: two folders, two copies, two e-mails.
DROPPED_CREATES = [
    ("drive", "files.create"),
    ("drive", "files.copy"),
    ("gmail", "messages.send"),
    ("github", "issues.create"),
]


@pytest.mark.parametrize(("api", "operation"), DROPPED_CREATES)
def test_a_create_whose_answer_is_cut_off_happens_once(
    sandbox: Sandbox, leadbridge: Callable[..., Leadbridge], api: str, operation: str
) -> None:
    app = leadbridge()
    values = {
        "triage_status": "In Scope",
        "negotiation_status": "Contract Signed",
        "organization": "Dropped Org",
        "contact_email": "dropped@lead.example",
    }
    [item] = seed_board(sandbox.state, None, [SeedLead("Dropped answer", values)])
    sandbox.faults.add(api, operation, "commit_then_drop", times=1)
    app.converge("--backfill", cap=4)
    assert [rule.fired for rule in sandbox.faults.rules()] == [1]
    print(f"\n{api} {operation}: {sandbox.state.request_count(api, operation)} requests")
    assert_exactly_once(sandbox, {item: progress_of(values)})
