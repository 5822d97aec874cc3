"""monday.com failures translated into what the core understands.

monday reports most problems as HTTP 200 with ``errors[].extensions.code``, some as real HTTP
statuses, and older versions with top-level ``error_code``. All three end up here, so the
decision "wait and retry" versus "a person must fix something" is made in one table, and the
message says what to fix in words an operator can act on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from leadbridge.adapters.retry import parse_retry_after
from leadbridge.domain.errors import (
    DailyLimitReached,
    ExternalError,
    PermanentError,
    TransientError,
)

SERVICE = "monday"

TOKEN_FIX = (
    "create a new personal API token in monday.com (avatar → Developers → My access tokens) "
    "and set LEADBRIDGE_MONDAY__TOKEN or the secret file monday__token"
)
ACCESS_FIX = (
    "use the token of a member user (not a viewer or guest) who can edit the board, "
    "and add that user to the board"
)
BOARD_FIX = "check monday.board_id and that the token's user is a member of that board"
COLUMN_FIX = "run `leadbridge check` and correct the column ids under `columns`"
VALUE_FIX = (
    "run `leadbridge check`: the column type under `columns` must match the board and every "
    "status label written must exist on the board"
)

_RATE_CODES = {
    "complexity_budget_exhausted",
    "complexityexception",
    "maxconcurrencyexceeded",
    "ip_rate_limit_exceeded",
    "field_limit_exceeded",
    "rate_limit_exceeded",
    "ratelimitexceeded",
    "complexitybudgetexhausted",
    "api_temporarily_blocked",
    "idempotency_conflict",
}
_PERMANENT: dict[str, tuple[str, str]] = {
    "unauthorized": ("monday refused the API token", TOKEN_FIX),
    "userunauthorizedexception": ("the token's user is not allowed to do this", ACCESS_FIX),
    "user_access_denied": ("the token's user is denied access", ACCESS_FIX),
    "missingrequiredpermissions": (
        "the token lacks a required permission scope",
        "use a personal token or grant the app the boards:read and boards:write scopes",
    ),
    "invalidboardidexception": ("the board does not exist or is not shared", BOARD_FIX),
    "resourcenotfoundexception": ("the board, item or column was not found", BOARD_FIX),
    "invalidcolumnidexception": ("a configured column does not exist on the board", COLUMN_FIX),
    "columnvalueexception": ("monday refused a column value", VALUE_FIX),
    "correctedvalueexception": ("monday refused a column value", VALUE_FIX),
    "jsonparseexception": ("monday could not parse a column value", VALUE_FIX),
    "invalidargumentexception": ("monday rejected an argument", COLUMN_FIX),
    "itemnametoolongexception": ("an item name is too long (1–255 characters)", VALUE_FIX),
    "invalidversionexception": (
        "monday rejected the pinned API version",
        "set monday.api_version to a current YYYY-MM version (e.g. 2026-10)",
    ),
    "invaliduseridexception": ("a user id is unknown", BOARD_FIX),
}
_RESET_IN = re.compile(r"reset in (\d+(?:\.\d+)?) seconds?", re.IGNORECASE)


class CursorExpired(Exception):
    """The pagination cursor outlived its 60 minutes; the scan must start again."""


def _seconds_to_utc_midnight(now: datetime) -> float:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()


def _retry_after(error: Mapping[str, Any], headers: Mapping[str, str]) -> float | None:
    """The longest wait monday asked for, from any of the places it puts it."""
    extensions = error.get("extensions") or {}
    data = extensions.get("error_data") or error.get("error_data") or {}
    hints = [parse_retry_after(headers.get("retry-after"))]
    for source in (extensions, data if isinstance(data, Mapping) else {}):
        value = source.get("retry_in_seconds")
        if isinstance(value, int | float):
            hints.append(float(value))
    match = _RESET_IN.search(str(error.get("message", "")))
    if match:
        hints.append(float(match.group(1)))
    known = [h for h in hints if h is not None]
    return max(known) if known else None


def _code(error: Mapping[str, Any]) -> str:
    extensions = error.get("extensions") or {}
    return str(extensions.get("code") or error.get("error_code") or "")


def _status(error: Mapping[str, Any], http_status: int) -> int:
    extensions = error.get("extensions") or {}
    value = extensions.get("status_code") or error.get("status_code")
    return value if isinstance(value, int) and value != 200 else http_status


def legacy_errors(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Errors in the pre-2024-10 top-level shape, rewritten as ``errors[]`` entries."""
    if "error_code" not in body and "error_message" not in body:
        return []
    return [
        {
            "message": str(body.get("error_message", "")),
            "error_code": body.get("error_code") or "",
            "status_code": body.get("status_code"),
            "error_data": body.get("error_data") or {},
        }
    ]


