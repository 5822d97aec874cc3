"""``leadbridge status``: what operators need to see at a glance, built from the store alone.

No network calls, so ``leadbridge status`` works while a service is down or rate-limited, and
needs no token. Filters (one item, the leads that need a person, a stage) narrow the leads
listed; the board's totals, the last run and held mass actions are always shown. Each lead's
effects are listed in pipeline (dependency) order with their times in ISO 8601, UTC.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from leadbridge.domain.decide import Act, Situation, decide
from leadbridge.domain.ledger import QUIET, EffectState, LedgerEntry
from leadbridge.domain.planning import dependency_order
from leadbridge.domain.ports import StateStore
from leadbridge.service.guard import HELD
from leadbridge.settings import Settings

_MARKS = {
    "done": "✓",
    "adopted": "·",
    "skipped": "-",
    "pending": "…",
    "running": "…",
    "waiting": "…",
    "failed": "!",
    "parked": "✗",
}
#: State-store fact: the call governor's latest decision about the poll pace (written by
#: ``leadbridge run``, see ``runtime/governor.py``).
PACE_FACT = "call_pace"
#: Ledger states of an effect that a lead "needs a person" for, as ``--problems`` lists them
#: (with effects waiting for another one, and leads held by the mass-action guard).
PROBLEM_STATES = frozenset({"parked", "failed", "waiting"})


@dataclass(frozen=True)
class StatusFilter:
    """Which leads ``status`` lists; the board's totals are never filtered."""

    item: str | None = None
    #: Only leads with a parked, failed or waiting effect, or held by the mass-action guard.
    problems: bool = False
    #: ``(column, label)``: leads showing this label in this status column; column None: in
    #: any status column; label "": leads with no status in that column.
    stage: tuple[str | None, str] | None = None

    def describe(self) -> str:
        parts = []
        if self.item is not None:
            parts.append(f"item {self.item}")
        if self.stage is not None:
            column, label = self.stage
            parts.append(f"{column or 'any column'} = {label or '(none)'}")
        if self.problems:
            parts.append("needing a person")
        return ", ".join(parts)

    def matches_stage(self, statuses: dict[str, str], columns: list[str]) -> bool:
        if self.stage is None:
            return True
        column, label = self.stage
        if column is not None:
            return statuses.get(column, "") == label
        return any(statuses.get(c, "") == label for c in columns)


