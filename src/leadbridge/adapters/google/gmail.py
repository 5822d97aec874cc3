"""The Mailer port on the Gmail API, sending as a Workspace user through delegation.

``users.messages.send`` is not idempotent, so it runs exactly once per call; the core asks
``was_sent`` before another attempt, and Gmail can answer that by searching the user's sent
mail for the message's deterministic Message-ID.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from leadbridge.adapters.mail.message import (
    archive,
    build_message,
    message_id_header,
)
from leadbridge.adapters.retry import DEFAULT_IN_CALL
from leadbridge.domain.errors import ExternalError, PermanentError
from leadbridge.domain.ports import CheckFinding, OutgoingMail
from leadbridge.settings import InCallRetrySettings, Settings

from .calls import GoogleCaller
from .credentials import GMAIL_SCOPES, GoogleConnection, missing_scopes

log = structlog.get_logger(__name__)

SERVICE = "gmail"
#: What leadbridge cannot do without each Gmail scope, for the check that finds one missing.
SCOPE_USES = {
    "https://www.googleapis.com/auth/gmail.send": "send its e-mails",
    "https://www.googleapis.com/auth/gmail.readonly": "look in sent mail before sending again "
    "after a failed attempt (so that no e-mail goes out twice)",
}
DELEGATION_PLACE = (
    "Admin console → Security → Access and data control → API controls → Manage domain-wide "
    "delegation"
)


class GmailMailer:
    """Mailer + LiveCheck. One instance per thread (the HTTP transport is not thread-safe)."""

    def __init__(
        self,
        connection: GoogleConnection,
        *,
        sender: str,
        archive_dir: Path | None = None,
        retry: InCallRetrySettings = DEFAULT_IN_CALL,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._connection = connection
        self._gmail = connection.service("gmail", "v1")
        self._call = GoogleCaller(SERVICE, connection.account, retry, sleep)
        self._sender = sender
        self._archive_dir = archive_dir

    @classmethod
    def from_settings(cls, settings: Settings) -> GmailMailer:
        if not settings.google.subject:
            raise PermanentError(
                SERVICE,
                "the Gmail backend needs a mailbox to send from.",
                fix="set google.subject to the Workspace user to send as (domain-wide "
                "delegation), or use mail.backend: smtp",
            )
        connection = GoogleConnection.open(
            settings.google, GMAIL_SCOPES, subject=settings.google.subject
        )
        return cls(
            connection,
            sender=settings.mail.sender,
            archive_dir=settings.mail.archive_dir,
            retry=settings.retry.in_call,
        )

    def was_sent(self, message_id: str) -> bool | None:
        header = message_id_header(message_id, self._sender)
        found = self._call.repeatable(
            self._gmail.users()
            .messages()
            .list(
                userId="me",
                q=f"rfc822msgid:{header.strip('<>')}",
                labelIds=["SENT"],
                includeSpamTrash=True,
                maxResults=1,
            ),
            f"searching sent mail for {header}",
            missing="the mailbox",
        )
        return bool(found.get("messages"))

    def send(self, mail: OutgoingMail) -> None:
        message = build_message(mail, self._sender)
        raw = base64.urlsafe_b64encode(message.as_bytes()).decode("ascii")
        sent = self._call.once(
            self._gmail.users().messages().send(userId="me", body={"raw": raw}),
            f"sending message {mail.message_id}",
            missing="the mailbox",
        )
        log.info("gmail.sent", message_id=mail.message_id, gmail_id=sent.get("id"))
        archive(message, mail.message_id, self._archive_dir)

    def check(self) -> list[CheckFinding]:
        """The scopes the delegation grants, then the profile read with them; nothing is sent."""
        account = self._connection.account
        scopes = self._scopes()
        if not scopes.ok:
            return [scopes]
        what = f"Gmail as {account}"
        try:
            profile = self._call.repeatable(
                self._gmail.users().getProfile(userId="me"), "reading the Gmail profile"
            )
        except ExternalError as error:
            return [CheckFinding("mail", what, False, error.message, error.fix)]
        address = profile.get("emailAddress", "")
        return [scopes, CheckFinding("mail", what, True, f"signed in as {address}")]

    def _scopes(self) -> CheckFinding:
        what = f"Gmail scopes for {self._connection.account}"
        try:
            missing = missing_scopes(self._connection, GMAIL_SCOPES, SERVICE)
        except ExternalError as error:
            return CheckFinding("mail", what, False, error.message, error.fix)
        names = [scope.rsplit("/", 1)[-1] for scope in GMAIL_SCOPES]
        if not missing:
            return CheckFinding("mail", what, True, f"{' and '.join(names)} granted")
        without = "; ".join(
            f"without {scope.rsplit('/', 1)[-1]} leadbridge cannot {SCOPE_USES[scope]}"
            for scope in missing
        )
        account = self._connection.credentials.service_account_email
        return CheckFinding(
            "mail",
            what,
            False,
            f"domain-wide delegation does not grant {', '.join(missing)}: {without}",
            f"in the {DELEGATION_PLACE}, give the client id of {account} (its Unique ID) "
            f"these scopes: {','.join(GMAIL_SCOPES)}",
        )
