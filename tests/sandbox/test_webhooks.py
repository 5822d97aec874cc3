"""The sandbox's webhooks behave like monday's: challenge first, then one delivery per event.

A small loopback server stands in for the receiver and records what arrives.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import jwt

from leadbridge.adapters.monday.documents import CREATE_WEBHOOK, DELETE_WEBHOOK, WEBHOOKS
from leadbridge.sandbox import Sandbox, set_values
from leadbridge.sandbox.state import SALES_USER, SERVICE_USER
from leadbridge.sandbox.world import add_item, default_columns
from tests.sandbox.conftest import Monday, Receiver

TRIAGE = default_columns()["triage_status"].id
SECRET = "sandbox-signing-secret-0123456789abcdefgh"


def _create(monday: Monday, board_id: str, url: str, event: str, config: Any) -> httpx.Response:
    variables = {"board": board_id, "url": url, "event": event}
    if config is not None:
        variables["config"] = json.dumps(config)
    return monday.post(CREATE_WEBHOOK.text, variables)


def _status_hook(monday: Monday, board_id: str, url: str) -> str:
    config = {"columnId": TRIAGE, "columnValue": {"$any$": True}}
    body = _create(monday, board_id, url, "change_status_column_value", config).json()
    assert "errors" not in body, body
    return str(body["data"]["create_webhook"]["id"])


def test_create_answers_the_challenge_then_lists_and_deletes(
    sandbox: Sandbox, monday: Monday, board_id: str, receiver: Receiver
) -> None:
    hook = _status_hook(monday, board_id, receiver.url)

    assert list(receiver.received[0][1]) == ["challenge"]
    listed = monday.data(WEBHOOKS.text, {"board": board_id})
    assert listed["me"]["id"] == SERVICE_USER["id"]
    assert listed["webhooks"] == [
        {
            "id": hook,
            "event": "change_status_column_value",
            "board_id": board_id,
            "config": json.dumps(
                {"columnId": TRIAGE, "columnValue": {"$any$": True}}, separators=(",", ":")
            ),
        }
    ]
    deleted = monday.data(DELETE_WEBHOOK.text, {"id": hook})
    assert deleted["delete_webhook"] == {"id": hook, "board_id": board_id}
    assert monday.data(WEBHOOKS.text, {"board": board_id})["webhooks"] == []


def test_a_url_that_does_not_echo_the_challenge_is_refused(
    sandbox: Sandbox, monday: Monday, board_id: str, receiver: Receiver
) -> None:
    receiver.echo = False

    errors = _create(monday, board_id, receiver.url, "create_item", None).json()["errors"]

    assert "Failed to communicate with URL provided" in errors[0]["message"]
    assert sandbox.state.monday.webhooks == {}


def test_an_unreachable_url_is_refused(sandbox: Sandbox, monday: Monday, board_id: str) -> None:
    errors = _create(monday, board_id, "http://127.0.0.1:9/x", "create_item", None).json()
    assert errors["errors"][0]["extensions"]["code"] == "InvalidArgumentException"


def test_an_event_the_sandbox_does_not_emulate_is_refused(
    monday: Monday, board_id: str, receiver: Receiver
) -> None:
    errors = _create(monday, board_id, receiver.url, "create_update", None).json()["errors"]
    assert "does not emulate create_update" in errors[0]["message"]
    assert receiver.received == []


def test_status_changes_and_new_items_are_delivered_like_monday_s(
    sandbox: Sandbox, monday: Monday, board_id: str, receiver: Receiver
) -> None:
    _status_hook(monday, board_id, receiver.url)
    _create(monday, board_id, receiver.url, "create_item", None)
    other = default_columns()["negotiation_status"].id

    item = add_item(sandbox.state, "Lead from the web", {})
    set_values(sandbox.state, item, {TRIAGE: "Send Questionnaire"})
    set_values(sandbox.state, item, {other: "Create Quote"})  # not the watched column
    assert sandbox.monday.webhooks.wait_idle()

    created, changed = receiver.events()
    assert created["type"] == "create_pulse" and created["pulseId"] == int(item)
    assert created["boardId"] == int(board_id) and created["userId"] == int(SALES_USER["id"])
    assert changed["type"] == "update_column_value"
    assert changed["columnId"] == TRIAGE and changed["columnType"] == "color"
    assert changed["value"]["label"]["text"] == "Send Questionnaire"
    assert changed["previousValue"] is None
    for event in (created, changed):
        assert len(event["triggerUuid"]) == 32 and event["subscriptionId"] > 0
        assert isinstance(event["changedAt" if event is changed else "pulseName"], float | str)
    # Unsigned, as the webhooks of a personal token are.
    assert all("Authorization" not in headers for headers, _ in receiver.received)
    counted = sandbox.monday.webhooks.describe()["deliveries"]
    assert [(d["type"], d["status"]) for d in counted] == [
        ("create_pulse", 200),
        ("update_column_value", 200),
    ]


def test_leadbridge_s_own_writes_are_delivered_too(
    sandbox: Sandbox, monday: Monday, board_id: str, receiver: Receiver
) -> None:
    _status_hook(monday, board_id, receiver.url)
    item = add_item(sandbox.state, "Lead", {})

    monday.data(
        "mutation ($b: ID!, $i: ID!, $v: JSON!) {"
        " change_multiple_column_values(board_id: $b, item_id: $i, column_values: $v) { id } }",
        {"b": board_id, "i": item, "v": json.dumps({TRIAGE: {"label": "In Scope"}})},
    )
    assert sandbox.monday.webhooks.wait_idle()

    (event,) = receiver.events()
    assert event["userId"] == int(SERVICE_USER["id"])


def test_with_a_signing_secret_every_request_carries_a_jwt_for_its_url(
    sandbox: Sandbox, monday: Monday, board_id: str, receiver: Receiver
) -> None:
    control = httpx.post(
        f"{sandbox.url}/_sandbox/monday/webhooks/signing_secret", json={"secret": SECRET}
    )
    assert control.json()["signed"] is True
    _status_hook(monday, board_id, receiver.url)

    set_values(sandbox.state, add_item(sandbox.state, "Lead", {}), {TRIAGE: "In Scope"})
    assert sandbox.monday.webhooks.wait_idle()

    for headers, _ in receiver.received:
        claims = jwt.decode(
            headers["Authorization"], SECRET, algorithms=["HS256"], audience=receiver.url
        )
        assert claims["exp"] > claims["iat"] and claims["accountId"] > 0
    assert "userId" in claims


def test_control_deletes_a_webhook_behind_leadbridge_s_back(
    sandbox: Sandbox, monday: Monday, board_id: str, receiver: Receiver
) -> None:
    hook = _status_hook(monday, board_id, receiver.url)

    gone = httpx.delete(f"{sandbox.url}/_sandbox/monday/webhooks/{hook}")
    again = httpx.delete(f"{sandbox.url}/_sandbox/monday/webhooks/{hook}")
    set_values(sandbox.state, add_item(sandbox.state, "Lead", {}), {TRIAGE: "In Scope"})
    assert sandbox.monday.webhooks.wait_idle()

    assert gone.json() == {"deleted": hook} and again.status_code == 404
    listed = httpx.get(f"{sandbox.url}/_sandbox/monday/webhooks").json()
    assert listed["webhooks"] == [] and listed["deliveries"] == []
    assert receiver.events() == []


def test_a_delivery_nobody_answers_is_recorded(
    sandbox: Sandbox, monday: Monday, board_id: str, receiver: Receiver
) -> None:
    _status_hook(monday, board_id, receiver.url)
    receiver.server.shutdown()
    receiver.server.server_close()

    set_values(sandbox.state, add_item(sandbox.state, "Lead", {}), {TRIAGE: "In Scope"})
    assert sandbox.monday.webhooks.wait_idle()

    (delivery,) = sandbox.monday.webhooks.describe()["deliveries"]
    assert delivery["status"] is None and delivery["error"]
