from __future__ import annotations

from collections.abc import Iterator

import pytest
from github_fake import TOKEN, FakeGitHub, make_settings

from leadbridge.adapters.github import GitHubIssues


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def issues(fake: FakeGitHub, sleeps: list[float]) -> GitHubIssues:
    return GitHubIssues.from_settings(make_settings(fake), sleep=sleeps.append)
