"""What happens to each effect of a lead this cycle, decided from state alone.

``decide`` is pure: the lead as last read, its ledger entries, the pipeline, the time and
whether this is an adopting first meeting or a backfill. The service applies the decisions; a
dry run prints them. Keeping every "should this run?" question here is what lets the same
answer be tested without any adapter, and shown to an operator before anything happens.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

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
    #: The board is met for the first time and the operator did not ask for a backfill.
    adopting: bool = False
    #: The operator asked to act on effects adopted earlier.
    backfill: bool = False


def decide(
    lead: Lead,
    ledger: Mapping[str, LedgerEntry],
    pipeline: Pipeline,
    order: list[str],
    situation: Situation,
) -> list[Decision]:
    """Decisions for one lead, in dependency order; effects with nothing to do are left out."""
    required = required_effects(lead, pipeline)
    decisions: list[Decision] = [
        Decision(name, Act.SKIP)
        for name, entry in ledger.items()
        if name not in required and entry.state in (EffectState.PENDING, EffectState.FAILED)
    ]
    running: set[str] = set()
    for name in order:
        if name not in required:
            continue
        entry = ledger.get(name)
        state = entry.state if entry is not None else None
        backfilled = situation.backfill and state is EffectState.ADOPTED
        if state in SETTLED and not backfilled:
            continue
        # Only what was never started is adopted; an effect an earlier run began (a backfill
        # cut short) is finished, not forgotten.
        if situation.adopting and state in (None, EffectState.PENDING):
            decisions.append(Decision(name, Act.ADOPT))
            continue
        unmet = [
            need
            for need in pipeline.effects[name].needs
            if need not in running and (need not in ledger or ledger[need].state not in SETTLED)
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
