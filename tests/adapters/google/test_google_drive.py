from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from fake_google import ACCOUNT, TOKEN, FakeGoogle, google_error
from googleapiclient.http import HttpMockSequence
from prometheus_client import REGISTRY

from leadbridge.adapters.google import errors as google_errors
from leadbridge.adapters.google.credentials import GoogleConnection
from leadbridge.adapters.google.drive import (
    DOCUMENT,
    FOLDER,
    GoogleDrive,
    q_literal,
)
from leadbridge.domain.errors import PermanentError, TransientError
from leadbridge.domain.ports import DriveFile, DriveTag

HOSTILE = 'O\'Brien \\ "Lab" / Ünïcode 🚀\n' + "x" * 300


def test_create_folder_in_the_shared_drive_tagged(drive: GoogleDrive, google: FakeGoogle) -> None:
    tag = DriveTag("42", "lead_folder")

    folder = drive.create_folder("Acme Lab", "LEADS", tag)

    stored = google.files[folder.id]
    assert stored["parents"] == ["LEADS"]
    assert stored["mimeType"] == FOLDER
    assert stored["appProperties"] == {"lbItem": "42", "lbEffect": "lead_folder"}
    assert folder.url == stored["webViewLink"]
    method, _path, query = google.requests[-1]
    assert (method, query["supportsAllDrives"]) == ("POST", ["true"])


def test_lookup_after_a_crash_finds_the_folder_instead_of_making_a_second(
    drive: GoogleDrive, google: FakeGoogle
) -> None:
    tag = DriveTag("42", "lead_folder")
    made = drive.create_folder("Acme Lab", "LEADS", tag)
    # The process dies before the ledger records ``made``; the next run asks first.
    assert drive.find_tagged(tag, "LEADS") == made
    assert drive.find_tagged(DriveTag("43", "lead_folder"), "LEADS") is None
    assert len(google.children("LEADS")) == 1
    _, _, query = google.requests[-1]
    assert query["corpora"] == ["drive"]
    assert query["driveId"] == ["SD1"]
    assert query["includeItemsFromAllDrives"] == ["true"]
    assert query["supportsAllDrives"] == ["true"]


def test_copy_into_the_shared_drive_folder(drive: GoogleDrive, google: FakeGoogle) -> None:
    folder = drive.create_folder("Acme", "LEADS", DriveTag("42", "lead_folder"))

    copy = drive.copy_file("TPL_DOC", "Acme - Price quote", folder.id, DriveTag("42", "q.quote"))

    assert copy.mime_type == DOCUMENT
    assert google.files[copy.id]["parents"] == [folder.id]
    _method, path, query = google.requests[-1]
    assert path.endswith("/drive/v3/files/TPL_DOC/copy")
    assert query["supportsAllDrives"] == ["true"]


def test_500_on_a_copy_that_had_happened_leaves_one_copy(
    drive: GoogleDrive, google: FakeGoogle
) -> None:
    tag = DriveTag("42", "quote_copies.price_quote")
    google.fail("POST", "/copy", 500, "backendError", after_acting=True)

    assert drive.find_tagged(tag, "LEADS") is None
    with pytest.raises(TransientError):
        drive.copy_file("TPL_DOC", "Acme - Price quote", "LEADS", tag)
    # The core's next attempt looks before copying, and finds the copy Google did make.
    found = drive.find_tagged(tag, "LEADS")

    assert found is not None
    copies = [f for f in google.children("LEADS") if f["appProperties"]]
    assert [f["id"] for f in copies] == [found.id]
    assert sum(1 for m, p, _ in google.requests if p.endswith("/copy")) == 1


def test_a_document_is_filled_through_tokens_no_value_contains(
    drive: GoogleDrive, google: FakeGoogle
) -> None:
    """Docs applies replaceAllText requests in turn; placeholders become tokens first, so a
    value is put in last and never matched again. (Sheets: tests/sandbox/test_fill_placeholders.)"""
    values = {"{{lead_name}}": '=IMPORTXML("http://evil")', "{{date}}": "{{lead_name}}"}

    drive.fill_placeholders(DriveFile("D1", "q", "u", DOCUMENT), values)

    (update,) = google.updates["D1"]
    steps = [
        (r["replaceAllText"]["containsText"]["text"], r["replaceAllText"]["replaceText"])
        for r in update["requests"]
    ]
    assert all(r["replaceAllText"]["containsText"]["matchCase"] for r in update["requests"])
    tokens = [replace for _find, replace in steps[:2]]
    assert steps == [
        ("{{lead_name}}", tokens[0]),
        ("{{date}}", tokens[1]),
        (tokens[0], '=IMPORTXML("http://evil")'),
        (tokens[1], "{{lead_name}}"),
    ]
    used = set("".join(values) + "".join(values.values()))
    assert len(set(tokens)) == 2 and not used & set("".join(tokens))


