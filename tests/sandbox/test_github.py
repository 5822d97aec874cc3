"""The hub repository as PyGithub and plain HTTP see it: labels, issues, pagination."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from github import Auth, Github, GithubException, UnknownObjectException

from leadbridge.sandbox.server import Sandbox
from leadbridge.sandbox.world import HUB_LABEL, HUB_REPOSITORY


@pytest.fixture
def github(sandbox: Sandbox) -> Iterator[Github]:
    client = Github(
        auth=Auth.Token(sandbox.github_token),
        base_url=f"{sandbox.url}/github",
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )
    yield client
    client.close()


@pytest.fixture
def rest(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{sandbox.url}/github",
        headers={"Authorization": f"token {sandbox.github_token}"},
        timeout=5,
    ) as client:
        yield client


def test_issue_round_trip_through_pygithub(sandbox: Sandbox, github: Github) -> None:
    repo = github.get_repo(HUB_REPOSITORY)
    assert repo.get_label("hub").name == HUB_LABEL
    with pytest.raises(UnknownObjectException):
        repo.get_label("no such label")
    issue = repo.create_issue(title="New Hub: Lab", body="text\n<!-- m -->", labels=[HUB_LABEL])
    assert issue.user.login == github.get_user().login
    assert [label.name for label in issue.labels] == [HUB_LABEL]
    again = repo.get_issue(issue.number)
    assert (again.title, again.body, again.state) == ("New Hub: Lab", "text\n<!-- m -->", "open")
    mine = repo.get_issues(state="all", creator=github.get_user().login)
    assert [i.number for i in mine] == [issue.number]
    stored = sandbox.state.github.repo(HUB_REPOSITORY)
    assert stored is not None and stored.issues[-1].body.endswith("<!-- m -->")


def test_listing_pages_with_link_headers(
    sandbox: Sandbox, github: Github, rest: httpx.Client
) -> None:
    repo = github.get_repo(HUB_REPOSITORY)
    for n in range(5):
        repo.create_issue(title=f"Issue {n}")
    first = rest.get(f"/repos/{HUB_REPOSITORY}/issues", params={"state": "all", "per_page": 3})
    assert len(first.json()) == 3
    assert 'rel="next"' in first.headers["Link"] and sandbox.url in first.headers["Link"]
    second = rest.get(
        f"/repos/{HUB_REPOSITORY}/issues", params={"state": "all", "per_page": 3, "page": 2}
    )
    numbers = [i["number"] for i in first.json() + second.json()]
    assert numbers == [7, 6, 5, 4, 3, 2]
    followed = Github(
        auth=Auth.Token(sandbox.github_token),
        base_url=f"{sandbox.url}/github",
        per_page=2,
        retry=None,
        seconds_between_requests=0,
    )
    assert len(list(followed.get_repo(HUB_REPOSITORY).get_issues(state="all"))) == 7


def test_labels_filter_with_and_semantics(github: Github, rest: httpx.Client) -> None:
    repo = github.get_repo(HUB_REPOSITORY)
    repo.create_issue(title="Both", labels=[HUB_LABEL, "goal"])
    repo.create_issue(title="Hub only", labels=[HUB_LABEL])
    found = rest.get(f"/repos/{HUB_REPOSITORY}/issues", params={"labels": "hub,goal"}).json()
    assert [i["title"] for i in found] == ["Both"]


def test_invalid_issue_is_422(github: Github) -> None:
    repo = github.get_repo(HUB_REPOSITORY)
    with pytest.raises(GithubException) as raised:
        repo.create_issue(title="Too long", body="x" * 65_537)
    assert raised.value.status == 422


def test_bad_token_is_401(sandbox: Sandbox) -> None:
    response = httpx.get(f"{sandbox.url}/github/user", headers={"Authorization": "token nope"})
    assert response.status_code == 401 and response.json()["message"] == "Bad credentials"


def test_concurrent_creates_get_distinct_numbers(sandbox: Sandbox, rest: httpx.Client) -> None:
    def create(n: int) -> int:
        with httpx.Client(headers=rest.headers, timeout=5) as client:
            response = client.post(
                f"{sandbox.url}/github/repos/{HUB_REPOSITORY}/issues", json={"title": f"T{n}"}
            )
        return int(response.json()["number"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(create, range(24)))
    assert sorted(numbers) == list(range(3, 27))
    assert sandbox.state.request_count("github", "issues.create") == 24


def test_a_renamed_repository_redirects_reads_with_301_and_writes_with_307(
    sandbox: Sandbox, github: Github, rest: httpx.Client
) -> None:
    answer = rest.post(
        f"{sandbox.url}/_sandbox/github/rename",
        json={"from": HUB_REPOSITORY, "to": "2i2c-org/infrastructure"},
    )
    assert answer.status_code == 200
    repo_id = answer.json()["id"]

    read = rest.get(f"/repos/{HUB_REPOSITORY}/issues", params={"state": "all"})
    assert read.status_code == 301
    assert read.headers["Location"] == (
        f"{sandbox.url}/github/repositories/{repo_id}/issues?state=all"
    )
    write = rest.post(f"/repos/{HUB_REPOSITORY}/issues", json={"title": "x"})
    assert write.status_code == 307
    assert write.headers["Location"].endswith(f"/repositories/{repo_id}/issues")
    assert rest.get(f"/repositories/{repo_id}").json()["full_name"] == "2i2c-org/infrastructure"
    # PyGithub follows the 301 (dropping its query), so the old name still reads.
    assert github.get_repo(HUB_REPOSITORY).full_name == "2i2c-org/infrastructure"
    assert rest.get("/repos/2i2c-org/infrastructure").status_code == 200
