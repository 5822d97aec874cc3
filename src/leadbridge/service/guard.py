"""The mass-action guard: a cycle that would start many new effects of one kind waits for a person.

A configuration change, a restored database or a board import can make every lead look new
at once; a hundred e-mails sent by mistake cannot be unsent. So when one cycle would start
more new effects of one kind than ``max_new_per_kind``, those starts are held (everything
else goes on), the hold is recorded where the log, ``/healthz`` and ``status`` show it, and
``leadbridge plan --confirm`` lets the next cycle proceed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog

from leadbridge.domain.decide import Act, Decision
from leadbridge.domain.ledger import EffectState, LedgerEntry
from leadbridge.domain.model import Pipeline
from leadbridge.domain.ports import StateStore
from leadbridge.service.report import CycleReport

log = structlog.get_logger("leadbridge.service.sync")

#: Board facts: what is held now, and what an operator confirmed.
HELD = "held_mass_actions"
CONFIRMED = "confirmed_mass_actions"
#: A confirmation older than this is stale: the board has moved on since it was given.
CONFIRMATION_LIFETIME = timedelta(hours=24)


def new_starts(
    plan: Mapping[str, list[Decision]],
    ledger: Mapping[str, Mapping[str, LedgerEntry]],
    pipeline: Pipeline,
) -> dict[str, list[tuple[str, str]]]:
    """Per kind, the (item, effect) pairs the plan would start for the first time."""
    starts: dict[str, list[tuple[str, str]]] = {}
    for item_id, decisions in plan.items():
        entries = ledger.get(item_id, {})
        for decision in decisions:
            if decision.act is not Act.RUN:
                continue
            entry = entries.get(decision.effect)
            fresh = entry is None or (
                entry.attempts == 0 and entry.state in (EffectState.PENDING, EffectState.ADOPTED)
            )
            if fresh:
                kind = pipeline.effects[decision.effect].kind
                starts.setdefault(kind, []).append((item_id, decision.effect))
    return starts


class MassActionGuard:
    def __init__(self, store: StateStore, pipeline: Pipeline, limit: int) -> None:
        self.store = store
        self.pipeline = pipeline
        self.limit = limit
        self._confirmed_used: set[str] = set()

    def check(
        self,
        plan: Mapping[str, list[Decision]],
        ledger: Mapping[str, Mapping[str, LedgerEntry]],
        now: datetime,
        report: CycleReport,
        *,
        record: bool = True,
    ) -> dict[str, set[str]]:
        """The effects to hold, by item; the hold is recorded unless ``record`` is False."""
        confirmed = self.store.fact(CONFIRMED) or {}
        held: dict[str, set[str]] = {}
        facts: dict[str, Any] = {}
        self._confirmed_used = set()
        for kind, starts in new_starts(plan, ledger, self.pipeline).items():
            if len(starts) <= self.limit:
                continue
            if _covers(confirmed.get(kind), len(starts), now):
                self._confirmed_used.add(kind)
                log.warning("mass_action_confirmed", kind=kind, count=len(starts))
                continue
            report.held[kind] = len(starts)
            for item_id, effect in starts:
                held.setdefault(item_id, set()).add(effect)
            facts[kind] = {
                "count": len(starts),
                "limit": self.limit,
                "since": now.isoformat(),
                "items": [item for item, _ in starts[:10]],
            }
            log.error(
                "mass_action_held",
                kind=kind,
                count=len(starts),
                limit=self.limit,
                fix="review with `leadbridge plan`, then confirm with `leadbridge plan --confirm`",
            )
        if record:
            self.store.save_fact(HELD, facts)
        return held

    def consume(self) -> None:
        """A confirmation lets one cycle through; the next mass action asks again."""
        if not self._confirmed_used:
            return
        confirmed = dict(self.store.fact(CONFIRMED) or {})
        for kind in self._confirmed_used:
            confirmed.pop(kind, None)
        self.store.save_fact(CONFIRMED, confirmed)
        self._confirmed_used = set()


def confirm(store: StateStore, counts: Mapping[str, int], now: datetime) -> None:
    """An operator's word that these many new effects of these kinds may start."""
    confirmed = dict(store.fact(CONFIRMED) or {})
    for kind, count in counts.items():
        confirmed[kind] = {"count": count, "at": now.isoformat()}
    store.save_fact(CONFIRMED, confirmed)


def _covers(confirmation: Mapping[str, Any] | None, count: int, now: datetime) -> bool:
    if not confirmation:
        return False
    given = datetime.fromisoformat(confirmation["at"])
    return count <= int(confirmation["count"]) and now - given < CONFIRMATION_LIFETIME
