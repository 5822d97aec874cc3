"""One authenticated connection to Google, shared by the Drive, Docs, Sheets and Gmail clients.

Everything here is built offline: the discovery documents bundled with the client library are
used (no discovery fetch at start-up) and the discovery cache is off (it only logs noise). The
transport (``transport.HttpxHttp``) carries the explicit timeout, because google-auth-httplib2
refuses per-request timeouts, and the token request shares it, so no call to Google can hang
a cycle.

``api_base_url`` and ``token_uri`` let a local emulator stand in for Google: the first replaces
every API root, the second the token endpoint written in the key file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google_auth_httplib2
import httplib2
from google.auth.exceptions import GoogleAuthError, RefreshError
from google.oauth2 import service_account
from googleapiclient.discovery import Resource, build

from leadbridge.domain.errors import PermanentError
from leadbridge.settings import GoogleSettings

from .errors import translate
from .transport import HttpxHttp

DRIVE_SCOPE = "https://www.googleapis.com/auth/drive"
#: ``gmail.send`` to send; ``gmail.readonly`` to search sent mail for a Message-ID and to
#: read the profile during ``leadbridge check``. Both must be granted to the delegation.
GMAIL_SCOPES = (
    "https://www.googleapis.com/auth/gmail.send",
    "https://www.googleapis.com/auth/gmail.readonly",
)

#: Token endpoint errors that mean "not delegated": Google refuses the whole token when the
#: Admin console does not grant the client id every scope asked for, or any at all.
_NOT_GRANTED = frozenset({"unauthorized_client", "access_denied", "invalid_scope"})

#: Path of each API under the root; Drive's discovery document puts ``drive/v3/`` in its
#: service path, the others carry the version in every method path.
_SERVICE_PATHS = {"drive": "drive/v3/", "docs": "", "sheets": "", "gmail": ""}


def load_credentials(
    google: GoogleSettings, scopes: Sequence[str], *, subject: str | None
) -> service_account.Credentials:
    """Read the key file; ``subject`` is the Workspace user to act as (domain-wide delegation).

    Scopes are always explicit: without them the client library would ask for every scope of
    the API, which a delegation grant never covers.
    """
    path = google.service_account_file
    fix = "set google.service_account_file to the service-account JSON key file"
    if path is None:
        raise PermanentError("google", "no service-account key file is configured.", fix=fix)
    info = _read_key_file(path, fix)
    if google.token_uri:
        info["token_uri"] = google.token_uri
    try:
        credentials = service_account.Credentials.from_service_account_info(info, scopes=scopes)
    except (ValueError, KeyError) as error:
        raise PermanentError(
            "google",
            f"{path} is not a usable service-account key ({type(error).__name__}).",
            fix="download a new JSON key for the service account",
        ) from None
    return credentials.with_subject(subject) if subject else credentials


def _read_key_file(path: Path, fix: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PermanentError("google", f"{path}: no such key file.", fix=fix) from None
    except OSError as error:
        raise PermanentError(
            "google", f"{path}: cannot be read ({error.strerror}).", fix=fix
        ) from None
    except ValueError:
        raise PermanentError("google", f"{path}: is not JSON.", fix=fix) from None
    if not isinstance(data, dict) or data.get("type") != "service_account":
        raise PermanentError(
            "google",
            f"{path}: is not a service-account key (type is not service_account).",
            fix=fix,
        )
    return data


@dataclass
class GoogleConnection:
    """Credentials plus the raw transport; every client built from it shares both.

    Not thread-safe: one connection per thread.
    """

    credentials: service_account.Credentials
    #: ``HttpxHttp`` in service; tests pass httplib2's ``HttpMockSequence``.
    transport: HttpxHttp | httplib2.Http
    api_base_url: str | None = None
    #: The delegated user the credentials act as, if any.
    subject: str | None = None

    @classmethod
    def open(
        cls, google: GoogleSettings, scopes: Sequence[str], *, subject: str | None
    ) -> GoogleConnection:
        credentials = load_credentials(google, scopes, subject=subject)
        transport = HttpxHttp(google.timeout_seconds)
        return cls(credentials, transport, google.api_base_url, subject)

    @property
    def account(self) -> str:
        """Whom Google sees: the delegated user, else the service account itself."""
        return self.subject or self.credentials.service_account_email

    def service(self, name: str, version: str) -> Resource:
        options = None
        if self.api_base_url:
            root = self.api_base_url.rstrip("/") + "/"
            options = {"api_endpoint": root + _SERVICE_PATHS[name]}
        http = google_auth_httplib2.AuthorizedHttp(self.credentials, http=self.transport)
        return build(
            name,
            version,
            http=http,
            cache_discovery=False,
            static_discovery=True,
            client_options=options,
        )

    def fetch_token(self, service: str) -> None:
        """Obtain an access token now, so ``check`` can tell a key problem from a sharing one."""
        try:
            self.credentials.refresh(google_auth_httplib2.Request(self.transport))
        except (GoogleAuthError, OSError, httplib2.HttpLib2Error) as error:
            raise translate(error, service, "obtaining an access token") from None


class _TokenAnswers:
    """The transport, remembering what the token endpoint last answered: google-auth keeps
    only the token, and ``missing_scopes`` needs the scopes the answer lists."""

    def __init__(self, transport: HttpxHttp | httplib2.Http) -> None:
        self._transport = transport
        self.last: Mapping[str, Any] = {}

    def request(
        self,
        uri: str,
        method: str = "GET",
        body: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        **options: Any,
    ) -> tuple[httplib2.Response, bytes]:
        response, content = self._transport.request(uri, method, body, headers, **options)
        try:
            answer = json.loads(content)
        except ValueError:
            answer = {}
        self.last = answer if isinstance(answer, Mapping) else {}
        return response, content


def missing_scopes(connection: GoogleConnection, scopes: Sequence[str], service: str) -> list[str]:
    """The scopes of ``scopes`` Google does not grant the connection's account, asked of the
    token endpoint (so ``check`` names a missing delegation before a send fails on it).

    Google refuses a token that asks for any scope the domain-wide delegation lacks, so after a
    refusal each scope is asked alone to name the missing ones; an answer that lists its
    ``scope`` is compared too. Raises ``ExternalError`` for any other failure.
    """
    answers = _TokenAnswers(connection.transport)
    credentials = connection.credentials.with_scopes(list(scopes))
    try:
        credentials.refresh(google_auth_httplib2.Request(answers))
    except RefreshError as error:
        said = error.args[1] if len(error.args) > 1 else answers.last
        code = said.get("error") if isinstance(said, Mapping) else None
        if code not in _NOT_GRANTED:
            raise translate(error, service, "obtaining an access token") from None
        if len(scopes) == 1:
            return list(scopes)
        return [scope for scope in scopes if missing_scopes(connection, [scope], service)]
    except (GoogleAuthError, OSError, httplib2.HttpLib2Error) as error:
        raise translate(error, service, "obtaining an access token") from None
    listed = answers.last.get("scope")
    if not isinstance(listed, str) or not listed.strip():
        return []  # a token was granted for every scope asked for
    granted = set(listed.split())
    return [scope for scope in scopes if scope not in granted]
