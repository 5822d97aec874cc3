"""Two ``sync --once`` started together on one SQLite file never double an effect.

Without ``--wait`` the runner lock turns the second away (exit 3, "another leadbridge
process"); with ``--wait`` they run one after the other and the second finds nothing left.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from leadbridge.sandbox import Sandbox, SeedLead, seed_board
from leadbridge.sandbox.faults import APIS
from tests.e2e.support import (
    Leadbridge,
    assert_exactly_once,
    assert_nothing_parked,
    counts,
    progress_of,
)

pytestmark = pytest.mark.e2e

STATUSES = [
    {"triage_status": "Send Questionnaire"},
    {"triage_status": "Questionnaire Received"},
    {"triage_status": "In Scope", "negotiation_status": "Create Quote"},
    {"triage_status": "In Scope", "negotiation_status": "Quote Accepted"},
    {"triage_status": "In Scope", "negotiation_status": "Contract Signed"},
]


@pytest.mark.parametrize("wait", [None, "60"], ids=["no-wait", "wait"])
def test_two_processes_on_one_database_act_once(
    sandbox: Sandbox, leadbridge: Callable[..., Leadbridge], wait: str | None
) -> None:
    app = leadbridge(notes={"post": "failures"})
    values = [
        {"organization": f"Org {n}", "contact_email": f"c{n}@lead.example", **STATUSES[n % 5]}
        for n in range(10)
    ]
    ids = seed_board(sandbox.state, None, [SeedLead(f"Twin {n}", v) for n, v in enumerate(values)])
    progress = {item: progress_of(v) for item, v in zip(ids, values, strict=True)}
    for item, v in zip(ids, values, strict=True):
        progress[item].questionnaire = v["triage_status"] == "Send Questionnaire"
    # Slow every request a little so that the two cycles overlap.
    for api in APIS:
        sandbox.faults.add(api, "*", "latency", seconds=0.02, probability=1.0)
    extra = ("--wait", wait) if wait else ()
    started = time.monotonic()
    logs = [app.directory / f"sync-{n}.log" for n in range(2)]
    processes = [app.start("sync", "--once", "--backfill", *extra, log=log) for log in logs]
    exits = sorted(p.wait(timeout=240) for p in processes)
    seconds = time.monotonic() - started
    sandbox.faults.clear()
    print(f"\nexits {exits} after {seconds:.1f}s; {counts(assert_exactly_once(sandbox, progress))}")
    if wait:
        assert exits == [0, 0]
    else:
        assert exits in ([0, 0], [0, 3])
        turned_away = [
            log.read_text(encoding="utf-8")
            for process, log in zip(processes, logs, strict=True)
            if process.returncode == 3
        ]
        assert all("another leadbridge process" in text for text in turned_away)
    assert_nothing_parked(app.status())
