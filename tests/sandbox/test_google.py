"""Drive, Docs, Sheets and Gmail as google-api-python-client sees them, through the sandbox's
token endpoint with a real service-account key."""

from __future__ import annotations

import base64
import json
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import google_auth_httplib2
import httplib2
import httpx
import pytest
from google.auth import crypt, jwt
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from leadbridge.sandbox.credentials import write_service_account_file
from leadbridge.sandbox.server import Sandbox
from leadbridge.sandbox.state import FOLDER
from leadbridge.sandbox.world import (
    LEADS_FOLDER_ID,
    PRICE_QUOTE_TEMPLATE_ID,
    PRICING_SHEET_TEMPLATE_ID,
    SALES_MAILBOX,
    SHARED_DRIVE_ID,
)

SCOPES = ["https://www.googleapis.com/auth/drive", "https://www.googleapis.com/auth/gmail.send"]
PATHS = {"drive": "drive/v3/", "docs": "", "sheets": "", "gmail": ""}


class Google:
    def __init__(self, sandbox: Sandbox, key_file: Path, subject: str | None) -> None:
        credentials = service_account.Credentials.from_service_account_file(
            str(key_file), scopes=SCOPES
        )
        if subject:
            credentials = credentials.with_subject(subject)
        self.http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=5))
        self.root = f"{sandbox.url}/google/"

    def service(self, name: str, version: str) -> Any:
        return build(
            name,
            version,
            http=self.http,
            cache_discovery=False,
            client_options={"api_endpoint": self.root + PATHS[name]},
        )


@pytest.fixture
def key_file(sandbox: Sandbox, tmp_path: Path) -> Path:
    return write_service_account_file(tmp_path / "key.json", f"{sandbox.url}/google/token")


@pytest.fixture
def google(sandbox: Sandbox, key_file: Path) -> Google:
    return Google(sandbox, key_file, SALES_MAILBOX)


def _reason(error: HttpError) -> str:
    return json.loads(error.content)["error"]["errors"][0]["reason"]


def _folder(drive: Any, name: str, tag: str) -> dict[str, Any]:
    body = {
        "name": name,
        "mimeType": FOLDER,
        "parents": [LEADS_FOLDER_ID],
        "appProperties": {"lid": tag},
    }
    return (
        drive.files()
        .create(body=body, fields="id,name,webViewLink,parents", supportsAllDrives=True)
        .execute()
    )


def test_folder_is_created_in_the_shared_drive_and_found_by_its_tag(
    sandbox: Sandbox, google: Google
) -> None:
    drive = google.service("drive", "v3")
    created = _folder(drive, "Quinn's lab", "item-42")
    assert created["parents"] == [LEADS_FOLDER_ID]
    assert created["webViewLink"].endswith(created["id"])
    query = (
        f"'{LEADS_FOLDER_ID}' in parents and trashed = false and "
        "appProperties has { key='lid' and value='item-42' }"
    )
    found = (
        drive.files()
        .list(
            q=query,
            fields="files(id,name,appProperties)",
            supportsAllDrives=True,
            includeItemsFromAllDrives=True,
            corpora="drive",
            driveId=SHARED_DRIVE_ID,
        )
        .execute()
    )
    assert found == {
        "files": [{"id": created["id"], "name": "Quinn's lab", "appProperties": {"lid": "item-42"}}]
    }
    assert sandbox.state.google.files[created["id"]].app_properties == {"lid": "item-42"}
    assert sandbox.state.request_count("oauth", "token") == 1


def test_trashed_files_are_listed_unless_excluded(sandbox: Sandbox, google: Google) -> None:
    drive = google.service("drive", "v3")
    created = _folder(drive, "Old", "gone")
    sandbox.state.google.files[created["id"]].trashed = True
    flags = {"supportsAllDrives": True, "includeItemsFromAllDrives": True}
    listed = drive.files().list(q="name = 'Old'", **flags).execute()["files"]
    kept = drive.files().list(q="name = 'Old' and trashed = false", **flags).execute()["files"]
    assert [f["id"] for f in listed] == [created["id"]] and kept == []


def test_shared_drive_files_are_invisible_without_supports_all_drives(google: Google) -> None:
    drive = google.service("drive", "v3")
    with pytest.raises(HttpError) as raised:
        drive.files().get(fileId=LEADS_FOLDER_ID).execute()
    assert raised.value.resp.status == 404 and _reason(raised.value) == "notFound"


