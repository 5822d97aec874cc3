from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httplib2
import pytest
from fake_google import FakeGoogle

from leadbridge.adapters.google.credentials import (
    DRIVE_SCOPE,
    GMAIL_SCOPES,
    GoogleConnection,
    load_credentials,
)
from leadbridge.adapters.google.drive import GoogleDrive
from leadbridge.adapters.google.gmail import GmailMailer
from leadbridge.sandbox.credentials import write_service_account_file
from leadbridge.settings import GoogleSettings


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "sa.json"
    return write_service_account_file(path, "https://oauth2.googleapis.com/token")


@pytest.fixture
def connect(key_file: Path) -> Callable[..., GoogleConnection]:
    """A connection whose transport is ``transport``: the real credential path runs on it."""

    def make(
        transport: httplib2.Http,
        scopes: tuple[str, ...] = (DRIVE_SCOPE,),
        subject: str | None = None,
    ) -> GoogleConnection:
        settings = GoogleSettings(service_account_file=key_file)
        credentials = load_credentials(settings, scopes, subject=subject)
        return GoogleConnection(credentials, transport, subject=subject)

    return make


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def google() -> FakeGoogle:
    fake = FakeGoogle()
    fake.add("LEADS", "Leads", "application/vnd.google-apps.folder", driveId="SD1")
    fake.add("TPL_SHEET", "Pricing template", "application/vnd.google-apps.spreadsheet")
    fake.add("TPL_DOC", "Quote template", "application/vnd.google-apps.document")
    return fake


@pytest.fixture
def drive(
    google: FakeGoogle, connect: Callable[..., GoogleConnection], sleeps: list[float]
) -> GoogleDrive:
    return GoogleDrive(
        connect(google),
        leads_folder_id="LEADS",
        shared_drive_id="SD1",
        template_ids=["TPL_SHEET", "TPL_DOC"],
        sleep=sleeps.append,
    )


@pytest.fixture
def gmail(
    google: FakeGoogle, connect: Callable[..., GoogleConnection], tmp_path: Path
) -> GmailMailer:
    connection = connect(google, GMAIL_SCOPES, "sales@example.org")
    return GmailMailer(connection, sender="sales@example.org", archive_dir=tmp_path / "sent")