def test_placeholders_in_a_pdf_are_refused_visibly(drive: GoogleDrive) -> None:
    with pytest.raises(PermanentError, match="Google Doc or a Google Sheet"):
        drive.fill_placeholders(DriveFile("P1", "p", "u", "application/pdf"), {"{{a}}": "b"})


def requests_counted(outcome: str) -> float:
    labels = {"service": "drive", "outcome": outcome}
    return REGISTRY.get_sample_value("leadbridge_api_requests_total", labels) or 0.0


def _requests_of(sequence: HttpMockSequence) -> list[tuple[str, str]]:
    return [(method, urlsplit(uri).path) for uri, method, _, _ in sequence.request_sequence]


def test_rate_limit_403_is_retried_then_succeeds(
    connect: Callable[..., GoogleConnection], sleeps: list[float]
) -> None:
    sequence = HttpMockSequence(
        [
            TOKEN,
            ({"status": "403"}, json.dumps(google_error(403, "userRateLimitExceeded"))),
            ({"status": "200"}, json.dumps({"files": [{"id": "F1", "name": "n"}]})),
        ]
    )
    drive = GoogleDrive(connect(sequence), leads_folder_id="LEADS", sleep=sleeps.append)
    before = {outcome: requests_counted(outcome) for outcome in ("ok", "retry", "error")}

    found = drive.find_tagged(DriveTag("42", "lead_folder"), "LEADS")

    assert found is not None and found.id == "F1"
    assert len(sleeps) == 1
    counted = {outcome: requests_counted(outcome) - before[outcome] for outcome in before}
    assert counted == {"ok": 1, "retry": 1, "error": 0}
    assert _requests_of(sequence)[1:] == [("GET", "/drive/v3/files")] * 2


def test_a_403_that_is_not_a_rate_limit_is_not_retried(
    connect: Callable[..., GoogleConnection], sleeps: list[float]
) -> None:
    sequence = HttpMockSequence(
        [TOKEN, ({"status": "403"}, json.dumps(google_error(403, "insufficientFilePermissions")))]
    )
    drive = GoogleDrive(connect(sequence), leads_folder_id="LEADS", sleep=sleeps.append)

    with pytest.raises(PermanentError, match="insufficientFilePermissions") as caught:
        drive.find_tagged(DriveTag("42", "lead_folder"), "LEADS")
    assert ACCOUNT in caught.value.fix
    assert sleeps == []


def test_a_create_answered_500_is_sent_once(
    connect: Callable[..., GoogleConnection], sleeps: list[float]
) -> None:
    sequence = HttpMockSequence(
        [TOKEN, ({"status": "500"}, json.dumps(google_error(500, "backendError")))]
    )
    drive = GoogleDrive(connect(sequence), leads_folder_id="LEADS", sleep=sleeps.append)

    with pytest.raises(TransientError):
        drive.create_folder("Acme", "LEADS", DriveTag("42", "lead_folder"))
    assert _requests_of(sequence) == [("POST", "/token"), ("POST", "/drive/v3/files")]


def test_missing_template_names_the_account_to_share_with(
    drive: GoogleDrive, google: FakeGoogle
) -> None:
    with pytest.raises(PermanentError) as caught:
        drive.copy_file("GONE", "Acme - Quote", "LEADS", DriveTag("42", "q"))

    assert f"missing, or not shared with {ACCOUNT}" in caught.value.message
    assert "GONE" in caught.value.message


def test_storage_quota_is_permanent_with_the_shared_drive_hint(
    drive: GoogleDrive, google: FakeGoogle
) -> None:
    google.fail("POST", "/drive/v3/files", 403, "storageQuotaExceeded")

    with pytest.raises(PermanentError) as caught:
        drive.create_folder("Acme", "LEADS", DriveTag("42", "lead_folder"))
    assert "Shared Drive" in caught.value.fix


