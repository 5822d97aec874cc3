"""A simulated business day with default settings: within 300 monday calls, reacting within
2 minutes in business hours and 30 minutes outside them; with webhooks, within 150 calls and
10 seconds at any hour, the webhooks' own upkeep included.

The harness (``simulated_day.py``) plays the real service against the sandbox on a frozen,
hand-moved clock; calls are counted by the sandbox at the HTTP layer, reaction times in
simulated seconds, from the sales team's change to the tick whose cycle did its effect. With
webhooks, the sandbox's deliveries reach the real receiver over loopback HTTP, and the upkeep
checks the board's webhooks on the same clock.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from tests.service_runtime.simulated_day import (
    MIDNIGHT,
    AccountUse,
    PollHint,
    Scenario,
    StatusChange,
    WebhookDeleted,
    clock_time,
    run_day,
)

pytestmark = pytest.mark.e2e

TRIAGE, NEGOTIATION = "triage_status", "negotiation_status"


def _change(at: tuple[int, ...], lead: int, column: str, label: str, effect: str) -> StatusChange:
    return StatusChange(clock_time(*at), lead, column, label, effect)


#: Twenty changes of a typical day (business hours 09:00-17:00 UTC): new leads asked for the
#: questionnaire, leads moving on to a folder, a quote, the notices to ICSI and a signed
#: contract. Some land one second after a poll, the worst case for the reaction time.
TYPICAL_DAY = (
    _change((2, 0, 1), 2, TRIAGE, "Send Questionnaire", "send_questionnaire"),
    _change((6, 12), 3, TRIAGE, "Questionnaire Received", "lead_folder"),
    _change((8, 20), 0, TRIAGE, "Send Questionnaire", "send_questionnaire"),
    _change((9, 0, 1), 7, TRIAGE, "Send Questionnaire", "send_questionnaire"),
    _change((9, 0, 30), 3, NEGOTIATION, "Create Quote", "quote_copies"),
    _change((9, 31, 17), 1, TRIAGE, "Questionnaire Received", "lead_folder"),
    _change((10, 5, 42), 0, TRIAGE, "Questionnaire Received", "lead_folder"),
    _change((10, 47), 3, NEGOTIATION, "Quote Sent", "notify_icsi_quote_sent"),
    _change((11, 2, 5), 1, NEGOTIATION, "Create Quote", "quote_copies"),
    _change((12, 5), 3, NEGOTIATION, "Quote Accepted", "notify_icsi_contract"),
    _change((12, 30, 50), 2, TRIAGE, "Questionnaire Received", "lead_folder"),
    _change((13, 41, 1), 0, NEGOTIATION, "Create Quote", "quote_copies"),
    _change((14, 15), 1, NEGOTIATION, "Quote Sent", "notify_icsi_quote_sent"),
    _change((15, 10, 33), 0, NEGOTIATION, "Quote Sent", "notify_icsi_quote_sent"),
    _change((16, 40, 9), 1, NEGOTIATION, "Quote Accepted", "notify_icsi_contract"),
    _change((16, 59), 3, NEGOTIATION, "Contract Signed", "request_invoice"),
    _change((17, 20), 4, TRIAGE, "Send Questionnaire", "send_questionnaire"),
    _change((19, 45), 4, TRIAGE, "Questionnaire Received", "lead_folder"),
    _change((21, 30, 1), 5, TRIAGE, "Questionnaire Received", "lead_folder"),
    _change((23, 0, 1), 6, TRIAGE, "Send Questionnaire", "send_questionnaire"),
)


def test_a_typical_day_with_default_settings_stays_within_300_calls(tmp_path: Path) -> None:
    result = run_day(Scenario("typical day, default settings", TYPICAL_DAY), tmp_path)
    print(result.figures())

    assert len(result.reactions) == 20
    assert [r.change for r in result.reactions if r.acted_at is None] == []
    business = [r for r in result.reactions if r.in_business_hours]
    outside = [r for r in result.reactions if not r.in_business_hours]
    assert len(business) >= 5 and len(outside) >= 5
    assert all((r.seconds or 0) <= 120 for r in business), result.figures()
    assert all((r.seconds or 0) <= 1800 for r in outside), result.figures()
    # 272 polls (240 in business hours), each a single call: the hourly full reads of a
    # one-page board take the place of a poll, they do not add one.
    assert result.polls == 272 and result.held_ticks == 0
    assert result.full_reads >= 23
    assert result.calls_by_operation["items_page"] == result.polls
    assert result.calls_by_operation.get("next_items_page", 0) == 0
    # The account's budget is read at the three-hour marks, never per poll.
    assert result.calls_by_operation["platform_api"] == 8
    assert [state.value for _, state in result.pace_changes] == ["normal"]
    # 280 calls of polls and budget reads leave 20 for the day's write-backs.
    write_backs = result.calls - result.polls - 8
    assert result.calls <= 300, f"{write_backs} write-back calls\n{result.figures()}"


#: The account's other tools use most of the day's calls by noon, then all of them at 14:00.
BUSY_ACCOUNT = (
    AccountUse(clock_time(11, 50), others_today=800),
    AccountUse(clock_time(14, 0), others_today=1000),
)


def test_other_tools_using_the_account_slow_leadbridge_then_stop_it_until_midnight(
    tmp_path: Path,
) -> None:
    changes = TYPICAL_DAY[:10]  # up to 12:05
    result = run_day(Scenario("busy account", changes, account=BUSY_ACCOUNT), tmp_path)
    print(result.figures())

    assert [state.value for _, state in result.pace_changes] == [
        "normal",
        "slowed",
        "limit_reached",
    ]
    moments = {state.value: moment for moment, state in result.pace_changes}
    # Slowed from the 12:00 budget read on, when the account had 80 calls left; stopped
    # by the first call monday refused after 14:00.
    assert moments["slowed"] == clock_time(12) + MIDNIGHT
    assert clock_time(14) + MIDNIGHT < moments["limit_reached"] < clock_time(15) + MIDNIGHT
    slowed = [t for t in result.tick_log if moments["slowed"] <= t.at < moments["limit_reached"]]
    gaps = [(b.at - a.at).total_seconds() for a, b in pairwise(slowed)]
    # The tick after the read was scheduled before it (as APScheduler does); from then on the
    # pace is stretched.
    assert gaps[0] == 120 and min(gaps[1:]) > 120 * 5
    # Slowed, leadbridge still acted on the change of 12:05, later than at the usual pace.
    late = result.reactions[-1]
    assert late.acted_at is not None and (late.seconds or 0) > 120
    # From the refusal to midnight: no poll, only the budget read every three hours.
    stopped = [t for t in result.tick_log if t.at > moments["limit_reached"]]
    assert [t.at for t in stopped if t.calls] == [MIDNIGHT + clock_time(h) for h in (15, 18, 21)]
    assert all(not t.ran and set(t.calls) <= {"platform_api"} for t in stopped)
    assert sum(sum(t.calls.values()) for t in stopped) == 3


def test_a_poll_now_hint_brings_the_next_poll_forward(tmp_path: Path) -> None:
    """The harness's hook for pushed hints (webhooks): the poll job moves to the hint."""
    change = _change((10, 5), 0, TRIAGE, "Send Questionnaire", "send_questionnaire")
    scenario = Scenario(
        "one hint, polls every 30 minutes",
        [change],
        hints=[PollHint(clock_time(10, 5, 5))],
        leads=20,
        overrides={"service": {"business_hours_interval_seconds": None}},
    )
    result = run_day(scenario, tmp_path)
    print(result.figures())

    [reaction] = result.reactions
    assert reaction.seconds == 5
    # The schedule went on from the hinted poll: one extra poll in the day, not a burst.
    assert result.polls == 48 + 1
    assert [t.at for t in result.tick_log if t.at.hour == 10] == [
        MIDNIGHT + clock_time(10),
        MIDNIGHT + clock_time(10, 5, 5),
        MIDNIGHT + clock_time(10, 35, 5),
    ]


