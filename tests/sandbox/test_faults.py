"""Each fault kind, as a client of that API experiences it, and the plan's determinism."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from leadbridge.sandbox.faults import FaultPlan
from leadbridge.sandbox.server import Sandbox
from leadbridge.sandbox.world import HUB_REPOSITORY, LEADS_FOLDER_ID
from tests.sandbox.conftest import Monday

ME = "query { me { id } }"


@pytest.fixture
def github(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{sandbox.url}/github/repos/{HUB_REPOSITORY}",
        headers={"Authorization": f"token {sandbox.github_token}"},
        timeout=5,
    ) as client:
        yield client


@pytest.fixture
def drive(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{sandbox.url}/google/drive/v3",
        headers={"Authorization": f"Bearer {sandbox.google_token()}"},
        params={"supportsAllDrives": "true"},
        timeout=5,
    ) as client:
        yield client


def _issues(sandbox: Sandbox) -> int:
    repo = sandbox.state.github.repo(HUB_REPOSITORY)
    assert repo is not None
    return len(repo.issues)


def test_status_fault_fails_once_in_the_apis_shape(sandbox: Sandbox, drive: httpx.Client) -> None:
    sandbox.faults.add("drive", "files.get", "status", status=500)
    failed = drive.get(f"/files/{LEADS_FOLDER_ID}")
    assert failed.status_code == 500
    assert failed.json()["error"]["errors"][0]["reason"] == "backendError"
    assert drive.get(f"/files/{LEADS_FOLDER_ID}").status_code == 200


def test_google_rate_limit_is_a_403_with_the_rate_limit_reason(
    sandbox: Sandbox, drive: httpx.Client
) -> None:
    sandbox.faults.add("drive", "files.list", "rate_limit", retry_after=3)
    response = drive.get("/files", params={"q": "trashed = false"})
    assert response.status_code == 403
    assert response.headers["Retry-After"] == "3"
    assert response.json()["error"]["errors"][0] == {
        "domain": "usageLimits",
        "reason": "rateLimitExceeded",
        "message": "Rate Limit Exceeded",
    }


def test_monday_rate_limit_and_complexity_shapes(sandbox: Sandbox, monday: Monday) -> None:
    sandbox.faults.add("monday", "me", "rate_limit", retry_after=11)
    sandbox.faults.add("monday", "me", "complexity", retry_after=7)
    limited = monday.post(ME)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "11"
    assert limited.json()["errors"][0]["extensions"]["retry_in_seconds"] == 11
    exhausted = monday.post(ME)
    extensions = exhausted.json()["errors"][0]["extensions"]
    assert extensions == {
        "code": "COMPLEXITY_BUDGET_EXHAUSTED",
        "retry_in_seconds": 7,
        "status_code": 429,
    }
    assert monday.post(ME).status_code == 200
    assert sandbox.state.request_count("monday", "me") == 3


def test_a_plain_429_on_monday_is_its_rate_limit_shape(sandbox: Sandbox, monday: Monday) -> None:
    sandbox.faults.add("monday", "*", "status", status=429, retry_after=2)
    response = monday.post(ME)
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMIT_EXCEEDED"


def test_github_secondary_rate_limit(sandbox: Sandbox, github: httpx.Client) -> None:
    sandbox.faults.add("github", "issues.create", "rate_limit", retry_after=1)
    response = github.post("/issues", json={"title": "x"})
    assert response.status_code == 403 and response.headers["Retry-After"] == "1"
    assert "secondary rate limit" in response.json()["message"]
    assert _issues(sandbox) == 2


def test_commit_then_502_keeps_the_write(sandbox: Sandbox, github: httpx.Client) -> None:
    sandbox.faults.add("github", "issues.create", "commit_then_502")
    response = github.post("/issues", json={"title": "Created anyway"})
    assert response.status_code == 502
    assert _issues(sandbox) == 3


def test_commit_then_drop_keeps_the_write_and_loses_the_answer(
    sandbox: Sandbox, github: httpx.Client
) -> None:
    sandbox.faults.add("github", "issues.create", "commit_then_drop")
    with pytest.raises(httpx.RemoteProtocolError):
        github.post("/issues", json={"title": "Created anyway"})
    assert _issues(sandbox) == 3


def test_dropped_connection_does_nothing(sandbox: Sandbox, github: httpx.Client) -> None:
    sandbox.faults.add("github", "issues.create", "drop_connection")
    with pytest.raises(httpx.RemoteProtocolError):
        github.post("/issues", json={"title": "Never"})
    assert _issues(sandbox) == 2


def test_latency_longer_than_the_client_timeout_is_a_timeout(
    sandbox: Sandbox, monday: Monday
) -> None:
    sandbox.faults.add("monday", "me", "latency", seconds=30)
    with pytest.raises(httpx.ReadTimeout):
        monday.client.post("/monday/v2", json={"query": ME}, timeout=httpx.Timeout(5, read=0.2))


def test_malformed_body_is_not_json(sandbox: Sandbox, monday: Monday) -> None:
    sandbox.faults.add("monday", "*", "malformed_body")
    response = monday.post(ME)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_times_and_after_choose_which_requests_fail(sandbox: Sandbox, monday: Monday) -> None:
    rule = sandbox.faults.add("monday", "me", "status", status=500, times=2, after=1)
    statuses = [monday.post(ME).status_code for _ in range(5)]
    assert statuses == [200, 500, 500, 200, 200]
    assert (rule.seen, rule.fired) == (3, 2)


def test_rules_match_only_their_operation(sandbox: Sandbox, monday: Monday, board_id: str) -> None:
    sandbox.faults.add("monday", "items_page", "status", status=500)
    assert monday.post(ME).status_code == 200
    poll = "query ($b: [ID!]) { me { id } boards(ids: $b) { items_page(limit: 1) { cursor } } }"
    assert monday.post(poll, {"b": [board_id]}).status_code == 500


def _decisions(seed: int) -> list[bool]:
    plan = FaultPlan(seed)
    plan.add("gmail", "messages.send", "status", probability=0.3)
    return [plan.pick("gmail", ["messages.send"]) is not None for _ in range(200)]


def test_seeded_probability_is_reproducible() -> None:
    assert _decisions(7) == _decisions(7)
    assert _decisions(7) != _decisions(8)
    assert 30 <= sum(_decisions(7)) <= 90


def test_another_rule_does_not_shift_a_seeded_sequence() -> None:
    plan = FaultPlan(7)
    plan.add("gmail", "messages.send", "status", probability=0.3)
    plan.add("drive", "*", "status", probability=0.5)
    decisions = []
    for _ in range(200):
        plan.pick("drive", ["files.get"])
        decisions.append(plan.pick("gmail", ["messages.send"]) is not None)
    assert decisions == _decisions(7)


def test_unknown_api_or_kind_is_refused() -> None:
    plan = FaultPlan()
    with pytest.raises(ValueError, match="unknown api"):
        plan.add("dropbox")
    with pytest.raises(ValueError, match="unknown fault kind"):
        plan.add("drive", kind="explode")  # type: ignore[arg-type]
