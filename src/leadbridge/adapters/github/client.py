"""Building the PyGithub client safely, and turning its failures into the core's two errors.

PyGithub's default ``GithubRetry`` re-sends a POST after a 5xx, and GitHub may already have
created the issue when it answered 502: two hub issues. So the client is built with no
transport retry at all; reads are retried by the shared ``call_with_retries`` and a create is
retried only by the core, after it has looked for the issue's marker again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from github import Auth, Github, GithubException, RateLimitExceededException

from leadbridge.adapters.retry import parse_retry_after
from leadbridge.domain.errors import ExternalError, PermanentError, TransientError
from leadbridge.domain.render import single_line
from leadbridge.settings import GitHubSettings

SERVICE = "github"
#: GitHub's advice when a secondary rate limit names no time: wait at least a minute.
SECONDARY_LIMIT_WAIT_SECONDS = 60.0

_TOKEN_FIX = (
    "set a valid token in LEADBRIDGE_GITHUB__TOKEN or the secret file github__token "
    "(tokens expire; a fine-grained token needs Issues: read and write on the repository)"
)


class RateLimited(TransientError):
    """GitHub refused the request for a rate limit, so it did nothing: safe to send again."""


def build_github(settings: GitHubSettings) -> Github:
    """A client with a timeout, no transport retry and GitHub's pace for writes."""
    if settings.token is None:
        raise PermanentError(SERVICE, "no GitHub token is configured.", fix=_TOKEN_FIX)
    return Github(
        auth=Auth.Token(settings.token.get_secret_value()),
        base_url=settings.base_url.rstrip("/"),
        # PyGithub insists on whole seconds.
        timeout=max(1, math.ceil(settings.timeout_seconds)),
        user_agent="leadbridge",
        per_page=100,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=settings.seconds_between_writes or None,
        lazy=True,
    )


def translate(
    error: Exception,
    *,
    doing: str,
    repository: str,
    base_url: str,
    timeout_seconds: float,
    now: Callable[[], float] = time.time,
) -> ExternalError:
    """The operator-facing meaning of a PyGithub or transport failure while ``doing``."""
    if isinstance(error, requests.Timeout):
        return TransientError(
            SERVICE, f"GitHub did not answer within {timeout_seconds:g}s to {doing}."
        )
    if isinstance(error, requests.ConnectionError):
        return TransientError(SERVICE, f"could not reach GitHub at {base_url} to {doing}.")
    if isinstance(error, requests.RequestException):
        return TransientError(SERVICE, f"the request to {doing} failed ({type(error).__name__}).")
    if isinstance(error, AssertionError | RuntimeError):
        # PyGithub's guard against following a URL outside base_url.
        return PermanentError(
            SERVICE,
            f"GitHub answered with an address outside {base_url} while trying to {doing}.",
            fix="set github.base_url to the API root, e.g. https://api.github.com or "
            "https://HOST/api/v3 for GitHub Enterprise",
        )
    if not isinstance(error, GithubException):
        raise TypeError(f"not a GitHub failure: {type(error).__name__}") from error
    return _from_status(error, doing=doing, repository=repository, now=now)


def _from_status(
    error: GithubException, *, doing: str, repository: str, now: Callable[[], float]
) -> ExternalError:
    status = error.status
    said = _github_message(error.data)
    answer = f"{status} {said}".strip()
    headers = {str(k).lower(): str(v) for k, v in (error.headers or {}).items()}
    if status == 401:
        return PermanentError(
            SERVICE, f"GitHub refused the token (401 {said or 'Bad credentials'}).", fix=_TOKEN_FIX
        )
    if status in (403, 429) and _is_rate_limit(error, headers, said):
        wait = _wait_hint(headers, now)
        return RateLimited(
            SERVICE,
            f"GitHub rate limit while trying to {doing} ({answer}).",
            retry_after=SECONDARY_LIMIT_WAIT_SECONDS if wait is None else wait,
        )
    if status == 403:
        return PermanentError(
            SERVICE,
            f"the token may not {doing} in {repository} ({answer}).",
            fix="give the token's account access to the repository: Issues read and write "
            "(fine-grained token) or the repo scope (classic token); labels need push (write) access",
        )
    if status == 404:
        return PermanentError(
            SERVICE,
            f"repository {repository} was not found, or the token cannot see it "
            f"(GitHub answers 404 for both) while trying to {doing}.",
            fix="check github.repository (owner/name) and that the token's account can read it",
        )
    if status == 410:
        return PermanentError(
            SERVICE,
            f"issues are disabled in {repository}.",
            fix="enable Issues in the repository settings or set github.repository to another",
        )
    if status == 422:
        return PermanentError(
            SERVICE,
            f"GitHub rejected the request to {doing} (422 {said or 'Unprocessable Entity'}).",
            fix="correct what GitHub names above (labels, title or body); retrying cannot help",
        )
    if status == 429 or status >= 500:
        return TransientError(
            SERVICE,
            f"GitHub answered {status} while trying to {doing}.",
            retry_after=parse_retry_after(headers.get("retry-after")),
        )
    return PermanentError(SERVICE, f"GitHub answered {answer} to {doing}.")


def _is_rate_limit(error: GithubException, headers: Mapping[str, str], said: str) -> bool:
    return (
        isinstance(error, RateLimitExceededException)
        or error.status == 429
        or "retry-after" in headers
        or headers.get("x-ratelimit-remaining") == "0"
        or "rate limit" in said.lower()
    )


def _wait_hint(headers: Mapping[str, str], now: Callable[[], float]) -> float | None:
    """Seconds GitHub asks us to wait: ``Retry-After``, else until ``x-ratelimit-reset``."""
    retry_after = parse_retry_after(headers.get("retry-after"))
    if retry_after is not None:
        return retry_after
    if headers.get("x-ratelimit-remaining") == "0":
        try:
            reset = float(headers["x-ratelimit-reset"])
        except (KeyError, ValueError):
            return None
        return max(0.0, reset - now()) + 1.0
    return None


def _github_message(data: Any) -> str:
    """GitHub's own words, with the details of a 422 ("body is too long …")."""
    if not isinstance(data, Mapping):
        return ""
    parts = [str(data.get("message") or "")]
    for item in data.get("errors") or []:
        if isinstance(item, Mapping):
            detail = item.get("message") or " ".join(
                str(item[key]) for key in ("resource", "field", "code") if item.get(key)
            )
            parts.append(str(detail))
        else:
            parts.append(str(item))
    return single_line(": ".join(p for p in parts if p), 300)
