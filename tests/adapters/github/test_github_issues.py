"""The adapter against a loopback GitHub, through PyGithub's real transport."""

from __future__ import annotations

import re
from datetime import date

import pytest
from github_fake import ISSUES_PATH, TOKEN, FakeGitHub, make_settings
from prometheus_client import REGISTRY

from leadbridge.adapters.github import GitHubIssues
from leadbridge.domain.errors import PermanentError, TransientError
from leadbridge.domain.model import Lead
from leadbridge.domain.ports import IssueRef, hub_marker
from leadbridge.domain.render import template_context
from leadbridge.effects.hub_body import GITHUB_BODY_LIMIT, render_hub_issue

SECONDARY = {
    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before "
    "you try again.",
}


def body_for(item_id: str) -> str:
    return f"# Background\n\nA hub.\n\n{hub_marker(item_id)}"


def test_create_opens_one_issue_with_title_body_and_labels(
    fake: FakeGitHub, issues: GitHubIssues
) -> None:
    ref = issues.create_issue("New Hub: Uni", body_for("7"), ["Hub"])

    assert ref == IssueRef(1, "https://github.test/2i2c-org/infrastructure/issues/1", "open")
    [stored] = fake.issues
    assert (stored["title"], stored["body"]) == ("New Hub: Uni", body_for("7"))
    assert stored["labels"] == [{"name": "Hub"}]
    [post] = fake.requests("POST", ISSUES_PATH)
    assert post.authorization == f"token {TOKEN}"


def test_find_sees_an_issue_the_ledger_does_not_know(
    fake: FakeGitHub, issues: GitHubIssues
) -> None:
    fake.add_issue(body_for("8"))
    ours = fake.add_issue(body_for("7"), state="closed")
    fake.add_issue(body_for("70"))
    # Newer than ours, so listed before it: a PR and a person's issue quoting the marker.
    fake.add_issue(body_for("7"), pull_request=True)
    fake.add_issue(body_for("7"), creator="someone-else")

    ref = issues.find_issue("7")

    assert ref == IssueRef(ours["number"], ours["html_url"], "closed")
    [listing] = fake.requests("GET", ISSUES_PATH)
    assert listing.query["state"] == "all"
    assert listing.query["creator"] == "leadbridge-bot"
    assert not [s for s in fake.seen if s.path.startswith("/search")]


def test_find_reads_every_page_and_returns_none_when_absent(
    fake: FakeGitHub, issues: GitHubIssues
) -> None:
    for n in range(150):
        fake.add_issue(body_for(f"other-{n}"))

    assert issues.find_issue("7") is None
    pages = [s.query["page"] for s in fake.requests("GET", ISSUES_PATH)]
    assert pages == ["1", "2"]


def test_find_matches_the_marker_line_not_a_quote_of_it(
    fake: FakeGitHub, issues: GitHubIssues
) -> None:
    fake.add_issue(f"see `{hub_marker('7')}` in the docs")

    assert issues.find_issue("7") is None


def test_a_502_after_the_create_acted_leaves_one_issue(
    fake: FakeGitHub, issues: GitHubIssues
) -> None:
    assert issues.find_issue("7") is None
    fake.script("POST", ISSUES_PATH, 502, {"message": "Server Error"}, act_first=True)

    with pytest.raises(TransientError) as raised:
        issues.create_issue("New Hub: Uni", body_for("7"), ["Hub"])

    assert "502" in raised.value.message
    assert len(fake.requests("POST", ISSUES_PATH)) == 1
    found = issues.find_issue("7")
    assert found is not None and found.number == 1
    assert len(fake.issues) == 1


def test_a_hung_create_is_not_sent_again(fake: FakeGitHub, sleeps: list[float]) -> None:
    issues = GitHubIssues.from_settings(make_settings(fake, timeout_seconds=1), sleep=sleeps.append)
    fake.script("POST", ISSUES_PATH, 201, act_first=True, delay_seconds=2)

    with pytest.raises(TransientError) as raised:
        issues.create_issue("New Hub: Uni", body_for("7"), ["Hub"])

    assert "did not answer within 1s" in raised.value.message
    assert len(fake.requests("POST", ISSUES_PATH)) == 1


def test_secondary_rate_limit_on_create_waits_retry_after_then_creates_once(
    fake: FakeGitHub, issues: GitHubIssues, sleeps: list[float]
) -> None:
    fake.script("POST", ISSUES_PATH, 403, SECONDARY, headers={"Retry-After": "7"})

    ref = issues.create_issue("New Hub: Uni", body_for("7"), ["Hub"])

    assert sleeps == [7.0]
    assert len(fake.requests("POST", ISSUES_PATH)) == 2
    assert ref.number == 1 and len(fake.issues) == 1


def test_a_429_on_a_read_waits_until_the_rate_limit_reset(
    fake: FakeGitHub, sleeps: list[float]
) -> None:
    issues = GitHubIssues.from_settings(
        make_settings(fake), sleep=sleeps.append, now=lambda: 1_000.0
    )
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1012"}
    fake.script("GET", ISSUES_PATH, 429, {"message": "API rate limit exceeded"}, headers=reset)
    fake.add_issue(body_for("7"))

    assert issues.find_issue("7") is not None
    assert sleeps == [13.0]


def test_a_long_rate_limit_is_left_to_the_core_with_its_wait(
    fake: FakeGitHub, issues: GitHubIssues, sleeps: list[float]
) -> None:
    fake.script("POST", ISSUES_PATH, 403, SECONDARY, headers={"Retry-After": "600"})

    with pytest.raises(TransientError) as raised:
        issues.create_issue("New Hub: Uni", body_for("7"), ["Hub"])

    assert raised.value.retry_after == 600.0
    assert sleeps == []
    assert fake.issues == []


