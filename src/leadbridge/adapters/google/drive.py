"""The Drive port on Google Drive, Docs and Sheets.

Every file leadbridge makes carries its tag in ``appProperties`` and is found again by that tag
(``find_tagged``), never by its name: names are not unique in Drive and lead names change. The
core calls ``find_tagged`` before every create or copy, so a create that failed with a 500
after it had in fact happened is found, not repeated.

All calls are Shared-Drive aware: service accounts own no storage, so the leads folder lives in
a Shared Drive, and Drive hides Shared-Drive items from calls that do not say they support them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import Any

import structlog

from leadbridge.adapters.retry import DEFAULT_IN_CALL
from leadbridge.domain.errors import ExternalError, PermanentError
from leadbridge.domain.ports import CheckFinding, DriveFile, DriveTag
from leadbridge.domain.render import single_line
from leadbridge.effects.drive_copies import template_file_ids
from leadbridge.settings import InCallRetrySettings, Settings

from .calls import GoogleCaller
from .credentials import DRIVE_SCOPE, GoogleConnection

log = structlog.get_logger(__name__)

SERVICE = "drive"
FOLDER = "application/vnd.google-apps.folder"
DOCUMENT = "application/vnd.google-apps.document"
SPREADSHEET = "application/vnd.google-apps.spreadsheet"
_KINDS = {FOLDER: "a folder", DOCUMENT: "a Google Doc", SPREADSHEET: "a Google Sheet"}
_FILE_FIELDS = "id,name,mimeType,webViewLink"
#: Short keys: Drive allows 124 bytes per property, key and value together (UTF-8).
ITEM_KEY = "lbItem"
EFFECT_KEY = "lbEffect"
_PROPERTY_BYTES = 124
#: A cell starting with one of these may be read as a formula (or a number) by Sheets.
_FORMULA_START = ("=", "+", "-", "@")


def q_literal(value: str) -> str:
    """A Drive query string literal: backslashes first, then single quotes."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def tag_properties(tag: DriveTag) -> dict[str, str]:
    properties = {ITEM_KEY: tag.item_id, EFFECT_KEY: tag.key}
    for key, value in properties.items():
        if len(key.encode()) + len(value.encode()) > _PROPERTY_BYTES:
            raise PermanentError(
                SERVICE,
                f"the tag {key}={value[:40]!r}… is longer than Drive's {_PROPERTY_BYTES} bytes.",
                fix="use a shorter effect or template name in the configuration",
            )
    return properties


def sheet_text(value: str) -> str:
    """A value Sheets keeps as text: a leading apostrophe is the spreadsheet's text marker."""
    return "'" + value if value.startswith(_FORMULA_START) else value