def build_status(
    settings: Settings,
    store: StateStore,
    now: datetime,
    filters: StatusFilter | None = None,
) -> dict[str, Any]:
    filters = filters or StatusFilter()
    snapshots = store.snapshots()
    ledger = store.ledger()
    runs = store.runs(5)
    calls, complexity = store.usage(now.date(), "monday")
    pipeline = settings.pipeline()
    order = dependency_order(pipeline.effects)
    position = {name: index for index, name in enumerate(order)}
    status_columns = [n for n, c in settings.columns.items() if c.type == "status"]
    by_item: defaultdict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in ledger:  # one pass, keeping the store's order within each item
        by_item[entry.item_id].append(entry)
    board = store.board_state()
    held: dict[str, Any] = store.fact(HELD) or {}
    pace = pace_today(store.fact(PACE_FACT), now)
    held_kinds: defaultdict[str, list[str]] = defaultdict(list)
    for kind, hold in sorted(held.items()):
        for item in hold.get("items", []):
            held_kinds[str(item)].append(kind)
    # What a cycle would decide now, for the effects that wait for another one to be done.
    situation = Situation(now=now, adopting=board is None)
    leads = []
    for item_id, lead in sorted(snapshots.items()):
        if filters.item is not None and item_id != filters.item:
            continue
        statuses = {c: lead.value(c) for c in status_columns if lead.value(c)}
        if not filters.matches_stage(statuses, status_columns):
            continue
        entries = sorted(
            by_item.get(item_id, []),
            key=lambda e: (position.get(e.effect, len(position)), e.effect),
        )
        own = {e.effect: e for e in entries}
        waiting = [
            {"effect": d.effect, "waiting_for": list(d.waiting_for)}
            for d in decide(lead, own, pipeline, order, situation)
            if d.act is Act.WAIT
        ]
        effects = [_effect(e) for e in entries]
        parked = any(e["state"] == EffectState.PARKED.value for e in effects)
        shown = {
            "item_id": item_id,
            "name": lead.name,
            "statuses": statuses,
            "effects": effects,
            #: Required effects that wait for another effect to be done, in pipeline order.
            "waiting": waiting,
            #: Kinds of new effects of this lead held by the mass-action guard.
            "held": held_kinds.get(item_id, []),
            "needs_person": parked or item_id in held_kinds,
        }
        problem = (
            shown["needs_person"]
            or bool(waiting)
            # A quiet wait (a file not due yet) is not a person's work yet.
            or any(e.state.value in PROBLEM_STATES and not _quiet(e) for e in entries)
        )
        if filters.problems and not problem:
            continue
        leads.append(shown)
    return {
        "board_id": settings.monday.board_id,
        "generated_at": now,
        "filters": filters.describe(),
        "first_cycle_at": board.first_cycle_at if board else None,
        "last_full_read_at": board.last_full_read_at if board else None,
        "leads_on_board": len(snapshots),
        "leads": leads,
        "totals": dict(Counter(e.state.value for e in ledger)),
        "monday_calls_today": calls,
        "monday_complexity_today": complexity,
        # The account's limit as ``run`` last read it today, else the configured fallback.
        "monday_daily_call_limit": pace["daily_limit"]
        if pace
        else settings.monday.daily_call_limit,
        "monday_call_share": settings.monday.call_share,
        #: How ``run`` paces its polls within the daily budget, and why (None: no decision today).
        "call_pace": pace,
        "held": held,
        # Exit status 1 of ``leadbridge status``: a lead listed has a parked effect, or a
        # mass action waits for ``leadbridge plan --confirm``.
        "needs_person": bool(held) or any(lead["needs_person"] for lead in leads),
        "runs": [
            {
                "started_at": r.started_at,
                "finished_at": r.finished_at,
                "outcome": r.outcome,
                **r.summary,
            }
            for r in runs
        ],
    }


def pace_today(fact: Any, now: datetime) -> dict[str, Any] | None:
    """The governor's decision if it was made on ``now``'s UTC day: yesterday's figures say
    nothing about today's budget."""
    if not isinstance(fact, dict) or fact.get("day") != now.astimezone(UTC).date().isoformat():
        return None
    return fact


def _quiet(e: LedgerEntry) -> bool:
    return e.state is EffectState.WAITING and bool(e.ref.get(QUIET))


def _effect(e: LedgerEntry) -> dict[str, Any]:
    return {
        "effect": e.effect,
        "state": e.state.value,
        "attempts": e.attempts,
        "updated_at": e.updated_at,
        "next_attempt_at": e.next_attempt_at,
        "last_error": e.last_error,
        "url": e.ref.get("url", ""),
        "issue_state": e.ref.get("state", "") if "number" in e.ref else "",
    }


