from __future__ import annotations

from pathlib import Path

import pytest

from leadbridge.adapters.mail.message import archive, build_message, message_id_header
from leadbridge.domain.errors import PermanentError
from leadbridge.domain.ports import OutgoingMail


def test_message_id_is_the_same_on_every_attempt() -> None:
    first = message_id_header("leadbridge.42.send_questionnaire", "Sales@Example.org")
    again = message_id_header("leadbridge.42.send_questionnaire", "Sales@Example.org")
    assert first == again == "<leadbridge.42.send_questionnaire@Example.org>"


@pytest.mark.parametrize("token", ["../etc/passwd", "a b", "<x>", "x@y", "", ".hidden"])
def test_a_token_that_is_no_safe_message_id_or_file_name_is_refused(token: str) -> None:
    with pytest.raises(PermanentError):
        message_id_header(token, "sales@example.org")


@pytest.mark.parametrize("address", ["", "not-an-address", "a@", "x@y\nBcc: z@w", "a@b, c@d"])
def test_bad_recipients_are_refused_visibly(address: str) -> None:
    mail = OutgoingMail("leadbridge.1.x", (address,), "Hi", "Body")
    with pytest.raises(PermanentError, match="is not an e-mail address"):
        build_message(mail, "sales@example.org")


def test_no_recipient_is_refused_visibly() -> None:
    with pytest.raises(PermanentError, match="has no recipient"):
        build_message(OutgoingMail("leadbridge.1.x", (), "Hi", "Body"), "sales@example.org")


def test_archive_failure_does_not_raise(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    message = build_message(
        OutgoingMail("leadbridge.1.x", ("a@b.example",), "Hi", "Body"), "sales@example.org"
    )

    archive(message, "leadbridge.1.x", blocker / "sent")  # the message is already sent

    archive(message, "leadbridge.1.x", tmp_path / "sent")
    assert [p.name for p in (tmp_path / "sent").iterdir()] == ["leadbridge.1.x.eml"]
