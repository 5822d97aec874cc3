"""The webhooks adapter against monday's response shapes (respx): list, create, delete, errors.

``Webhook.config`` comes back as a JSON string (or null), ids as strings, errors as HTTP 200
with ``errors[].extensions.code``; the adapter turns them into the port's types and errors.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from monday_fake import BOARD_ID, ME_ID, FakeMonday, graphql_error, make_settings

from leadbridge.adapters.monday.webhooks import MondayWebhooks
from leadbridge.domain.errors import ExternalError, PermanentError, TransientError
from leadbridge.domain.ports import Webhook

URL = "https://leadbridge.test/monday/webhook/Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0"
STATUS_CONFIG = {"columnId": "status_triage", "columnValue": {"$any$": True}}


@pytest.fixture
def webhooks(fake: FakeMonday, sleeps: list[float]) -> Iterator[MondayWebhooks]:
    adapter = MondayWebhooks.from_settings(make_settings(), sleep=sleeps.append)
    yield adapter
    adapter.close()


def test_the_list_reads_configs_and_the_tokens_user(
    fake: FakeMonday, webhooks: MondayWebhooks
) -> None:
    fake.webhooks = [
        {
            "id": "101",
            "board_id": BOARD_ID,
            "event": "change_status_column_value",
            "config": json.dumps(STATUS_CONFIG),
        },
        {"id": "102", "board_id": BOARD_ID, "event": "create_item", "config": None},
        {"id": "103", "board_id": BOARD_ID, "event": "change_name", "config": "not json"},
    ]

    listing = webhooks.list_webhooks()

    assert listing.user_id == ME_ID
    assert listing.webhooks == (
        Webhook("101", "change_status_column_value", STATUS_CONFIG),
        Webhook("102", "create_item", {}),
        Webhook("103", "change_name", {}),
    )
    assert fake.bodies[-1]["variables"] == {"board": BOARD_ID}


def test_create_sends_the_url_event_and_config_as_json_without_an_idempotency_key(
    fake: FakeMonday, webhooks: MondayWebhooks
) -> None:
    made = webhooks.create_webhook(URL, "change_status_column_value", STATUS_CONFIG)

    assert made == Webhook(made.id, "change_status_column_value", STATUS_CONFIG)
    variables = fake.bodies[-1]["variables"]
    assert variables["url"] == URL and variables["board"] == BOARD_ID
    assert json.loads(variables["config"]) == STATUS_CONFIG
    # The same variables after a deletion must create again, not replay the first answer.
    assert "idempotency-key" not in fake.requests[-1].headers
    assert fake.webhook_urls[made.id] == URL


def test_create_without_config_sends_none(fake: FakeMonday, webhooks: MondayWebhooks) -> None:
    made = webhooks.create_webhook(URL, "create_item", None)

    assert made.config == {}
    assert "config" not in fake.bodies[-1]["variables"]


def test_delete_names_the_webhook(fake: FakeMonday, webhooks: MondayWebhooks) -> None:
    made = webhooks.create_webhook(URL, "create_item", None)

    webhooks.delete_webhook(made.id)

    assert fake.webhooks == []
    assert fake.bodies[-1]["variables"] == {"id": made.id}


def test_a_refused_challenge_is_an_error_with_monday_s_words(
    fake: FakeMonday, webhooks: MondayWebhooks
) -> None:
    fake.faults.append(
        graphql_error("InvalidArgumentException", "Failed to communicate with URL provided.")
    )

    with pytest.raises(ExternalError) as raised:
        webhooks.create_webhook(URL, "create_item", None)

    assert "Failed to communicate with URL provided" in raised.value.message
    assert fake.webhooks == []


def test_an_unknown_token_is_permanent(fake: FakeMonday, webhooks: MondayWebhooks) -> None:
    fake.faults.append(graphql_error("Unauthorized", "Not Authenticated", status=401))

    with pytest.raises(PermanentError):
        webhooks.list_webhooks()


def test_a_server_error_is_retried_in_the_call(
    fake: FakeMonday, webhooks: MondayWebhooks, sleeps: list[float]
) -> None:
    fake.faults.append(httpx.Response(502, text="bad gateway"))

    listing = webhooks.list_webhooks()

    assert listing.user_id == ME_ID
    assert len(sleeps) == 1
    assert webhooks.usage().requests == 2


def test_a_timeout_is_transient(fake: FakeMonday, webhooks: MondayWebhooks) -> None:
    fake.faults.extend([httpx.ReadTimeout("slow")] * 3)

    with pytest.raises(TransientError) as raised:
        webhooks.list_webhooks()

    assert "did not answer in time" in raised.value.message


def test_without_a_token_the_adapter_cannot_be_built() -> None:
    settings = make_settings().model_copy(
        update={"monday": make_settings().monday.model_copy(update={"token": None})}
    )

    with pytest.raises(PermanentError) as raised:
        MondayWebhooks.from_settings(settings)

    assert "LEADBRIDGE_MONDAY__TOKEN" in raised.value.fix
