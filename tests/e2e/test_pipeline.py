"""The whole default pipeline, driven by a scripted sales team through the real CLI.

A dozen leads move through triage → negotiation → hub between cycles, some one label at a
time, some jumping several (no status → In Scope, Create Quote → Contract Signed, everything at
once). Level-triggered reconciliation must still give every lead each effect its furthest
labels imply, once, with links on the board and the ledger all done.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable

import pytest

from leadbridge.adapters.google.drive import EFFECT_KEY, ITEM_KEY
from leadbridge.sandbox import DEMO_LEADS, Sandbox, SeedLead, seed_board, set_values
from tests.e2e.support import (
    LINK_IDS,
    NEGOTIATION,
    Leadbridge,
    Observed,
    Progress,
    advance,
    assert_exactly_once,
    assert_nothing_parked,
    by_column_id,
    counts,
    issue_marker,
    item_label,
    ledger_states,
    observe,
    pace,
)

pytestmark = pytest.mark.e2e

IN_SCOPE = {"triage_status": "In Scope"}

#: Between two cycles, lead number → the statuses the sales team sets. Every lead only moves
#: forward, and a lead set to Send Questionnaire stays there until leadbridge moves it on.
SCRIPT: list[dict[int, dict[str, str]]] = [
    {
        0: {"triage_status": "Send Questionnaire"},
        1: {"triage_status": "Send Questionnaire"},
        2: IN_SCOPE,  # no status → In Scope: folder, no questionnaire
        3: {"triage_status": "Questionnaire Received"},
        4: {**IN_SCOPE, "negotiation_status": "Create Quote"},
        5: {**IN_SCOPE, "negotiation_status": "Contract Signed"},  # everything at once
        6: {"triage_status": "Questionnaire Received"},
        7: {"triage_status": "Send Questionnaire"},
    },
    {
        0: {"triage_status": "Questionnaire Received"},
        2: {"negotiation_status": "Create Quote"},
        3: {**IN_SCOPE, "negotiation_status": "Quote Sent"},  # skips Create Quote
        4: {"negotiation_status": "Contract Signed"},  # Create Quote → Contract Signed
        6: {**IN_SCOPE, "negotiation_status": "Quote Accepted"},
        7: IN_SCOPE,
        8: {"triage_status": "Send Questionnaire"},
        9: {"triage_status": "Out of Scope"},  # off the path: nothing
        10: {**IN_SCOPE, "hub_status": "Create Hub Issue"},  # a hub without a contract
    },
    {
        0: {**IN_SCOPE, "negotiation_status": "Create Quote"},
        2: {"negotiation_status": "Quote Sent"},
        3: {"negotiation_status": "Quote Accepted"},
        6: {"negotiation_status": "Contract Signed", "hub_status": "Hub Running"},
        8: {**IN_SCOPE, "negotiation_status": "Quote Sent"},
        11: {
            **IN_SCOPE,
            "negotiation_status": "Contract Signed",
            "hub_status": "Create Hub Issue",
        },
    },
    {
        0: {"negotiation_status": "Contract Signed"},
        2: {"negotiation_status": "Quote Accepted"},
        5: {"hub_status": "Create Hub Issue"},  # already has its issue from the contract
    },
]


def _unset_leads() -> list[SeedLead]:
    """The demo leads (hostile names included) before anyone set a status."""
    return [
        SeedLead(lead.name, {k: v for k, v in lead.values.items() if not k.endswith("_status")})
        for lead in DEMO_LEADS
    ]


def test_every_lead_gets_each_effect_of_its_furthest_labels_once(
    sandbox: Sandbox, leadbridge: Callable[..., Leadbridge]
) -> None:
    app = leadbridge()
    ids = seed_board(sandbox.state, None, _unset_leads())
    assert len(ids) == len(SCRIPT[0]) + 4
    started = time.monotonic()
    app.sync()  # the first cycle adopts what is implied: nothing yet
    assert ledger_states(app.status()) == {}
    progress = {item: Progress() for item in ids}
    for step, moves in enumerate(SCRIPT, 1):
        for number, values in moves.items():
            item = ids[number]
            set_values(sandbox.state, item, by_column_id(values))
            advance(progress[item], values)
            if values.get("triage_status") == "Send Questionnaire":
                progress[item].questionnaire = True
        app.sync()
        for number, values in moves.items():
            if values.get("triage_status") == "Send Questionnaire":
                assert item_label(sandbox, ids[number], "triage_status") == "Questionnaire Sent"
        print(f"after step {step} ({pace(started)}): {counts(observe(sandbox))}")
    quiet = app.sync()  # nothing left: a second look changes nothing
    # Only the completeness checks still wait (for people), and nothing is said again.
    assert re.search(r"effects: 0 done, 0 failed, 0 parked, \d+ waiting, 0 adopted", quiet.stdout)

    observed = assert_exactly_once(sandbox, progress)
    assert len(observed.folders) == sum(p.triage >= 2 for p in progress.values()) == 10
    assert len(observed.issues) == 6
    assert item_label(sandbox, ids[1], "triage_status") == "Questionnaire Sent"
    _assert_copies_filled(observed, sandbox)
    _assert_links_written_back(observed, sandbox)
    status = app.status()
    assert_nothing_parked(status)
    done = {key for key, state in ledger_states(status).items() if state == "done"}
    waiting = {key for key, state in ledger_states(status).items() if state == "waiting"}
    owed = {(item, e) for item, p in progress.items() for e in p.expected()}
    # The demo leads' MANIAC-T fields are empty: the check waits for people to fill them, and
    # no contract file is in any folder yet (quietly, within its 14 days).
    scoped = {(item, "check_maniac_t") for item, p in progress.items() if p.triage >= 3}
    signed = {
        (item, "check_signed_contract")
        for item, p in progress.items()
        if p.negotiation >= NEGOTIATION.index("Contract Signed")
    }
    assert done == owed
    assert waiting == scoped | signed
    warned = Counter(
        update["item_id"]
        for update in observed.snapshot["monday"]["updates"]
        if "MANIAC-T" in update["body"]
    )
    assert warned == Counter(dict.fromkeys((item for item, _ in scoped), 1))
    print(f"{len(ids)} leads, {len(done)} effects done in {pace(started)}: {counts(observed)}")


def _assert_copies_filled(observed: Observed, sandbox: Sandbox) -> None:
    """Both copies sit in their lead's folder, named after the lead, every placeholder filled."""
    board = sandbox.state.board()
    folders = {
        f["appProperties"][ITEM_KEY]: f["id"]
        for f in observed.snapshot["drive"]["files"]
        if f["appProperties"].get(EFFECT_KEY) == "lead_folder"
    }
    copies = [
        f
        for f in observed.snapshot["drive"]["files"]
        if f["appProperties"].get(EFFECT_KEY, "").startswith("quote_copies:")
    ]
    assert len(copies) == 2 * len({f["appProperties"][ITEM_KEY] for f in copies}) > 0
    for copy in copies:
        item = copy["appProperties"][ITEM_KEY]
        name = board.items[item].name
        content = copy["text"] + "\n".join(
            cell for rows in copy["sheets"].values() for row in rows for cell in row
        )
        assert copy["parents"] == [folders[item]]
        assert copy["name"].startswith(name)
        assert "{{" not in content and name in content, copy["name"]


