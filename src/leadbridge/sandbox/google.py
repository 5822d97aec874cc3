"""Google under ``{root}/google/``: the OAuth token endpoint, Drive, Docs, Sheets and Gmail.

The token endpoint takes the service account's JWT grant without checking its signature and
remembers the ``sub`` it names, so Gmail can act as that user; every other call needs a
token issued here, as Google needs one of its own. Like Google, it refuses a grant for a
delegated user that asks for a scope the delegation does not list, and its answer names the
scopes granted.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Callable
from urllib.parse import parse_qs, unquote

from leadbridge.sandbox.docs_sheets import DocsApi, SheetsApi
from leadbridge.sandbox.drive import DriveApi
from leadbridge.sandbox.gmail import GmailApi
from leadbridge.sandbox.google_common import GoogleError, google_error
from leadbridge.sandbox.http import Call, Request, Response
from leadbridge.sandbox.state import SandboxState

Handler = Callable[[Request, re.Match[str], str | None], Response]


class GoogleApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        drive, docs, sheets, gmail = (
            DriveApi(state),
            DocsApi(state),
            SheetsApi(state),
            GmailApi(state),
        )
        file_id = r"(?P<id>[^/:]+)"
        user = r"(?P<user>[^/]+)"
        #: (method, path pattern, api, operation, handler(request, match, subject))
        self.routes: list[tuple[str, re.Pattern[str], str, str, Handler]] = [
            (
                "POST",
                re.compile(r"/drive/v3/files"),
                "drive",
                "files.create",
                lambda r, m, s: drive.create(r),
            ),
            (
                "GET",
                re.compile(r"/drive/v3/files"),
                "drive",
                "files.list",
                lambda r, m, s: drive.list(r),
            ),
            (
                "POST",
                re.compile(rf"/drive/v3/files/{file_id}/copy"),
                "drive",
                "files.copy",
                lambda r, m, s: drive.copy(r, m["id"]),
            ),
            (
                "GET",
                re.compile(rf"/drive/v3/files/{file_id}"),
                "drive",
                "files.get",
                lambda r, m, s: drive.get(r, m["id"]),
            ),
            (
                "PATCH",
                re.compile(rf"/drive/v3/files/{file_id}"),
                "drive",
                "files.update",
                lambda r, m, s: drive.update(r, m["id"]),
            ),
            (
                "GET",
                re.compile(rf"/v1/documents/{file_id}"),
                "docs",
                "documents.get",
                lambda r, m, s: docs.get(m["id"]),
            ),
            (
                "POST",
                re.compile(rf"/v1/documents/{file_id}:batchUpdate"),
                "docs",
                "documents.batchUpdate",
                lambda r, m, s: docs.batch_update(r, m["id"]),
            ),
            (
                "GET",
                re.compile(rf"/v4/spreadsheets/{file_id}"),
                "sheets",
                "spreadsheets.get",
                lambda r, m, s: sheets.get(r, m["id"]),
            ),
            (
                "POST",
                re.compile(rf"/v4/spreadsheets/{file_id}:batchUpdate"),
                "sheets",
                "spreadsheets.batchUpdate",
                lambda r, m, s: sheets.batch_update(r, m["id"]),
            ),
            (
                "POST",
                re.compile(rf"/v4/spreadsheets/{file_id}/values:batchUpdate"),
                "sheets",
                "values.batchUpdate",
                lambda r, m, s: sheets.batch_update_values(r, m["id"]),
            ),
            (
                "GET",
                re.compile(rf"/v4/spreadsheets/{file_id}/values/(?P<range>[^/]+)"),
                "sheets",
                "values.get",
                lambda r, m, s: sheets.get_values(m["id"], unquote(m["range"])),
            ),
            (
                "PUT",
                re.compile(rf"/v4/spreadsheets/{file_id}/values/(?P<range>[^/]+)"),
                "sheets",
                "values.update",
                lambda r, m, s: sheets.update_values(r, m["id"], unquote(m["range"])),
            ),
            (
                "POST",
                re.compile(rf"/gmail/v1/users/{user}/messages/send"),
                "gmail",
                "messages.send",
                lambda r, m, s: gmail.send(r, unquote(m["user"]), s),
            ),
            (
                "GET",
                re.compile(rf"/gmail/v1/users/{user}/messages"),
                "gmail",
                "messages.list",
                lambda r, m, s: gmail.list(r, unquote(m["user"]), s),
            ),
            (
                "GET",
                re.compile(rf"/gmail/v1/users/{user}/messages/(?P<message>[^/]+)"),
                "gmail",
                "messages.get",
                lambda r, m, s: gmail.get(r, unquote(m["user"]), s, m["message"]),
            ),
            (
                "GET",
                re.compile(rf"/gmail/v1/users/{user}/profile"),
                "gmail",
                "users.getProfile",
                lambda r, m, s: gmail.profile(unquote(m["user"]), s),
            ),
        ]

    def route(self, request: Request) -> Call:
        if request.path == "/token":
            return Call("oauth", ("token",), lambda: self.token(request))
        for method, pattern, api, operation, handler in self.routes:
            match = pattern.fullmatch(request.path)
            if match is None or method != request.method:
                continue
            return Call(api, (operation,), lambda h=handler, m=match: self._guarded(request, m, h))
        return Call(
            "drive" if request.path.startswith("/drive/") else "google",
            ("unknown",),
            lambda: google_error(
                404, "notFound", f"The sandbox has no {request.method} {request.path}"
            ),
        )

    def _guarded(self, request: Request, match: re.Match[str], handler: Handler) -> Response:
        authorization = request.header("Authorization") or ""
        token = authorization.removeprefix("Bearer ").strip()
        with self.state.lock:
            known = token in self.state.google.tokens
            subject = self.state.google.tokens.get(token)
        if not known:
            return google_error(
                401,
                "authError",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
                {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
                location="Authorization",
            )
        try:
            return handler(request, match, subject)
        except GoogleError as error:
            return error.response()
        except (ValueError, KeyError, TypeError) as error:
            return google_error(400, "badRequest", f"Invalid request: {error}")

    def token(self, request: Request) -> Response:
        if request.method != "POST":
            return Response.json(405, {"error": "invalid_request"})
        form = parse_qs(request.body.decode("utf-8", "replace"))
        if form.get("grant_type", [""])[0] != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return Response.json(
                400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
            )
        claims = _jwt_claims(form.get("assertion", [""])[0])
        subject = str(claims.get("sub") or "") or None
        scopes = str(claims.get("scope") or "").split()
        token = f"sandbox-{secrets.token_hex(16)}"
        with self.state.lock:
            if subject and not set(scopes) <= self.state.google.delegated_scopes:
                # Google's answer when the delegation lacks any one of the scopes asked for.
                return Response.json(
                    401,
                    {
                        "error": "unauthorized_client",
                        "error_description": "Client is unauthorized to retrieve access tokens "
                        "using this method, or client not authorized for any of the scopes "
                        "requested.",
                    },
                )
            self.state.google.tokens[token] = subject
        return Response.json(
            200,
            {
                "access_token": token,
                "expires_in": 3600,
                "token_type": "Bearer",
                "scope": " ".join(scopes),
            },
        )

    def issue_token(self, subject: str | None) -> str:
        """A token for tests that call the APIs directly, as if the grant had happened."""
        token = f"sandbox-{secrets.token_hex(16)}"
        with self.state.lock:
            self.state.google.tokens[token] = subject
        return token


def _jwt_claims(assertion: str) -> dict[str, object]:
    """The grant's claims (``sub``, ``scope``…); its signature is not checked."""
    try:
        claims = assertion.split(".")[1]
        payload = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return {}
    return payload if isinstance(payload, dict) else {}
