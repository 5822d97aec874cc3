from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httplib2
import pytest
from google.auth.exceptions import RefreshError
from googleapiclient.errors import HttpError

from leadbridge.adapters.google.credentials import DRIVE_SCOPE, load_credentials
from leadbridge.adapters.google.errors import (
    error_reasons,
    seconds_until_quota_reset,
    translate,
)
from leadbridge.domain.errors import PermanentError, TransientError
from leadbridge.settings import GoogleSettings


def http_error(status: int, body: object, **headers: str) -> HttpError:
    response = httplib2.Response({"status": str(status), **headers})
    return HttpError(response, json.dumps(body).encode(), uri="https://x/files?q=secret")


def test_the_reason_comes_from_the_body_not_the_message() -> None:
    error = http_error(
        403,
        {
            "error": {
                "code": 403,
                "message": "Rate Limit Exceeded",  # the human text is not what decides
                "status": "PERMISSION_DENIED",
                "details": [{"@type": "ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED"}],
            }
        },
    )
    assert error_reasons(error) == ["RATE_LIMIT_EXCEEDED", "PERMISSION_DENIED"]
    assert isinstance(translate(error, "drive", "listing"), TransientError)


def test_a_429_carries_the_servers_retry_after() -> None:
    error = http_error(429, {"error": {"code": 429, "message": "slow"}}, **{"retry-after": "7"})
    translated = translate(error, "drive", "listing")
    assert isinstance(translated, TransientError) and translated.retry_after == 7


def test_an_html_5xx_is_transient() -> None:
    error = HttpError(httplib2.Response({"status": "502"}), b"<html>Bad Gateway</html>")
    assert error_reasons(error) == []
    assert isinstance(translate(error, "drive", "copying"), TransientError)


def test_the_daily_quota_resets_at_midnight_pacific() -> None:
    # 07:00 UTC is 23:00 at UTC-8: one hour to go.
    assert seconds_until_quota_reset(datetime(2026, 11, 27, 7, 0, tzinfo=UTC)) == 3600


def test_a_refused_delegation_is_permanent_and_says_where_to_fix_it() -> None:
    error = RefreshError("unauthorized_client: Client is unauthorized", {}, retryable=False)
    translated = translate(error, "gmail", "sending")
    assert isinstance(translated, PermanentError)
    assert "domain-wide delegation" in translated.fix


def test_a_dropped_connection_is_transient() -> None:
    assert isinstance(translate(ConnectionResetError(), "drive", "copying"), TransientError)


def test_the_request_uri_never_reaches_the_message() -> None:
    translated = translate(http_error(400, {"error": {"message": "Invalid Value"}}), "drive", "x")
    assert "secret" not in translated.describe()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "no such key file"),
        ("{not json", "is not JSON"),
        ('{"type": "authorized_user"}', "is not a service-account key"),
        ('{"type": "service_account"}', "is not a usable service-account key"),
    ],
)
def test_key_file_problems_are_reported_with_a_fix(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    path = tmp_path / "sa.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(PermanentError, match=problem) as caught:
        load_credentials(GoogleSettings(service_account_file=path), [DRIVE_SCOPE], subject=None)
    assert caught.value.fix


@pytest.mark.parametrize(
    ("status", "reason", "refused"),
    [
        (400, "failedPrecondition", True),
        (403, "insufficientPermissions", True),
        (403, "userRateLimitExceeded", True),
        (404, "notFound", True),
        (429, "rateLimitExceeded", True),
        (500, "backendError", False),
        (503, "backendError", False),
    ],
)
def test_a_4xx_answer_says_nothing_was_done(status: int, reason: str, refused: bool) -> None:
    body = {"error": {"code": status, "errors": [{"reason": reason}]}}
    assert translate(http_error(status, body), "gmail", "sending").not_acted is refused


def test_a_failure_that_may_have_acted_says_nothing_about_it() -> None:
    assert not translate(TimeoutError(), "gmail", "sending").not_acted
    assert not translate(ConnectionResetError(), "gmail", "sending").not_acted
    refused_token = RefreshError("invalid_grant", {}, retryable=False)
    assert translate(refused_token, "gmail", "sending").not_acted  # no request was made
