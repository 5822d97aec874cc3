"""Against a real SMTP server on loopback (aiosmtpd), which receives and parses the message."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from pydantic import SecretStr

from leadbridge.adapters.mail.factory import build_mailer
from leadbridge.adapters.mail.smtp import SmtpMailer
from leadbridge.domain.errors import PermanentError, TransientError
from leadbridge.domain.ports import OutgoingMail
from leadbridge.domain.render import single_line
from leadbridge.settings import MailSettings, Settings, SmtpSettings

HOSTILE = 'O\'Brien \\ "Lab" / Ünïcode 🚀\r\nBcc: victim@example.com\n' + "x" * 300


@dataclass
class Inbox:
    envelopes: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def messages(self) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(e.original_content, policy=email.policy.default)
            for e in self.envelopes
        ]


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"sales", b"s3cret")
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = _free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield handler, port
    controller.stop()


def mailer(port: int, password: str = "s3cret", archive_dir: Path | None = None) -> SmtpMailer:
    settings = SmtpSettings(
        host="127.0.0.1",
        port=port,
        security="none",
        username="sales",
        password=SecretStr(password),
        timeout_seconds=5,
    )
    return SmtpMailer(settings, sender="sales@example.org", archive_dir=archive_dir)


def outgoing(subject: str = "2i2c: please invoice Acme") -> OutgoingMail:
    return OutgoingMail(
        message_id="leadbridge.42.request_invoice",
        to=("finance@icsi.example.org",),
        cc=("contracting@icsi.example.org",),
        subject=subject,
        body="Hello ICSI finance,\n\nPlease invoice Acme.\n",
    )


def test_the_server_receives_the_message(inbox: tuple[Inbox, int], tmp_path: Path) -> None:
    handler, port = inbox

    mailer(port, archive_dir=tmp_path).send(outgoing())

    (envelope,) = handler.envelopes
    assert envelope.mail_from == "sales@example.org"
    assert envelope.rcpt_tos == ["finance@icsi.example.org", "contracting@icsi.example.org"]
    (message,) = handler.messages()
    assert message["Subject"] == "2i2c: please invoice Acme"
    assert message["Message-ID"] == "<leadbridge.42.request_invoice@example.org>"
    body = message.get_content().replace("\r\n", "\n")  # SMTP carries CRLF line ends
    assert body == "Hello ICSI finance,\n\nPlease invoice Acme.\n"
    archived = email.message_from_bytes(
        (tmp_path / "leadbridge.42.request_invoice.eml").read_bytes(), policy=email.policy.default
    )
    assert archived["Message-ID"] == message["Message-ID"]


def test_a_cleaned_hostile_subject_arrives_as_one_header(inbox: tuple[Inbox, int]) -> None:
    handler, port = inbox

    mailer(port).send(outgoing(subject=single_line(f"Invoice {HOSTILE}")))

    (envelope,) = handler.envelopes
    assert "victim@example.com" not in envelope.rcpt_tos
    (message,) = handler.messages()
    assert "Bcc" not in message
    assert str(message["Subject"]).endswith("Bcc: victim@example.com " + "x" * 300)


def test_a_subject_with_a_line_break_is_refused_and_nothing_sent(
    inbox: tuple[Inbox, int],
) -> None:
    handler, port = inbox

    with pytest.raises(PermanentError, match="Subject contains a line break"):
        mailer(port).send(outgoing(subject=f"Invoice {HOSTILE}"))
    assert handler.envelopes == []


def test_a_refused_login_is_permanent_and_names_the_secret(inbox: tuple[Inbox, int]) -> None:
    _, port = inbox

    with pytest.raises(PermanentError) as caught:
        mailer(port, password="wrong").send(outgoing())
    assert "mail__smtp__password" in caught.value.fix
    assert "wrong" not in caught.value.describe()


def test_an_unreachable_server_is_transient() -> None:
    with pytest.raises(TransientError, match="cannot reach 127.0.0.1"):
        mailer(_free_port()).send(outgoing())


def test_check_logs_in_without_sending(inbox: tuple[Inbox, int]) -> None:
    handler, port = inbox

    (good,) = mailer(port).check()
    (bad,) = mailer(port, password="wrong").check()

    assert good.ok and "logged in as sales" in good.detail
    assert not bad.ok and "refused the login" in bad.detail
    assert handler.envelopes == []


def test_smtp_cannot_tell_whether_it_sent(inbox: tuple[Inbox, int]) -> None:
    assert mailer(inbox[1]).was_sent("leadbridge.42.request_invoice") is None


def test_build_mailer_picks_the_configured_backend() -> None:
    settings = Settings(mail=MailSettings(backend="smtp", sender="sales@example.org"))
    assert isinstance(build_mailer(settings), SmtpMailer)