class GoogleDrive:
    """Drive + LiveCheck. One instance per thread (the HTTP transport is not thread-safe)."""

    def __init__(
        self,
        connection: GoogleConnection,
        *,
        leads_folder_id: str,
        shared_drive_id: str | None = None,
        template_ids: Sequence[str] = (),
        retry: InCallRetrySettings = DEFAULT_IN_CALL,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._connection = connection
        self._drive = connection.service("drive", "v3")
        self._docs = connection.service("docs", "v1")
        self._sheets = connection.service("sheets", "v4")
        self._call = GoogleCaller(SERVICE, connection.account, retry, sleep)
        self._leads_folder_id = leads_folder_id
        self._shared_drive_id = shared_drive_id
        self._template_ids = tuple(template_ids)

    # Each resource is built once, on first use: building one from its discovery document
    # costs CPU on every call otherwise (Docs' ``documents()`` alone takes about 60 ms).

    @cached_property
    def _files(self) -> Any:
        return self._drive.files()

    @cached_property
    def _documents(self) -> Any:
        return self._docs.documents()

    @cached_property
    def _spreadsheets(self) -> Any:
        return self._sheets.spreadsheets()

    @classmethod
    def from_settings(cls, settings: Settings) -> GoogleDrive:
        google = settings.google
        connection = GoogleConnection.open(google, [DRIVE_SCOPE], subject=google.drive_subject)
        return cls(
            connection,
            leads_folder_id=google.leads_folder_id,
            shared_drive_id=google.shared_drive_id,
            template_ids=template_file_ids(settings.effects.values()),
            retry=settings.retry.in_call,
        )

    # ------------------------------------------------------------------ Drive port

    def find_tagged(self, tag: DriveTag, parent_id: str) -> DriveFile | None:
        terms = [f"{q_literal(parent_id)} in parents", "trashed = false"]
        terms += [
            f"appProperties has {{ key={q_literal(key)} and value={q_literal(value)} }}"
            for key, value in tag_properties(tag).items()
        ]
        params: dict[str, Any] = {
            "q": " and ".join(terms),
            "fields": f"files({_FILE_FIELDS})",
            "orderBy": "createdTime",
            "pageSize": 10,
            "supportsAllDrives": True,
            "includeItemsFromAllDrives": True,
        }
        if self._shared_drive_id:
            params.update(corpora="drive", driveId=self._shared_drive_id)
        found = self._call.repeatable(
            self._files.list(**params),
            f"looking for the {tag.key} file of item {tag.item_id}",
            missing=f"the folder {parent_id}",
        ).get("files", [])
        if len(found) > 1:
            log.warning(
                "drive.duplicate_tagged",
                item_id=tag.item_id,
                effect=tag.key,
                file_ids=[f["id"] for f in found],
            )
        return _drive_file(found[0]) if found else None

    def create_folder(self, name: str, parent_id: str, tag: DriveTag) -> DriveFile:
        body = {
            "name": single_line(name),
            "mimeType": FOLDER,
            "parents": [parent_id],
            "appProperties": tag_properties(tag),
        }
        created = self._call.once(
            self._files.create(body=body, fields=_FILE_FIELDS, supportsAllDrives=True),
            f"creating the folder of item {tag.item_id}",
            missing=f"the parent folder {parent_id}",
        )
        log.info("drive.folder_created", item_id=tag.item_id, effect=tag.key, file_id=created["id"])
        return _drive_file(created)

    def copy_file(self, source_id: str, name: str, parent_id: str, tag: DriveTag) -> DriveFile:
        body = {
            "name": single_line(name),
            "parents": [parent_id],
            "appProperties": tag_properties(tag),
        }
        copied = self._call.once(
            self._files.copy(
                fileId=source_id, body=body, fields=_FILE_FIELDS, supportsAllDrives=True
            ),
            f"copying template {source_id} for item {tag.item_id}",
            missing=f"the template {source_id} (or the folder {parent_id})",
        )
        log.info("drive.file_copied", item_id=tag.item_id, effect=tag.key, file_id=copied["id"])
        return _drive_file(copied)

    def fill_placeholders(self, file: DriveFile, replacements: Mapping[str, str]) -> None:
        """Replacing is repeatable (a filled placeholder is gone), so it may be retried."""
        if not replacements:
            return
        mime_type = file.mime_type or self._get(file.id, f"the file {file.id}")["mimeType"]
        action = f"filling the placeholders of {file.id}"
        if mime_type == DOCUMENT:
            requests = [
                {
                    "replaceAllText": {
                        "containsText": {"text": placeholder, "matchCase": True},
                        "replaceText": value,
                    }
                }
                for placeholder, value in replacements.items()
            ]
            self._call.repeatable(
                self._documents.batchUpdate(documentId=file.id, body={"requests": requests}),
                action,
                missing=f"the document {file.id}",
            )
        elif mime_type == SPREADSHEET:
            requests = [
                {
                    "findReplace": {
                        "find": placeholder,
                        "replacement": sheet_text(value),
                        "allSheets": True,
                        "matchCase": True,
                        "matchEntireCell": False,
                        "searchByRegex": False,
                        "includeFormulas": False,
                    }
                }
                for placeholder, value in replacements.items()
            ]
            self._call.repeatable(
                self._spreadsheets.batchUpdate(spreadsheetId=file.id, body={"requests": requests}),
                action,
                missing=f"the spreadsheet {file.id}",
            )
        else:
            raise PermanentError(
                SERVICE,
                f"{action}: it is {_KINDS.get(mime_type, mime_type)}, and placeholders can "
                "only be filled in a Google Doc or a Google Sheet.",
                fix="use a Google Doc or Google Sheet as template, or remove its placeholders",
            )

    # ------------------------------------------------------------------ LiveCheck

    def check(self) -> list[CheckFinding]:
        account = self._connection.account
        try:
            self._connection.fetch_token(SERVICE)
        except ExternalError as error:
            return [CheckFinding("google", "credentials", False, error.message, error.fix)]
        findings = [CheckFinding("google", "credentials", True, f"acting as {account}")]
        findings.append(self._check_file(self._leads_folder_id, "leads folder", (FOLDER,)))
        findings += [
            self._check_file(file_id, "template", (DOCUMENT, SPREADSHEET))
            for file_id in self._template_ids
        ]
        return findings

    def _check_file(self, file_id: str, role: str, expected: tuple[str, ...]) -> CheckFinding:
        what = f"{role} {file_id}"
        try:
            found = self._get(file_id, f"the {what}", extra_fields=",driveId")
        except ExternalError as error:
            return CheckFinding("google", what, False, error.message, error.fix)
        kind = found.get("mimeType", "")
        wanted = " or ".join(_KINDS[m] for m in expected)
        if kind not in expected:
            return CheckFinding(
                "google",
                what,
                False,
                f"{found.get('name', '')!r} is {_KINDS.get(kind, kind)}, expected {wanted}.",
                "correct the id in the configuration",
            )
        drive_id = found.get("driveId")
        if (
            role == "leads folder"
            and self._shared_drive_id
            and drive_id
            not in (
                None,
                self._shared_drive_id,
            )
        ):
            return CheckFinding(
                "google",
                what,
                False,
                f"it is in Shared Drive {drive_id}, but google.shared_drive_id is "
                f"{self._shared_drive_id}, so leadbridge would not find its own files again.",
                f"set google.shared_drive_id to {drive_id}",
            )
        return CheckFinding("google", what, True, f"{found.get('name', '')!r} is {_KINDS[kind]}")

    def _get(self, file_id: str, missing: str, *, extra_fields: str = "") -> dict[str, Any]:
        return self._call.repeatable(
            self._files.get(
                fileId=file_id, fields=_FILE_FIELDS + extra_fields, supportsAllDrives=True
            ),
            f"reading {missing}",
            missing=missing,
        )


def _drive_file(data: Mapping[str, Any]) -> DriveFile:
    return DriveFile(
        id=data["id"],
        name=data.get("name", ""),
        url=data.get("webViewLink", ""),
        mime_type=data.get("mimeType", ""),
    )
