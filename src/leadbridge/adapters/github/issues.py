"""The hub repository's issues, as the IssueTracker port sees them.

Lookup goes through the list endpoint (``state=all``, narrowed to issues the token's account
opened, pull requests skipped) rather than search: search is indexed minutes late and allows 30
calls a minute, so right after a create that answered 502 it would not yet see the issue.

The list is narrowed by creator only, not by label: engineers relabel hub issues (the handbook's
``Hub`` became ``type: hub`` and then ``new hub``), and a lookup that misses a relabelled issue
would open a duplicate. Pages are read raw through PyGithub's requester because its ``Issue``
objects fetch each issue again when asked for a field a list omits (``pull_request``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import requests
import structlog
from github import Github, GithubException

from leadbridge.adapters.github.check import live_check, renamed_error
from leadbridge.adapters.github.client import SERVICE, RateLimited, build_github, translate
from leadbridge.adapters.retry import DEFAULT_IN_CALL, call_with_retries
from leadbridge.domain.errors import ExternalError, PermanentError, TransientError
from leadbridge.domain.ports import CheckFinding, IssueRef, hub_marker
from leadbridge.settings import InCallRetrySettings, Settings
from leadbridge.telemetry import count_request

log = structlog.get_logger(__name__)
T = TypeVar("T")

PER_PAGE = 100
_FAILURES = (GithubException, requests.RequestException, AssertionError, RuntimeError)


class _Ambiguous(Exception):
    """A create failed in a way that may have created the issue: not to be sent again here."""

    def __init__(self, error: TransientError) -> None:
        super().__init__(error.message)
        self.error = error


class GitHubIssues:
    """IssueTracker and LiveCheck over the GitHub REST API (github.com or Enterprise)."""

    def __init__(
        self,
        github: Github,
        *,
        repository: str,
        labels: Sequence[str],
        base_url: str,
        timeout_seconds: float,
        retry: InCallRetrySettings = DEFAULT_IN_CALL,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._github = github
        self._repository = repository
        self._labels = tuple(labels)
        self._base_url = base_url
        self._timeout_seconds = timeout_seconds
        self._retry = retry
        self._sleep = sleep
        self._now = now
        self._login: str | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
    ) -> GitHubIssues:
        github_settings = settings.github
        return cls(
            build_github(github_settings),
            repository=github_settings.repository,
            labels=github_settings.labels,
            base_url=github_settings.base_url,
            timeout_seconds=github_settings.timeout_seconds,
            retry=settings.retry.in_call,
            sleep=sleep,
            now=now,
        )

    # ------------------------------------------------------------ IssueTracker

    def find_issue(self, item_id: str) -> IssueRef | None:
        marker = hub_marker(item_id)
        for raw in self._own_issues():
            body = raw.get("body") or ""
            if any(line.strip() == marker for line in body.splitlines()):
                ref = _ref(raw)
                log.info("github.issue_found", item_id=item_id, number=ref.number)
                return ref
        return None

    def create_issue(self, title: str, body: str, labels: Sequence[str]) -> IssueRef:
        """One POST; a rate-limit refusal is waited out, any other failure is left to the core.

        A 5xx or a timeout may come after GitHub created the issue, so it is raised as a
        ``TransientError`` without sending again: the core's next attempt finds the issue by
        its marker. A rate-limited request was refused unseen, so sending it again is safe.
        """
        url = f"{self._github.get_repo(self._repository).url}/issues"
        doing = "open the hub issue"
        payload = {"title": title, "body": body, "labels": list(labels)}

        def attempt() -> tuple[int, Any]:
            try:
                status, headers, output = self._github.requester.requestJson(
                    "POST", url, input=payload
                )
                data = json.loads(output) if output else None
                if status >= 400:
                    raise self._github.requester.createException(status, headers, data)
            except _FAILURES as failure:
                error = self._translate(failure, doing)
                if isinstance(error, TransientError) and not isinstance(error, RateLimited):
                    raise _Ambiguous(error) from failure
                raise error from failure
            except ValueError as failure:
                raise _Ambiguous(
                    TransientError(SERVICE, f"GitHub's answer to {doing} was not JSON.")
                ) from failure
            return status, data

        try:
            status, data = self._with_retries(attempt)
        except _Ambiguous as ambiguous:
            count_request(SERVICE, "error")
            raise ambiguous.error from None
        except ExternalError:
            count_request(SERVICE, "error")
            raise
        number = data.get("number") if isinstance(data, dict) else None
        if status != 201 or not isinstance(number, int):
            count_request(SERVICE, "error")
            raise self._not_created(status)
        count_request(SERVICE, "ok")
        given = {
            str(label.get("name")) for label in data.get("labels") or [] if isinstance(label, dict)
        }
        dropped = sorted(set(labels) - given)
        if dropped:
            log.warning(
                "github.labels_dropped",
                number=number,
                labels=dropped,
                hint="the token's account needs push (write) access to label issues",
            )
        log.info("github.issue_created", number=number, repository=self._repository)
        return IssueRef(number, str(data.get("html_url") or ""), str(data.get("state") or "open"))

    def _not_created(self, status: int) -> PermanentError:
        """A create answered without an issue: name a renamed repository when that is why."""
        moved = self._renamed_to() if status in (301, 302, 307, 308) else None
        if moved is not None:
            return renamed_error(self._repository, moved)
        return PermanentError(
            SERVICE,
            f"GitHub answered {status} without an issue number when asked to open the hub "
            f"issue in {self._repository}; no issue was recorded.",
            fix="check github.repository and github.base_url (the API root, e.g. "
            "https://api.github.com), then leadbridge retry the lead",
        )

    def _renamed_to(self) -> str | None:
        """The repository's current full name when it differs from the configured one."""
        repo_url = self._github.get_repo(self._repository).url
        try:
            raw = self.read(
                lambda: self._github.requester.requestJsonAndCheck("GET", repo_url)[1],
                f"read the repository {self._repository}",
            )
        except ExternalError:
            return None
        full_name = raw.get("full_name") if isinstance(raw, dict) else None
        if isinstance(full_name, str) and full_name.lower() != self._repository.lower():
            return full_name
        return None

    def issue_states(self, numbers: Sequence[int]) -> Mapping[int, str]:
        """One pass over our issues, newest first, then a GET for any not found there."""
        wanted = set(numbers)
        states: dict[int, str] = {}
        if not wanted:
            return states
        for raw in self._own_issues():
            if raw["number"] in wanted:
                states[raw["number"]] = raw["state"]
                if len(states) == len(wanted):
                    return states
        for number in sorted(wanted - states.keys()):
            raw = self._get_issue(number)
            if raw is not None:
                states[number] = raw["state"]
        return states

    # ------------------------------------------------------------ LiveCheck

    def check(self) -> list[CheckFinding]:
        return live_check(
            self._github, repository=self._repository, labels=self._labels, read=self.read
        )

    # ------------------------------------------------------------ requests

    def read(self, operation: Callable[[], T], doing: str) -> T:
        """One GET, retried in-call on transient failures, translated, counted."""

        def attempt() -> T:
            try:
                result = operation()
            except _FAILURES as failure:
                raise self._translate(failure, doing) from failure
            count_request(SERVICE, "ok")
            return result

        try:
            return self._with_retries(attempt)
        except ExternalError:
            count_request(SERVICE, "error")
            raise

    def _with_retries(self, attempt: Callable[[], T]) -> T:
        def on_retry(error: TransientError, wait: float) -> None:
            count_request(SERVICE, "retry")
            log.warning("github.request_retry", error=error.message, wait_seconds=round(wait, 1))

        return call_with_retries(attempt, self._retry, sleep=self._sleep, on_retry=on_retry)

    def _translate(self, failure: Exception, doing: str) -> ExternalError:
        return translate(
            failure,
            doing=doing,
            repository=self._repository,
            base_url=self._base_url,
            timeout_seconds=self._timeout_seconds,
            now=self._now,
        )

    def _own_login(self) -> str:
        if self._login is None:
            self._login = self.read(
                lambda: self._github.get_user().login, "identify the token's account"
            )
        return self._login

    def _own_issues(self) -> Iterator[dict[str, Any]]:
        """Issues (not pull requests) the token's account opened, newest first, page by page."""
        creator = self._own_login()
        url = f"{self._github.get_repo(self._repository).url}/issues"
        page = 1
        while True:
            params = {
                "state": "all",
                "creator": creator,
                "sort": "created",
                "direction": "desc",
                "per_page": PER_PAGE,
                "page": page,
            }
            items: list[dict[str, Any]] = self.read(
                lambda params=params: self._github.requester.requestJsonAndCheck(
                    "GET", url, parameters=params
                )[1],
                "list the repository's issues",
            )
            for item in items:
                self._same_repository(item)
            yield from (item for item in items if "pull_request" not in item)
            if len(items) < PER_PAGE:
                return
            page += 1

    def _same_repository(self, item: Mapping[str, Any]) -> None:
        """An issue of another name means GitHub redirected a renamed repository.

        PyGithub follows the 301 but drops the query string (``state``, ``creator``, ``page``),
        so the list it returns is not the one asked for: a lookup through it could miss the
        lead's issue and open a second one.
        """
        url = item.get("repository_url")
        if not isinstance(url, str) or "/repos/" not in url:
            return
        full_name = url.rsplit("/repos/", 1)[1].strip("/")
        if full_name.lower() != self._repository.lower():
            raise renamed_error(self._repository, full_name)

    def _get_issue(self, number: int) -> dict[str, Any] | None:
        """One issue, or None when it is gone (deleted, transferred) and shows no state."""
        url = f"{self._github.get_repo(self._repository).url}/issues/{number}"

        def fetch() -> dict[str, Any] | None:
            try:
                return self._github.requester.requestJsonAndCheck("GET", url)[1]
            except GithubException as failure:
                if failure.status in (404, 410):
                    return None
                raise

        return self.read(fetch, f"read issue #{number}")


def _ref(raw: Mapping[str, Any]) -> IssueRef:
    return IssueRef(int(raw["number"]), str(raw["html_url"]), str(raw["state"]))
