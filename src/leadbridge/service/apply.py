"""Running one effect the core decided to run, with the ledger moves around the call.

The row is moved to RUNNING before the external call and to DONE after it; what the call
made is recorded before the board write-back, so a crash in between never repeats the call.
Write-backs wait for the end of the cycle (``WriteBack``) and go to the board together
(``EffectRunner.settle``), one request for all of them; an effect is DONE only once its own
write-back is on the board. Every write after the call is a compare-and-set against the row
this process started: if it fails, another process has taken the effect over, and this one
writes nothing more.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import structlog

from leadbridge.domain.errors import ExternalError, MissingInput, PermanentError, TransientError
from leadbridge.domain.ledger import ATTEMPTED, QUIET, EffectState, LedgerEntry, RetryPolicy
from leadbridge.domain.model import ColumnValue, Lead, Pipeline, rendered
from leadbridge.domain.ports import Board, ColumnWrite, Lease, StateStore
from leadbridge.domain.render import template_context
from leadbridge.effects.base import EffectContext, EffectKind
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
_TAKEN_OVER = (
    "the ledger row changed during the call (another leadbridge took this effect over); "
    "this process records and writes back nothing more for it"
)


def done_links(ledger: Mapping[str, LedgerEntry], recorded: Collection[str] = ()) -> dict[str, str]:
    """``<link name> → url`` of what is made for this lead: done by leadbridge, or made by
    hand and found on the board when the effect was adopted.

    ``recorded``: effects whose call this cycle made and recorded while their write-back
    waits for the end of the cycle; what they made exists, so the effects after them in the
    same cycle link it.
    """
    links: dict[str, str] = {}
    for entry in ledger.values():
        if entry.state in (EffectState.DONE, EffectState.ADOPTED) or entry.effect in recorded:
            links.update(entry.ref.get("links", {}))
    return links


def attempt_id(entry: LedgerEntry) -> str:
    """Which attempt of an effect ``entry`` (as started) is: its number and when it started.

    Both are on the ledger row. The start time tells apart attempts with the same number,
    as ``leadbridge retry`` counts from 1 again; a request resent within the attempt keeps it.
    """
    started = entry.updated_at.isoformat() if entry.updated_at else ""
    return f"{entry.effect}#{entry.attempts}@{started}"


@dataclass(frozen=True)
class WriteBack:
    """An effect whose call is made and recorded (its row RUNNING with the ref), and whose
    board write-back waits for the end of the cycle, to go with the others in one request.

    Until then it counts as done for the later effects of its lead (their order and links);
    a process killed meanwhile leaves the row RUNNING with its ref, and the next cycle's
    attempt finds what the call made and writes back.
    """

    lead: Lead
    entry: LedgerEntry
    writes: Mapping[str, ColumnValue]
    summary: str
    attempt_id: str
    #: ``time.monotonic()`` when the attempt started, for its duration.
    started: float


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
        recorded: Collection[str] = (),
    ) -> tuple[LedgerEntry, EffectEnded | WriteBack | None]:
        """Start, call, record. None as the ending: the row was claimed by another process.
        A ``WriteBack``: the call is made and recorded, its write-back waits for ``settle``.

        ``resolving``: the attempt before was interrupted and the lead no longer needs the
        effect; the kind finishes (or leaves) what it began, and nothing is written back.
        ``recorded``: effects of this lead whose write-back is still to come this cycle.
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
        attempt = attempt_id(current)
        kind = kind_of(spec.kind)
        try:
            context = self._context(lead, current, entries, interrupted, attempted, recorded)
            outcome = kind.resolve(context) if resolving else kind.run(context)
            if outcome is None:
                current = self._save(current.skip(_LEFT, self.now()), current)
                return current, self._ended(lead, current, "skipped", _LEFT, started, attempt)
            ref = {**outcome.ref, "links": dict(outcome.links)}
            current = self._save(current.record_ref(ref, self.now()), current)
            if outcome.writes and not resolving:
                pending = WriteBack(
                    lead, current, dict(outcome.writes), outcome.summary, attempt, started
                )
                return current, pending
            current = self._save(current.succeed({}, self.now()), current)
        except Superseded as lost:
            return current, self._ended(lead, current, "superseded", str(lost), started, attempt)
        except MissingInput as missing:
            return self._wait(lead, entry, current, missing, started, attempt)
        except Exception as error:
            return self._fail(lead, current, error, started, attempt)
        summary = outcome.summary
        if resolving:
            summary = f"finished although the lead no longer needs it: {summary}"
        return current, self._ended(lead, current, "done", summary, started, attempt)

    def settle(
        self, pending: Sequence[WriteBack], fresh: Collection[str]
    ) -> dict[tuple[str, str], tuple[LedgerEntry, EffectEnded]]:
        """Write back what this cycle's effects are due to write, all in one request, and end
        each: DONE once its write is on the board (or staff had changed the column since the
        poll, which then stays as they set it), failed or parked like any call otherwise.

        Only columns that still show what the decision was made on are written. ``fresh``:
        items this cycle's poll read so recently that its values stand for that read; the
        others are read again first, all in one request. Like every write after a call, it
        is bound to the row, not to the runner lock: a process that lost the lock finishes
        what it started (another holder leaves a row in flight alone), but a row another
        process has taken over since is left to that process, written nothing. Returns the
        end of each, by (item, effect).
        """
        ended: dict[tuple[str, str], tuple[LedgerEntry, EffectEnded]] = {}
        if not pending:
            return ended
        live = []
        for wait in pending:
            # The row is still the one this process recorded (compare-and-set, no change).
            if self.store.save_entry(wait.entry, wait.entry):
                live.append(wait)
            else:
                ended[_key(wait)] = (wait.entry, self._ended_of(wait, "superseded", _TAKEN_OVER))
        stale: dict[str, list[str]] = {}
        for wait in live:
            if wait.lead.item_id not in fresh:
                stale.setdefault(wait.lead.item_id, []).extend(wait.writes)
        board = self.ports.board
        read = board.read_columns(stale) if stale else {}
        writing: list[tuple[WriteBack, str]] = []
        writes: list[ColumnWrite] = []
        for wait in live:
            item_id = wait.lead.item_id
            shown = read.get(item_id) if item_id in stale else wait.lead.values
            if isinstance(shown, ExternalError):
                ended[_key(wait)] = self._fail(
                    wait.lead, wait.entry, shown, wait.started, wait.attempt_id
                )
                continue
            allowed, kept = _unchanged(wait.lead, wait.writes, shown or {})
            if allowed:
                writing.append((wait, kept))
                writes.append(ColumnWrite(item_id, allowed, wait.attempt_id))
            else:
                ended[_key(wait)] = self._done(wait, kept)
        failures = board.write_columns(writes) if writes else []
        for (wait, kept), write, failure in zip(writing, writes, failures, strict=True):
            if failure is not None:
                ended[_key(wait)] = self._fail(
                    wait.lead, wait.entry, failure, wait.started, wait.attempt_id
                )
                continue
            shown = {column: rendered(value) for column, value in write.values.items()}
            self.store.apply_own_write(write.item_id, shown)
            ended[_key(wait)] = self._done(wait, kept)
        return ended

    def _done(self, wait: WriteBack, kept: str) -> tuple[LedgerEntry, EffectEnded]:
        """DONE, compare-and-set on the recorded row; ``kept``: what staff's edits kept."""
        done = wait.entry.succeed({KEPT: kept} if kept else {}, self.now())
        if not self.store.save_entry(done, wait.entry):
            return wait.entry, self._ended_of(wait, "superseded", _TAKEN_OVER)
        summary = f"{wait.summary}; {kept}" if kept else wait.summary
        return done, replace(self._ended_of(wait, "done", summary, done), kept=kept)

    def _ended_of(
        self, wait: WriteBack, outcome: Any, detail: str, entry: LedgerEntry | None = None
    ) -> EffectEnded:
        """The end of a write-back's effect, timed from its attempt's start."""
        return self._ended(
            wait.lead, entry or wait.entry, outcome, detail, wait.started, wait.attempt_id
        )

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
        recorded: Collection[str] = (),
    ) -> EffectContext[Any]:
        spec = self.pipeline.effects[entry.effect]
        return EffectContext(
            lead=lead,
            spec=spec,
            params=spec.params,
            entry=entry,
            ledger=entries,
            links=done_links(entries, recorded),
            today=self.now().date(),
            pipeline=self.pipeline,
            board=self.ports.board,
            port_factory=lambda: self.ports.for_kind(spec.kind),
            env=self.env.get(spec.kind, {}),
            interrupted=interrupted,
            previously_attempted=attempted,
            now=self.now(),
        )

    def _save(self, entry: LedgerEntry, expected: LedgerEntry) -> LedgerEntry:
        if not self.store.save_entry(entry, expected):
            raise Superseded(_TAKEN_OVER)
        return entry

    def _fail(
        self, lead: Lead, current: LedgerEntry, error: Exception, started: float, attempt: str
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
            return current, self._ended(lead, current, "superseded", message, started, attempt)
        outcome = "parked" if failed.state is EffectState.PARKED else "failed"
        return failed, self._ended(lead, failed, outcome, message, started, attempt)

    def _wait(
        self,
        lead: Lead,
        before: LedgerEntry,
        current: LedgerEntry,
        missing: MissingInput,
        started: float,
        attempt: str,
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
            return current, self._ended(lead, current, "superseded", message, started, attempt)
        said = missing.quiet or (
            before.state is EffectState.WAITING and before.last_error == message
        )
        ended = self._ended(lead, waiting, "waiting", message, started, attempt)
        return waiting, replace(ended, repeated=said)

    def _ended(
        self,
        lead: Lead,
        entry: LedgerEntry,
        outcome: Any,
        detail: str,
        started: float,
        attempt: str,
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
            attempt_id=attempt,
        )


def _key(wait: WriteBack) -> tuple[str, str]:
    return wait.entry.item_id, wait.entry.effect


def _unchanged(
    lead: Lead, writes: Mapping[str, ColumnValue], now_showing: Mapping[str, str]
) -> tuple[dict[str, ColumnValue], str]:
    """The writes whose column still shows what the decision was made on (or already what
    is to be written), and, in words for the item's note, what staff changed since the poll:
    their change wins."""
    allowed: dict[str, ColumnValue] = {}
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
    return allowed, "; ".join(kept)
