"""``/healthz`` and ``/metrics`` for operators and orchestrators.

Health is judged by the age of the last poll that read the board, not by the process being
alive: a poller whose every read fails (expired token, monday down) is alive and useless, and
that is the failure an operator must be woken for. Three intervals of grace absorb one slow or
failed poll without flapping.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from leadbridge import telemetry

if TYPE_CHECKING:
    from leadbridge.service.sync import CycleReport

log = structlog.get_logger(__name__)

#: A poll older than this many intervals makes the service unhealthy.
STALE_AFTER_INTERVALS = 3


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Verdict:
    status: int
    body: dict[str, Any]


@dataclass
class _Facts:
    interval_seconds: int
    started_at: datetime
    role: str = "starting"
    holder: str = ""
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_cycle: dict[str, Any] = field(default_factory=dict)


class HealthState:
    """What the runner learnt from its last cycles; read by the HTTP thread."""

    def __init__(
        self,
        *,
        interval_seconds: int,
        redact: Callable[[str], str] = str,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._now = now
        # Error texts come from adapters and may quote what a server sent back.
        self._redact = redact
        self._lock = threading.Lock()
        self._facts = _Facts(interval_seconds=interval_seconds, started_at=now())

    def record(self, report: CycleReport, interval_seconds: int) -> None:
        """Take in a finished cycle; ``interval_seconds`` is the pace until the next one."""
        finished = report.finished_at or self._now()
        with self._lock:
            facts = self._facts
            facts.role = "active"
            facts.holder = ""
            facts.interval_seconds = interval_seconds
            facts.last_cycle = {
                "started_at": report.started_at.isoformat(),
                "finished_at": finished.isoformat(),
                "read_ok": report.read_ok,
                "full_reconcile": report.full_reconcile,
                "items_read": report.items_read,
                "transitions": report.transitions,
                "done": report.done,
                "failed": report.failed,
                "parked": report.parked,
                "waiting": report.waiting,
            }
            if report.read_ok:
                facts.last_success_at = finished
                facts.last_error = None
            else:
                facts.last_error = self._redact(report.error or "the board could not be read")
        if report.read_ok:
            telemetry.LAST_SUCCESSFUL_POLL.set(finished.timestamp())

    def record_failure(self, error: str, interval_seconds: int) -> None:
        """A cycle that could not even start or that raised: it counts as a failed poll."""
        with self._lock:
            self._facts.role = "active"
            self._facts.holder = ""
            self._facts.interval_seconds = interval_seconds
            self._facts.last_error = self._redact(error)

    def standby(self, holder: str, interval_seconds: int) -> None:
        with self._lock:
            self._facts.role = "standby"
            self._facts.holder = self._redact(holder)
            self._facts.interval_seconds = interval_seconds

    def verdict(self) -> Verdict:
        now = self._now()
        with self._lock:
            facts = self._facts
            limit = STALE_AFTER_INTERVALS * facts.interval_seconds
            body: dict[str, Any] = {"role": facts.role, "interval_seconds": facts.interval_seconds}
            if facts.role == "standby":
                # Healthy: restarting a standby replica would not make it acquire the lock.
                body |= {
                    "status": "standby",
                    "standby": True,
                    "reason": "standby: another replica holds the lock",
                    "holder": facts.holder,
                }
                return Verdict(200, body)
            body["standby"] = False
            if facts.last_cycle:
                body["last_cycle"] = dict(facts.last_cycle)
            if facts.last_error:
                body["last_error"] = facts.last_error
            since = facts.last_success_at or facts.started_at
            age = (now - since).total_seconds()
            body |= {"age_seconds": round(age, 1), "limit_seconds": limit}
            if facts.last_success_at is not None:
                body["last_successful_poll"] = facts.last_success_at.isoformat()
            if age < limit:
                body["status"] = "ok" if facts.last_success_at else "starting"
                return Verdict(200, body)
            what = (
                f"no successful poll for {age:.0f}s"
                if facts.last_success_at
                else f"no successful poll since the start {age:.0f}s ago"
            )
            body["status"] = "failing"
            body["reason"] = (
                f"{what} (limit {limit}s); last error: {facts.last_error or 'none recorded'}"
            )
            return Verdict(503, body)


class HealthServer:
    """A small HTTP server on its own thread, so probes answer even while a cycle runs."""

    def __init__(
        self,
        state: HealthState,
        host: str,
        port: int,
        *,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        handler = _handler_for(state, registry)
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


def _handler_for(state: HealthState, registry: CollectorRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "leadbridge"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                verdict = state.verdict()
                self._send(verdict.status, "application/json", json.dumps(verdict.body).encode())
            elif path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found: try /healthz, /metrics\n")

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
