"""The sandbox's starting world matches the default pipeline and holds the demo leads."""

from __future__ import annotations

import pytest

from leadbridge.sandbox.server import Sandbox
from leadbridge.sandbox.world import (
    DEMO_LEADS,
    HUB_REPOSITORY,
    SeedLead,
    default_columns,
    seed_board,
    seed_demo_leads,
)


def test_demo_leads_land_on_the_board_with_their_labels(sandbox: Sandbox) -> None:
    ids = seed_demo_leads(sandbox.state)
    board = sandbox.state.board()
    assert len(ids) == len(DEMO_LEADS) >= 12
    names = [board.items[i].name for i in ids]
    assert any('"' in name and "Ω" in name for name in names)
    triage = board.columns["status_triage"]
    labels = {
        triage.labels[board.items[i].values["status_triage"]["index"]]
        for i in ids
        if "status_triage" in board.items[i].values
    }
    assert {"Send Questionnaire", "In Scope", "Out of Scope"} <= labels


def test_board_columns_follow_the_given_settings(sandbox: Sandbox) -> None:
    columns = {"stage": default_columns()["triage_status"]}
    [item_id] = seed_board(sandbox.state, columns, [SeedLead("Only", {"stage": "In Scope"})])
    board = sandbox.state.board()
    assert set(board.columns) == {"name", "status_triage"}
    with pytest.raises(KeyError, match="not a configured column"):
        seed_board(sandbox.state, columns, [SeedLead("Bad", {"organization": "X"})])
    assert (
        board.items[item_id].values["status_triage"]["index"]
        in board.columns["status_triage"].labels
    )


def test_repository_has_the_hub_label_and_hand_made_issues(sandbox: Sandbox) -> None:
    repo = sandbox.state.github.repo(HUB_REPOSITORY)
    assert repo is not None and repo.label("hub") is not None
    assert {issue.user for issue in repo.issues} == {"choldgraf"}


def test_the_sandbox_binds_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Sandbox(host="0.0.0.0")
