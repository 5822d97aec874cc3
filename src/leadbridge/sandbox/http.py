"""Plain request/response values, so the emulated APIs are testable without sockets."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    #: Path relative to the API's mount point, without query string, still percent-encoded.
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @classmethod
    def parse(cls, method: str, target: str, headers: dict[str, str], body: bytes) -> Request:
        parts = urlsplit(target)
        return cls(
            method=method.upper(),
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={key.lower(): value for key, value in headers.items()},
            body=body,
        )

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def flag(self, name: str) -> bool:
        return (self.arg(name) or "").lower() == "true"

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        if not self.body:
            return {}
        return json.loads(self.body.decode("utf-8"))

    def with_path(self, path: str) -> Request:
        return Request(self.method, path, self.query, self.headers, self.body)


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        merged = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        return cls(status, body, merged)


@dataclass(frozen=True)
class Call:
    """A routed request: which API and operations it is (for counters and faults), and how
    to perform it. ``perform`` is only called when no fault prevents it."""

    api: str
    operations: tuple[str, ...]
    perform: Callable[[], Response]

    @property
    def operation(self) -> str:
        return self.operations[0]
