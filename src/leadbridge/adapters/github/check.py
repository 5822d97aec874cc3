"""``leadbridge check`` for GitHub: can the hub issue be opened as configured?

Each finding names one thing an operator can fix. Labels are checked, never created: a missing
label is usually a typo, and GitHub would otherwise invent it (grey, undescribed) on the first
issue or refuse the issue outright, depending on the token's access.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from github import Github, GithubException

from leadbridge.adapters.github.client import SERVICE
from leadbridge.domain.errors import ExternalError, PermanentError
from leadbridge.domain.ports import CheckFinding

T = TypeVar("T")
Read = Callable[[Callable[[], T], str], T]

#: Roles whose token may set labels on an issue it opens: GitHub silently drops the labels of
#: an issue created by a token without push access (triage is not enough).
_LABELLING_ROLES = ("admin", "maintain", "push")


def renamed_error(repository: str, new_name: str) -> PermanentError:
    """GitHub redirects a renamed repository; reads lose their query and creates fail."""
    return PermanentError(
        SERVICE,
        f"the repository was renamed to {new_name}: GitHub redirects {repository} there, and "
        "leadbridge does not follow redirects for issues (a create would not open an issue).",
        fix=f"set github.repository: {new_name}",
    )


def live_check(
    github: Github, *, repository: str, labels: Sequence[str], read: Read[Any]
) -> list[CheckFinding]:
    """Token, then repository and permission, then each label; stops where later ones need it."""
    try:
        login = read(lambda: github.get_user().login, "check the token")
    except ExternalError as error:
        return [_failed("token", error)]
    findings = [CheckFinding(SERVICE, "token", True, f"accepted; acting as {login}")]

    repo_url = github.get_repo(repository).url
    try:
        repo = read(
            lambda: github.requester.requestJsonAndCheck("GET", repo_url)[1],
            f"read the repository {repository}",
        )
    except ExternalError as error:
        return [*findings, _failed(f"repository {repository}", error)]
    findings.append(_repository_finding(repository, repo))

    for label in labels:
        try:
            exists = read(
                lambda label=label: _label_exists(github, repo_url, label),
                f"read the label {label!r}",
            )
        except ExternalError as error:
            findings.append(_failed(f"label {label!r}", error))
            continue
        findings.append(
            CheckFinding(SERVICE, f"label {label!r}", True, "exists")
            if exists
            else CheckFinding(
                SERVICE,
                f"label {label!r}",
                False,
                f"{repository} has no label {label!r}; leadbridge does not create labels",
                fix=f"create the label in {repository} (Issues → Labels → New label) "
                "or correct github.labels",
            )
        )
    return findings


def _repository_finding(repository: str, repo: dict[str, Any]) -> CheckFinding:
    what = f"repository {repository}"
    full_name = repo.get("full_name")
    if isinstance(full_name, str) and full_name.lower() != repository.lower():
        error = renamed_error(repository, full_name)
        return CheckFinding(SERVICE, what, False, error.message, fix=error.fix)
    if repo.get("has_issues") is False:
        return CheckFinding(
            SERVICE,
            what,
            False,
            "issues are disabled",
            fix="enable Issues in the repository settings or set github.repository to another",
        )
    permissions = repo.get("permissions")
    if not isinstance(permissions, dict):
        return CheckFinding(SERVICE, what, True, "reachable; GitHub did not report permissions")
    if any(permissions.get(role) for role in _LABELLING_ROLES):
        return CheckFinding(SERVICE, what, True, "reachable; the token may open and label issues")
    role = "triage" if permissions.get("triage") else "read"
    return CheckFinding(
        SERVICE,
        what,
        False,
        f"reachable with {role} access only: issues can be opened but GitHub drops their "
        "labels (labelling a new issue needs push access)",
        fix="give the token's account the Write role (push access) on the repository; "
        "triage is not enough",
    )


def _label_exists(github: Github, repo_url: str, label: str) -> bool:
    try:
        github.requester.requestJsonAndCheck("GET", f"{repo_url}/labels/{quote(label, safe='')}")
    except GithubException as failure:
        if failure.status == 404:
            return False
        raise
    return True


def _failed(what: str, error: ExternalError) -> CheckFinding:
    fix = error.fix or (
        "" if isinstance(error, PermanentError) else "try again; check network access to GitHub"
    )
    return CheckFinding(SERVICE, what, False, error.message, fix=fix)
