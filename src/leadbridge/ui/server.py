"""Serving the status page: inside ``leadbridge run`` (beside /healthz and /metrics) or alone.

``ui_handler`` gives ``runtime.http`` one callable that answers every path other than
/healthz and /metrics. ``UiServer`` is the page on its own HTTP server, against the state
database alone, for ``leadbridge serve-ui`` and the browser tests. Both start the history
pruner, which forgets status changes and attempts older than ``ui.history_days``.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

import structlog

from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.settings import Settings
from leadbridge.ui.app import MAX_BODY, Headers, Request, Response, UiApp
from leadbridge.ui.auth import NotConfigured

log = structlog.get_logger(__name__)

#: Seconds between two prunings of the history.
PRUNE_EVERY = 3600.0
#: Under ``leadbridge run``, the first pruning waits until the poller has opened (and
#: migrated) the database, rather than racing it.
FIRST_PRUNE_AFTER = 60.0


def _open_store(settings: Settings) -> Callable[[], SqlStateStore]:
    def open_() -> SqlStateStore:
        return SqlStateStore.open(settings.state.url, settings.monday.board_id)

    return open_


class UiHandler:
    """What ``runtime.http`` calls for every path that is not /healthz or /metrics."""

    def __init__(self, app: UiApp | None, reason: str = "") -> None:
        self.app = app
        self.reason = reason

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        if self.app is None:
            body = f"the status page is not served: {self.reason}\n".encode()
            write(handler, Response(404, body, "text/plain; charset=utf-8"))
            return
        length = handler.headers.get("Content-Length") or "0"
        size = int(length) if length.isdigit() else -1
        if size < 0 or size > MAX_BODY:
            write(handler, Response(413, b"request too large\n", "text/plain; charset=utf-8"))
            return
        request = Request(
            method=handler.command,
            target=handler.path,
            headers=Headers(handler.headers.items()),
            client=str(handler.client_address[0]),
            body=handler.rfile.read(size) if size else b"",
        )
        write(handler, self.app.respond(request))


def write(handler: BaseHTTPRequestHandler, response: Response) -> None:
    handler.send_response(response.status)
    handler.send_header("Content-Type", response.content_type)
    handler.send_header("Content-Length", str(len(response.body)))
    for name, value in response.headers:
        handler.send_header(name, value)
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(response.body)


class HistoryPruner:
    """A daemon thread that prunes the history now and then every ``PRUNE_EVERY`` seconds."""

    def __init__(
        self, prune: Callable[[], int], every: float = PRUNE_EVERY, first_after: float = 0.0
    ) -> None:
        self._prune = prune
        self._every = every
        self._first_after = first_after
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leadbridge-prune", daemon=True)

    def start(self) -> HistoryPruner:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        if self._stop.wait(self._first_after):
            return
        while not self._stop.is_set():
            try:
                self._prune()
            except Exception as error:  # the database may be away; the next round retries
                log.warning("history_prune_failed", error=f"{type(error).__name__}: {error}")
            self._stop.wait(self._every)


def build_app(
    settings: Settings,
    *,
    verdict: Callable[[], Any] | None = None,
    store: Callable[[], SqlStateStore] | None = None,
) -> UiApp:
    """The page, or ``NotConfigured`` when there is no credential to protect it with."""
    return UiApp(settings, store or _open_store(settings), verdict=verdict)


def ui_handler(
    settings: Settings, verdict: Callable[[], Any] | None = None, *, prune: bool = True
) -> UiHandler:
    """For ``leadbridge run``: the page beside /healthz and /metrics, and the pruner."""
    store = _open_store(settings)
    try:
        app = build_app(settings, verdict=verdict, store=store)
    except NotConfigured as error:
        log.warning("ui_not_served", reason=str(error))
        keep = settings.ui.history_days
        if prune:
            pruner = HistoryPruner(lambda: _prune_alone(store, keep), first_after=FIRST_PRUNE_AFTER)
            pruner.start()
        return UiHandler(None, str(error))
    if prune:
        HistoryPruner(app.prune, first_after=FIRST_PRUNE_AFTER).start()
    log.info("ui_served", path="/", sign_in=_credential(settings))
    return UiHandler(app)


def _prune_alone(open_store: Callable[[], SqlStateStore], days: int) -> int:
    from datetime import UTC, datetime, timedelta

    store = open_store()
    try:
        return store.prune_history(datetime.now(UTC) - timedelta(days=days))
    finally:
        store.close()


def _credential(settings: Settings) -> str:
    found = []
    if settings.ui.token is not None:
        found.append("ui.token")
    if settings.ui.identity_header:
        found.append(f"ui.identity_header ({settings.ui.identity_header})")
    return ", ".join(found)


class UiServer:
    """The page alone on its own port: /healthz (no personal data) and the UI."""

    def __init__(self, app: UiApp, host: str, port: int) -> None:
        handler = UiHandler(app)

        class Handler(BaseHTTPRequestHandler):
            server_version = "leadbridge"

            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] == "/healthz":
                    body = json.dumps({"status": "ok", "role": "ui-only"}).encode()
                    write(self, Response(200, body, "application/json"))
                else:
                    handler(self)

            def do_HEAD(self) -> None:
                handler(self)

            def do_POST(self) -> None:
                handler(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def log_error(self, format: str, *args: Any) -> None:
                log.warning("http_error", detail=format % args)

        self.app = app
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="leadbridge-ui", daemon=True
        )
        self._pruner = HistoryPruner(app.prune)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = self._server.server_address[0]
        return f"http://{host}:{self.port}"

    def start(self) -> UiServer:
        self._thread.start()
        self._pruner.start()
        return self

    def stop(self) -> None:
        self._pruner.stop()
        self._server.shutdown()
        self._server.server_close()


def serve_ui(settings: Settings, host: str, port: int, stop: threading.Event | None = None) -> int:
    """``leadbridge serve-ui``: serve until SIGTERM/SIGINT; 2 when no credential is set."""
    from leadbridge.logs import configure_logging, secret_values

    configure_logging(secrets=secret_values(settings))
    try:
        app = build_app(settings)
    except NotConfigured as error:
        log.error("ui_not_served", reason=str(error))
        print(f"leadbridge: {error}", file=sys.stderr)
        return 2
    app.store  # noqa: B018 - open (and migrate) the database now, so a bad URL fails at once
    server = UiServer(app, host, port).start()
    log.info("ui_listening", port=server.port, sign_in=_credential(settings))
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():

        def on_signal(number: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    while not stop.wait(1.0):
        pass
    server.stop()
    app.store.close()
    log.info("ui_stopped")
    return 0
