"""Drive v3 ``files``: create, copy, get, update and list, inside Shared Drives.

Shared-drive rules are enforced the way Drive enforces them, because they are what breaks in
production: without ``supportsAllDrives=true`` a shared-drive file is "not found", a file with
no parent would land in the service account's My Drive and fails with
``storageQuotaExceeded``, and ``files.list`` returns trashed files unless asked not to.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from leadbridge.sandbox.drive_query import QueryError, compile_query
from leadbridge.sandbox.google_common import GoogleError, apply_fields, not_found, parse_fields
from leadbridge.sandbox.http import Request, Response
from leadbridge.sandbox.state import FOLDER, SPREADSHEET, DriveFile, SandboxState

DEFAULT_FILE_FIELDS = "kind,id,name,mimeType"
DEFAULT_LIST_FIELDS = "kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)"
_ID_ALPHABET = string.ascii_letters + string.digits + "-_"


def new_file_id() -> str:
    return "1" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(32))


def resource(file: DriveFile) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": "drive#file",
        "id": file.id,
        "name": file.name,
        "mimeType": file.mime_type,
        "parents": list(file.parents),
        "appProperties": dict(file.app_properties),
        "trashed": file.trashed,
        "webViewLink": file.web_view_link(),
        "createdTime": file.created_time,
        "modifiedTime": file.created_time,
        "description": file.description,
    }
    if file.drive_id:
        data["driveId"] = file.drive_id
    return data


class DriveApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def visible(self, file_id: str, request: Request) -> DriveFile:
        """The file, or Drive's 404 when it is missing or the caller forgot the flag."""
        file = self.state.google.files.get(file_id)
        if file is None or (file.drive_id and not request.flag("supportsAllDrives")):
            raise not_found(file_id)
        return file

    def _shown(self, file: DriveFile, request: Request) -> Response:
        mask = parse_fields(request.arg("fields", DEFAULT_FILE_FIELDS) or DEFAULT_FILE_FIELDS)
        return Response.json(200, apply_fields(resource(file), mask))

    def _parent(self, body: dict[str, Any], request: Request, fallback: list[str]) -> DriveFile:
        parents = body.get("parents", fallback)
        if not parents:
            raise GoogleError(
                403,
                "storageQuotaExceeded",
                "Service Accounts do not have storage quota. Leverage shared drives, or use "
                "OAuth delegation instead.",
            )
        if len(parents) > 1:
            raise GoogleError(
                403,
                "cannotAddParent",
                "Increasing the number of parents is not allowed. A file can only have one parent.",
            )
        parent_id = parents[0]
        if parent_id in self.state.google.shared_drives:
            if not request.flag("supportsAllDrives"):
                raise not_found(parent_id)
            return DriveFile(parent_id, "", FOLDER, [], parent_id, "")
        parent = self.visible(parent_id, request)
        if parent.mime_type != FOLDER:
            raise GoogleError(400, "invalid", "The parent is not a folder.", location="parents")
        return parent

    def create(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body.get("name", ""), str):
            raise GoogleError(400, "invalid", "Invalid value for name", location="name")
        with self.state.lock:
            parent = self._parent(body, request, [])
            file = DriveFile(
                id=new_file_id(),
                name=body.get("name") or "Untitled",
                mime_type=body.get("mimeType") or "application/octet-stream",
                parents=[parent.id],
                drive_id=parent.drive_id,
                created_time=self.state.clock.iso(millis=True),
                app_properties=_properties(body.get("appProperties")),
                description=body.get("description", ""),
            )
            if file.mime_type == SPREADSHEET:
                file.sheets = {"Sheet1": []}
            self.state.google.files[file.id] = file
            return self._shown(file, request)

    def copy(self, request: Request, file_id: str) -> Response:
        body = request.json()
        with self.state.lock:
            source = self.visible(file_id, request)
            if source.mime_type == FOLDER:
                raise GoogleError(403, "cannotCopyFile", "This file cannot be copied by the user.")
            parent = self._parent(body, request, source.parents)
            file = DriveFile(
                id=new_file_id(),
                name=body.get("name") or f"Copy of {source.name}",
                mime_type=source.mime_type,
                parents=[parent.id],
                drive_id=parent.drive_id,
                created_time=self.state.clock.iso(millis=True),
                app_properties=_properties(body.get("appProperties")),
                description=body.get("description", source.description),
                text=source.text,
                sheets={
                    title: [list(row) for row in rows] for title, rows in source.sheets.items()
                },
            )
            self.state.google.files[file.id] = file
            return self._shown(file, request)

    def get(self, request: Request, file_id: str) -> Response:
        with self.state.lock:
            return self._shown(self.visible(file_id, request), request)

    def update(self, request: Request, file_id: str) -> Response:
        body = request.json()
        with self.state.lock:
            file = self.visible(file_id, request)
            if "name" in body:
                file.name = body["name"]
            if "trashed" in body:
                file.trashed = bool(body["trashed"])
            if "description" in body:
                file.description = body["description"]
            for key, value in (body.get("appProperties") or {}).items():
                if value is None:
                    file.app_properties.pop(key, None)
                else:
                    file.app_properties[key] = str(value)
            return self._shown(file, request)

    def list(self, request: Request) -> Response:
        try:
            predicate = compile_query(request.arg("q", "") or "")
        except QueryError as error:
            raise GoogleError(400, "invalid", f"Invalid Value ({error})", location="q") from None
        corpora = request.arg("corpora", "user")
        drive_id = request.arg("driveId")
        all_drives = request.flag("includeItemsFromAllDrives") and request.flag("supportsAllDrives")
        if corpora == "drive" and (not drive_id or not all_drives):
            raise GoogleError(
                403,
                "teamDrivesParameterRequired",
                "corpora=drive needs driveId, includeItemsFromAllDrives=true and "
                "supportsAllDrives=true.",
            )
        page_size = min(int(request.arg("pageSize", "100") or 100), 1000)
        offset = int(request.arg("pageToken", "0") or 0)
        with self.state.lock:
            matched = [
                resource(file)
                for file in self.state.google.files.values()
                if _in_corpus(file, corpora or "user", drive_id, all_drives) and predicate(file)
            ]
        _order(matched, request.arg("orderBy") or "")
        page = matched[offset : offset + page_size]
        payload: dict[str, Any] = {
            "kind": "drive#fileList",
            "incompleteSearch": False,
            "files": page,
        }
        if offset + page_size < len(matched):
            payload["nextPageToken"] = str(offset + page_size)
        mask = parse_fields(request.arg("fields", DEFAULT_LIST_FIELDS) or DEFAULT_LIST_FIELDS)
        return Response.json(200, apply_fields(payload, mask))