def test_a_service_account_cannot_create_without_a_parent(google: Google) -> None:
    drive = google.service("drive", "v3")
    with pytest.raises(HttpError) as raised:
        drive.files().create(body={"name": "x"}, supportsAllDrives=True).execute()
    assert raised.value.resp.status == 403 and _reason(raised.value) == "storageQuotaExceeded"


def test_copies_of_templates_get_their_placeholders_filled(
    sandbox: Sandbox, google: Google
) -> None:
    drive = google.service("drive", "v3")
    folder = _folder(drive, "Lab", "t")

    def copy(template: str) -> str:
        body = {"name": "Copy", "parents": [folder["id"]], "appProperties": {"lid": "t"}}
        return (
            drive.files().copy(fileId=template, body=body, supportsAllDrives=True).execute()["id"]
        )

    doc_id, sheet_id = copy(PRICE_QUOTE_TEMPLATE_ID), copy(PRICING_SHEET_TEMPLATE_ID)
    docs = google.service("docs", "v1")
    reply = (
        docs.documents()
        .batchUpdate(
            documentId=doc_id,
            body={
                "requests": [
                    {
                        "replaceAllText": {
                            "containsText": {"text": "{{lead_name}}", "matchCase": True},
                            "replaceText": "Lab Ω",
                        }
                    },
                    {
                        "replaceAllText": {
                            "containsText": {"text": "{{absent}}", "matchCase": True},
                            "replaceText": "x",
                        }
                    },
                ]
            },
        )
        .execute()
    )
    assert reply["replies"] == [
        {"replaceAllText": {"occurrencesChanged": 1}},
        {"replaceAllText": {}},
    ]
    sheets = google.service("sheets", "v4")
    sheets.spreadsheets().batchUpdate(
        spreadsheetId=sheet_id,
        body={
            "requests": [
                {
                    "findReplace": {
                        "find": "{{organization}}",
                        "replacement": "Org",
                        "allSheets": True,
                    }
                }
            ]
        },
    ).execute()
    values = (
        sheets.spreadsheets().values().get(spreadsheetId=sheet_id, range="Pricing!A2:B2").execute()
    )
    assert values["values"] == [["Organization", "Org"]]
    files = sandbox.state.google.files
    assert "Lab Ω" in files[doc_id].text and "{{lead_name}}" not in files[doc_id].text
    assert "{{lead_name}}" in files[PRICE_QUOTE_TEMPLATE_ID].text
    assert [(r.file_id, r.find, r.occurrences) for r in sandbox.state.google.replacements] == [
        (doc_id, "{{lead_name}}", 1),
        (doc_id, "{{absent}}", 0),
        (sheet_id, "{{organization}}", 2),  # its own cell, and the terms sentence
    ]


def test_sheet_values_can_be_written(sandbox: Sandbox, google: Google) -> None:
    sheets = google.service("sheets", "v4")
    sheets.spreadsheets().values().update(
        spreadsheetId=PRICING_SHEET_TEMPLATE_ID,
        range="'Pricing'!C1",
        valueInputOption="RAW",
        body={"values": [["=1+1"]]},
    ).execute()
    assert sandbox.state.google.files[PRICING_SHEET_TEMPLATE_ID].sheets["Pricing"][0][2] == "=1+1"


def test_raw_values_stay_text_user_entered_ones_are_parsed(
    sandbox: Sandbox, google: Google
) -> None:
    values = google.service("sheets", "v4").spreadsheets().values()
    written = {}
    for option, cell, value in (
        ("RAW", "C1", "=1+1"),
        ("USER_ENTERED", "C2", "=1+1"),
        ("USER_ENTERED", "C3", "'=1+1"),
    ):
        written[cell] = values.batchUpdate(
            spreadsheetId=PRICING_SHEET_TEMPLATE_ID,
            body={
                "valueInputOption": option,
                "data": [{"range": f"Pricing!{cell}", "values": [[value]]}],
            },
        ).execute()
    assert written["C1"]["totalUpdatedCells"] == 1
    assert written["C1"]["responses"][0]["updatedRange"] == "Pricing!C1"

    grid = (
        google.service("sheets", "v4")
        .spreadsheets()
        .get(spreadsheetId=PRICING_SHEET_TEMPLATE_ID, includeGridData=True)
        .execute()
    )
    (sheet,) = grid["sheets"]
    assert sheet["properties"]["title"] == "Pricing"
    (data,) = sheet["data"]
    assert "startRow" not in data and "startColumn" not in data  # omitted when 0
    entered = [row["values"][2]["userEnteredValue"] for row in data["rowData"][:3]]
    assert entered == [
        {"stringValue": "=1+1"},
        {"formulaValue": "=1+1"},
        {"stringValue": "=1+1"},
    ]
    assert data["rowData"][0]["values"][0]["userEnteredValue"] == {"stringValue": "Pricing sheet"}
    plain = (
        google.service("sheets", "v4")
        .spreadsheets()
        .get(spreadsheetId=PRICING_SHEET_TEMPLATE_ID)
        .execute()
    )
    assert "data" not in plain["sheets"][0]


