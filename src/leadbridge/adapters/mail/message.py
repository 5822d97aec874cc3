"""The e-mail as sent, built once for every backend, and its ``.eml`` archive copy.

Messages are built with ``email.message.EmailMessage`` (``policy.default``), which refuses CR
and LF in any header: lead names come from people, and a line break in a subject would let
them add headers (``Bcc:``) or text to the body. The core already turns line breaks in
subjects into spaces (``domain.render.single_line``: the chosen policy, so the lead stays
recognisable); should one still arrive here, sending is refused with a visible reason rather
than cleaned a second time, because that means a path the core does not control.
"""

from __future__ import annotations

import os
import re
import tempfile
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

import structlog

from leadbridge.domain.errors import PermanentError
from leadbridge.domain.ports import OutgoingMail

log = structlog.get_logger(__name__)

#: The core's Message-ID token: also the archive's file name, so no path separators.
_TOKEN = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9._+-]*")


def sender_domain(sender: str) -> str:
    try:
        return Address(addr_spec=sender).domain
    except (ValueError, IndexError):
        raise PermanentError(
            "mail",
            f"the sender {sender!r} is not an e-mail address.",
            fix="set mail.sender to the address e-mails are sent from",
        ) from None


def message_id_header(token: str, sender: str) -> str:
    """``<token@sender-domain>``: the same for every attempt, so a sent mail can be found."""
    if not _TOKEN.fullmatch(token):
        raise PermanentError("mail", f"{token!r} cannot be used as a Message-ID.")
    return f"<{token}@{sender_domain(sender)}>"


def build_message(mail: OutgoingMail, sender: str) -> EmailMessage:
    if not mail.to:
        raise PermanentError(
            "mail",
            f"message {mail.message_id} has no recipient.",
            fix="fill in the lead's e-mail column, or set the effect's `to` in the configuration",
        )
    message = EmailMessage()
    _set(message, "From", sender)
    _set(message, "To", ", ".join(_address(a, mail.message_id) for a in mail.to))
    if mail.cc:
        _set(message, "Cc", ", ".join(_address(a, mail.message_id) for a in mail.cc))
    _set(message, "Subject", mail.subject)
    _set(message, "Message-ID", message_id_header(mail.message_id, sender))
    _set(message, "Date", formatdate(usegmt=True))
    # RFC 3834: tells autoresponders not to answer a machine.
    _set(message, "Auto-Submitted", "auto-generated")
    message.set_content(mail.body)
    return message


def _address(value: str, message_id: str) -> str:
    try:
        address = Address(addr_spec=value.strip())
    except (ValueError, IndexError):
        address = None
    if address is None or not address.username or not address.domain:
        raise PermanentError(
            "mail",
            f"message {message_id}: {value[:80]!r} is not an e-mail address.",
            fix="correct the address on the lead or in the configuration",
        )
    return address.addr_spec


def _set(message: EmailMessage, header: str, value: str) -> None:
    try:
        message[header] = value
    except ValueError as error:
        raise PermanentError(
            "mail",
            f"refused to send: the {header} contains a line break or is malformed ({error}).",
            fix="remove line breaks from the lead fields used in the subject template",
        ) from None


def archive(message: EmailMessage, token: str, directory: Path | None) -> None:
    """Keep a copy as ``<token>.eml``; written atomically so a reader never sees half a file.

    A failure is logged, not raised: the message has already gone, and raising would make the
    core try to deliver it again.
    """
    if directory is None:
        return
    target = directory / f"{token}.eml"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, suffix=".tmp", delete=False) as handle:
            handle.write(message.as_bytes())
        os.replace(handle.name, target)
    except OSError as error:
        log.warning("mail.archive_failed", path=str(target), error=error.strerror or str(error))
