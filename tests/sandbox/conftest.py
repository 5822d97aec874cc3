"""A running sandbox per test, and small clients that speak to it as the real APIs are spoken to."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from leadbridge.sandbox.server import Sandbox
from leadbridge.sandbox.world import BOARD_ID


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running
        assert running.errors == [], "the sandbox itself failed:\n" + "\n".join(running.errors)


class Monday:
    """GraphQL over httpx with the headers leadbridge sends."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.client = httpx.Client(
            base_url=sandbox.url,
            headers={"Authorization": sandbox.monday_token, "API-Version": "2026-10"},
            timeout=5,
        )

    def post(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> httpx.Response:
        return self.client.post(
            "/monday/v2", json={"query": query, "variables": variables or {}}, headers=headers
        )

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.post(query, variables).json()
        assert "errors" not in body, body
        return body["data"]

    def errors(self, query: str, variables: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        response = self.post(query, variables)
        assert response.status_code == 200
        return response.json()["errors"]


@pytest.fixture
def monday(sandbox: Sandbox) -> Iterator[Monday]:
    client = Monday(sandbox)
    yield client
    client.client.close()


@pytest.fixture
def board_id() -> str:
    return BOARD_ID
