"""What Drive, Docs, Sheets and Gmail share: Google's JSON error shape and ``fields`` masks."""

from __future__ import annotations

from typing import Any

from leadbridge.sandbox.http import Response

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
}
_DOMAINS = {"rateLimitExceeded": "usageLimits", "userRateLimitExceeded": "usageLimits"}


class GoogleError(Exception):
    def __init__(self, code: int, reason: str, message: str, **where: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.where = where

    def response(self) -> Response:
        return google_error(self.code, self.reason, self.message, **self.where)


def google_error(
    code: int, reason: str, message: str, headers: dict[str, str] | None = None, **where: str
) -> Response:
    """The legacy ``errors[]`` shape that Drive and Gmail still send, with ``status``."""
    detail = {"domain": _DOMAINS.get(reason, "global"), "reason": reason, "message": message}
    if where:
        detail.update({"locationType": "parameter", **where})
    payload = {
        "error": {
            "code": code,
            "message": message,
            "errors": [detail],
            "status": _STATUS_NAMES.get(code, "UNKNOWN"),
        }
    }
    return Response.json(code, payload, headers)


def not_found(file_id: str) -> GoogleError:
    return GoogleError(404, "notFound", f"File not found: {file_id}.", location="fileId")


# ---------------------------------------------------------------- fields masks

FieldMask = dict[str, "FieldMask | None"]


def parse_fields(text: str) -> FieldMask | None:
    """``"nextPageToken, files(id,name)"`` → nested dict; ``"*"`` → None (everything)."""
    text = text.replace(" ", "")
    if text in ("", "*"):
        return None
    mask, rest = _parse_list(text)
    if rest:
        raise GoogleError(
            400, "invalidParameter", f"Invalid field selection {text}", location="fields"
        )
    return mask


def _parse_list(text: str) -> tuple[FieldMask, str]:
    mask: FieldMask = {}
    while text:
        name_end = 0
        while name_end < len(text) and text[name_end] not in ",()":
            name_end += 1
        name = text[:name_end]
        text = text[name_end:]
        head, _, tail = name.partition("/")
        if text.startswith("("):
            inner, text = _parse_list(text[1:])
            if not text.startswith(")"):
                raise GoogleError(
                    400, "invalidParameter", "Unbalanced parentheses", location="fields"
                )
            text = text[1:]
            mask[head] = {tail: inner} if tail else inner
        else:
            mask[head] = {tail: None} if tail else None
        if text.startswith(","):
            text = text[1:]
        elif text.startswith(")"):
            break
    return mask, text


def apply_fields(resource: dict[str, Any], mask: FieldMask | None) -> dict[str, Any]:
    if mask is None:
        return resource
    shown: dict[str, Any] = {}
    for name, inner in mask.items():
        if name == "*":
            return resource
        if name not in resource:
            continue
        value = resource[name]
        if inner is not None and isinstance(value, list):
            shown[name] = [apply_fields(v, inner) if isinstance(v, dict) else v for v in value]
        elif inner is not None and isinstance(value, dict):
            shown[name] = apply_fields(value, inner)
        else:
            shown[name] = value
    return shown
