"""Running one effect the core decided to run, with the ledger moves around the call.

The row is moved to RUNNING before the external call and to DONE after it; what the call
made is recorded before the board write-back, so a crash in between never repeats the call.
Every write after the call is a compare-and-set against the row this process started: if it
fails, another process has taken the effect over, and this one writes nothing more.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import structlog

from leadbridge.domain.errors import ExternalError, MissingInput, PermanentError, TransientError
from leadbridge.domain.ledger import ATTEMPTED, QUIET, EffectState, LedgerEntry, RetryPolicy
from leadbridge.domain.model import ColumnValue, Lead, Pipeline, rendered
from leadbridge.domain.ports import Board, Lease, StateStore
from leadbridge.domain.render import template_context
from leadbridge.effects.base import EffectContext, EffectKind, EffectOutcome
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


def this_process() -> str:
    """``host:pid``, recorded on the rows this process starts."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str) -> bool:
    """False only when ``owner`` is a process of this host that is gone; elsewhere: unknown."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Superseded(Exception):
    """The row changed under us after the external call: another process owns the effect."""


#: Ref key: write-backs left undone because staff changed the column meanwhile.
KEPT = "kept"
_LEFT = "an interrupted attempt had not acted, and the lead no longer needs it: left undone"


def done_links(ledger: Mapping[str, LedgerEntry]) -> dict[str, str]:
    """``<link name> → url`` of what is made for this lead: done by leadbridge, or made by
    hand and found on the board when the effect was adopted."""
    links: dict[str, str] = {}
    for entry in ledger.values():
        if entry.state in (EffectState.DONE, EffectState.ADOPTED):
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
    #: The runner lock this cycle acts under (None: no lock, as in unit tests).
    lease: Lease | None = None

    def still_leading(self) -> bool:
        """Checked before every effect: a process that lost the lock starts no new call."""
        if self.lease is None or self.lease.held():
            return True
        log.error("runner_lock_lost", detail="no new effect starts in this process")
        return False

    def run(
        self,
        lead: Lead,
        entry: LedgerEntry,
        entries: Mapping[str, LedgerEntry],
        *,
        resolving: bool = False,
    ) -> tuple[LedgerEntry, EffectEnded | None]:
        """Start, call, record. None as the ending: the row was claimed by another process.

        ``resolving``: the attempt before was interrupted and the lead no longer needs the
        effect; the kind finishes (or leaves) what it began, and nothing is written back.
        """
        spec = self.pipeline.effects[entry.effect]
        interrupted = entry.state is EffectState.RUNNING
        attempted = bool(entry.ref.get(ATTEMPTED)) or interrupted
        lease = self.lease
        current = entry.start(
            self.now(),
            epoch=lease.epoch if lease else None,
            owner=lease.owner if lease else this_process(),
        )
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
        kind = kind_of(spec.kind)
        try:
            context = self._context(lead, current, entries, interrupted, attempted)
            outcome = kind.resolve(context) if resolving else kind.run(context)
            if outcome is None:
                current = self._save(current.skip(_LEFT, self.now()), current)
                return current, self._ended(lead, current, "skipped", _LEFT, started)
            current = self._complete(lead, current, outcome, write_back=not resolving)
        except Superseded as lost:
            return current, self._ended(lead, current, "superseded", str(lost), started)
        except MissingInput as missing:
            return self._wait(lead, entry, current, missing, started)
        except Exception as error:
            return self._fail(lead, current, error, started)
        summary = outcome.summary
        if resolving:
            summary = f"finished although the lead no longer needs it: {summary}"
        elif current.ref.get(KEPT):
            summary = f"{summary}; {current.ref[KEPT]}"
        return current, self._ended(lead, current, "done", summary, started)

    def adopted(
        self, lead: Lead, effect: str, entries: Mapping[str, LedgerEntry]
    ) -> Mapping[str, Any] | None:
        """What staff made by hand for an effect being adopted (see ``EffectKind.adopt``);
        None when nothing is found or it cannot be checked now (logged, never fatal)."""
        spec = self.pipeline.effects[effect]
        kind = kind_of(spec.kind)
        if type(kind).adopt is EffectKind.adopt:
            return None
        try:
            context = self._context(lead, LedgerEntry(lead.item_id, effect), entries, False, False)
            return kind.adopt(context)
        except Exception as error:  # a check that failed adopts without it, never stops
            detail = error.describe() if isinstance(error, ExternalError) else repr(error)
            log.warning("adoption_check_failed", item_id=lead.item_id, effect=effect, error=detail)
            return None

    def existing(self, lead: Lead, effect: str) -> str | None:
        """What the far side already holds for this lead and effect (see ``EffectKind``)."""
        spec = self.pipeline.effects[effect]
        context = self._context(lead, LedgerEntry(lead.item_id, effect), {}, False, False)
        return kind_of(spec.kind).existing(context)

    def _context(
        self,
        lead: Lead,
        entry: LedgerEntry,
        entries: Mapping[str, LedgerEntry],
        interrupted: bool,
        attempted: bool,
    ) -> EffectContext[Any]:
        spec = self.pipeline.effects[entry.effect]
        return EffectContext(
            lead=lead,
            spec=spec,
            params=spec.params,
            entry=entry,
            ledger=entries,
            links=done_links(entries),
            today=self.now().date(),
            pipeline=self.pipeline,
            board=self.ports.board,
            port_factory=lambda: self.ports.for_kind(spec.kind),
            env=self.env.get(spec.kind, {}),
            interrupted=interrupted,
            previously_attempted=attempted,
            now=self.now(),
        )

    def _complete(
        self, lead: Lead, current: LedgerEntry, outcome: EffectOutcome, *, write_back: bool
    ) -> LedgerEntry:
        recorded = current.record_ref({**outcome.ref, "links": dict(outcome.links)}, self.now())
        current = self._save(recorded, current)
        kept = self._write_back(lead, outcome.writes) if write_back and outcome.writes else ""
        done = current.succeed({KEPT: kept} if kept else {}, self.now())
        return self._save(done, current)

    def _write_back(self, lead: Lead, writes: Mapping[str, ColumnValue]) -> str:
        """Write only the columns that still show what the decision was made on.

        Staff may have changed the item since the poll; their change wins. Returns what was
        left alone, in words, for the note.
        """
        board = self.ports.board
        now_showing = board.read_values(lead.item_id, list(writes))
        allowed = {}
        kept = []
        for column, value in writes.items():
            shown = now_showing.get(column, "")
            if shown in (lead.value(column), rendered(value)):
                allowed[column] = value
            else:
                # In words for the item's note: the column as people say it, the text as shown.
                words = column.replace("_", " ")
                kept.append(f"{words} left as “{shown}”: staff changed it since the poll")
                log.warning(
                    "write_back_skipped",
                    item_id=lead.item_id,
                    column=column,
                    expected=lead.value(column),
                    found=shown,
                )
        if allowed:
            board.write_values(lead.item_id, allowed)
            self.store.apply_own_write(lead.item_id, {c: rendered(v) for c, v in allowed.items()})
        return "; ".join(kept)

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
            not_acted=isinstance(error, ExternalError) and error.not_acted,
        )
        if not self.store.save_entry(failed, current):
            return current, self._ended(lead, current, "superseded", message, started)
        outcome = "parked" if failed.state is EffectState.PARKED else "failed"
        return failed, self._ended(lead, failed, outcome, message, started)

    def _wait(
        self,
        lead: Lead,
        before: LedgerEntry,
        current: LedgerEntry,
        missing: MissingInput,
        started: float,
    ) -> tuple[LedgerEntry, EffectEnded]:
        """Waiting for people: no backoff, no attempt counted, said on the item once."""
        message = missing.describe()
        waiting = current.wait(
            message,
            self.now(),
            not_acted=missing.not_acted,
            ref={**missing.ref, QUIET: missing.quiet},
            until=missing.look_again_at,
        )
        if not self.store.save_entry(waiting, current):
            return current, self._ended(lead, current, "superseded", message, started)
        said = missing.quiet or (
            before.state is EffectState.WAITING and before.last_error == message
        )
        ended = self._ended(lead, waiting, "waiting", message, started)
        return waiting, replace(ended, repeated=said)

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
            what=describe(
                self.pipeline, entry.effect, template_context(lead, {}, self.now().date())
            ),
            next_attempt_at=entry.next_attempt_at,
        )
