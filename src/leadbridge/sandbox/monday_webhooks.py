"""monday's webhooks in the sandbox: the challenge at creation, then one POST per event.

As on monday: ``create_webhook`` first POSTs ``{"challenge": …}`` to the URL and registers the
webhook only if the answer echoes it; afterwards every change the activity log records (a
staff edit through the control endpoint, a mutation, a new item) is delivered to each matching
webhook as ``{"event": {…}}``, shaped like monday's own deliveries, from a background thread
with a short timeout. With ``state.monday.webhook_signing_secret`` set, each request carries
``Authorization: <JWT>`` (HS256; claims ``aud`` = the URL, ``exp``, ``iat``, ``accountId``,
``userId``), as those of webhooks an app created do.

Emulated events: ``create_item``, ``change_column_value``, ``change_status_column_value`` and
``change_specific_column_value``. Not emulated: monday's retries of a delivery that was not
answered with 200 (once a minute for 30 minutes); each delivery is tried once and recorded.
"""

from __future__ import annotations

import queue
import secrets
import threading
import time
import traceback
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt

from leadbridge.sandbox.monday_board import MondayError
from leadbridge.sandbox.state import (
    ACCOUNT_ID,
    ActivityLog,
    MondayWebhook,
    SandboxState,
    WebhookDelivery,
)

EMULATED_EVENTS = frozenset(
    {"create_item", "change_column_value", "change_status_column_value",
     "change_specific_column_value"}
)  # fmt: skip
#: How long monday waits for the challenge's answer, and for a delivery's.
CHALLENGE_TIMEOUT_SECONDS = 5.0
DELIVERY_TIMEOUT_SECONDS = 2.0
#: A signed request's JWT is valid this long.
JWT_LIFETIME_SECONDS = 300
MAX_URL_LENGTH = 255


