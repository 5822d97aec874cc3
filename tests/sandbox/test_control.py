"""The control endpoints let another process script the sales team, faults and time."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from leadbridge.sandbox.server import Sandbox
from tests.sandbox.conftest import Monday


@pytest.fixture
def control(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{sandbox.url}/_sandbox", timeout=5) as client:
        yield client


def test_sales_team_adds_and_moves_items(sandbox: Sandbox, control: httpx.Client) -> None:
    created = control.post(
        "/board/items",
        json={"items": [{"name": "New lab", "values": {"status_triage": "Send Questionnaire"}}]},
    ).json()["items"]
    item_id = created[0]["id"]
    sandbox.state.clock.advance(2)
    moved = control.post(
        "/board/items",
        json={"items": [{"id": item_id, "values": {"status_triage": {"label": "In Scope"}}}]},
    ).json()["items"][0]
    assert moved["updated_at"] > created[0]["updated_at"]
    state = control.get("/state").json()
    [item] = [i for i in state["monday"]["boards"][0]["items"] if i["id"] == item_id]
    label_id = item["values"]["status_triage"]["index"]
    labels = state["monday"]["boards"][0]["columns"]
    triage = next(c for c in labels if c["id"] == "status_triage")
    assert triage["labels"][str(label_id)] == "In Scope"


def test_bad_item_values_are_a_400(control: httpx.Client) -> None:
    response = control.post(
        "/board/items", json={"items": [{"name": "X", "values": {"status_triage": "Nope"}}]}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "ColumnValueException"


def test_faults_are_set_listed_and_cleared_remotely(
    sandbox: Sandbox, control: httpx.Client, monday: Monday
) -> None:
    control.post(
        "/faults",
        json={"rules": [{"api": "monday", "operation": "me", "kind": "status", "status": 502}]},
    )
    assert monday.post("query { me { id } }").status_code == 502
    listed = control.get("/faults").json()["rules"]
    assert listed[0]["fired"] == 1 and listed[0]["status"] == 502
    control.post("/faults", json={"api": "monday", "kind": "status", "probability": 1.0})
    assert control.delete("/faults").json() == {"rules": []}
    assert monday.post("query { me { id } }").status_code == 200
    assert control.post("/faults", json={"api": "nowhere"}).status_code == 400


def test_state_counts_requests_and_counters_reset(
    sandbox: Sandbox, control: httpx.Client, monday: Monday
) -> None:
    monday.post("query { me { id } }")
    assert control.get("/state").json()["requests"] == {"monday": {"me": 1}}
    control.post("/requests/reset")
    assert control.get("/state").json()["requests"] == {}


def test_cursors_expire_and_time_moves_on_request(sandbox: Sandbox, control: httpx.Client) -> None:
    before = sandbox.state.clock.now()
    control.post("/clock", json={"advance_seconds": 3600})
    assert sandbox.state.clock.now() - before >= 3600
    assert control.post("/monday/expire_cursors").json() == {"expired": 0}


def test_unknown_control_path_is_404(control: httpx.Client) -> None:
    assert control.get("/nothing").status_code == 404