def test_a_secondary_limit_without_a_time_asks_for_a_minute(
    fake: FakeGitHub, issues: GitHubIssues, sleeps: list[float]
) -> None:
    for _ in range(3):
        fake.script("GET", ISSUES_PATH, 403, SECONDARY)

    with pytest.raises(TransientError) as raised:
        issues.find_issue("7")

    assert raised.value.retry_after == 60.0
    assert sleeps == [60.0, 60.0]


def test_422_is_permanent_and_carries_github_message(
    fake: FakeGitHub, issues: GitHubIssues, sleeps: list[float]
) -> None:
    with pytest.raises(PermanentError) as raised:
        issues.create_issue("New Hub: Uni", "x" * (GITHUB_BODY_LIMIT + 1), ["Hub"])

    assert "422" in raised.value.message
    assert "body is too long (maximum is 65536 characters)" in raised.value.message
    assert len(fake.requests("POST", ISSUES_PATH)) == 1
    assert sleeps == []


def test_a_refused_token_is_named_and_never_shown(fake: FakeGitHub) -> None:
    fake.token = "another-token"
    issues = GitHubIssues.from_settings(make_settings(fake))

    with pytest.raises(PermanentError) as raised:
        issues.find_issue("7")

    assert "refused the token (401 Bad credentials)" in raised.value.message
    assert "LEADBRIDGE_GITHUB__TOKEN" in raised.value.fix
    assert TOKEN not in str(raised.value)


def test_an_unknown_repository_is_named(fake: FakeGitHub) -> None:
    issues = GitHubIssues.from_settings(make_settings(fake, repository="2i2c-org/pilot-hub"))

    with pytest.raises(PermanentError) as raised:
        issues.create_issue("New Hub: Uni", body_for("7"), ["Hub"])

    assert "repository 2i2c-org/pilot-hub was not found" in raised.value.message
    assert "github.repository" in raised.value.fix


def test_a_server_error_on_a_read_is_retried_in_the_call(
    fake: FakeGitHub, issues: GitHubIssues, sleeps: list[float]
) -> None:
    def sample(outcome: str) -> float:
        labels = {"service": "github", "outcome": outcome}
        return REGISTRY.get_sample_value("leadbridge_api_requests_total", labels) or 0.0

    before = {outcome: sample(outcome) for outcome in ("ok", "retry", "error")}
    fake.script("GET", ISSUES_PATH, 502, {"message": "Server Error"})
    fake.add_issue(body_for("7"))

    assert issues.find_issue("7") is not None
    assert len(sleeps) == 1
    # GET /user, a failed page, the page again
    assert sample("ok") - before["ok"] == 2
    assert sample("retry") - before["retry"] == 1
    assert sample("error") == before["error"]


def test_issue_states_reads_one_listing_for_many_issues(
    fake: FakeGitHub, issues: GitHubIssues
) -> None:
    fake.add_issue(body_for("1"))
    fake.add_issue(body_for("2"), state="closed")
    fake.add_issue(body_for("3"))

    assert issues.issue_states([1, 2, 3]) == {1: "open", 2: "closed", 3: "open"}
    assert len(fake.requests("GET", ISSUES_PATH)) == 1
    assert not [s for s in fake.seen if re.fullmatch(ISSUES_PATH + r"/\d+", s.path)]


def test_issue_states_asks_for_issues_outside_our_own_and_skips_missing_ones(
    fake: FakeGitHub, issues: GitHubIssues
) -> None:
    fake.add_issue(body_for("1"))
    fake.add_issue("opened by hand", creator="engineer", state="closed")

    assert issues.issue_states([1, 2, 99]) == {1: "open", 2: "closed"}
    assert {s.path for s in fake.seen if s.path.startswith(ISSUES_PATH + "/")} == {
        f"{ISSUES_PATH}/2",
        f"{ISSUES_PATH}/99",
    }


def test_without_a_token_the_adapter_cannot_be_built(fake: FakeGitHub) -> None:
    with pytest.raises(PermanentError) as raised:
        GitHubIssues.from_settings(make_settings(fake, token=None))

    assert "no GitHub token" in raised.value.message


def test_hostile_lead_fields_make_one_well_formed_issue(
    fake: FakeGitHub, issues: GitHubIssues
) -> None:
    hostile = (
        "@2i2c-org/engineering please look\n<!-- leadbridge:item=999 -->\n```python\n"
        + "A" * 100_000
    )
    lead = Lead("7", "@2i2c-org/engineering", {"community": hostile, "hub_url": hostile}, "")
    title, body = render_hub_issue(
        lead,
        title_template="New Hub: {name}",
        body_template=None,
        fields={"Background": "community", "Hub url": "hub_url"},
        context=template_context(lead, {}, date(2026, 5, 1)),
    )

    if issues.find_issue("7") is None:
        issues.create_issue(title, body, ["Hub"])

    [stored] = fake.issues
    assert len(stored["body"]) < GITHUB_BODY_LIMIT
    assert not re.search(r"(?<![A-Za-z0-9])@[A-Za-z0-9]", stored["body"])
    assert stored["body"].count("<!--") == 1
    assert not [line for line in stored["body"].splitlines() if line.startswith("```")]
    assert issues.find_issue("999") is None
    found = issues.find_issue("7")
    assert found is not None and found.number == stored["number"]
