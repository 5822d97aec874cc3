"""The Mailer port over SMTP (STARTTLS, implicit TLS, or plain for a local relay).

SMTP cannot say whether a message was sent earlier, so ``was_sent`` answers None. What it can
say is *when* a failure happened: before the message was handed over nothing went out and the
send may simply be retried; a connection lost while handing it over may or may not have
delivered it, and that is reported as ``UncertainOutcome`` instead of being retried.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from pathlib import Path

import structlog

from leadbridge.domain.errors import (
    ExternalError,
    PermanentError,
    TransientError,
    UncertainOutcome,
)
from leadbridge.domain.ports import CheckFinding, OutgoingMail
from leadbridge.settings import Settings, SmtpSettings
from leadbridge.telemetry import count_request

from .message import archive, build_message

log = structlog.get_logger(__name__)

SERVICE = "smtp"


class SmtpMailer:
    """Mailer + LiveCheck; one connection per message (a few messages per cycle at most)."""

    def __init__(self, smtp: SmtpSettings, *, sender: str, archive_dir: Path | None = None) -> None:
        self._smtp = smtp
        self._sender = sender
        self._archive_dir = archive_dir

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpMailer:
        return cls(
            settings.mail.smtp, sender=settings.mail.sender, archive_dir=settings.mail.archive_dir
        )

    def was_sent(self, message_id: str) -> bool | None:
        return None

    def send(self, mail: OutgoingMail) -> None:
        message = build_message(mail, self._sender)
        try:
            session = self._session()
            try:
                refused = session.send_message(message)
            except (smtplib.SMTPServerDisconnected, OSError) as error:
                raise UncertainOutcome(
                    SERVICE,
                    f"sending message {mail.message_id}: the connection failed while the "
                    f"message was being handed over ({type(error).__name__}); it may or "
                    "may not have been delivered.",
                    fix="ask a recipient whether it arrived, then mark the effect done or retry it",
                ) from None
            finally:
                _quit(session)
        except ExternalError:
            count_request(SERVICE, "error")
            raise
        except smtplib.SMTPException as error:
            count_request(SERVICE, "error")
            raise _translate(error, f"sending message {mail.message_id}") from None
        count_request(SERVICE, "ok")
        if refused:
            # Some recipients accepted it: sending again would duplicate it for them.
            log.warning(
                "smtp.recipients_refused", message_id=mail.message_id, refused=sorted(refused)
            )
        log.info("smtp.sent", message_id=mail.message_id)
        archive(message, mail.message_id, self._archive_dir)

    def check(self) -> list[CheckFinding]:
        """Connect, secure and log in; nothing is sent."""
        what = f"SMTP {self._smtp.host}:{self._smtp.port} ({self._smtp.security})"
        try:
            session = self._session()
            try:
                session.noop()
            finally:
                _quit(session)
        except ExternalError as error:
            return [CheckFinding("mail", what, False, error.message, error.fix)]
        except smtplib.SMTPException as error:
            failure = _translate(error, "checking the mail server")
            return [CheckFinding("mail", what, False, failure.message, failure.fix)]
        who = f"logged in as {self._smtp.username}" if self._smtp.username else "no login"
        return [CheckFinding("mail", what, True, who)]

    def _session(self) -> smtplib.SMTP:
        """An open, secured, logged-in session; failures here mean nothing was sent."""
        settings = self._smtp
        session: smtplib.SMTP | None = None
        try:
            context = ssl.create_default_context(cafile=settings.ca_file)
            if settings.security == "ssl":
                session = smtplib.SMTP_SSL(
                    settings.host, settings.port, timeout=settings.timeout_seconds, context=context
                )
            else:
                session = smtplib.SMTP(
                    settings.host, settings.port, timeout=settings.timeout_seconds
                )
            if settings.security == "starttls":
                session.starttls(context=context)
            if settings.username:
                password = settings.password.get_secret_value() if settings.password else ""
                session.login(settings.username, password)
            return session
        except smtplib.SMTPAuthenticationError:
            _close(session)
            raise PermanentError(
                SERVICE,
                f"{settings.host} refused the login of {settings.username}.",
                fix="check mail.smtp.username and the password secret (mail__smtp__password)",
            ) from None
        except smtplib.SMTPNotSupportedError as error:
            _close(session)
            raise PermanentError(
                SERVICE,
                f"{settings.host} does not support what mail.smtp.security asks ({error}).",
                fix="check mail.smtp.security and mail.smtp.port (starttls: 587, ssl: 465)",
            ) from None
        except ssl.SSLError as error:
            _close(session)
            raise PermanentError(
                SERVICE,
                f"TLS with {settings.host} failed ({error.reason or type(error).__name__}).",
                fix="check mail.smtp.security, and mail.smtp.ca_file if the server's "
                "certificate is signed by a private CA",
            ) from None
        except FileNotFoundError:
            raise PermanentError(
                SERVICE,
                f"the CA bundle {settings.ca_file} does not exist.",
                fix="correct mail.smtp.ca_file, or unset it to use the system's trust store",
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            _close(session)
            raise TransientError(
                SERVICE,
                f"cannot reach {settings.host}:{settings.port} ({type(error).__name__}: {error}).",
            ) from None


def _quit(session: smtplib.SMTP) -> None:
    """Say goodbye politely; the message is already accepted, so a failed QUIT is no error."""
    try:
        session.quit()
    except (smtplib.SMTPException, OSError):
        _close(session)


def _close(session: smtplib.SMTP | None) -> None:
    if session is None:
        return
    with contextlib.suppress(OSError):
        session.close()


def _translate(error: smtplib.SMTPException, action: str) -> ExternalError:
    """A server reply: 4xx means try later, 5xx means a person must change something."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = {code for code, _ in error.recipients.values()}
        refused = ", ".join(sorted(error.recipients))
        message = f"{action}: every recipient was refused ({refused})."
        if all(400 <= code < 500 for code in codes):
            return TransientError(SERVICE, message)
        return PermanentError(SERVICE, message, fix="correct the recipients' addresses")
    code = getattr(error, "smtp_code", 0)
    reply = getattr(error, "smtp_error", b"")
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    message = f"{action}: the server answered {code} {' '.join(text.split())[:300]}."
    if 400 <= code < 500:
        return TransientError(SERVICE, message)
    return PermanentError(SERVICE, message, fix="read the server's answer above")
