"""The Drive port on Google Drive, Docs and Sheets.

Every file leadbridge makes carries its tag in ``appProperties`` and is found again by that tag
(``find_tagged``), never by its name: names are not unique in Drive and lead names change. The
core calls ``find_tagged`` before every create or copy, so a create that failed with a 500
after it had in fact happened is found, not repeated.

All calls are Shared-Drive aware: service accounts own no storage, so the leads folder lives in
a Shared Drive, and Drive hides Shared-Drive items from calls that do not say they support them.
"""

from __future__ import annotations

import re
import secrets
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
#: What filling a spreadsheet reads: every tab's cells as entered (text, number or formula).
_SHEET_CELLS = (
    "sheets(properties(sheetId,title),data(startRow,startColumn,rowData(values(userEnteredValue))))"
)
#: A string literal in a spreadsheet formula: double quotes, ``""`` inside for one quote.
_FORMULA_STRING = re.compile(r'"(?:[^"]|"")*"')


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

    @cached_property
    def _values(self) -> Any:
        return self._spreadsheets.values()

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

    def get_file(self, file_id: str) -> DriveFile | None:
        """The file or folder ``file_id`` names, if this account can see it (a 404 and a
        trashed file are None): how a link staff pasted on the board is checked before use."""
        found = self._call.repeatable(
            self._files.get(
                fileId=file_id, fields=_FILE_FIELDS + ",trashed", supportsAllDrives=True
            ),
            f"reading the file {file_id} linked on the board",
            missing=f"the file {file_id}",
            absent_is_none=True,
        )
        if not found or found.get("trashed"):
            return None
        return _drive_file(found)

    def list_files(self, folder_id: str) -> list[DriveFile]:
        """Every file and folder directly in ``folder_id`` that is not trashed, all pages."""
        params: dict[str, Any] = {
            "q": f"{q_literal(folder_id)} in parents and trashed = false",
            "fields": f"nextPageToken,files({_FILE_FIELDS})",
            "orderBy": "createdTime",
            "pageSize": 100,
            "supportsAllDrives": True,
            "includeItemsFromAllDrives": True,
        }
        if self._shared_drive_id:
            params.update(corpora="drive", driveId=self._shared_drive_id)
        files: list[DriveFile] = []
        token = ""
        while True:
            page = self._call.repeatable(
                self._files.list(**params, **({"pageToken": token} if token else {})),
                f"listing the files in the folder {folder_id}",
                missing=f"the folder {folder_id}",
            )
            files += [_drive_file(found) for found in page.get("files", [])]
            token = page.get("nextPageToken") or ""
            if not token:
                return files

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
        """Each placeholder is replaced by its value in one pass: a value put in is never
        scanned again, so a contact named ``{{date}}`` stays literally that.

        Replacing is repeatable (a filled placeholder is gone), so it may be retried.
        """
        replacements = {key: value for key, value in replacements.items() if key}
        if not replacements:
            return
        mime_type = file.mime_type or self._get(file.id, f"the file {file.id}")["mimeType"]
        action = f"filling the placeholders of {file.id}"
        if mime_type == DOCUMENT:
            self._call.repeatable(
                self._documents.batchUpdate(
                    documentId=file.id, body={"requests": document_requests(replacements)}
                ),
                action,
                missing=f"the document {file.id}",
            )
        elif mime_type == SPREADSHEET:
            missing = f"the spreadsheet {file.id}"
            spreadsheet = self._call.repeatable(
                self._spreadsheets.get(
                    spreadsheetId=file.id, includeGridData=True, fields=_SHEET_CELLS
                ),
                f"reading the cells of {file.id}",
                missing=missing,
            )
            texts, formulas = sheet_writes(spreadsheet, replacements)
            # Text as RAW: stored as given, never parsed (a lead named "=IMPORTXML(…)" stays
            # text); formulas as USER_ENTERED, the only way to write a formula as one.
            for option, data in (("RAW", texts), ("USER_ENTERED", formulas)):
                if data:
                    self._call.repeatable(
                        self._values.batchUpdate(
                            spreadsheetId=file.id,
                            body={"valueInputOption": option, "data": data},
                        ),
                        action,
                        missing=missing,
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


# ---------------------------------------------------------------------- filling placeholders
#
# Filling is single-pass: a value inserted is never looked at again, whatever it contains.
# A Google Doc is filled by replaceAllText requests, which Docs applies one after the other
# to the text as the previous ones left it; so every placeholder first becomes a token no key
# or value can contain, and only then does each token become its value. A Google Sheet is read
# and each cell holding a placeholder is written back, filled in one pass (``fill_text``).


def _placeholder_pattern(replacements: Mapping[str, str]) -> re.Pattern[str]:
    """Any key; at one place the longest key that matches wins (``{{a}}`` vs ``{{a}}b``)."""
    keys = sorted(replacements, key=len, reverse=True)
    return re.compile("|".join(re.escape(key) for key in keys))


def fill_text(text: str, replacements: Mapping[str, str]) -> str:
    """``text`` with each placeholder replaced by its value, in one scan of ``text``."""
    if not replacements:
        return text
    return _placeholder_pattern(replacements).sub(lambda m: replacements[m.group()], text)


def fill_formula(formula: str, replacements: Mapping[str, str]) -> str:
    """A formula with its placeholders filled, the values always as text, never as formula.

    A placeholder inside a string literal (``="Quote for {{lead_name}}"``) takes the value with
    its double quotes doubled; one outside (``=LEN({{lead_name}})``) becomes a string literal
    of the value. A lead named ``"&IMPORTXML("http://x")&"`` thus stays one piece of text.
    """
    if not replacements:
        return formula
    pattern = _placeholder_pattern(replacements)

    def inside(match: re.Match[str]) -> str:
        return replacements[match.group()].replace('"', '""')

    def outside(match: re.Match[str]) -> str:
        return '"' + inside(match) + '"'

    filled, position = [], 0
    for literal in _FORMULA_STRING.finditer(formula):
        filled.append(pattern.sub(outside, formula[position : literal.start()]))
        filled.append(pattern.sub(inside, literal.group()))
        position = literal.end()
    filled.append(pattern.sub(outside, formula[position:]))
    return "".join(filled)


def document_requests(replacements: Mapping[str, str]) -> list[dict[str, Any]]:
    """Docs ``replaceAllText`` requests that fill ``replacements`` in a single pass.

    Placeholder → token first, then token → value: a token is built of private-use
    characters that no key and no value contains, so no key can match inside a token or a
    value, and no token inside a value; a random part keeps it from matching the template.
    """
    tokens = _tokens(replacements)

    def replace_all(find: str, replace: str) -> dict[str, Any]:
        return {
            "replaceAllText": {
                "containsText": {"text": find, "matchCase": True},
                "replaceText": replace,
            }
        }

    return [
        *(replace_all(key, token) for key, token in zip(replacements, tokens, strict=True)),
        *(
            replace_all(token, value)
            for token, value in zip(tokens, replacements.values(), strict=True)
        ),
    ]


def _tokens(replacements: Mapping[str, str]) -> list[str]:
    used = {ord(c) for text in (*replacements, *replacements.values()) for c in text}
    # Eighteen private-use characters none of the keys or values uses: 16 digits, start, end.
    for base in range(0xE000, 0xF900 - 18, 18):
        if used.isdisjoint(range(base, base + 18)):
            break
    else:  # pragma: no cover - every block of the private-use area in the lead's values
        raise PermanentError(
            SERVICE,
            "the lead's values use every private-use character, so the placeholders cannot "
            "be filled safely.",
            fix="remove the private-use characters from the lead's fields",
        )
    digits, start, end = [chr(base + n) for n in range(16)], chr(base + 16), chr(base + 17)
    nonce = secrets.randbits(48)

    def spell(number: int, width: int) -> str:
        return "".join(digits[int(c, 16)] for c in f"{number:0{width}x}")

    return [start + spell(nonce, 12) + spell(i, 4) + end for i in range(len(replacements))]


def sheet_writes(
    spreadsheet: Mapping[str, Any], replacements: Mapping[str, str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The cells of a ``spreadsheets.get`` answer (with grid data) that hold a placeholder,
    filled: ``values.batchUpdate`` data for the text cells and for the formula cells."""
    pattern = _placeholder_pattern(replacements)
    texts: list[dict[str, Any]] = []
    formulas: list[dict[str, Any]] = []
    for sheet in spreadsheet.get("sheets", []):
        title = sheet.get("properties", {}).get("title", "")
        for grid in sheet.get("data", []):
            top, left = grid.get("startRow", 0), grid.get("startColumn", 0)
            for r, row in enumerate(grid.get("rowData", [])):
                for c, cell in enumerate(row.get("values", [])):
                    entered = cell.get("userEnteredValue", {})
                    text, formula = entered.get("stringValue"), entered.get("formulaValue")
                    if isinstance(text, str) and pattern.search(text):
                        filled, into = fill_text(text, replacements), texts
                    elif isinstance(formula, str) and pattern.search(formula):
                        filled, into = fill_formula(formula, replacements), formulas
                    else:
                        continue
                    into.append({"range": a1_cell(title, top + r, left + c), "values": [[filled]]})
    return texts, formulas


def a1_cell(title: str, row: int, column: int) -> str:
    """``'Tab name'!B3`` for the 0-based ``row`` and ``column``."""
    letters = ""
    column += 1
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return "'" + title.replace("'", "''") + f"'!{letters}{row + 1}"
