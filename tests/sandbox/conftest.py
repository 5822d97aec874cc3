"""A running sandbox per test, and small clients that speak to it as the real APIs are spoken to."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


class Receiver:
    """Records every POST; echoes challenges unless told not to."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.echo = True
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.received.append((dict(self.headers.items()), body))
                answer: dict[str, Any] = {}
                if "challenge" in body and receiver.echo:
                    answer = {"challenge": body["challenge"]}
                payload = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/monday/webhook/k"

    def events(self) -> list[dict[str, Any]]:
        return [body["event"] for _, body in self.received if "event" in body]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.server.shutdown()
    made.server.server_close()