def from_graphql_errors(
    errors: Sequence[Mapping[str, Any]],
    *,
    http_status: int,
    headers: Mapping[str, str],
    now: datetime | None = None,
) -> ExternalError | CursorExpired:
    """The failure the first decisive error stands for; permanent ones win over transient."""
    translated = [_one(e, http_status, headers, now or datetime.now(UTC)) for e in errors]
    for failure in translated:
        if isinstance(failure, CursorExpired | PermanentError):
            return failure
    return translated[0] if translated else from_http_status(http_status, headers)


def _one(
    error: Mapping[str, Any], http_status: int, headers: Mapping[str, str], now: datetime
) -> ExternalError | CursorExpired:
    code = _code(error)
    key = code.lower()
    status = _status(error, http_status)
    said = str(error.get("message", "")).strip()[:300]
    detail = f" ({code}: {said})" if code else f" ({said})"
    if key == "cursorexception" or "cursorexpired" in said.lower().replace(" ", ""):
        return CursorExpired(said)
    if key == "daily_limit_exceeded":
        return DailyLimitReached(
            SERVICE,
            "the account's daily API call limit is used up; calls resume at 00:00 UTC" + detail,
            retry_after=_seconds_to_utc_midnight(now),
            fix="leadbridge makes no call before 00:00 UTC; if other tools of the account "
            "use most calls, lower monday.call_share or raise the plan's limit",
        )
    if key in _RATE_CODES or status in (423, 429):
        return TransientError(
            SERVICE,
            "monday asked us to slow down" + detail,
            retry_after=_retry_after(error, headers),
        )
    if key in _PERMANENT:
        message, fix = _PERMANENT[key]
        return PermanentError(SERVICE, message + detail, fix=fix)
    if status >= 500:
        return TransientError(
            SERVICE,
            f"monday had an internal error (HTTP {status})" + detail,
            retry_after=_retry_after(error, headers),
        )
    if status in (401, 403):
        return from_http_status(status, headers, detail)
    return PermanentError(
        SERVICE,
        "monday rejected the request" + detail,
        fix="check the configuration with `leadbridge check`; if it passes, report this message",
    )


def from_http_status(status: int, headers: Mapping[str, str], detail: str = "") -> ExternalError:
    """A failure known only by its HTTP status (the body was not GraphQL)."""
    if status == 401:
        return PermanentError(
            SERVICE, "monday refused the API token (HTTP 401)" + detail, fix=TOKEN_FIX
        )
    if status == 403:
        return PermanentError(
            SERVICE, "the token's user may not do this (HTTP 403)" + detail, fix=ACCESS_FIX
        )
    if status == 404:
        return PermanentError(
            SERVICE,
            "monday answered 404: the API address is wrong" + detail,
            fix="check monday.api_url (normally https://api.monday.com/v2)",
        )
    if status in (409, 423, 429) or status >= 500:
        return TransientError(
            SERVICE,
            f"monday is busy or failing (HTTP {status})" + detail,
            retry_after=parse_retry_after(headers.get("retry-after")),
        )
    return PermanentError(
        SERVICE,
        f"monday rejected the request (HTTP {status})" + detail,
        fix="check the configuration with `leadbridge check`; if it passes, report this message",
    )