class WebhookDispatcher:
    """Registers webhooks after their challenge, and delivers events on its own thread."""

    def __init__(self, state: SandboxState, errors: list[str]) -> None:
        self.state = state
        #: Where a bug of the dispatcher itself is reported (the sandbox's ``errors``).
        self._errors = errors
        self._queue: queue.Queue[tuple[MondayWebhook, dict[str, Any]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        state.monday.on_activity = self._on_activity

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._deliver_forever, name="sandbox-webhooks", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    # ------------------------------------------------------------ the API's side

    def create(
        self, board_id: str, url: str, event: str, config: dict[str, Any] | None
    ) -> MondayWebhook:
        """``create_webhook``: the challenge first; a URL that does not echo it is refused."""
        if event not in EMULATED_EVENTS:
            raise MondayError(
                f"the sandbox does not emulate {event} webhooks (only "
                f"{', '.join(sorted(EMULATED_EVENTS))})",
                "InvalidArgumentException",
                error_data={"event": event},
            )
        if len(url) > MAX_URL_LENGTH or not url.startswith(("http://", "https://")):
            raise MondayError(
                "Invalid url", "InvalidArgumentException", error_data={"max_length": 255}
            )
        if event in ("change_status_column_value", "change_specific_column_value") and not (
            isinstance(config, dict) and config.get("columnId")
        ):
            raise MondayError(
                f"{event} webhooks need a config with a columnId", "InvalidArgumentException"
            )
        if not self._challenge(url):
            raise MondayError(
                "Failed to communicate with URL provided.", "InvalidArgumentException"
            )
        webhook = MondayWebhook(
            id=str(500_000_000 + self.state.next_id()),
            board_id=board_id,
            url=url,
            event=event,
            config=config,
        )
        with self.state.lock:
            self.state.monday.webhooks[webhook.id] = webhook
        return webhook

    def _challenge(self, url: str) -> bool:
        challenge = secrets.token_urlsafe(24)
        try:
            answer = httpx.post(
                url,
                json={"challenge": challenge},
                headers=self._headers(url, None),
                timeout=CHALLENGE_TIMEOUT_SECONDS,
            )
            return answer.status_code == 200 and answer.json().get("challenge") == challenge
        except (httpx.HTTPError, ValueError, AttributeError):
            return False

    # ------------------------------------------------------------ the control side

    def delete(self, webhook_id: str) -> MondayWebhook | None:
        """Remove a webhook, as ``delete_webhook`` or a person in monday's UI does."""
        with self.state.lock:
            return self.state.monday.webhooks.pop(str(webhook_id), None)

    def describe(self) -> dict[str, Any]:
        with self.state.lock:
            monday = self.state.monday
            return {
                "webhooks": [vars(webhook).copy() for webhook in monday.webhooks.values()],
                "deliveries": [vars(delivery).copy() for delivery in monday.deliveries],
                "signed": monday.webhook_signing_secret is not None,
            }

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Whether every delivery queued so far has been made (tests wait on it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    # ------------------------------------------------------------ deliveries

    def _on_activity(self, entry: ActivityLog) -> None:
        """Under ``state.lock``: queue one delivery per webhook this change matches."""
        # One trigger, one triggerUuid, whichever of its webhooks a delivery is for.
        trigger = uuid.uuid4().hex
        for webhook in self.state.monday.webhooks.values():
            if str(entry.data.get("board_id")) == webhook.board_id and _matches(webhook, entry):
                self._queue.put((webhook, self._event(webhook, entry, trigger)))

    def _event(self, webhook: MondayWebhook, entry: ActivityLog, trigger: str) -> dict[str, Any]:
        data = entry.data
        event: dict[str, Any] = {
            "app": "monday",
            "type": entry.event,
            "triggerTime": _iso_millis(entry.epoch),
            "subscriptionId": int(webhook.id),
            "isRetry": False,
            "userId": int(entry.user_id),
            "originalTriggerUuid": None,
            "boardId": data["board_id"],
            "groupId": data.get("group_id"),
            "pulseId": data["pulse_id"],
            "pulseName": data.get("pulse_name"),
            "isTopGroup": True,
            "triggerUuid": trigger,
        }
        if entry.event == "create_pulse":
            board = self.state.monday.boards.get(str(data["board_id"]))
            groups = board.groups if board is not None else {}
            event |= {"groupName": groups.get(data.get("group_id"), ""), "columnValues": {}}
        else:
            event |= {
                "columnId": data["column_id"],
                "columnType": data["column_type"],
                "columnTitle": data["column_title"],
                "value": data["value"],
                "previousValue": data["previous_value"],
                "changedAt": entry.epoch,
            }
        return {"event": event}

    def _deliver_forever(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                self._deliver(*job)
            except Exception:
                self._errors.append(traceback.format_exc())
            finally:
                self._queue.task_done()

    def _deliver(self, webhook: MondayWebhook, body: dict[str, Any]) -> None:
        event = body["event"]
        status: int | None = None
        error = ""
        try:
            answer = httpx.post(
                webhook.url,
                json=body,
                headers=self._headers(webhook.url, str(event["userId"])),
                timeout=DELIVERY_TIMEOUT_SECONDS,
            )
            status = answer.status_code
        except httpx.HTTPError as failure:
            error = type(failure).__name__
        with self.state.lock:
            self.state.monday.deliveries.append(
                WebhookDelivery(webhook.id, event["type"], event["triggerUuid"], status, error)
            )

    def _headers(self, url: str, user_id: str | None) -> dict[str, str]:
        secret = self.state.monday.webhook_signing_secret
        if secret is None:
            return {}
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": url,
            "iat": now,
            "exp": now + JWT_LIFETIME_SECONDS,
            "accountId": int(ACCOUNT_ID),
        }
        if user_id is not None:
            claims["userId"] = int(user_id)
        return {"Authorization": jwt.encode(claims, secret, algorithm="HS256")}


def _iso_millis(epoch: float) -> str:
    """``triggerTime`` as monday writes it: ISO 8601, milliseconds, Z."""
    moment = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
    return moment.replace("+00:00", "Z")


def _matches(webhook: MondayWebhook, entry: ActivityLog) -> bool:
    """Whether monday would deliver this activity-log entry to this webhook."""
    config = webhook.config or {}
    if webhook.event == "create_item":
        return entry.event == "create_pulse"
    if entry.event != "update_column_value":
        return False
    data = entry.data
    if webhook.event == "change_column_value":
        return True
    if config.get("columnId") != data.get("column_id"):
        return False
    if webhook.event == "change_specific_column_value":
        return True
    # change_status_column_value: a status column ("color" in logs and webhooks), and the
    # label asked for, or any with {"$any$": true}.
    if data.get("column_type") != "color":
        return False
    wanted = config.get("columnValue") or {"$any$": True}
    if not isinstance(wanted, dict):
        return False
    if wanted.get("$any$"):
        return True
    label = (data.get("value") or {}).get("label") or {}
    return "index" in wanted and wanted["index"] == label.get("index")
