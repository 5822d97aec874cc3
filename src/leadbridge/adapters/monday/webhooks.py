"""The board's webhooks on monday.com: list, create, delete, and nothing else.

Which webhooks should exist, which are leadbridge's and when to look is decided in
``service.webhooks``; this module only speaks GraphQL, through the same ``MondayClient`` as
the board (timeouts, in-call retries, error translation, call counting).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from leadbridge.adapters.monday.client import MondayClient
from leadbridge.adapters.monday.documents import CREATE_WEBHOOK, DELETE_WEBHOOK, WEBHOOKS
from leadbridge.adapters.monday.failures import SERVICE
from leadbridge.domain.errors import TransientError
from leadbridge.domain.ports import ApiUsage, Webhook, WebhookListing
from leadbridge.settings import Settings


class MondayWebhooks:
    """The ``WebhookRegistry`` port for the configured board."""

    def __init__(self, client: MondayClient, *, board_id: str) -> None:
        self._client = client
        self._board_id = board_id

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> MondayWebhooks:
        client = MondayClient.from_settings(settings, sleep=sleep, transport=transport)
        return cls(client, board_id=settings.monday.board_id)

    def list_webhooks(self) -> WebhookListing:
        data = self._client.execute(WEBHOOKS, {"board": self._board_id})
        me = data.get("me") or {}
        if not me.get("id"):
            raise TransientError(SERVICE, "monday answered the webhooks list without the user")
        found = [_webhook(entry) for entry in data.get("webhooks") or [] if entry]
        return WebhookListing(webhooks=tuple(found), user_id=str(me["id"]))

    def create_webhook(self, url: str, event: str, config: Mapping[str, Any] | None) -> Webhook:
        # No Idempotency-Key: a webhook deleted and made again has the same variables, and
        # monday would replay the first answer instead of creating it. The caller lists
        # before it creates.
        variables: dict[str, object] = {"board": self._board_id, "url": url, "event": event}
        if config is not None:
            variables["config"] = json.dumps(config, separators=(",", ":"))
        data = self._client.execute(CREATE_WEBHOOK, variables)
        created = data.get("create_webhook")
        if not created or not created.get("id"):
            raise TransientError(SERVICE, f"monday created no {event} webhook and said no more")
        return _webhook(created)

    def delete_webhook(self, webhook_id: str) -> None:
        self._client.execute(DELETE_WEBHOOK, {"id": webhook_id})

    def usage(self) -> ApiUsage:
        return ApiUsage(requests=self._client.requests, complexity=self._client.complexity)

    def close(self) -> None:
        self._client.close()


def _webhook(entry: Mapping[str, Any]) -> Webhook:
    return Webhook(
        id=str(entry["id"]),
        event=str(entry.get("event") or ""),
        config=_config(entry.get("config")),
    )


def _config(value: object) -> Mapping[str, Any]:
    """``config`` is a JSON string (or null); anything unreadable counts as no config."""
    if isinstance(value, Mapping):
        return dict(value)
    if not isinstance(value, str) or not value.strip():
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
