"""The sandbox: one loopback HTTP server for monday, Google and GitHub, with faults.

Layout under ``{url}``: ``/monday/v2``, ``/google/…`` (token endpoint, Drive, Docs, Sheets,
Gmail), ``/github/…`` and ``/_sandbox/…`` (control: state, faults, the scripted sales team).
Every API request is counted per API and operation, then the fault plan decides whether it is
answered normally, answered wrongly, delayed, cut off, or carried out and then lost.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from leadbridge.sandbox.control import ControlApi
from leadbridge.sandbox.faults import FaultPlan, FaultRule
from leadbridge.sandbox.github import GitHubApi
from leadbridge.sandbox.google import GoogleApi
from leadbridge.sandbox.google_common import google_error
from leadbridge.sandbox.http import Call, Request, Response
from leadbridge.sandbox.monday import MondayApi
from leadbridge.sandbox.state import SandboxState
from leadbridge.sandbox.world import build_world

GOOGLE_APIS = ("drive", "docs", "sheets", "gmail")
MALFORMED = b'{"data": {"boards": [{"id": "1140216585", "items_page": {"cursor": nul'


class Sandbox:
    """``with Sandbox() as sandbox:`` serves on a random loopback port until the block ends."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, seed: int = 0) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the sandbox serves on loopback only, not {host}")
        self.host = host
        self.port = port
        self.state = SandboxState()
        self.faults = FaultPlan(seed)
        #: Tracebacks of requests the sandbox itself failed to handle (a bug here, not a fault).
        self.errors: list[str] = []
        self.monday = MondayApi(self.state, self.errors)
        self.google = GoogleApi(self.state)
        self.github = GitHubApi(self.state, lambda: self.url)
        self.control = ControlApi(self)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        build_world(self.state)

    # ------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Sandbox:
        sandbox = self

        class Handler(_Handler):
            owner = sandbox

        server = _Server((self.host, self.port), Handler)
        self._server = server
        self.port = server.server_address[1]
        self._stopping.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="sandbox", daemon=True
        )
        self._thread.start()
        self.monday.webhooks.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.monday.webhooks.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------ credentials

    @property
    def monday_token(self) -> str:
        return self.state.monday.token

    @property
    def github_token(self) -> str:
        return self.state.github.token

    def google_token(self, subject: str | None = None) -> str:
        """An access token as if the service account had been granted one for ``subject``."""
        return self.google.issue_token(subject)

    # ------------------------------------------------------------ dispatch

    def route(self, request: Request) -> Call | None:
        prefix, _, rest = request.path.lstrip("/").partition("/")
        inner = request.with_path("/" + rest)
        if prefix == "monday":
            return self.monday.route(inner)
        if prefix == "google":
            return self.google.route(inner)
        if prefix == "github":
            return self.github.route(inner)
        return None

    def answer(self, call: Call) -> Response:
        """Perform a routed call, turning a bug in the sandbox into a visible 500."""
        try:
            return call.perform()
        except Exception:
            self.errors.append(traceback.format_exc())
            return Response.json(500, {"sandbox_error": traceback.format_exc(limit=1)})

    def wait(self, seconds: float) -> bool:
        """Sleep for a latency fault; False when the sandbox stopped meanwhile."""
        return not self._stopping.wait(seconds)


def fault_response(rule: FaultRule, api: str) -> Response:
    """The answer a failing service gives, in that service's own error shape."""
    kind = rule.kind
    if kind == "malformed_body":
        return Response(200, MALFORMED, {"Content-Type": "application/json; charset=utf-8"})
    headers = dict(rule.headers)
    if rule.retry_after is not None:
        headers.setdefault("Retry-After", str(rule.retry_after))
    status = rule.status
    if kind == "commit_then_502" and rule.status == 500:
        status = 502
    if rule.body is not None:
        return Response.json(status, rule.body, headers)
    if api == "monday":
        return _monday_fault(rule, status, headers)
    if api in GOOGLE_APIS:
        if kind == "rate_limit":
            return google_error(
                429 if status == 429 else 403, "rateLimitExceeded", "Rate Limit Exceeded", headers
            )
        reasons = {
            400: "badRequest",
            401: "authError",
            403: "forbidden",
            404: "notFound",
            429: "rateLimitExceeded",
        }
        return google_error(status, reasons.get(status, "backendError"), "Backend Error", headers)
    if api == "github":
        if kind == "rate_limit" or status == 429:
            message = (
                "You have exceeded a secondary rate limit. "
                "Please wait a few minutes before you try again."
            )
            return Response.json(
                429 if status == 429 else 403,
                {"message": message, "documentation_url": "https://docs.github.com/rest"},
                headers,
            )
        return Response.json(
            status, {"message": "Server Error" if status >= 500 else "Error"}, headers
        )
    return Response.json(status, {"error": "temporarily_unavailable"}, headers)


def _monday_fault(rule: FaultRule, status: int, headers: dict[str, str]) -> Response:
    wait = rule.retry_after if rule.retry_after is not None else 7
    if rule.kind == "complexity":
        headers.setdefault("Retry-After", str(wait))
        error = {
            "message": f"Complexity budget exhausted, reset in {wait} seconds",
            "extensions": {
                "code": "COMPLEXITY_BUDGET_EXHAUSTED",
                "retry_in_seconds": wait,
                "status_code": 429,
            },
        }
        return Response.json(429, {"errors": [error]}, headers)
    if rule.kind == "rate_limit" or status == 429:
        headers.setdefault("Retry-After", str(wait))
        error = {
            "message": "Rate Limit Exceeded",
            "extensions": {
                "code": "RATE_LIMIT_EXCEEDED",
                "retry_in_seconds": wait,
                "status_code": 429,
            },
        }
        return Response.json(429, {"errors": [error]}, headers)
    message = "Internal server error" if status >= 500 else "Request failed"
    error = {
        "message": message,
        "extensions": {"code": "INTERNAL_SERVER_ERROR", "status_code": status},
    }
    return Response.json(
        status, {"errors": [error], "error_message": message, "status_code": status}, headers
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (timeouts, dropped connections) is expected here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    owner: Sandbox
    protocol_version = "HTTP/1.1"
    server_version = "leadbridge-sandbox"
    #: Headers and body leave in two writes; with Nagle's algorithm the body would wait for
    #: the client's delayed ACK of the headers (up to 40 ms on Linux) on every response.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines; counters and state tell the story."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        sandbox = self.owner
        request = Request.parse(
            self.command, self.path, dict(self.headers.items()), self._read_body()
        )
        if request.path.startswith("/_sandbox/"):
            self._send(
                sandbox.control.handle(request.with_path(request.path.removeprefix("/_sandbox")))
            )
            return
        call = sandbox.route(request)
        if call is None:
            self._send(Response.json(404, {"error": f"nothing is served at {request.path}"}))
            return
        sandbox.state.count(call.api, call.operation)
        rule = sandbox.faults.pick(call.api, call.operations)
        if rule is None:
            self._send(sandbox.answer(call))
        elif rule.kind == "latency":
            if sandbox.wait(rule.seconds):
                self._send(sandbox.answer(call))
            else:
                self._drop()
        elif rule.kind == "drop_connection":
            self._drop()
        elif rule.kind == "commit_then_drop":
            sandbox.answer(call)
            self._drop()
        elif rule.kind == "commit_then_502":
            sandbox.answer(call)
            self._send(fault_response(rule, call.api))
        else:
            self._send(fault_response(rule, call.api))

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
