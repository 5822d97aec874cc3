"""``/healthz`` and ``/metrics`` for operators and orchestrators.

A small HTTP server on its own thread, so that probes answer even while a cycle runs: an
orchestrator that times out its probe during a long cycle would restart a healthy poller.
It decides nothing; ``/healthz`` is the coordinator's verdict and ``/metrics`` the registry,
and monday's webhook deliveries go to the receiver (``runtime.webhooks``) when it is on.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from leadbridge.runtime.coordinator import PollCoordinator

if TYPE_CHECKING:
    from leadbridge.runtime.webhooks import WebhookReceiver

log = structlog.get_logger(__name__)


class HealthServer:
    """Serves the coordinator's ``/healthz`` verdict and the Prometheus registry."""

    def __init__(
        self,
        coordinator: PollCoordinator,
        host: str,
        port: int,
        *,
        registry: CollectorRegistry = REGISTRY,
        ui: Callable[[BaseHTTPRequestHandler], None] | None = None,
        webhook: WebhookReceiver | None = None,
    ) -> None:
        # ``ui`` (the status page, ``leadbridge.ui``) answers every other path; ``webhook``
        # (monday's deliveries, when webhooks are on) the POSTs on its path.
        handler = _handler_for(coordinator, registry, ui, webhook)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="leadbridge-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()
        log.info("http_listening", port=self.port, paths=["/healthz", "/metrics"])

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_for(
    coordinator: PollCoordinator,
    registry: CollectorRegistry,
    ui: Callable[[BaseHTTPRequestHandler], None] | None = None,
    webhook: WebhookReceiver | None = None,
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "leadbridge"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                verdict = coordinator.verdict()
                self._send(verdict.status, "application/json", json.dumps(verdict.body).encode())
            elif path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            elif ui is not None:
                ui(self)
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found: try /healthz, /metrics\n")

        def do_POST(self) -> None:
            if webhook is not None and webhook.serves(self.path):
                self._delivery(webhook)
            elif ui is not None and self.path.split("?", 1)[0] not in ("/healthz", "/metrics"):
                ui(self)
            else:
                self._send(405, "text/plain; charset=utf-8", b"method not allowed\n")

        def _delivery(self, receiver: WebhookReceiver) -> None:
            """A webhook delivery: answered at once; any poll it asks for runs elsewhere."""
            from leadbridge.runtime.webhooks import MAX_BODY_BYTES

            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = 0
            # One byte more than allowed is enough to tell a body too large.
            body = self.rfile.read(min(max(length, 0), MAX_BODY_BYTES + 1))
            answer = receiver.receive(self.path, self.headers.get("Authorization"), body)
            self._send(answer.status, "application/json", json.dumps(answer.body).encode())

        def _send(self, status: int, content_type: str, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            # A probe every few seconds would drown the decision lines; errors still log.
            pass

        def log_error(self, format: str, *args: Any) -> None:
            log.warning("http_error", detail=format % args)

    return Handler
