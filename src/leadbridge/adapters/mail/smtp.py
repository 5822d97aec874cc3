"""The Mailer port over SMTP (STARTTLS, implicit TLS, or plain for a local relay).

SMTP cannot say whether a message was sent earlier, so ``was_sent`` answers None, and the core
parks an e-mail whose earlier attempt may have acted. What SMTP can say is *when* a failure
happened, and every failure but one is certain that nothing was delivered (``not_acted``):

- connecting, STARTTLS and logging in: nothing was handed over;
- a 4xx or 5xx answer to MAIL FROM, RCPT TO or DATA, including the final answer after the
  message text: the server refused the message and took no responsibility for it (4xx: try
  again later, 5xx: a person must change something);
- a connection lost before the server invited the message text (354): it never had it.

The one uncertain case is a connection lost after the message text was handed over and before
the server's final answer: the server may have accepted it. That is ``UncertainOutcome``,
never retried.
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
        action = f"sending message {mail.message_id}"
        try:
            session = self._session()
            try:
                refused = session.send_message(message)
            except smtplib.SMTPServerDisconnected as error:
                raise _connection_lost(session, action, error) from None
            # Every SMTPException is an OSError: server answers first, other socket errors last.
            except smtplib.SMTPException as error:
                raise _translate(error, action, handed_over=session.handed_over) from None
            except OSError as error:
                raise _connection_lost(session, action, error) from None
            finally:
                _quit(session)
        except ExternalError:
            count_request(SERVICE, "error")
            raise
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

    def _session(self) -> _Session:
        """An open, secured, logged-in session; failures here mean nothing was sent."""
        settings = self._smtp
        session: _Session | None = None
        try:
            context = ssl.create_default_context(cafile=settings.ca_file)
            if settings.security == "ssl":
                session = _SslSession(
                    settings.host, settings.port, timeout=settings.timeout_seconds, context=context
                )
            else:
                session = _Session(settings.host, settings.port, timeout=settings.timeout_seconds)
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
                not_acted=True,
            ) from None
        except smtplib.SMTPNotSupportedError as error:
            _close(session)
            raise PermanentError(
                SERVICE,
                f"{settings.host} does not support what mail.smtp.security asks ({error}).",
                fix="check mail.smtp.security and mail.smtp.port (starttls: 587, ssl: 465)",
                not_acted=True,
            ) from None
        except ssl.SSLError as error:
            _close(session)
            raise PermanentError(
                SERVICE,
                f"TLS with {settings.host} failed ({error.reason or type(error).__name__}).",
                fix="check mail.smtp.security, and mail.smtp.ca_file if the server's "
                "certificate is signed by a private CA",
                not_acted=True,
            ) from None
        except FileNotFoundError:
            raise PermanentError(
                SERVICE,
                f"the CA bundle {settings.ca_file} does not exist.",
                fix="correct mail.smtp.ca_file, or unset it to use the system's trust store",
                not_acted=True,
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            _close(session)
            raise TransientError(
                SERVICE,
                f"cannot reach {settings.host}:{settings.port} ({type(error).__name__}: {error}).",
                not_acted=True,
            ) from None


class _Session(smtplib.SMTP):
    """``smtplib.SMTP`` that remembers whether the message text was handed over.

    Only DATA is answered 354 ("start mail input"); from then on the server may accept the
    message at any moment, so a lost connection can no longer prove that nothing was sent.
    """

    handed_over = False

    def getreply(self) -> tuple[int, bytes]:
        code, reply = super().getreply()
        if code == 354:
            self.handed_over = True
        return code, reply


class _SslSession(_Session, smtplib.SMTP_SSL):
    """The same over implicit TLS."""


def _connection_lost(session: _Session, action: str, error: Exception) -> ExternalError:
    if session.handed_over:
        return UncertainOutcome(
            SERVICE,
            f"{action}: the connection failed after the message was handed over and before "
            f"the server confirmed it ({type(error).__name__}); it may or may not have been "
            "delivered.",
            fix="ask a recipient whether it arrived, then mark the effect done or retry it",
        )
    return TransientError(
        SERVICE,
        f"{action}: the connection failed before the message was handed over "
        f"({type(error).__name__}: {error}); nothing was sent.",
        not_acted=True,
    )


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


def _translate(
    error: smtplib.SMTPException, action: str, *, handed_over: bool = False
) -> ExternalError:
    """A server reply: 4xx means try later, 5xx means a person must change something.

    Either way the server refused the message (at MAIL FROM, RCPT TO, or DATA before or after
    the text), so nothing was delivered. Only a reply that is neither, after the text was
    handed over (a broken server), leaves that open.
    """
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = {code for code, _ in error.recipients.values()}
        refused = ", ".join(
            f"{address}: {code} {_reply_text(reply)}"
            for address, (code, reply) in sorted(error.recipients.items())
        )
        message = f"{action}: the server refused the recipients ({refused})."
        if all(400 <= code < 500 for code in codes):
            return TransientError(SERVICE, message, not_acted=True)
        return PermanentError(
            SERVICE, message, fix="correct the recipients' addresses", not_acted=True
        )
    if not isinstance(error, smtplib.SMTPResponseException):
        # No answer to show (e.g. SMTPNotSupportedError: SMTPUTF8 needed and not offered).
        return PermanentError(
            SERVICE, f"{action}: {error}.", fix="read the reason above", not_acted=True
        )
    code = error.smtp_code
    message = f"{action}: the server answered {code} {_reply_text(error.smtp_error)}."
    if 400 <= code < 500:
        return TransientError(SERVICE, message, not_acted=True)
    refused = 500 <= code < 600 or not handed_over
    return PermanentError(SERVICE, message, fix="read the server's answer above", not_acted=refused)


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())[:300]