#: The upkeep's list (``webhooks``, with ``me``: the token's user, whose deliveries are echoes).
WEBHOOK_LIST = "webhooks"
#: ``monday.webhook.recheck_seconds``: the upkeep looks at the webhooks every six hours.
RECHECK = timedelta(hours=6)
#: The safety-net pace in business hours with webhooks on (``service.webhook_interval_seconds``).
SAFETY_NET_SECONDS = 900


def test_with_webhooks_a_typical_day_stays_within_150_calls_and_reacts_in_seconds(
    tmp_path: Path,
) -> None:
    scenario = Scenario("typical day, webhooks", TYPICAL_DAY, webhooks=True)
    result = run_day(scenario, tmp_path)
    print(result.figures())

    assert len(result.reactions) == 20
    assert [r.change for r in result.reactions if r.acted_at is None] == []
    assert all((r.seconds or 0) <= 10 for r in result.reactions), result.figures()
    # Every change was delivered and brought one poll forward; leadbridge's own status
    # writes were delivered too, and ignored as its user's once the upkeep had named it.
    assert result.deliveries.get("poll") == 20 and result.hinted_polls == 20, result.figures()
    assert result.deliveries.get("own_change", 0) > 0, result.figures()
    # The webhooks were created in the warm-up, one second after the first poll; the day
    # pays for the upkeep's list every six hours, counted with the rest.
    first = result.webhook_checks[0]
    assert first.at == MIDNIGHT - scenario.warmup + timedelta(seconds=1)
    assert len(first.found.created) == 4
    day_checks = [check for check in result.webhook_checks if check.at >= MIDNIGHT]
    assert len(day_checks) == 4 and all(len(check.found.kept) == 4 for check in day_checks)
    assert result.calls_by_operation[WEBHOOK_LIST] == 4, result.figures()
    assert "create_webhook" not in result.calls_by_operation
    assert result.calls <= 150, result.figures()


