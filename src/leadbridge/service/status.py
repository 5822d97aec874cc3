"""The status page: what operators need to see at a glance, built from the store alone.

No network calls, so ``leadbridge status`` works while a service is down or rate-limited.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from leadbridge.domain.ledger import EffectState, LedgerEntry
from leadbridge.domain.ports import StateStore
from leadbridge.service.guard import HELD
from leadbridge.settings import Settings

_MARKS = {
    EffectState.DONE: "✓",
    EffectState.ADOPTED: "·",
    EffectState.SKIPPED: "-",
    EffectState.PENDING: "…",
    EffectState.RUNNING: "…",
    EffectState.FAILED: "!",
    EffectState.PARKED: "✗",
}


def build_status(settings: Settings, store: StateStore, now: datetime) -> dict[str, Any]:
    snapshots = store.snapshots()
    ledger = store.ledger()
    runs = store.runs(5)
    calls, complexity = store.usage(now.date(), "monday")
    status_columns = [n for n, c in settings.columns.items() if c.type == "status"]
    by_item: defaultdict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in ledger:  # one pass, keeping the store's order within each item
        by_item[entry.item_id].append(entry)
    leads = []
    for item_id, lead in sorted(snapshots.items()):
        entries = by_item.get(item_id, [])
        leads.append(
            {
                "item_id": item_id,
                "name": lead.name,
                "statuses": {c: lead.value(c) for c in status_columns if lead.value(c)},
                "effects": [
                    {
                        "effect": e.effect,
                        "state": e.state.value,
                        "attempts": e.attempts,
                        "next_attempt_at": e.next_attempt_at,
                        "last_error": e.last_error,
                        "url": e.ref.get("url", ""),
                        "issue_state": e.ref.get("state", "") if "number" in e.ref else "",
                    }
                    for e in entries
                ],
            }
        )
    board = store.board_state()
    return {
        "board_id": settings.monday.board_id,
        "first_cycle_at": board.first_cycle_at if board else None,
        "last_full_read_at": board.last_full_read_at if board else None,
        "leads": leads,
        "totals": dict(Counter(e.state.value for e in ledger)),
        "monday_calls_today": calls,
        "monday_complexity_today": complexity,
        "monday_daily_call_limit": settings.monday.daily_call_limit,
        "held": store.fact(HELD) or {},
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


def render_status(status: dict[str, Any], *, state_url: str) -> str:
    lines = [f"leadbridge status: board {status['board_id']}, state {state_url}"]
    if not status["runs"]:
        lines.append("No sync cycle has run yet. Start one with: leadbridge sync --once")
        return "\n".join(lines)
    last = status["runs"][0]
    lines.append(
        f"Last run: {_when(last['started_at'])}, {last['outcome']}"
        + (f" ({last.get('error')})" if last.get("error") else "")
        + f"; {last.get('done', 0)} done, {last.get('failed', 0)} failed, "
        f"{last.get('parked', 0)} parked"
    )
    lines.append(
        f"monday.com calls today: {status['monday_calls_today']} of "
        f"{status['monday_daily_call_limit']} (complexity {status['monday_complexity_today']})"
    )
    for kind, hold in sorted(status["held"].items()):
        lines.append(
            f"HELD: {hold['count']} new {kind} effect(s) since {hold['since']}, more than the "
            f"guard allows ({hold['limit']}). Review: leadbridge plan; release: "
            "leadbridge plan --confirm"
        )
    totals = status["totals"]
    lines.append(
        f"Leads: {len(status['leads'])}; effects: "
        + ", ".join(f"{totals.get(s.value, 0)} {s.value}" for s in EffectState)
    )
    parked = []
    for lead in status["leads"]:
        statuses = ", ".join(f"{k}: {v}" for k, v in lead["statuses"].items()) or "no status"
        lines.append(f"\n{lead['name']} (item {lead['item_id']}) — {statuses}")
        for effect in lead["effects"]:
            state = EffectState(effect["state"])
            extra = ""
            if effect["issue_state"]:
                extra = f" [issue {effect['issue_state']}]"
            if state is EffectState.FAILED:
                extra = f" attempt {effect['attempts']}, next try {_when(effect['next_attempt_at'])}: {effect['last_error']}"
            if state is EffectState.PARKED:
                extra = f" after {effect['attempts']} attempt(s): {effect['last_error']}"
                parked.append(f"leadbridge retry {lead['item_id']} {effect['effect']}")
            url = f" {effect['url']}" if effect["url"] else ""
            lines.append(f"  {_MARKS[state]} {effect['effect']}: {state.value}{url}{extra}")
    if parked:
        lines.append("\nParked effects wait for a person. After fixing the cause, re-arm with:")
        lines.extend(f"  {command}" for command in parked)
    return "\n".join(lines)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment else "never"
