"""Running one effect the core decided to run, with the ledger moves around the call.

The row is moved to RUNNING before the external call and to DONE after it; what the call
made is recorded before the board write-back, so a crash in between never repeats the call.
Every write after the call is a compare-and-set against the row this process started: if it
fails, another process has taken the effect over, and this one writes nothing more.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from leadbridge.domain.errors import ExternalError, PermanentError, TransientError
from leadbridge.domain.ledger import EffectState, LedgerEntry, RetryPolicy
from leadbridge.domain.model import Lead, Pipeline, rendered
from leadbridge.domain.ports import Board, StateStore
from leadbridge.effects.base import EffectContext, EffectOutcome
from leadbridge.effects.registry import kind_of
from leadbridge.service.report import EffectEnded

log = structlog.get_logger("leadbridge.service.sync")


@dataclass(frozen=True)
class Ports:
    """The board, and the adapter of every port the configured effect kinds use, by name."""

    board: Board
    adapters: Mapping[str, Any] = field(default_factory=dict)

    def for_kind(self, kind: str) -> Any:
        port = kind_of(kind).port
        return self.adapters.get(port.name) if port is not None else None


class Superseded(Exception):
    """The row changed under us after the external call: another process owns the effect."""


def done_links(ledger: Mapping[str, LedgerEntry]) -> dict[str, str]:
    links: dict[str, str] = {}
    for entry in ledger.values():
        if entry.state is EffectState.DONE:
            links.update(entry.ref.get("links", {}))
    return links


def describe(pipeline: Pipeline, effect: str, context: Mapping[str, str] | None = None) -> str:
    spec = pipeline.effects[effect]
    return kind_of(spec.kind).describe(spec.params, context)


@dataclass
class EffectRunner:
    pipeline: Pipeline
    store: StateStore
    ports: Ports
    #: Per kind name, what it derived from the settings (``EffectKind.environment``).
    env: Mapping[str, Mapping[str, Any]]
    policy: RetryPolicy
    now: Callable[[], datetime]

    def run(
        self, lead: Lead, entry: LedgerEntry, entries: Mapping[str, LedgerEntry]
    ) -> tuple[LedgerEntry, EffectEnded | None]:
        """Start, call, record. None as the ending: the row was claimed by another process."""
        spec = self.pipeline.effects[entry.effect]
        interrupted = entry.state is EffectState.RUNNING
        current = entry.start(self.now())
        if not self.store.save_entry(current, entry):
            log.warning("effect_claimed_elsewhere", item_id=lead.item_id, effect=entry.effect)
            return entry, None
        log.info(
            "effect_started",
            item_id=lead.item_id,
            effect=entry.effect,
            kind=spec.kind,
            attempt=current.attempts,
            interrupted_before=interrupted,
        )
        started = time.monotonic()
        try:
            outcome = kind_of(spec.kind).run(
                EffectContext(
                    lead=lead,
                    spec=spec,
                    params=spec.params,
                    entry=current,
                    ledger=entries,
                    links=done_links(entries),
                    today=self.now().date(),
                    pipeline=self.pipeline,
                    board=self.ports.board,
                    port=self.ports.for_kind(spec.kind),
                    env=self.env.get(spec.kind, {}),
                    interrupted=interrupted,
                )
            )
            current = self._complete(lead, current, outcome)
        except Superseded as lost:
            return current, self._ended(lead, current, "superseded", str(lost), started)
        except Exception as error:
            return self._fail(lead, current, error, started)
        return current, self._ended(lead, current, "done", outcome.summary, started)

    def _complete(self, lead: Lead, current: LedgerEntry, outcome: EffectOutcome) -> LedgerEntry:
        recorded = current.record_ref({**outcome.ref, "links": dict(outcome.links)}, self.now())
        current = self._save(recorded, current)
        if outcome.writes:
            self.ports.board.write_values(lead.item_id, outcome.writes)
            self.store.apply_own_write(
                lead.item_id, {c: rendered(v) for c, v in outcome.writes.items()}
            )
        return self._save(current.succeed({}, self.now()), current)

    def _save(self, entry: LedgerEntry, expected: LedgerEntry) -> LedgerEntry:
        if not self.store.save_entry(entry, expected):
            raise Superseded(
                "the ledger row changed during the call (another leadbridge took this effect "
                "over); this process records and writes back nothing more for it"
            )
        return entry

    def _fail(
        self, lead: Lead, current: LedgerEntry, error: Exception, started: float
    ) -> tuple[LedgerEntry, EffectEnded]:
        if isinstance(error, ExternalError):
            message = error.describe()
        else:
            message = f"unexpected {type(error).__name__}: {error}"
        failed = current.fail(
            message,
            self.now(),
            self.policy,
            permanent=isinstance(error, PermanentError),
            retry_after=error.retry_after if isinstance(error, TransientError) else None,
        )
        if not self.store.save_entry(failed, current):
            return current, self._ended(lead, current, "superseded", message, started)
        outcome = "parked" if failed.state is EffectState.PARKED else "failed"
        return failed, self._ended(lead, failed, outcome, message, started)

    def _ended(
        self, lead: Lead, entry: LedgerEntry, outcome: Any, detail: str, started: float
    ) -> EffectEnded:
        return EffectEnded(
            item_id=lead.item_id,
            lead=lead.name,
            effect=entry.effect,
            kind=self.pipeline.effects[entry.effect].kind,
            outcome=outcome,
            attempt=entry.attempts,
            duration_s=round(time.monotonic() - started, 3),
            detail=detail,
            what=describe(self.pipeline, entry.effect),
            next_attempt_at=entry.next_attempt_at,
        )
