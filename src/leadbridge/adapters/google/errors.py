"""Google failures → ``TransientError`` / ``PermanentError`` with a message an operator can act on.

The decision is made from the machine reason inside the JSON body (``error.errors[*].reason``,
then ``error.details[*].reason``, then ``error.status``), never from ``HttpError.reason``, which
is only Google's human sentence. A 403 means anything from "slow down" to "not yours".

Any 4xx answer (429 included) is a refusal: Google did nothing with the request, so the error
says so (``not_acted``) and the next attempt of a send need not doubt. A 5xx, a timeout or a
dropped connection may come after the work was done, and says nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import httplib2
from google.auth.exceptions import GoogleAuthError, RefreshError
from googleapiclient.errors import HttpError

from leadbridge.adapters.retry import parse_retry_after
from leadbridge.domain.errors import ExternalError, PermanentError, TransientError

_SLOW_DOWN = {
    "userRateLimitExceeded",
    "rateLimitExceeded",
    "RATE_LIMIT_EXCEEDED",
    "RESOURCE_EXHAUSTED",
    "backendError",
    "internalError",
}
_SHARED_DRIVE_HINT = (
    "service accounts own no Drive storage: put the leads folder in a Shared Drive with the "
    "service account as a member (Contributor or higher), or set google.subject to act as a "
    "Workspace user through domain-wide delegation"
)
#: Google's daily quotas reset at midnight Pacific time. A fixed UTC-8 errs by at most one
#: hour on the late side, which is harmless for a wait measured in hours.
_PACIFIC = timezone(timedelta(hours=-8))
_MAX_DETAIL = 300


def error_reasons(error: HttpError) -> list[str]:
    """Every machine reason in the body, most specific first; empty if the body is not JSON."""
    try:
        body = json.loads(error.content.decode("utf-8"))["error"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return []
    if not isinstance(body, dict):
        return []
    reasons = [
        item["reason"]
        for key in ("errors", "details")
        for item in body.get(key) or []
        if isinstance(item, dict) and isinstance(item.get("reason"), str)
    ]
    if isinstance(body.get("status"), str):
        reasons.append(body["status"])
    return reasons


def seconds_until_quota_reset(now: datetime | None = None) -> float:
    now = (now or datetime.now(UTC)).astimezone(_PACIFIC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


def translate(
    error: Exception,
    service: str,
    action: str,
    *,
    account: str = "the service account",
    missing: str = "the file",
) -> ExternalError:
    """``action`` says what was being done ("copying template X"); ``missing`` names what a
    404 is about, because Google answers 404 both for a missing file and an unshared one."""
    if isinstance(error, HttpError):
        return _from_http(error, service, action, account, missing)
    if isinstance(error, RefreshError):
        reason = str(error.args[0]) if error.args else "refused"
        message = f"{action}: Google refused the access token ({reason[:_MAX_DETAIL]})."
        # Without a token the request itself was never made (or was answered 401).
        if error.retryable:
            return TransientError(service, message, not_acted=True)
        return PermanentError(
            service,
            message,
            fix="check the key is not revoked and that domain-wide delegation grants this "
            "client id the scopes leadbridge asks for, for the user in google.subject",
            not_acted=True,
        )
    if isinstance(error, GoogleAuthError | OSError | httplib2.HttpLib2Error):
        # Timeouts, refused or dropped connections, DNS failures, token endpoint unreachable.
        return TransientError(service, f"{action}: {type(error).__name__} ({error}).")
    raise TypeError(f"not a Google failure: {type(error).__name__}") from error


def _from_http(
    error: HttpError, service: str, action: str, account: str, missing: str
) -> ExternalError:
    translated = _classify_http(error, service, action, account, missing)
    translated.not_acted = 400 <= (error.status_code or 0) < 500
    return translated


def _classify_http(
    error: HttpError, service: str, action: str, account: str, missing: str
) -> ExternalError:
    status = error.status_code or 0
    reasons = error_reasons(error)
    reason = reasons[0] if reasons else str(status)
    said = f"{action}: Google answered {status} {reason} ({_detail(error)})."
    if "dailyLimitExceeded" in reasons:
        return TransientError(
            service,
            f"{action}: the project's daily quota is used up until midnight Pacific time.",
            retry_after=seconds_until_quota_reset(),
            fix="wait, or raise the daily quota of the Google Cloud project",
        )
    if "storageQuotaExceeded" in reasons:
        return PermanentError(service, said, fix=_SHARED_DRIVE_HINT)
    if status == 429 or status >= 500 or _SLOW_DOWN.intersection(reasons):
        retry_after = parse_retry_after(error.resp.get("retry-after"))
        return TransientError(service, said, retry_after=retry_after)
    if status == 404:
        return PermanentError(
            service,
            f"{action}: {missing} is missing, or not shared with {account}.",
            fix=f"check the id in the configuration and share it with {account} "
            "(in a Shared Drive: add that account as a member)",
        )
    if status == 401:
        return PermanentError(
            service, said, fix="check that the service-account key is current and not revoked"
        )
    if "failedPrecondition" in reasons and service == "gmail":
        return PermanentError(
            service,
            said,
            fix="set google.subject to the Workspace mailbox to send as; a service account "
            "has no mailbox of its own",
        )
    if status == 403:
        return PermanentError(
            service, said, fix=f"give {account} access (Contributor or higher) to what it needs"
        )
    return PermanentError(service, said)


def _detail(error: HttpError) -> str:
    text = " ".join(str(error.reason or "").split())
    return text[:_MAX_DETAIL] or "no message"
