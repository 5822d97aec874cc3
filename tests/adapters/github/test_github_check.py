"""``leadbridge check`` findings for GitHub, against the loopback GitHub."""

from __future__ import annotations

from github_fake import TOKEN, FakeGitHub, make_settings

from leadbridge.adapters.github import GitHubIssues
from leadbridge.domain.ports import CheckFinding


def check(fake: FakeGitHub, **github: object) -> list[CheckFinding]:
    return GitHubIssues.from_settings(make_settings(fake, **github), sleep=lambda _: None).check()


def test_everything_in_order(fake: FakeGitHub) -> None:
    findings = check(fake, labels=["Hub"])

    assert [(f.what, f.ok) for f in findings] == [
        ("token", True),
        ("repository 2i2c-org/infrastructure", True),
        ("label 'Hub'", True),
    ]
    assert "leadbridge-bot" in findings[0].detail


def test_a_missing_label_is_reported_not_created(fake: FakeGitHub) -> None:
    fake.labels = {"Hub"}

    findings = check(fake, labels=["Hub", "type: hub"])

    missing = findings[-1]
    assert (missing.what, missing.ok) == ("label 'type: hub'", False)
    assert "has no label 'type: hub'" in missing.detail
    assert "github.labels" in missing.fix
    assert [s.path for s in fake.seen if s.method != "GET"] == []
    assert fake.labels == {"Hub"}


def test_a_label_name_with_spaces_and_slashes_is_looked_up_exactly(fake: FakeGitHub) -> None:
    fake.labels = {"new hub/2024"}

    [*_, finding] = check(fake, labels=["new hub/2024"])

    assert finding.ok
    assert fake.seen[-1].path == "/repos/2i2c-org/infrastructure/labels/new hub/2024"


def test_a_bad_token_stops_the_check_with_the_fix(fake: FakeGitHub) -> None:
    fake.token = "rotated"

    [finding] = check(fake)

    assert (finding.what, finding.ok) == ("token", False)
    assert "401" in finding.detail
    assert "LEADBRIDGE_GITHUB__TOKEN" in finding.fix
    assert TOKEN not in finding.detail + finding.fix


def test_an_unreachable_repository_is_named(fake: FakeGitHub) -> None:
    findings = check(fake, repository="2i2c-org/no-such-repo")

    assert [(f.what, f.ok) for f in findings] == [
        ("token", True),
        ("repository 2i2c-org/no-such-repo", False),
    ]
    assert "not found, or the token cannot see it" in findings[1].detail


def test_read_only_access_is_flagged_because_labels_would_be_dropped(fake: FakeGitHub) -> None:
    fake.permissions = {"admin": False, "push": False, "triage": False, "pull": True}

    repository = check(fake)[1]

    assert not repository.ok
    assert "drops their labels" in repository.detail
    assert "triage" in repository.fix
