from __future__ import annotations

import pytest
from fake_google import FakeGoogle

from leadbridge.adapters.google.gmail import GmailMailer
from leadbridge.domain.errors import PermanentError, TransientError
from leadbridge.domain.ports import OutgoingMail
from leadbridge.domain.render import single_line

HOSTILE = 'O\'Brien \\ "Lab" / Ünïcode 🚀\nBcc: victim@example.com\n' + "x" * 300


def mail(subject: str = "2i2c questionnaire for Acme") -> OutgoingMail:
    return OutgoingMail(
        message_id="leadbridge.42.send_questionnaire",
        to=("contact@acme.example",),
        subject=subject,
        body="Dear Ada,\n\nhttps://forms.example.org/q\n",
        cc=("finance@icsi.example.org",),
    )


def test_send_delivers_a_message_with_a_deterministic_message_id(
    gmail: GmailMailer, google: FakeGoogle, tmp_path
) -> None:
    gmail.send(mail())

    (sent,) = google.sent
    assert sent["Message-ID"] == "<leadbridge.42.send_questionnaire@example.org>"
    assert sent["From"] == "sales@example.org"
    assert sent["To"] == "contact@acme.example"
    assert sent["Cc"] == "finance@icsi.example.org"
    assert sent.get_content() == "Dear Ada,\n\nhttps://forms.example.org/q\n"
    archived = tmp_path / "sent" / "leadbridge.42.send_questionnaire.eml"
    assert b"Message-ID: <leadbridge.42.send_questionnaire@example.org>" in archived.read_bytes()


def test_was_sent_searches_sent_mail_for_the_message_id(
    gmail: GmailMailer, google: FakeGoogle
) -> None:
    assert gmail.was_sent("leadbridge.42.send_questionnaire") is False
    gmail.send(mail())
    assert gmail.was_sent("leadbridge.42.send_questionnaire") is True
    assert gmail.was_sent("leadbridge.43.send_questionnaire") is False

    _, _, query = google.requests[-1]
    assert query["q"] == ["rfc822msgid:leadbridge.43.send_questionnaire@example.org"]
    assert query["labelIds"] == ["SENT"]


def test_a_send_answered_500_after_sending_is_found_by_the_check_not_resent(
    gmail: GmailMailer, google: FakeGoogle
) -> None:
    google.fail("POST", "/messages/send", 500, "backendError", after_acting=True)

    with pytest.raises(TransientError):
        gmail.send(mail())
    # What the core does before another attempt:
    assert gmail.was_sent("leadbridge.42.send_questionnaire") is True
    assert len(google.sent) == 1
    assert sum(1 for _, p, _ in google.requests if p.endswith("/send")) == 1


def test_a_send_refused_429_says_nothing_was_sent(gmail: GmailMailer, google: FakeGoogle) -> None:
    google.fail("POST", "/messages/send", 429, "rateLimitExceeded")

    with pytest.raises(TransientError) as caught:
        gmail.send(mail())
    assert caught.value.not_acted
    assert google.sent == []


def test_a_send_answered_500_does_not_say_nothing_was_sent(
    gmail: GmailMailer, google: FakeGoogle
) -> None:
    google.fail("POST", "/messages/send", 500, "backendError")

    with pytest.raises(TransientError) as caught:
        gmail.send(mail())
    assert not caught.value.not_acted


def test_a_hostile_lead_name_cannot_add_a_header(gmail: GmailMailer, google: FakeGoogle) -> None:
    gmail.send(mail(subject=single_line(f"2i2c questionnaire for {HOSTILE}")))

    (sent,) = google.sent
    assert "Bcc" not in sent
    subject = str(sent["Subject"])
    # The line break became a space; the would-be header is plain subject text. (The stdlib
    # drops the space between two RFC 2047 encoded words when folding, hence no space
    # before the emoji after the round trip.)
    assert subject.startswith('2i2c questionnaire for O\'Brien \\ "Lab" / Ünïcode')
    assert "🚀 Bcc: victim@example.com xxx" in subject
    assert subject.endswith(" " + "x" * 300)
    assert "\n" not in subject


def test_a_subject_with_a_line_break_is_refused_visibly(
    gmail: GmailMailer, google: FakeGoogle
) -> None:
    with pytest.raises(PermanentError, match="Subject contains a line break"):
        gmail.send(mail(subject=f"Hello {HOSTILE}"))
    assert google.sent == []


def test_gmail_without_a_delegated_user_says_how_to_fix(
    gmail: GmailMailer, google: FakeGoogle
) -> None:
    google.fail("POST", "/messages/send", 400, "failedPrecondition")

    with pytest.raises(PermanentError) as caught:
        gmail.send(mail())
    assert "google.subject" in caught.value.fix


def test_check_reads_the_profile_and_sends_nothing(gmail: GmailMailer, google: FakeGoogle) -> None:
    scopes, profile = gmail.check()

    assert scopes.ok and "gmail.send and gmail.readonly granted" in scopes.detail
    assert profile.ok and "sales@example.org" in profile.detail
    assert google.sent == []
