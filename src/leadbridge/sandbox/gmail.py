"""Gmail ``users.messages``: send a raw RFC 822 message, find it again by Message-ID.

Sending is done as the user named in the service account's JWT grant (domain-wide
delegation). Without that subject Gmail answers ``failedPrecondition``, as it does for a
service account acting as itself, and sending as someone else is refused.
"""

from __future__ import annotations

import base64
import binascii
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

from leadbridge.sandbox.google_common import GoogleError
from leadbridge.sandbox.http import Request, Response
from leadbridge.sandbox.state import SandboxState, SentMail


class GmailApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def _mailbox(self, user: str, subject: str | None) -> str:
        if subject is None:
            raise GoogleError(400, "failedPrecondition", "Precondition check failed.")
        if user not in ("me", subject):
            raise GoogleError(403, "forbidden", f"Delegation denied for {subject}")
        return subject

    def send(self, request: Request, user: str, subject: str | None) -> Response:
        mailbox = self._mailbox(user, subject)
        raw_text = request.json().get("raw")
        if not raw_text:
            raise GoogleError(
                400,
                "invalidArgument",
                "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
            )
        try:
            raw = base64.urlsafe_b64decode(raw_text + "=" * (-len(raw_text) % 4))
        except (binascii.Error, ValueError):
            raise GoogleError(400, "invalidArgument", "Invalid value for ByteString") from None
        message = cast(EmailMessage, message_from_bytes(raw, policy=policy.default))
        if not message.get_all("To") and not message.get_all("Cc") and not message.get_all("Bcc"):
            raise GoogleError(400, "invalidArgument", "Recipient address required")
        with self.state.lock:
            message_id = f"{self.state.next_id():016x}"
            if message.get("Message-ID") is None:
                message["Message-ID"] = f"<{message_id}@mail.gmail.com>"
            mail = SentMail(message_id, message_id, mailbox, message, raw)
            self.state.google.mail.append(mail)
        return Response.json(200, {"id": mail.id, "threadId": mail.thread_id, "labelIds": ["SENT"]})

    def list(self, request: Request, user: str, subject: str | None) -> Response:
        mailbox = self._mailbox(user, subject)
        wanted = _rfc822msgid(request.arg("q", "") or "")
        limit = int(request.arg("maxResults", "100") or 100)
        with self.state.lock:
            found = [
                {"id": m.id, "threadId": m.thread_id}
                for m in reversed(self.state.google.mail)
                if m.mailbox == mailbox and (wanted is None or m.message_id.strip("<>") == wanted)
            ][:limit]
        payload: dict[str, Any] = {"resultSizeEstimate": len(found)}
        if found:
            payload["messages"] = found
        return Response.json(200, payload)

    def get(self, request: Request, user: str, subject: str | None, message_id: str) -> Response:
        mailbox = self._mailbox(user, subject)
        with self.state.lock:
            mail = next(
                (m for m in self.state.google.mail if m.id == message_id and m.mailbox == mailbox),
                None,
            )
        if mail is None:
            raise GoogleError(404, "notFound", "Requested entity was not found.")
        payload: dict[str, Any] = {
            "id": mail.id,
            "threadId": mail.thread_id,
            "labelIds": ["SENT"],
            "snippet": mail.body()[:100],
            "sizeEstimate": len(mail.raw),
        }
        if request.arg("format") == "raw":
            payload["raw"] = base64.urlsafe_b64encode(mail.raw).decode()
        else:
            payload["payload"] = {
                "headers": [
                    {"name": name, "value": str(value)} for name, value in mail.message.items()
                ]
            }
        return Response.json(200, payload)

    def profile(self, user: str, subject: str | None) -> Response:
        mailbox = self._mailbox(user, subject)
        with self.state.lock:
            total = sum(1 for m in self.state.google.mail if m.mailbox == mailbox)
        return Response.json(
            200,
            {
                "emailAddress": mailbox,
                "messagesTotal": total,
                "threadsTotal": total,
                "historyId": "1000",
            },
        )


def _rfc822msgid(query: str) -> str | None:
    """The Message-ID of an ``rfc822msgid:`` search (with or without angle brackets)."""
    query = query.strip()
    if not query:
        return None
    term, colon, value = query.partition(":")
    if not colon or term != "rfc822msgid" or " " in value.strip():
        raise GoogleError(400, "invalidArgument", "The sandbox searches by rfc822msgid: only.")
    return value.strip().strip("<>")
