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
from .credentials import GMAIL_SCOPES, GoogleConnection

log = structlog.get_logger(__name__)

SERVICE = "gmail"


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
        """Authenticate and read the profile; nothing is sent."""
        what = f"Gmail as {self._connection.account}"
        try:
            profile = self._call.repeatable(
                self._gmail.users().getProfile(userId="me"), "reading the Gmail profile"
            )
        except ExternalError as error:
            return [CheckFinding("mail", what, False, error.message, error.fix)]
        address = profile.get("emailAddress", "")
        return [CheckFinding("mail", what, True, f"signed in as {address}")]
