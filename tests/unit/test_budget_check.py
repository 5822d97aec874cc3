"""``leadbridge check``'s call-budget finding, from plain values: the account's figures (or why
they could not be read), the configured schedule and leadbridge's share.

A schedule that does not fit is a ✓ with a note (the governor slows down, nothing is broken);
a day without polls or a budget that cannot be read is a ✗ with a fix.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import SecretStr

from leadbridge.domain.errors import (
    DailyLimitReached,
    ExternalError,
    PermanentError,
    TransientError,
)
from leadbridge.domain.ports import AccountBudget, CheckFinding
from leadbridge.runtime.budget_check import (
    EXHAUSTED_FIX,
    SLOWER_FIX,
    UNREAD_FIX,
    budget_finding,
    check_call_budget,
)
from leadbridge.runtime.pacing import PollPacing
from leadbridge.settings import ServiceSettings, Settings
from leadbridge.settings.infra import WebhookSettings

#: A Saturday evening: few polls left today, so today's pace is the configured one.
SATURDAY = datetime(2026, 7, 11, 20, 0, tzinfo=UTC)
#: A Tuesday before business hours: the whole busy day is still ahead.
TUESDAY = datetime(2026, 7, 14, 8, 0, tzinfo=UTC)
#: The defaults: 240 polls in business hours, 32 outside, 8 budget reads.
PACING = PollPacing.from_settings(ServiceSettings())


def finding(read: AccountBudget | ExternalError, now: datetime = SATURDAY) -> CheckFinding:
    return budget_finding(read, PACING, share=0.33, fallback_limit=1000, now=now)


def budget(limit: int, used: int, now: datetime = SATURDAY) -> AccountBudget:
    return AccountBudget(limit=limit, used_today=used, read_at=now)


def test_a_schedule_within_the_share_passes_with_the_figures_in_words() -> None:
    assert finding(budget(1000, 212)) == CheckFinding(
        "monday",
        "call budget",
        True,
        "daily limit 1,000, used today 212; leadbridge's share 330 (monday.call_share 0.33); "
        "the schedule needs at most 280 calls on a business day, within the 297 kept for polls "
        "(the rest is for write-backs)",
    )


def test_a_schedule_beyond_the_share_passes_with_a_note_as_the_governor_slows_down() -> None:
    found = finding(budget(200, 0))

    assert found.ok
    assert found.detail == (
        "daily limit 200, used today 0; leadbridge's share 66 (monday.call_share 0.33); the "
        "schedule needs at most 280 calls on a business day, more than the 59 kept for polls "
        "(the rest is for write-backs): the governor will poll more slowly than configured to fit"
    )
    assert found.fix == SLOWER_FIX


def test_a_day_the_governor_slows_is_said_in_its_words() -> None:
    found = finding(budget(1000, 700, TUESDAY), TUESDAY)

    assert found.ok
    assert not found.fix  # the schedule fits on a day the other tools leave alone
    assert "; today the account has used 700 of its 1000 daily calls (all its tools)" in (
        found.detail
    )
    assert "times more slowly than configured" in found.detail


def test_an_account_at_its_limit_fails_until_00_00_utc() -> None:
    assert finding(budget(1000, 1000)) == CheckFinding(
        "monday",
        "call budget",
        False,
        "daily limit 1,000, used today 1,000: the account has no calls left today, so the "
        "governor makes no poll until monday's count starts again at 00:00 UTC (in 4 h 0 min), "
        "only a read of the account's budget every 3 hours",
        EXHAUSTED_FIX,
    )


def test_a_read_refused_for_the_daily_limit_fails_the_same_way() -> None:
    refused = DailyLimitReached("monday", "the account's daily API call limit is used up")

    found = finding(refused, datetime(2026, 7, 11, 23, 35, tzinfo=UTC))

    assert not found.ok
    assert found.detail.startswith("no calls left today: monday refused even this read, so the ")
    assert "at 00:00 UTC (in 25 min)" in found.detail
    assert found.fix == EXHAUSTED_FIX


def test_a_share_of_what_is_left_too_small_for_a_poll_fails_too() -> None:
    found = finding(budget(1000, 995))

    assert not found.ok
    assert found.detail.startswith(
        "daily limit 1,000, used today 995: leadbridge's share (0.33) of the 5 calls left today "
        "is too small for a poll, so the governor makes no poll until"
    )
    assert found.fix == EXHAUSTED_FIX


def test_a_budget_that_cannot_be_read_fails_with_the_error_and_its_fix() -> None:
    old_version = PermanentError(
        "monday",
        "monday rejected the request (Cannot query field 'platform_api' on type 'Query')",
        fix="set monday.api_version to a current YYYY-MM version (e.g. 2026-10)",
    )

    assert finding(old_version) == CheckFinding(
        "monday",
        "call budget",
        False,
        "not read: monday rejected the request (Cannot query field 'platform_api' on type "
        "'Query'); until it is, the governor assumes monday.daily_call_limit (1,000) and counts "
        "leadbridge's own calls only",
        "set monday.api_version to a current YYYY-MM version (e.g. 2026-10)",
    )
    assert finding(TransientError("monday", "monday is busy or failing (HTTP 503)")).fix == (
        UNREAD_FIX
    )


class _Account:
    """What ``check`` reads through: the ``CallBudget`` port, answering one read."""

    def __init__(self, read: AccountBudget | PermanentError) -> None:
        self.read = read
        self.reads = 0

    def account_budget(self) -> AccountBudget:
        self.reads += 1
        if isinstance(self.read, PermanentError):
            raise self.read
        return self.read


def _with_webhooks(settings: Settings) -> Settings:
    webhook = WebhookSettings(public_url="https://leadbridge.test", path_token=SecretStr("t" * 32))
    monday = settings.monday.model_copy(update={"webhook": webhook})
    return settings.model_copy(update={"monday": monday})


def test_check_reads_once_and_holds_the_schedule_in_force(example_settings: Settings) -> None:
    account = _Account(budget(1000, 10))

    plain = check_call_budget(example_settings, account)
    hinted = check_call_budget(_with_webhooks(example_settings), account)

    assert account.reads == 2
    assert "needs at most 280 calls on a business day" in plain.detail
    # Webhooks bring polls forward, so the schedule is the slower safety net.
    assert "needs at most 72 calls on a business day" in hinted.detail


def test_check_turns_a_failed_read_into_a_finding(example_settings: Settings) -> None:
    unreported = PermanentError("monday", "the daily limit is not reported", fix="set it")

    found = check_call_budget(example_settings, _Account(unreported))

    assert (found.ok, found.fix) == (False, "set it")
    assert found.detail.startswith("not read: the daily limit is not reported;")