_ORDER_KEYS = ("createdTime", "modifiedTime", "name")


def _order(files: list[dict[str, Any]], order_by: str) -> None:
    """Sort in place by Drive's ``orderBy`` (``"createdTime"``, ``"name desc"``, …)."""
    for term in reversed([t.strip() for t in order_by.split(",") if t.strip()]):
        key, _, direction = term.partition(" ")
        if key not in _ORDER_KEYS:
            raise GoogleError(400, "invalid", f"Invalid orderBy key {key}", location="orderBy")
        files.sort(key=lambda f: str(f[key]), reverse=direction.strip() == "desc")


def _in_corpus(file: DriveFile, corpora: str, drive_id: str | None, all_drives: bool) -> bool:
    if file.drive_id is None:
        return corpora in ("user", "allDrives")
    if not all_drives:
        return False
    return (
        corpora == "allDrives"
        or (corpora == "drive" and file.drive_id == drive_id)
        or corpora == "user"
    )


def _properties(value: Any) -> dict[str, str]:
    if not value:
        return {}
    if not isinstance(value, dict):
        raise GoogleError(
            400, "invalid", "appProperties must be an object", location="appProperties"
        )
    for key, item in value.items():
        if len(f"{key}{item}".encode()) > 124:
            raise GoogleError(
                400,
                "invalidProperty",
                "The property key and value together exceed 124 bytes.",
                location="appProperties",
            )
    return {str(key): str(item) for key, item in value.items() if item is not None}
