"""The status page as a plain function of a request: routing, credentials, actions, rendering.

No HTTP server lives here (``ui.server`` adapts one), so the page handlers are tested by
calling ``UiApp.respond`` directly. Templates are Jinja2 with autoescaping on for every
template; board values reach them untouched and leave them as text.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from http.cookies import CookieError, SimpleCookie
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import structlog
from jinja2 import Environment, PackageLoader, StrictUndefined

from leadbridge.adapters.store.queries import StatusQueries
from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.domain.ledger import ATTEMPTED, EffectState
from leadbridge.domain.timeline import EffectAttempt
from leadbridge.settings import Settings
from leadbridge.ui import views
from leadbridge.ui.auth import SESSION_COOKIE, Authenticator, Identity, Refusal

log = structlog.get_logger(__name__)

#: Board fact holding the random key of CSRF tokens when no ui.token is configured.
CSRF_KEY_FACT = "ui_csrf_key"
#: Largest request body read (forms are a few hundred bytes).
MAX_BODY = 64 * 1024
STATIC = {"app.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8"}
SECURITY_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Headers:
    """Case-insensitive request headers."""

    def __init__(self, items: Mapping[str, str] | Any) -> None:
        pairs = items.items() if hasattr(items, "items") else items
        self._values = {str(k).lower(): str(v) for k, v in pairs}

    def get(self, name: str, default: Any = None) -> Any:
        return self._values.get(name.lower(), default)


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: Headers = field(default_factory=lambda: Headers({}))
    client: str = "127.0.0.1"
    body: bytes = b""

    @cached_property
    def path(self) -> str:
        return urlsplit(self.target).path or "/"

    @cached_property
    def query(self) -> dict[str, str]:
        return _first(parse_qs(urlsplit(self.target).query, keep_blank_values=True))

    @cached_property
    def form(self) -> dict[str, str]:
        return _first(parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    @cached_property
    def cookies(self) -> dict[str, str]:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie", ""))
        except CookieError:
            return {}
        return {key: morsel.value for key, morsel in jar.items()}


def _first(parsed: Mapping[str, list[str]]) -> dict[str, str]:
    return {key: values[0] for key, values in parsed.items() if values}


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else ""


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("leadbridge.ui", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["iso"] = _iso
    env.filters["label"] = _label
    env.filters["safe_url"] = views.safe_url
    env.filters["path"] = lambda value: quote(str(value), safe="")
    env.filters["qs"] = lambda values: urlencode(values)
    return env


class UiApp:
    """Answers every path that is not /healthz or /metrics."""

    def __init__(
        self,
        settings: Settings,
        store: Callable[[], SqlStateStore],
        *,
        verdict: Callable[[], Any] | None = None,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        # First: without a credential to protect it, nothing else is worth building.
        self.auth = Authenticator(settings.ui, server_key=self._server_key)
        self.settings = settings
        self.pipeline = settings.pipeline()
        self._open_store = store
        self._store: SqlStateStore | None = None
        self._store_lock = threading.Lock()
        self.verdict = verdict
        self.now = now
        self.env = _environment()

    # ------------------------------------------------------------ the store, opened on need

    @property
    def store(self) -> SqlStateStore:
        with self._store_lock:
            if self._store is None:
                self._store = self._open_store()
            return self._store

    def _server_key(self) -> bytes:
        """The CSRF key when there is no token to derive it from: random, kept in the
        database so that every replica and restart agrees on it."""
        stored = self.store.fact(CSRF_KEY_FACT)
        if not isinstance(stored, str) or len(stored) < 32:
            import secrets

            stored = secrets.token_hex(32)
            self.store.save_fact(CSRF_KEY_FACT, stored)
        return bytes.fromhex(stored)

    def prune(self) -> int:
        """Forget history older than ``ui.history_days``."""
        before = self.now() - timedelta(days=self.settings.ui.history_days)
        removed = self.store.prune_history(before)
        if removed:
            log.info("history_pruned", rows=removed, before=before.isoformat())
        return removed

    # ------------------------------------------------------------ dispatch

    def respond(self, request: Request) -> Response:
        try:
            response = self._dispatch(request)
        except Exception as error:
            log.exception("ui_request_failed", path=request.path, error=type(error).__name__)
            response = self._page(
                "error.html",
                503,
                None,
                title="Unavailable",
                message="The state database could not be read. The log says why; "
                "try again in a moment.",
            )
        response.headers.extend(SECURITY_HEADERS)
        return response

    def _dispatch(self, request: Request) -> Response:
        path, method = request.path, request.method
        if path.startswith("/static/") and method == "GET":
            return self._static(path.removeprefix("/static/"))
        if path == "/login":
            return self._login(request)
        found = self.auth.identify(request.headers, request.cookies, request.client, self.now())
        if isinstance(found, Refusal):
            return self._refuse(request, found)
        identity = found
        if method == "POST":
            if not self.auth.csrf_ok(identity, request.form.get("csrf")):
                log.warning(
                    "ui_action_refused",
                    who=identity.who,
                    path=path,
                    reason="missing or wrong CSRF token",
                )
                return self._page(
                    "error.html",
                    403,
                    identity,
                    title="Refused",
                    message="The form was stale or did not come from this page: nothing was "
                    "changed. Reload the page and try again.",
                )
            return self._post(request, identity)
        if method not in ("GET", "HEAD"):
            return Response(405, b"method not allowed\n", "text/plain; charset=utf-8")
        return self._get(request, identity)

    def _context(self) -> views.PageContext:
        store = self.store
        return views.PageContext(
            store=store,
            queries=StatusQueries(store.engine),
            settings=self.settings,
            pipeline=self.pipeline,
            now=self.now(),
            verdict=self.verdict,
        )

    def _get(self, request: Request, identity: Identity) -> Response:
        path = request.path.rstrip("/") or "/"
        if path == "/":
            data = views.overview(self._context())
            message = self._flash(request)
            return self._page(
                "overview.html", 200, identity, nav="overview", message=message, **data
            )
        if path == "/leads":
            data = views.leads(self._context(), request.query)
            return self._page("leads.html", 200, identity, nav="leads", **data)
        if path.startswith("/leads/"):
            item_id = path.removeprefix("/leads/")
            if "/" in item_id:
                return self._not_found(identity)
            found = views.lead(self._context(), item_id)
            if found is None:
                return self._not_found(identity)
            message = self._flash(request)
            return self._page("lead.html", 200, identity, nav="leads", message=message, **found)
        if path == "/hubs":
            data = views.hubs(self._context())
            return self._page("hubs.html", 200, identity, nav="hubs", **data)
        return self._not_found(identity)

    def _post(self, request: Request, identity: Identity) -> Response:
        path = request.path
        if path.startswith("/leads/") and path.endswith("/retry"):
            item_id = path.removeprefix("/leads/").removesuffix("/retry")
            if item_id and "/" not in item_id:
                return self._retry(request, identity, item_id)
        if path == "/retry-kind":
            return self._retry_kind(request, identity)
        if path == "/logout":
            log.info("ui_logout", who=identity.who)
            response = self._redirect("/login")
            response.headers.append(("Set-Cookie", self._cookie("", 0, request)))
            return response
        return self._not_found(identity)

    # ------------------------------------------------------------ actions

    def _retry(self, request: Request, identity: Identity, item_id: str) -> Response:
        from leadbridge.service.sync import rearm_effects

        effect = request.form.get("effect", "")
        if effect and effect not in self.pipeline.effects:
            return self._page(
                "error.html", 400, identity, title="Unknown effect", message="No such effect."
            )
        now = self.now()
        rearmed = rearm_effects(self.store, item_id, effect or None, now)
        for before, _ in rearmed:
            self._record_rearm(identity, before.item_id, before.effect, before, now)
        log.info(
            "ui_action",
            action="retry",
            who=identity.who,
            via=identity.via,
            item_id=item_id,
            effect=effect or "(every parked or failed)",
            rearmed=[before.effect for before, _ in rearmed],
        )
        query = {"retried": len(rearmed)}
        if any(before.ref.get(ATTEMPTED) for before, _ in rearmed):
            query["attempted"] = 1
        return self._redirect(f"/leads/{quote(item_id, safe='')}?{urlencode(query)}")

    def _retry_kind(self, request: Request, identity: Identity) -> Response:
        from leadbridge.service.sync import rearm_effects

        kind = request.form.get("kind", "")
        effects = [name for name, spec in self.pipeline.effects.items() if spec.kind == kind]
        if not effects:
            return self._page(
                "error.html", 400, identity, title="Unknown kind", message="No such effect kind."
            )
        now = self.now()
        queries = StatusQueries(self.store.engine)
        done: list[str] = []
        for entry in queries.entries([EffectState.PARKED.value], effects):
            for before, _ in rearm_effects(self.store, entry.item_id, entry.effect, now):
                self._record_rearm(identity, before.item_id, before.effect, before, now)
                done.append(f"{before.item_id}/{before.effect}")
        log.info(
            "ui_action",
            action="retry_all_parked",
            who=identity.who,
            via=identity.via,
            kind=kind,
            rearmed=done,
        )
        return self._redirect(f"/?{urlencode({'retried': len(done), 'kind': kind})}")

    def _record_rearm(
        self, identity: Identity, item_id: str, effect: str, before: Any, now: datetime
    ) -> None:
        was = f"{before.state.value} after {before.attempts} attempt(s)"
        self.store.record_attempt(
            EffectAttempt(
                item_id, effect, 0, now, now, "rearmed", "", f"by {identity.who}; was {was}"
            )
        )

    def _flash(self, request: Request) -> str:
        count = request.query.get("retried", "")
        if not count.isdigit():
            return ""
        kind = request.query.get("kind", "")
        of = f" {kind}" if kind in {s.kind for s in self.pipeline.effects.values()} else ""
        if count == "0":
            return "Nothing to retry: only parked or failed effects can be re-armed."
        said = f"Re-armed {count}{of} effect(s): the next cycle runs them."
        if request.query.get("attempted") == "1":
            said += (
                " An earlier attempt may have acted: e-mail backends that can tell are asked "
                "before sending again, plain SMTP parks again (after checking that the e-mail "
                "did not arrive: leadbridge retry --resend ITEM EFFECT)."
            )
        return said

    # ------------------------------------------------------------ login

    def _login(self, request: Request) -> Response:
        if not self.auth.has_token:
            return self._page(
                "error.html",
                404,
                None,
                title="No login here",
                message="This page is signed into through the proxy in front of it.",
            )
        target = _local(request.query.get("next") or request.form.get("next") or "/")
        if request.method != "POST":
            return self._page("login.html", 200, None, next=target, error="")
        typed = request.form.get("token", "")
        if not self.auth.check_token(typed):
            log.warning("ui_login_failed", client=request.client)
            return self._page(
                "login.html", 403, None, next=target, error="That is not the operator token."
            )
        name = request.form.get("name", "")
        cookie = self.auth.new_session(name, self.now())
        log.info("ui_login", who=name or "operator", client=request.client)
        response = self._redirect(target)
        response.headers.append(
            ("Set-Cookie", self._cookie(cookie, self.auth.session_seconds(), request))
        )
        return response

    def _refuse(self, request: Request, refusal: Refusal) -> Response:
        if refusal.status == 403:
            log.warning(
                "ui_refused", path=request.path, client=request.client, reason=refusal.reason
            )
        if request.method == "GET" and refusal.status == 401 and self.auth.has_token:
            target = request.path + (f"?{urlsplit(request.target).query}" if request.query else "")
            return self._page("login.html", 401, None, next=_local(target), error="")
        return self._page(
            "error.html",
            refusal.status,
            None,
            title="Sign in needed" if refusal.status == 401 else "Refused",
            message=refusal.reason,
        )

    @staticmethod
    def _cookie(value: str, seconds: int, request: Request) -> str:
        secure = request.headers.get("X-Forwarded-Proto", "").lower() == "https"
        parts = [f"{SESSION_COOKIE}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
        parts.append(f"Max-Age={seconds}")
        if secure:
            parts.append("Secure")
        return "; ".join(parts)

    # ------------------------------------------------------------ responses

    def _page(self, template: str, status: int, identity: Identity | None, **data: Any) -> Response:
        data.setdefault("nav", "")
        data.setdefault("message", "")
        html = self.env.get_template(template).render(
            who=identity.who if identity else "",
            csrf=self.auth.csrf_token(identity) if identity else "",
            now=self.now(),
            board_id=self.settings.monday.board_id,
            **data,
        )
        return Response(status, html.encode("utf-8"))

    def _not_found(self, identity: Identity) -> Response:
        return self._page(
            "error.html", 404, identity, title="Not found", message="There is no such page or lead."
        )

    @staticmethod
    def _redirect(location: str) -> Response:
        return Response(303, b"", "text/plain; charset=utf-8", [("Location", location)])

    @staticmethod
    def _static(name: str) -> Response:
        if name not in STATIC:
            return Response(404, b"not found\n", "text/plain; charset=utf-8")
        body = resources.files("leadbridge.ui").joinpath("static", name).read_bytes()
        return Response(200, body, STATIC[name])


def _local(target: str) -> str:
    """Only a path of this site may be a redirect target (no //evil.example)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
