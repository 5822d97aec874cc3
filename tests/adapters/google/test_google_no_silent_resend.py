"""httplib2 re-sends a request, POST included, when the connection drops before the answer.

Against the sandbox over real loopback HTTP: the server commits a folder create, a template
copy or an e-mail send and then drops the connection. The adapter must report a transient
failure and leave exactly one object, so the core's lookup-before-create can find it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from leadbridge.adapters.google.drive import GoogleDrive
from leadbridge.adapters.google.gmail import GmailMailer
from leadbridge.domain.errors import TransientError, UncertainOutcome
from leadbridge.domain.ports import DriveTag, OutgoingMail
from leadbridge.sandbox import Sandbox, write_sandbox_config
from leadbridge.sandbox.world import LEADS_FOLDER_ID, PRICE_QUOTE_TEMPLATE_ID
from leadbridge.settings import Settings, load_settings


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.fixture
def settings(sandbox: Sandbox, tmp_path: Path) -> Settings:
    written = write_sandbox_config(sandbox, tmp_path)
    return load_settings(written.path, secrets_dir=written.secrets_dir)


def _tagged(sandbox: Sandbox, key: str) -> list[dict]:
    return [
        f
        for f in sandbox.state.snapshot()["drive"]["files"]
        if f["appProperties"].get("lbEffect") == key
    ]


def test_dropped_connection_after_folder_create_leaves_one_folder(sandbox, settings) -> None:
    drive = GoogleDrive.from_settings(settings)
    tag = DriveTag("77", "lead_folder")
    sandbox.faults.add("drive", "files.create", "commit_then_drop")
    with pytest.raises(TransientError):
        drive.create_folder("Lead 77", LEADS_FOLDER_ID, tag)
    assert sandbox.state.request_count("drive", "files.create") == 1
    assert len(_tagged(sandbox, "lead_folder")) == 1
    assert drive.find_tagged(tag, LEADS_FOLDER_ID) is not None


def test_dropped_connection_after_copy_leaves_one_copy(sandbox, settings) -> None:
    drive = GoogleDrive.from_settings(settings)
    folder = drive.create_folder("Lead 78", LEADS_FOLDER_ID, DriveTag("78", "lead_folder"))
    tag = DriveTag("78", "quote_copies:price_quote")
    sandbox.faults.add("drive", "files.copy", "commit_then_drop")
    with pytest.raises(TransientError):
        drive.copy_file(PRICE_QUOTE_TEMPLATE_ID, "Lead 78 - Price quote", folder.id, tag)
    assert sandbox.state.request_count("drive", "files.copy") == 1
    assert len(_tagged(sandbox, "quote_copies:price_quote")) == 1


def test_dropped_connection_after_send_is_one_mail_and_uncertain(sandbox, settings) -> None:
    mailer = GmailMailer.from_settings(settings)
    mail = OutgoingMail("leadbridge.79.send_questionnaire", ("a@uni.example",), "Hello", "Body")
    sandbox.faults.add("gmail", "messages.send", "commit_then_drop")
    with pytest.raises((TransientError, UncertainOutcome)):
        mailer.send(mail)
    assert sandbox.state.request_count("gmail", "messages.send") == 1
    assert len(sandbox.state.snapshot()["gmail"]["messages"]) == 1
    assert mailer.was_sent(mail.message_id) is True