def render_status(status: dict[str, Any], *, state_url: str) -> str:
    lines = [f"leadbridge status: board {status['board_id']}, state {state_url}"]
    lines.append(f"As of {iso(status.get('generated_at'))} (times in UTC)")
    if not status["runs"]:
        lines.append("No sync cycle has run yet. Start one with: leadbridge sync --once")
        if status.get("call_pace"):  # e.g. the daily limit was used up before the first one
            lines.append(_pace_line(status["call_pace"]))
        return "\n".join(lines)
    last = status["runs"][0]
    lines.append(
        f"Last run: {iso(last['started_at'])}, {last['outcome']}"
        + (f" ({last.get('error')})" if last.get("error") else "")
        + f"; {last.get('done', 0)} done, {last.get('failed', 0)} failed, "
        f"{last.get('parked', 0)} parked"
    )
    limit, share = status["monday_daily_call_limit"], status["monday_call_share"]
    lines.append(
        f"monday.com calls today: {status['monday_calls_today']} by leadbridge, whose share is "
        f"{int(share * limit)} of the account's {limit} "
        f"(complexity {status['monday_complexity_today']})"
    )
    pace = status.get("call_pace")
    if pace:
        lines.append(_pace_line(pace))
    for kind, hold in sorted(status["held"].items()):
        lines.append(
            f"HELD: {hold['count']} new {kind} effect(s) since {hold['since']}, more than the "
            f"guard allows ({hold['limit']}). Review: leadbridge plan; release: "
            "leadbridge plan --confirm"
        )
    totals = status["totals"]
    known = [s.value for s in EffectState]
    lines.append(
        f"Leads: {status.get('leads_on_board', len(status['leads']))}; effects: "
        + ", ".join(f"{totals.get(s, 0)} {s}" for s in [*known, *sorted(set(totals) - set(known))])
    )
    if status.get("filters"):
        lines.append(f"Showing {len(status['leads'])} lead(s): {status['filters']}")
        if not status["leads"]:
            lines.append("No lead matches.")
    parked = []
    for lead in status["leads"]:
        statuses = ", ".join(f"{k}: {v}" for k, v in lead["statuses"].items()) or "no status"
        lines.append(f"\n{lead['name']} (item {lead['item_id']}) — {statuses}")
        for effect in lead["effects"]:
            state = effect["state"]
            extra = ""
            if effect["issue_state"]:
                extra = f" [issue {effect['issue_state']}]"
            if state == "failed":
                extra = (
                    f" attempt {effect['attempts']}, next try {iso(effect['next_attempt_at'])}: "
                    f"{effect['last_error']}"
                )
            elif state == "parked":
                extra = f" after {effect['attempts']} attempt(s): {effect['last_error']}"
                parked.append(f"leadbridge retry {lead['item_id']} {effect['effect']}")
            elif state == "waiting" and effect["last_error"]:
                extra = f": {effect['last_error']}"
            url = f" {effect['url']}" if effect["url"] else ""
            when = f" {iso(effect['updated_at'])}" if effect.get("updated_at") else ""
            mark = _MARKS.get(state, "?")
            lines.append(f"  {mark} {effect['effect']}: {state}{when}{url}{extra}")
        for waiting in lead.get("waiting", []):
            lines.append(
                f"  {_MARKS['waiting']} {waiting['effect']}: waits for "
                + ", ".join(waiting["waiting_for"])
            )
        for kind in lead.get("held", []):
            lines.append(
                f"  HELD: its new {kind} effect(s) wait with others of their kind for "
                "leadbridge plan --confirm"
            )
    if parked:
        lines.append("\nParked effects wait for a person. After fixing the cause, re-arm with:")
        lines.extend(f"  {command}" for command in parked)
    return "\n".join(lines)


def _pace_line(pace: dict[str, Any]) -> str:
    """The poll pace in one line: slowed or stopped on purpose is said first, with why."""
    state = str(pace.get("state", ""))
    reason = pace.get("reason", "")
    every = f"every {pace.get('interval_seconds')} s"
    if state == "normal":
        return f"Poll pace: as configured ({every}); {reason}"
    resumes = f", polls resume {pace['resumes_at']}" if pace.get("resumes_at") else ""
    shown = state.replace("_", " ").upper()
    return f"Poll pace: {shown} on purpose ({every}{resumes}): {reason}"


def iso(moment: datetime | None) -> str:
    """ISO 8601 in UTC, to the second (``2026-03-02T12:00:00Z``); "never" for None."""
    if moment is None:
        return "never"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def json_default(value: object) -> str:
    """``json.dumps`` default of ``status --json``: times as ISO 8601 in UTC."""
    return iso(value) if isinstance(value, datetime) else str(value)
