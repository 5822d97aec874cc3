"""A stateful, in-process stand-in for the parts of Google the adapters use.

It plugs in where httplib2.Http goes (``request(uri, method, body, headers)``), so the real
client library, the real google-auth token exchange and the real adapters run unchanged. It
parses Drive's ``q`` the way Drive does (quoted literals with backslash escapes), so a
round trip through it proves the adapter's escaping. ``fail`` scripts faults, including a
fault *after* the request has acted, as a 500 after a completed copy would be.
"""

from __future__ import annotations

import base64
import email
import email.policy
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httplib2

#: The client_email of the throwaway key the tests use (the sandbox's default).
ACCOUNT = "leadbridge@sandbox-project.iam.gserviceaccount.com"
#: A token endpoint answer, first in every HttpMockSequence: the real token exchange runs.
TOKEN = ({"status": "200"}, '{"access_token": "ya29.t", "expires_in": 3600}')
_LITERAL = r"'((?:\\.|[^'\\])*)'"


def unescape(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal)


@dataclass
class Fault:
    method: str
    path_suffix: str
    status: int
    body: dict[str, Any]
    after_acting: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def google_error(status: int, reason: str, message: str = "failed") -> dict[str, Any]:
    return {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}],
        }
    }


@dataclass
class FakeGoogle:
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    sent: list[email.message.EmailMessage] = field(default_factory=list)
    updates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    tokens_issued: int = 0
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def add(self, file_id: str, name: str, mime_type: str, parent: str = "", **extra: Any) -> None:
        self.files[file_id] = {
            "id": file_id,
            "name": name,
            "mimeType": mime_type,
            "parents": [parent] if parent else [],
            "appProperties": {},
            "webViewLink": f"https://drive.test/{file_id}",
            **extra,
        }

    def fail(self, method: str, path_suffix: str, status: int, reason: str, **kw: Any) -> None:
        self.faults.append(Fault(method, path_suffix, status, google_error(status, reason), **kw))

    def children(self, parent: str) -> list[dict[str, Any]]:
        return [f for f in self.files.values() if parent in f["parents"]]

    # -------------------------------------------------------------- httplib2 interface

    def request(
        self,
        uri: str,
        method: str = "GET",
        body: Any = None,
        headers: Any = None,
        redirections: int = 1,
        connection_type: Any = None,
    ) -> tuple[httplib2.Response, bytes]:
        status, payload, extra = self.handle(method, uri, body)
        response = httplib2.Response({"status": str(status), **extra})
        return response, json.dumps(payload).encode()

    def handle(self, method: str, uri: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(uri)
        path, query = unquote(parts.path), parse_qs(parts.query)
        data = (
            json.loads(body)
            if body and path.endswith(("files", "copy", "Update", "send"))
            else body
        )
        self.requests.append((method, path, query))
        fault = next(
            (f for f in self.faults if f.method == method and path.endswith(f.path_suffix)), None
        )
        if fault and not fault.after_acting:
            self.faults.remove(fault)
            return fault.status, fault.body, fault.headers
        status, payload = self.route(method, path, query, data)
        if fault:
            self.faults.remove(fault)
            return fault.status, fault.body, fault.headers
        return status, payload, {}

    def route(
        self, method: str, path: str, query: dict[str, list[str]], data: Any
    ) -> tuple[int, Any]:
        if path.endswith("/token"):
            self.tokens_issued += 1
            return 200, {"access_token": "ya29.fake", "expires_in": 3600, "token_type": "Bearer"}
        if path.endswith("/drive/v3/files") and method == "GET":
            return 200, {"files": self.search(query["q"][0])}
        if path.endswith("/drive/v3/files") and method == "POST":
            return 200, self.make(data)
        copy = re.search(r"/drive/v3/files/([^/]+)/copy$", path)
        if copy:
            source = self.files.get(copy.group(1))
            if source is None:
                return 404, google_error(404, "notFound", f"File not found: {copy.group(1)}.")
            return 200, self.make({"mimeType": source["mimeType"], **data})
        get = re.search(r"/drive/v3/files/([^/]+)$", path)
        if get:
            found = self.files.get(get.group(1))
            if found is None:
                return 404, google_error(404, "notFound", f"File not found: {get.group(1)}.")
            return 200, found
        update = re.search(r"/v[14]/(?:documents|spreadsheets)/([^/:]+):batchUpdate$", path)
        if update:
            self.updates.setdefault(update.group(1), []).append(data)
            return 200, {"replies": []}
        if path.endswith("/gmail/v1/users/me/messages/send"):
            raw = base64.urlsafe_b64decode(data["raw"])
            self.sent.append(email.message_from_bytes(raw, policy=email.policy.default))
            return 200, {"id": f"g{len(self.sent)}", "labelIds": ["SENT"]}
        if path.endswith("/gmail/v1/users/me/messages"):
            wanted = query["q"][0].removeprefix("rfc822msgid:")
            hits = [m for m in self.sent if m["Message-ID"].strip("<>") == wanted]
            return 200, {"messages": [{"id": "g1"}]} if hits else {"resultSizeEstimate": 0}
        if path.endswith("/gmail/v1/users/me/profile"):
            return 200, {"emailAddress": "sales@example.org", "messagesTotal": 1}
        return 404, google_error(404, "notFound", f"no route for {method} {path}")

    def make(self, data: dict[str, Any]) -> dict[str, Any]:
        file_id = f"n{next(self._ids)}"
        self.add(file_id, data["name"], data["mimeType"], data["parents"][0])
        self.files[file_id]["appProperties"] = dict(data.get("appProperties") or {})
        return self.files[file_id]

    def search(self, q: str) -> list[dict[str, Any]]:
        parent = unescape(re.match(_LITERAL + r" in parents", q).group(1))
        wanted = {
            unescape(k): unescape(v)
            for k, v in re.findall(r"has \{ key=" + _LITERAL + " and value=" + _LITERAL + " \\}", q)
        }
        assert "trashed = false" in q
        return [
            f
            for f in self.children(parent)
            if all(f["appProperties"].get(k) == v for k, v in wanted.items())
        ]
