"""A renamed hub repository, against the sandbox's GitHub, which redirects as GitHub does.

GitHub answers the old name with 301 for reads and 307 for writes. PyGithub follows the 301
but drops the query string, and returns the 307's message as if it were the issue: the adapter
must never record an issue without a number, and must name the new repository.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from leadbridge.adapters.github import GitHubIssues
from leadbridge.domain.errors import PermanentError
from leadbridge.domain.ports import hub_marker
from leadbridge.sandbox import Sandbox, write_sandbox_config
from leadbridge.sandbox.world import HUB_LABEL, HUB_REPOSITORY
from leadbridge.settings.loading import load_settings

NEW_NAME = "2i2c-org/infrastructure"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.fixture
def issues(sandbox: Sandbox, tmp_path: Path) -> GitHubIssues:
    written = write_sandbox_config(sandbox, tmp_path)
    settings = load_settings(written.path, secrets_dir=written.secrets_dir)
    return GitHubIssues.from_settings(settings, sleep=lambda _: None)


def _rename(sandbox: Sandbox) -> None:
    answer = httpx.post(
        f"{sandbox.url}/_sandbox/github/rename", json={"from": HUB_REPOSITORY, "to": NEW_NAME}
    )
    assert answer.status_code == 200, answer.text


def _findings(issues: GitHubIssues) -> dict[str, tuple[bool, str, str]]:
    return {f.what: (f.ok, f.detail, f.fix) for f in issues.check()}


def test_check_names_the_new_repository(sandbox: Sandbox, issues: GitHubIssues) -> None:
    assert _findings(issues)[f"repository {HUB_REPOSITORY}"][0]
    _rename(sandbox)

    ok, detail, fix = _findings(issues)[f"repository {HUB_REPOSITORY}"]

    assert not ok
    assert f"renamed to {NEW_NAME}" in detail
    assert fix == f"set github.repository: {NEW_NAME}"


def test_a_create_redirected_with_307_is_refused_in_words(
    sandbox: Sandbox, issues: GitHubIssues
) -> None:
    repo = sandbox.state.github.repo(HUB_REPOSITORY)
    assert repo is not None
    before = len(repo.issues)
    _rename(sandbox)

    with pytest.raises(PermanentError) as raised:
        issues.create_issue("New Hub: Lab", f"text\n{hub_marker('1')}", [HUB_LABEL])

    assert f"the repository was renamed to {NEW_NAME}" in raised.value.message
    assert raised.value.fix == f"set github.repository: {NEW_NAME}"
    assert len(repo.issues) == before  # nothing was created


def test_a_lookup_redirected_without_its_query_is_not_trusted(
    sandbox: Sandbox, issues: GitHubIssues
) -> None:
    created = issues.create_issue("New Hub: Lab", f"text\n{hub_marker('7')}", [HUB_LABEL])
    assert created.number > 0
    _rename(sandbox)

    with pytest.raises(PermanentError) as raised:
        issues.find_issue("7")

    assert f"renamed to {NEW_NAME}" in raised.value.message


def test_the_new_name_works(sandbox: Sandbox, tmp_path: Path) -> None:
    _rename(sandbox)
    written = write_sandbox_config(sandbox, tmp_path, github={"repository": NEW_NAME})
    issues = GitHubIssues.from_settings(
        load_settings(written.path, secrets_dir=written.secrets_dir), sleep=lambda _: None
    )

    assert all(f.ok for f in issues.check())
    created = issues.create_issue("New Hub: Lab", f"text\n{hub_marker('3')}", [HUB_LABEL])
    assert issues.find_issue("3") == created


def test_triage_access_is_not_enough_to_label(sandbox: Sandbox, issues: GitHubIssues) -> None:
    httpx.post(f"{sandbox.url}/_sandbox/github/permissions", json={"push": False})

    ok, detail, fix = _findings(issues)[f"repository {HUB_REPOSITORY}"]

    assert not ok
    assert "triage access only" in detail and "push access" in detail
    assert "Write role" in fix
