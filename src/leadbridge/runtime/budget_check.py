"""``leadbridge check``'s finding on the monday account's daily call budget.

Before going live an operator wants to know what the call governor would otherwise say only
once ``run`` runs: does the configured schedule fit in leadbridge's share of the account's
daily calls, and can leadbridge poll at all today. Both answers are the governor's own
(``busiest_day_plan`` for the schedule, a governor told the budget just read for today), so
``check`` and ``run`` cannot disagree; the monday adapter only reads the figures.

A schedule that does not fit is a ✓ with a note, not a ✗. ``check`` exits non-zero on any ✗,
which stops a deployment, yet nothing is broken: ``run`` slows its polls down to fit the share
and reacts more slowly, a trade an operator may well accept (a Free plan's 200 daily calls
cannot carry the default schedule at all). The line says so in figures and the note names the
settings that would keep the configured pace. A ✗ is kept for what stops leadbridge from
working as it should: a budget it cannot read (the governor then guesses from
``monday.daily_call_limit``), and a day on which it cannot poll at all because the account's
calls, or leadbridge's share of what is left of them, are used up.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leadbridge.domain.errors import DailyLimitReached, ExternalError
from leadbridge.domain.ports import AccountBudget, CallBudget, CheckFinding
from leadbridge.runtime.governor import (
    READ_EVERY,
    CallGovernor,
    PaceState,
    PaceVerdict,
    busiest_day_plan,
    next_midnight,
)
from leadbridge.runtime.pacing import PollPacing
from leadbridge.settings import Settings

SERVICE = "monday"
HOUR = timedelta(hours=1)
WHAT = "call budget"
SLOWER_FIX = (
    "to keep the configured pace, raise service.interval_seconds and "
    "service.business_hours_interval_seconds, or monday.call_share if the account's other "
    "tools need few calls"
)
EXHAUSTED_FIX = (
    "none needed for leadbridge, which polls again by itself after 00:00 UTC; if the account "
    "runs low often, find which of its tools uses the calls or raise the plan's limit"
)
UNREAD_FIX = (
    "run `leadbridge check` again; if the read keeps failing, check the token's user and "
    "monday.api_version (the lines above)"
)


def check_call_budget(settings: Settings, source: CallBudget) -> CheckFinding:
    """Read the account's budget (one monday call) and judge it as ``run`` would: with the
    configured share and the schedule in force (the slower one when webhooks bring polls
    forward)."""
    read: AccountBudget | ExternalError
    try:
        read = source.account_budget()
    except ExternalError as error:
        read = error
    monday = settings.monday
    return budget_finding(
        read,
        PollPacing.from_settings(settings.service, hinted=monday.webhook.enabled),
        share=monday.call_share,
        fallback_limit=monday.daily_call_limit,
        now=read.read_at if isinstance(read, AccountBudget) else datetime.now(UTC),
    )


def budget_finding(
    read: AccountBudget | ExternalError,
    pacing: PollPacing,
    *,
    share: float,
    fallback_limit: int,
    now: datetime,
) -> CheckFinding:
    """The finding on ``read`` (the budget, or why it could not be read) at ``now``.

    The governor is told the read as the coordinator would tell it, with none of leadbridge's
    own calls: ``check`` does not know them, and a running service's are in the account's
    usage already.
    """
    if isinstance(read, DailyLimitReached):
        return _no_poll_today("no calls left today: monday refused even this read", now)
    if isinstance(read, ExternalError):
        return CheckFinding(
            SERVICE,
            WHAT,
            False,
            f"not read: {read.message}; until it is, the governor assumes "
            f"monday.daily_call_limit ({fallback_limit:,}) and counts leadbridge's own calls only",
            read.fix or UNREAD_FIX,
        )
    governor = CallGovernor(pacing, share=share, fallback_limit=fallback_limit, start=now)
    verdict = governor.budget_read(read, 0, now)
    figures = f"daily limit {read.limit:,}, used today {read.used_today:,}"
    if verdict.state is PaceState.LIMIT_REACHED:
        return _no_poll_today(f"{figures}: the account has no calls left today", now)
    if verdict.state is PaceState.PAUSED:
        return _no_poll_today(
            f"{figures}: leadbridge's share ({share:g}) of the {read.left:,} calls left today "
            "is too small for a poll",
            now,
        )
    return _plan_finding(read, verdict, pacing, share, figures)


def _plan_finding(
    budget: AccountBudget, verdict: PaceVerdict, pacing: PollPacing, share: float, figures: str
) -> CheckFinding:
    """The configured schedule on its busiest day against leadbridge's share of the limit,
    and today's slowing down, if any, in the governor's words."""
    planned, allowed = busiest_day_plan(pacing, share, budget.limit)
    fits = planned <= allowed
    detail = (
        f"{figures}; leadbridge's share {int(share * budget.limit):,} (monday.call_share "
        f"{share:g}); the schedule needs at most {planned:,} calls on a business day, "
        f"{'within' if fits else 'more than'} the {allowed:,} kept for polls (the rest is for "
        "write-backs)"
    )
    if not fits:
        detail += ": the governor will poll more slowly than configured to fit"
    if verdict.state is PaceState.SLOWED:
        detail += f"; today {verdict.reason}"
    return CheckFinding(SERVICE, WHAT, True, detail, "" if fits else SLOWER_FIX)


def _no_poll_today(why: str, now: datetime) -> CheckFinding:
    """A ✗: the service would start and then wait, polling nothing, until the day turns; the
    wait is said in hours too, as the operator's clock is seldom UTC."""
    midnight = next_midnight(now)
    minutes = int((midnight - now).total_seconds() // 60)
    wait = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
    return CheckFinding(
        SERVICE,
        WHAT,
        False,
        f"{why}, so the governor makes no poll until monday's count starts again at 00:00 UTC "
        f"(in {wait}), only a read of the account's budget every {READ_EVERY / HOUR:g} hours",
        EXHAUSTED_FIX,
    )