def _raw(message_id: str) -> str:
    message = EmailMessage()
    message["From"] = SALES_MAILBOX
    message["To"] = "contracting@icsi.example.org, finance@icsi.example.org"
    message["Subject"] = "2i2c: please send a contract to Université Côte d'Azur"
    message["Message-ID"] = message_id
    message.set_content("Hello ICSI")
    return base64.urlsafe_b64encode(message.as_bytes()).decode()


def test_sent_mail_is_kept_and_found_by_message_id(sandbox: Sandbox, google: Google) -> None:
    gmail = google.service("gmail", "v1")
    messages = gmail.users().messages()
    lookup = {"userId": "me", "q": "rfc822msgid:lb-1@2i2c.example", "maxResults": 1}
    assert messages.list(**lookup).execute() == {"resultSizeEstimate": 0}
    sent = messages.send(userId="me", body={"raw": _raw("<lb-1@2i2c.example>")}).execute()
    found = messages.list(**lookup).execute()
    assert found["messages"] == [{"id": sent["id"], "threadId": sent["threadId"]}]
    [mail] = sandbox.state.google.mail
    assert mail.mailbox == SALES_MAILBOX
    assert mail.recipients == ("contracting@icsi.example.org", "finance@icsi.example.org")
    assert mail.subject.endswith("Université Côte d'Azur")
    assert mail.body().strip() == "Hello ICSI"


def test_gmail_needs_a_delegated_user(sandbox: Sandbox, key_file: Path) -> None:
    gmail = Google(sandbox, key_file, subject=None).service("gmail", "v1")
    with pytest.raises(HttpError) as raised:
        gmail.users().messages().send(userId="me", body={"raw": _raw("<x@y>")}).execute()
    assert raised.value.resp.status == 400 and _reason(raised.value) == "failedPrecondition"
    assert sandbox.state.google.mail == []


def test_calls_without_a_token_are_401(sandbox: Sandbox) -> None:
    response = httpx.get(f"{sandbox.url}/google/drive/v3/files/{LEADS_FOLDER_ID}")
    assert response.status_code == 401
    assert response.json()["error"]["errors"][0]["reason"] == "authError"


def test_a_token_from_the_sandbox_works_directly(sandbox: Sandbox) -> None:
    token = sandbox.google_token(SALES_MAILBOX)
    response = httpx.get(
        f"{sandbox.url}/google/gmail/v1/users/me/profile",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.json()["emailAddress"] == SALES_MAILBOX


def _token(sandbox: Sandbox, key_file: Path, scopes: list[str], subject: str | None) -> Any:
    """The token endpoint's answer to a signed grant (google-auth keeps only the token)."""
    token_uri = f"{sandbox.url}/google/token"
    claims: dict[str, Any] = {
        "iss": json.loads(key_file.read_text())["client_email"],
        "aud": token_uri,
        "scope": " ".join(scopes),
        "iat": int(time.time()),
        "exp": int(time.time()) + 3600,
    }
    if subject:
        claims["sub"] = subject
    assertion = jwt.encode(crypt.RSASigner.from_service_account_file(str(key_file)), claims)
    return httpx.post(
        token_uri,
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
        timeout=5,
    )


def test_the_token_answer_names_the_scopes_it_grants(sandbox: Sandbox, key_file: Path) -> None:
    answer = _token(sandbox, key_file, SCOPES, SALES_MAILBOX)

    assert answer.status_code == 200
    assert answer.json()["scope"].split() == SCOPES


def test_a_scope_the_delegation_lacks_refuses_the_whole_token(
    sandbox: Sandbox, key_file: Path
) -> None:
    readonly = "https://www.googleapis.com/auth/gmail.readonly"
    control = httpx.post(
        f"{sandbox.url}/_sandbox/google/delegation", json={"scopes": SCOPES}, timeout=5
    )
    assert control.status_code == 200

    refused = _token(sandbox, key_file, [*SCOPES, readonly], SALES_MAILBOX)
    alone = _token(sandbox, key_file, SCOPES, SALES_MAILBOX)
    as_itself = _token(sandbox, key_file, [*SCOPES, readonly], None)

    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized_client"
    assert alone.status_code == 200
    assert as_itself.status_code == 200  # no delegation: the service account acts as itself