def _assert_links_written_back(observed: Observed, sandbox: Sandbox) -> None:
    """The folder, both copies and the hub issue are linked on the item's link columns."""
    files = {f["id"]: f for f in observed.snapshot["drive"]["files"]}
    by_tag = {
        (f["appProperties"][ITEM_KEY], f["appProperties"][EFFECT_KEY]): f["id"]
        for f in files.values()
        if ITEM_KEY in f["appProperties"]
    }
    issues = {
        marker: issue["number"]
        for repo in observed.snapshot["github"]["repos"]
        for issue in repo["issues"]
        if (marker := issue_marker(issue["body"]))
    }
    board = sandbox.state.board()
    for item, effects in observed.effects().items():
        values = board.items[item].values
        if "lead_folder" in effects:
            folder = by_tag[(item, "lead_folder")]
            assert values[LINK_IDS["lead_folder"]]["url"].endswith(f"/folders/{folder}")
        if "quote_copies" in effects:
            for template in ("pricing_sheet", "price_quote"):
                copy = by_tag[(item, f"quote_copies:{template}")]
                assert f"/d/{copy}/" in values[LINK_IDS[template]]["url"]
        else:
            assert LINK_IDS["pricing_sheet"] not in values
        if "hub_issue" in effects:
            url = values[LINK_IDS["hub_issue"]]["url"]
            assert url.endswith(f"/issues/{issues[item]}")
        else:
            assert LINK_IDS["hub_issue"] not in values