def _pacific_clock(monkeypatch: pytest.MonkeyPatch, hour: int, minute: int) -> None:
    """Google's quota reset as seen at ``hour:minute`` Pacific time (UTC-8) on a fixed day."""
    real = google_errors.seconds_until_quota_reset
    moment = datetime(2026, 3, 2, hour, minute, tzinfo=timezone(timedelta(hours=-8)))
    monkeypatch.setattr(google_errors, "seconds_until_quota_reset", lambda: real(moment))


def test_daily_limit_waits_until_the_quota_resets(
    drive: GoogleDrive, google: FakeGoogle, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    _pacific_clock(monkeypatch, 12, 0)
    google.fail("GET", "/drive/v3/files", 403, "dailyLimitExceeded")

    with pytest.raises(TransientError) as caught:
        drive.find_tagged(DriveTag("42", "lead_folder"), "LEADS")
    assert caught.value.retry_after == 12 * 3600
    # Hours are the ledger's business: no in-call sleep.
    assert sleeps == []


def test_a_quota_reset_within_the_minute_is_waited_out_in_the_call(
    drive: GoogleDrive, google: FakeGoogle, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    _pacific_clock(monkeypatch, 23, 59)
    google.fail("GET", "/drive/v3/files", 403, "dailyLimitExceeded")  # once

    assert drive.find_tagged(DriveTag("42", "lead_folder"), "LEADS") is None
    assert sleeps == [60.0]


def test_hostile_values_round_trip_through_the_drive_query(
    drive: GoogleDrive, google: FakeGoogle
) -> None:
    assert q_literal("O'Brien \\ x") == "'O\\'Brien \\\\ x'"
    tag = DriveTag("42", "O'B\\\"🚀")  # tag keys come from configuration, still escaped
    folder = drive.create_folder(HOSTILE, "LEADS", tag)

    assert drive.find_tagged(tag, "LEADS") == folder
    assert drive.find_tagged(DriveTag("42", "O'B\\\""), "LEADS") is None
    name = google.files[folder.id]["name"]
    assert "\n" not in name
    assert name.startswith('O\'Brien \\ "Lab" / Ünïcode 🚀 xxx')


def test_check_reports_folder_templates_and_a_wrong_type(
    drive: GoogleDrive, google: FakeGoogle
) -> None:
    google.files["TPL_DOC"]["mimeType"] = "application/pdf"

    findings = {f.what: f for f in drive.check()}

    assert findings["credentials"].ok
    assert findings["leads folder LEADS"].ok
    assert findings["template TPL_SHEET"].ok
    assert not findings["template TPL_DOC"].ok
    assert "expected a Google Doc or a Google Sheet" in findings["template TPL_DOC"].detail


def test_check_reports_an_unshared_folder(
    connect: Callable[..., GoogleConnection], google: FakeGoogle
) -> None:
    drive = GoogleDrive(connect(google), leads_folder_id="NOPE", template_ids=())

    (credentials, folder) = drive.check()

    assert credentials.ok
    assert not folder.ok and f"not shared with {ACCOUNT}" in folder.detail
    assert google.tokens_issued == 1


def test_get_file_checks_a_pasted_link_in_the_shared_drive(
    drive: GoogleDrive, google: FakeGoogle
) -> None:
    google.add("HAND", "Acme (made by hand)", FOLDER, "LEADS", driveId="SD1")
    google.add("BIN", "Old folder", FOLDER, "LEADS", trashed=True)

    found = drive.get_file("HAND")

    assert found == DriveFile("HAND", "Acme (made by hand)", "https://drive.test/HAND", FOLDER)
    method, path, query = google.requests[-1]
    assert (method, query["supportsAllDrives"]) == ("GET", ["true"])
    assert path.endswith("/drive/v3/files/HAND")
    # Missing, or not shared with the account (Drive says 404 for both), and trashed: None.
    assert drive.get_file("NOPE") is None
    assert drive.get_file("BIN") is None


def test_get_file_still_raises_for_what_is_not_an_answer(
    drive: GoogleDrive, google: FakeGoogle
) -> None:
    google.fail("GET", "/files/HAND", 403, "insufficientFilePermissions")
    with pytest.raises(PermanentError):
        drive.get_file("HAND")
