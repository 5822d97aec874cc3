"""Against a real SMTP server on loopback (aiosmtpd), which receives and parses the message."""

from __future__ import annotations

import email
import email.policy
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pydantic import SecretStr
from scripted_smtp import DROP, local_mailer, scripted_server
from tests.network import free_port

from leadbridge.adapters.mail.factory import build_mailer
from leadbridge.adapters.mail.smtp import SmtpMailer
from leadbridge.domain.errors import PermanentError, TransientError, UncertainOutcome
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


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
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
    assert caught.value.not_acted


def test_an_unreachable_server_is_transient() -> None:
    with pytest.raises(TransientError, match=r"cannot reach 127\.0\.0\.1") as caught:
        mailer(free_port()).send(outgoing())
    assert caught.value.not_acted


# A failure that certainly delivered nothing must say so (not_acted): the e-mail effect
# otherwise parks the message, because SMTP cannot be asked afterwards whether it went out.
STAGES = ["mail", "rcpt", "data"]


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("answer", ["451 4.3.0 try again later", "421 4.3.2 closing, busy"])
def test_a_4xx_answer_is_transient_and_sent_nothing(stage: str, answer: str) -> None:
    with (
        scripted_server({stage: answer}) as (server, port),
        pytest.raises(TransientError) as caught,
    ):
        local_mailer(port).send(outgoing())

    assert caught.value.not_acted
    assert answer in caught.value.message
    assert server.accepted == []


@pytest.mark.parametrize("stage", STAGES)
def test_a_5xx_answer_is_permanent_and_sent_nothing(stage: str) -> None:
    refusing = scripted_server({stage: "550 5.7.1 relaying denied"})
    with refusing as (server, port), pytest.raises(PermanentError) as caught:
        local_mailer(port).send(outgoing())

    assert not isinstance(caught.value, UncertainOutcome)
    assert caught.value.not_acted
    assert "550 5.7.1 relaying denied" in caught.value.message
    assert server.accepted == []


def test_a_recipient_refused_while_another_is_accepted_is_sent() -> None:
    # smtplib returns normally: the message went to the others, so sending again would
    # duplicate it for them.
    refused = {"rcpt finance@icsi.example.org": "450 4.2.1 mailbox busy"}
    with scripted_server(refused) as (server, port):
        local_mailer(port).send(outgoing())

    (envelope,) = server.accepted
    assert envelope.rcpt_tos == ["contracting@icsi.example.org"]


@pytest.mark.parametrize("stage", ["mail", "rcpt"])
def test_a_connection_dropped_before_the_message_text_sent_nothing(stage: str) -> None:
    lost = pytest.raises(TransientError, match="before the message was handed over")
    with scripted_server({stage: DROP}) as (server, port), lost as caught:
        local_mailer(port).send(outgoing())

    assert caught.value.not_acted
    assert server.received == []


def test_a_connection_dropped_after_the_message_text_is_uncertain() -> None:
    lost = pytest.raises(UncertainOutcome, match="may or may not have been delivered")
    with scripted_server({"data": DROP}) as (server, port), lost as caught:
        local_mailer(port).send(outgoing())

    assert not caught.value.not_acted
    assert len(server.received) == 1  # the server had the text: it might have delivered it


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


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that only a client given it as CA will trust."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def tls_inbox(tmp_path: Path) -> Iterator[tuple[Inbox, int, Path]]:
    cert_file, key_file = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    handler = Inbox()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticate,
    )
    controller.start()
    yield handler, port, cert_file
    controller.stop()


def _tls_mailer(port: int, ca_file: Path | None) -> SmtpMailer:
    settings = SmtpSettings(
        host="127.0.0.1",
        port=port,
        security="starttls",
        username="sales",
        password=SecretStr("s3cret"),
        timeout_seconds=5,
        ca_file=ca_file,
    )
    return SmtpMailer(settings, sender="sales@example.org")


def test_starttls_verifies_the_server_with_the_configured_ca(
    tls_inbox: tuple[Inbox, int, Path],
) -> None:
    handler, port, cert_file = tls_inbox

    _tls_mailer(port, cert_file).send(outgoing())

    assert len(handler.envelopes) == 1


def test_starttls_refuses_an_untrusted_certificate(tls_inbox: tuple[Inbox, int, Path]) -> None:
    handler, port, _ = tls_inbox

    with pytest.raises(PermanentError, match=r"TLS with 127\.0\.0\.1 failed") as caught:
        _tls_mailer(port, None).send(outgoing())
    assert "mail.smtp.ca_file" in caught.value.fix
    assert handler.envelopes == []
