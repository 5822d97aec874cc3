"""What happens to each effect of a lead this cycle, decided from state alone.

``decide`` is pure: the lead as last read, its ledger entries, the pipeline, the time and
whether this is an adopting first meeting or a backfill. The service applies the decisions; a
dry run prints them. Keeping every "should this run?" question here is what lets the same
answer be tested without any adapter, and shown to an operator before anything happens.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from leadbridge.domain.history import Trigger, required_under
from leadbridge.domain.ledger import SETTLED, EffectState, LedgerEntry
from leadbridge.domain.model import Lead, Pipeline
from leadbridge.domain.planning import required_effects

#: Why an effect no longer required is stopped.
NO_LONGER_REQUIRED = "no longer required by the lead's statuses"


class Act(enum.StrEnum):
    #: Met on the first run already past its stage: recorded, never acted on.
    ADOPT = "adopt"
    #: Required, but an effect it needs is not done and will not be this cycle.
    WAIT = "wait"
    #: Start (or resume, or retry) it now.
    RUN = "run"
    #: Pending or backing off, but the lead no longer requires it.
    SKIP = "skip"
    #: Started under another holder of the runner lock whose call may still be in flight.
    BUSY = "busy"
    #: An attempt was interrupted and the lead no longer requires the effect: finish or
    #: undo what it half made, so that nothing stays half done (see ``EffectKind.resolve``).
    RESOLVE = "resolve"


@dataclass(frozen=True)
class Decision:
    effect: str
    act: Act
    #: RUN only: the row must be armed afresh first (it was skipped, or adopted and backfilled).
    rearm: bool = False
    #: RUN only: needs that run earlier in this same cycle; if one does not end done, wait.
    after: tuple[str, ...] = ()
    #: WAIT only: the needs that hold it back.
    waiting_for: tuple[str, ...] = ()


@dataclass(frozen=True)
class Situation:
    """Facts of the cycle that are the same for every lead."""

    now: datetime
    #: The board is met for the first time: what leads already show is history.
    adopting: bool = False
    #: Effects the operator asked to act on (a backfill): never adopted, and re-armed
    #: where adopted before.
    backfill: frozenset[str] = frozenset()
    #: Effects added or widened by a configuration change first seen now, each with the
    #: triggers it had before: a lead already at a new trigger is history for that effect.
    changed: Mapping[str, frozenset[Trigger]] = field(default_factory=dict)
    #: The runner-lock epoch this cycle acts under (None: no lock, e.g. a dry run).
    epoch: int | None = None
    #: How long a row started under another epoch is presumed still in flight.
    takeover_after: timedelta = timedelta(minutes=5)
    #: Processes ("host:pid") known to be gone, whose rows are dead at once.
    dead_owners: frozenset[str] = frozenset()

    def adopts(self, lead: Lead, effect: str, pipeline: Pipeline) -> bool:
        """Whether the lead's current state is history for this effect, to record not act on.

        A lead standing exactly on an action label (``StatusColumn.requests``) whose rule
        requires the effect is a request staff made, not history: it is acted on.
        """
        if effect in self.backfill:
            return False
        if requested(lead, effect, pipeline):
            return False
        if self.adopting:
            return True
        before = self.changed.get(effect)
        return before is not None and not required_under(lead, before)

    def in_flight_elsewhere(self, entry: LedgerEntry) -> bool:
        """A RUNNING row another lock holder started lately: busy, not an interrupted attempt.

        A holder that lost the lock (its database session died) may still be inside the
        call it started; resuming now could do the same thing twice. Its call is bounded by
        timeouts, so after ``takeover_after`` the row is resumed with a lookup first.
        """
        if entry.state is not EffectState.RUNNING or self.epoch is None:
            return False
        if entry.epoch is None or entry.epoch == self.epoch or entry.owner in self.dead_owners:
            return False
        return entry.updated_at is not None and self.now - entry.updated_at < self.takeover_after


def requested(lead: Lead, effect: str, pipeline: Pipeline) -> bool:
    """The lead stands exactly on an action label whose rule requires ``effect``."""
    for rule in pipeline.rules:
        status = pipeline.statuses.get(rule.column)
        if (
            status is not None
            and rule.label in status.requests
            and effect in rule.effects
            and lead.value(rule.column) == rule.label
        ):
            return True
    return False


def decide(
    lead: Lead,
    ledger: Mapping[str, LedgerEntry],
    pipeline: Pipeline,
    order: list[str],
    situation: Situation,
) -> list[Decision]:
    """Decisions for one lead, in dependency order; effects with nothing to do are left out."""
    required = required_effects(lead, pipeline)
    decisions: list[Decision] = []
    for name, entry in ledger.items():
        if name in required or name not in pipeline.effects:
            continue
        if entry.state in (EffectState.PENDING, EffectState.FAILED, EffectState.WAITING):
            decisions.append(Decision(name, Act.SKIP))
        elif entry.state is EffectState.RUNNING:
            busy = situation.in_flight_elsewhere(entry)
            decisions.append(Decision(name, Act.BUSY if busy else Act.RESOLVE))
    running: set[str] = set()
    #: Adopted in this same cycle, before their dependants: settled for them.
    adopted: set[str] = set()
    for name in order:
        if name not in required:
            continue
        entry = ledger.get(name)
        state = entry.state if entry is not None else None
        backfilled = name in situation.backfill and state is EffectState.ADOPTED
        if state in SETTLED and not backfilled:
            continue
        if entry is not None and situation.in_flight_elsewhere(entry):
            decisions.append(Decision(name, Act.BUSY))
            continue
        # Only what was never started is adopted; an effect an earlier run began (a backfill
        # cut short) is finished, not forgotten.
        if state in (None, EffectState.PENDING) and situation.adopts(lead, name, pipeline):
            decisions.append(Decision(name, Act.ADOPT))
            adopted.add(name)
            continue
        unmet = [
            need
            for need in pipeline.effects[name].needs
            if need not in running
            and need not in adopted
            and (need not in ledger or ledger[need].state not in SETTLED)
        ]
        if unmet:
            decisions.append(Decision(name, Act.WAIT, waiting_for=tuple(unmet)))
            continue
        rearm = backfilled or state is EffectState.SKIPPED
        if not rearm and entry is not None and not entry.is_due(situation.now):
            continue
        after = tuple(need for need in pipeline.effects[name].needs if need in running)
        decisions.append(Decision(name, Act.RUN, rearm=rearm, after=after))
        running.add(name)
    return decisions
