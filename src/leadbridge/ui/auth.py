"""Who is asking: an operator token, a login made with it, or a trusted proxy's identity header.

The page shows contact names and addresses, so every page needs a credential:

- ``Authorization: Bearer <ui.token>`` (scripts), or a session cookie that the login page
  issues after the token was typed once (browsers). The cookie is signed with a key derived
  from the token, so changing the token signs everybody out.
- ``ui.identity_header`` (e.g. ``X-Forwarded-User``) set by an authenticating proxy such as
  oauth2-proxy, believed only from the addresses in ``ui.trusted_proxies``.

Actions (POST) also need a CSRF token: an HMAC of the session (or of the identity) under a
server key, so a page of another site cannot make a signed-in browser retry effects.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import ip_address, ip_network

from leadbridge.settings import UiSettings

SESSION_COOKIE = "leadbridge_session"
#: Longest name a person may give at login, and longest identity believed from a proxy.
MAX_NAME = 80


class NotConfigured(Exception):
    """Neither ``ui.token`` nor ``ui.identity_header``: the page must not be served."""


@dataclass(frozen=True)
class Identity:
    """A person (or script) allowed in; ``who`` is what the log records for their actions."""

    who: str
    #: How they got in: "token", "session" or "proxy".
    via: str
    #: What the CSRF token of their forms is bound to.
    binding: str


@dataclass(frozen=True)
class Refusal:
    """401: no credential at all; 403: a credential that is wrong or not believed."""

    status: int
    reason: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _clean_name(text: str) -> str:
    printable = "".join(c for c in text if c.isprintable()).strip()
    return printable[:MAX_NAME]


class Authenticator:
    def __init__(
        self,
        settings: UiSettings,
        *,
        server_key: Callable[[], bytes] | None = None,
    ) -> None:
        if settings.token is None and settings.identity_header is None:
            raise NotConfigured(
                "the status page shows personal data and needs a credential, but neither "
                "ui.token nor ui.identity_header is set. Fix: set LEADBRIDGE_UI__TOKEN (or the "
                "secret file ui__token), or put the page behind an authenticating proxy and "
                "set ui.identity_header (see README: the status page)"
            )
        self.settings = settings
        token = settings.token.get_secret_value() if settings.token is not None else ""
        if settings.token is not None and not token:
            raise NotConfigured("ui.token is empty. Fix: set a long random value")
        self._token = token.encode()
        self._networks = [ip_network(n, strict=False) for n in settings.trusted_proxies]
        self._session_key = (
            hmac.new(self._token, b"leadbridge-ui-session", hashlib.sha256).digest()
            if token
            else b""
        )
        self._server_key_source = server_key
        self._server_key: bytes | None = (
            hmac.new(self._token, b"leadbridge-ui-csrf", hashlib.sha256).digest() if token else None
        )

    @property
    def has_token(self) -> bool:
        return bool(self._token)

    # ------------------------------------------------------------ identifying a request

    def identify(
        self, headers: Mapping[str, str], cookies: Mapping[str, str], client: str, now: datetime
    ) -> Identity | Refusal:
        header = self.settings.identity_header
        if header is not None:
            claimed = headers.get(header)
            if claimed is not None:
                if not self._trusted(client):
                    return Refusal(
                        403,
                        f"the {header} header came from {client}, which is not in "
                        "ui.trusted_proxies",
                    )
                who = _clean_name(claimed)
                if not who:
                    return Refusal(403, f"the {header} header is empty")
                return Identity(who, "proxy", f"proxy:{who}")
        authorization = headers.get("Authorization", "")
        if authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() != "bearer" or not self.has_token:
                return Refusal(403, "only a bearer token of ui.token is accepted")
            if not hmac.compare_digest(value.strip().encode(), self._token):
                return Refusal(403, "wrong token")
            return Identity("token", "token", "bearer")
        cookie = cookies.get(SESSION_COOKIE)
        if cookie and self.has_token:
            session = self._read_session(cookie, now)
            if session is not None:
                name, nonce = session
                return Identity(f"{name} (token login)", "session", f"session:{nonce}")
        if self.has_token:
            return Refusal(401, "sign in with the operator token")
        return Refusal(401, f"sign in through the proxy that sets {header}")

    def _trusted(self, client: str) -> bool:
        try:
            address = ip_address(client)
        except ValueError:
            return False
        return any(address in network for network in self._networks)

    def check_token(self, typed: str) -> bool:
        return self.has_token and hmac.compare_digest(typed.strip().encode(), self._token)

    # ------------------------------------------------------------ sessions (token login)

    def new_session(self, name: str, now: datetime) -> str:
        who = _clean_name(name) or "operator"
        payload = ".".join(
            [_b64(who.encode()), str(int(now.timestamp())), secrets.token_urlsafe(16)]
        )
        return f"{payload}.{self._sign(self._session_key, payload)}"

    def _read_session(self, cookie: str, now: datetime) -> tuple[str, str] | None:
        parts = cookie.split(".")
        if len(parts) != 4:
            return None
        payload, signature = ".".join(parts[:3]), parts[3]
        if not hmac.compare_digest(signature, self._sign(self._session_key, payload)):
            return None
        try:
            name = _unb64(parts[0]).decode()
            issued = datetime.fromtimestamp(int(parts[1]), tz=now.tzinfo)
        except (ValueError, UnicodeDecodeError):
            return None
        if not timedelta(0) <= now - issued <= timedelta(hours=self.settings.session_hours):
            return None
        return name, parts[2]

    def session_seconds(self) -> int:
        return self.settings.session_hours * 3600

    # ------------------------------------------------------------ CSRF

    def csrf_token(self, identity: Identity) -> str:
        return self._sign(self._csrf_key(), f"csrf:{identity.binding}")

    def csrf_ok(self, identity: Identity, token: str | None) -> bool:
        if not token:
            return False
        return hmac.compare_digest(token.encode(), self.csrf_token(identity).encode())

    def _csrf_key(self) -> bytes:
        if self._server_key is None:
            self._server_key = (
                self._server_key_source() if self._server_key_source else secrets.token_bytes(32)
            )
        return self._server_key

    @staticmethod
    def _sign(key: bytes, payload: str) -> str:
        return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
