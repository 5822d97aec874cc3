"""The sandbox's account: a daily call limit, today's usage, and DAILY_LIMIT_EXCEEDED at it.

Usage is leadbridge's own requests, counted by the sandbox per UTC day of its clock, plus what
a test says the account's other tools used; it is reported through ``platform_api`` in the
real schema's shape and settable from Python and through the control API.
"""

from __future__ import annotations

import httpx
import pytest

from leadbridge.adapters.monday.documents import ACCOUNT_BUDGET
from leadbridge.sandbox.monday_schema import reference_schema
from leadbridge.sandbox.server import Sandbox
from tests.sandbox.conftest import Monday

BUDGET = ACCOUNT_BUDGET.text
ME = "query { me { id } }"


def _today(monday: Monday) -> dict[str, object]:
    analytics = monday.data(BUDGET)["platform_api"]["daily_analytics"]
    return analytics["by_day"][-1]


def test_platform_api_reports_the_limit_and_todays_usage(sandbox: Sandbox, monday: Monday) -> None:
    sandbox.monday.set_account(daily_limit=1000, others_today=120)
    monday.data(ME)
    monday.data(ME)

    data = monday.data(BUDGET)

    platform = data["platform_api"]
    assert platform["daily_limit"] == {"base": 1000, "total": 1000}
    day = sandbox.state.clock.day()
    # Two calls, the budget read itself, and the other tools' 120.
    assert platform["daily_analytics"]["by_day"][-1] == {"day": day, "usage": 123}
    assert sandbox.monday.account() == {
        "day": day,
        "daily_limit": 1000,
        "used_today": 123,
        "leadbridge_today": 3,
        "others_today": 120,
    }
    assert sandbox.state.request_count("monday", "platform_api") == 1


@pytest.mark.skipif(reference_schema() is None, reason="the reference schema is not checked out")
def test_the_budget_query_is_valid_on_monday_too(monday: Monday) -> None:
    assert "errors" not in monday.post(BUDGET).json()


def test_at_the_limit_every_request_is_refused_until_00_00_utc(
    sandbox: Sandbox, monday: Monday
) -> None:
    clock = sandbox.state.clock
    # 23:00 UTC on some day: one hour to the reset.
    midnight = (clock.now() // 86400 + 1) * 86400
    clock.freeze(midnight - 3600)
    sandbox.monday.set_account(daily_limit=10, others_today=9)
    assert monday.post(ME).status_code == 200  # the 10th call of the day

    for query in (ME, BUDGET):
        response = monday.post(query)
        assert response.status_code == 429
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "DAILY_LIMIT_EXCEEDED"
        assert error["extensions"]["status_code"] == 429
    # Refused calls do not add to the usage: it stays at the limit.
    assert sandbox.monday.account()["used_today"] == 10

    clock.advance(3599)
    assert monday.post(ME).status_code == 429
    clock.advance(1)  # 00:00:00 UTC: a new day, a new count
    assert monday.post(ME).status_code == 200
    assert _today(monday)["usage"] == 2


def test_the_account_is_set_and_read_through_the_control_api(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.url, timeout=5) as control:
        set_ = control.post(
            "/_sandbox/monday/account", json={"daily_limit": 200, "others_today": 150}
        )
        read = control.get("/_sandbox/monday/account")
    assert set_.status_code == read.status_code == 200
    assert read.json()["daily_limit"] == 200
    assert read.json()["others_today"] == 150
    assert read.json()["used_today"] == 150
    # Control requests are not calls of the account.
    assert sandbox.state.request_count("monday") == 0
