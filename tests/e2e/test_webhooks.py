"""``leadbridge run`` with monday webhooks on, against the sandbox: deliveries are hints.

The safety-net poll is slowed to 600 s, so anything acted on within seconds was brought
forward by a delivery. The sandbox signs its deliveries (an app's webhooks), so a forged one
is told by its JWT; a replay by its triggerUuid; and none of them, nor a malformed body,
changes anything on the far side or costs more than one poll. A webhook deleted behind
leadbridge's back is created again at the next check (every 2 s here, 6 h by default).
"""

from __future__ import annotations

import json
import secrets
import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest

from leadbridge.sandbox import Sandbox
from leadbridge.sandbox import set_values as sandbox_set_values
from leadbridge.sandbox.world import BOARD_ID, default_columns
from tests.e2e.support import Leadbridge, observe
from tests.e2e.test_run_service import Service, _new_leads
from tests.network import free_port
from tests.service_runtime.support import wait_for

pytestmark = pytest.mark.e2e

TRIAGE = default_columns()["triage_status"].id
SIGNING_SECRET = "e2e-app-signing-secret-" + "s" * 24
#: The default pipeline's three status columns, and new items.
WEBHOOKS = 4
#: Far longer than the test: a poll in it was asked for by a delivery.
SAFETY_NET_SECONDS = 600
#: Acted on within this long of a change, or the delivery did not bring the poll forward.
PROMPT_SECONDS = 20.0


def _sandbox_webhooks(sandbox: Sandbox) -> dict[str, Any]:
    described: dict[str, Any] = httpx.get(f"{sandbox.url}/_sandbox/monday/webhooks").json()
    return described


def _signed(url: str, key: str = SIGNING_SECRET) -> str:
    now = int(time.time())
    claims = {"aud": url, "iat": now, "exp": now + 60, "accountId": 8800001, "userId": 58000002}
    return jwt.encode(claims, key, algorithm="HS256")


def _event(trigger: str, item: str) -> dict[str, Any]:
    return {
        "event": {
            "app": "monday",
            "type": "update_column_value",
            "boardId": int(BOARD_ID),
            "pulseId": int(item),
            "columnId": TRIAGE,
            "columnType": "color",
            "value": {"label": {"index": 0, "text": "Contract Signed"}},
            "userId": 58000002,
            "triggerUuid": trigger,
        }
    }


def test_deliveries_bring_polls_forward_and_the_webhooks_keep_themselves(
    sandbox: Sandbox,
    leadbridge: Callable[..., Leadbridge],
    services: Callable[..., Service],
) -> None:
    port = free_port()
    path_token = secrets.token_urlsafe(32)
    url = f"http://127.0.0.1:{port}/monday/webhook/{path_token}"
    sandbox.state.monday.webhook_signing_secret = SIGNING_SECRET
    items = _new_leads(sandbox, 3)
    deployment = leadbridge(
        service={
            "interval_seconds": SAFETY_NET_SECONDS,
            "business_hours_interval_seconds": None,
            "webhook_interval_seconds": SAFETY_NET_SECONDS,
            "http_host": "127.0.0.1",
            "http_port": port,
        },
        monday={
            "webhook": {
                "public_url": f"http://127.0.0.1:{port}",
                "debounce_seconds": 1,
                "recheck_seconds": 2,
            }
        },
    )
    secrets_dir = deployment.config.secrets_dir
    (secrets_dir / "monday__webhook__path_token").write_text(path_token)
    (secrets_dir / "monday__webhook__signing_secret").write_text(SIGNING_SECRET)
    service = services(deployment.config, deployment.env())

    # Started: the first poll, then one webhook per status column and one for new items.
    service.wait_event("cycle_finished")
    service.wait_event("webhooks_checked")
    registered = _sandbox_webhooks(sandbox)["webhooks"]
    assert len(registered) == WEBHOOKS and {hook["url"] for hook in registered} == {url}
    assert service.health()[1]["interval_seconds"] == SAFETY_NET_SECONDS

    # 1. A status change is acted on within seconds, not at the 600 s poll.
    changed = time.monotonic()
    sandbox_set_values(sandbox.state, items[0], {TRIAGE: "Questionnaire Received"})
    wait_for(lambda: items[0] in observe(sandbox).folders, "the folder", PROMPT_SECONDS)
    assert time.monotonic() - changed < PROMPT_SECONDS
    assert service.named("webhook_hint")
    wait_for(lambda: len(service.named("cycle_finished")) >= 2, "the hinted poll's end")
    time.sleep(2)  # the echoes of leadbridge's own write-back, ignored

    # 2. Forged, replayed and malformed deliveries change nothing and cost at most one poll.
    polls = len(service.named("cycle_started"))
    before = observe(sandbox)
    delivered = [d["trigger_uuid"] for d in _sandbox_webhooks(sandbox)["deliveries"]]
    assert delivered, "the sandbox delivered the change"
    forged = httpx.post(
        url,
        json=_event(uuid.uuid4().hex, items[1]),
        headers={"Authorization": _signed(url, key="not-monday-s-secret-" + "x" * 24)},
        timeout=5,
    )
    unsigned = httpx.post(url, json=_event(uuid.uuid4().hex, items[1]), timeout=5)
    replayed = httpx.post(
        url,
        json=_event(delivered[-1], items[0]),
        headers={"Authorization": _signed(url)},
        timeout=5,
    )
    malformed = [
        httpx.post(url, content=body, headers={"Authorization": _signed(url)}, timeout=5)
        for body in (b"{not json", b"[]", json.dumps({"event": {"boardId": 1}}).encode())
    ]
    guessed = httpx.post(
        f"http://127.0.0.1:{port}/monday/webhook/{secrets.token_urlsafe(32)}",
        json=_event(uuid.uuid4().hex, items[1]),
        timeout=5,
    )
    assert (forged.status_code, unsigned.status_code, guessed.status_code) == (401, 401, 404)
    assert replayed.status_code == 200 and "seen before" in replayed.json()["ignored"]
    assert [answer.status_code for answer in malformed] == [400, 400, 400]
    time.sleep(3)  # a debounced poll, had any been asked for, would have started by now
    assert len(service.named("cycle_started")) <= polls + 1
    after = observe(sandbox)
    assert after.effects() == before.effects() and after.duplicates() == []
    assert sandbox.state.snapshot()["monday"]["updates"] == before.snapshot["monday"]["updates"]

    # 3. A webhook deleted behind leadbridge's back is created again, and works.
    victim = next(
        hook for hook in registered if hook["config"] and hook["config"].get("columnId") == TRIAGE
    )
    assert httpx.delete(f"{sandbox.url}/_sandbox/monday/webhooks/{victim['id']}").status_code == 200
    recreated = service.wait_event("webhook_recreated")
    assert recreated["webhook_id"] != victim["id"]
    again = _sandbox_webhooks(sandbox)["webhooks"]
    assert len(again) == WEBHOOKS and {hook["url"] for hook in again} == {url}
    moved = time.monotonic()
    sandbox_set_values(sandbox.state, items[2], {TRIAGE: "Questionnaire Received"})
    wait_for(lambda: items[2] in observe(sandbox).folders, "the second folder", PROMPT_SECONDS)
    assert time.monotonic() - moved < PROMPT_SECONDS

    # No secret in the log: not the path token, not a JWT.
    log = "".join(service.stdout) + "".join(service.stderr)
    assert path_token not in log and SIGNING_SECRET not in log and "eyJ" not in log

    service.process.send_signal(signal.SIGTERM)
    assert service.finish() == 0, service.output()