def test_a_webhook_deleted_on_monday_is_created_again_at_the_next_check(tmp_path: Path) -> None:
    """Deliveries of triage changes stop when its webhook goes; the safety-net poll still
    acts on them, and the next check brings the webhook and the prompt reactions back."""
    deleted = clock_time(9, 15)
    scenario = Scenario(
        "typical day, webhooks, triage webhook deleted at 09:15",
        TYPICAL_DAY,
        deletions=[WebhookDeleted(deleted, TRIAGE)],
        leads=20,
        webhooks=True,
    )
    result = run_day(scenario, tmp_path)
    print(result.figures())

    after = [check for check in result.webhook_checks if check.at > MIDNIGHT + deleted]
    recheck = after[0]
    assert recheck.at <= MIDNIGHT + deleted + RECHECK
    assert len(recheck.found.recreated) == 1 and len(recheck.found.kept) == 3
    assert len(after) > 1 and all(len(check.found.kept) == 4 for check in after[1:])
    assert result.calls_by_operation["create_webhook"] == 1, result.figures()

    assert [r.change for r in result.reactions if r.acted_at is None] == []
    gone, back = deleted, recheck.at - MIDNIGHT
    unwatched = [
        r for r in result.reactions if r.change.column == TRIAGE and gone < r.change.at < back
    ]
    rewatched = [r for r in result.reactions if r.change.column == TRIAGE and r.change.at > back]
    assert len(unwatched) == 2 and len(rewatched) == 5
    # Not delivered: acted on by the safety-net poll, not within seconds.
    assert all(10 < (r.seconds or 0) <= SAFETY_NET_SECONDS for r in unwatched), result.figures()
    prompt = [r for r in result.reactions if r not in unwatched]
    assert all((r.seconds or 0) <= 10 for r in prompt), result.figures()
