"""The effect ledger's state machine.

One entry per (item, effect). The entry is moved to RUNNING *before* the external call and to
DONE after it, so an entry found RUNNING at the start of a cycle means an earlier attempt was
interrupted and its outcome must be checked on the service's side before acting again.

    pending ──start──▶ running ──succeed──▶ done
       ▲                  │
       │                  └──fail──▶ failed (next_attempt_at) ──start──▶ running …
       │                                 │ attempts exhausted or permanent
       └────────── rearm ◀──────────── parked
                          running ──wait──▶ waiting ──start──▶ running …
    adopted: recorded on the first run, never acted on (unless backfilled); its ref holds
             what staff made by hand, when the board's links showed it (``EffectKind.adopt``)
    skipped: no longer required (the lead moved away) before it could be done
    waiting: an input only people can give is missing (a folder link on the item); tried again
             every cycle, without backoff and without counting an attempt
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any


class EffectState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    PARKED = "parked"
    ADOPTED = "adopted"
    SKIPPED = "skipped"
    WAITING = "waiting"


#: States in which a required effect needs no more work, and its dependants may proceed.
#: SKIPPED is not among them: an effect skipped because its lead moved away is armed again
#: if the lead comes back.
SETTLED = frozenset({EffectState.DONE, EffectState.ADOPTED})


#: Ref key set when an attempt starts and cleared only when it certainly did nothing.
ATTEMPTED = "attempted"
#: Ref key of a waiting effect that says nothing yet and needs no person yet (see
#: ``MissingInput.quiet``).
QUIET = "quiet"


class IllegalTransition(Exception):
    """A programming error: the core asked the ledger for a move the state machine forbids."""


#: A server's wait hint longer than this (a bogus ``Retry-After: 1e12``) is not believed.
MAX_RETRY_AFTER = timedelta(days=7)


@dataclass(frozen=True)
class RetryPolicy:
    """Durable backoff across cycles: the n-th failure waits ``backoff[n-1]`` (last one repeats)."""

    max_attempts: int = 8
    backoff_seconds: Sequence[int] = (60, 300, 900, 3600, 10800, 21600, 43200, 86400)

    def delay_after(self, attempts: int, retry_after: float | None = None) -> timedelta:
        index = min(max(attempts, 1), len(self.backoff_seconds)) - 1
        seconds = float(self.backoff_seconds[index])
        if retry_after is not None and retry_after == retry_after:  # NaN is no hint
            seconds = max(seconds, min(retry_after, MAX_RETRY_AFTER.total_seconds()))
        return timedelta(seconds=seconds)


@dataclass(frozen=True)
class LedgerEntry:
    item_id: str
    effect: str
    state: EffectState = EffectState.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str = ""
    ref: Mapping[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None
    #: The runner-lock epoch and the process ("host:pid") of the attempt that last started it:
    #: a RUNNING row of a foreign epoch may still be in flight elsewhere (see ``decide``).
    epoch: int | None = None
    owner: str = ""

    def is_due(self, now: datetime) -> bool:
        if self.state in (EffectState.PENDING, EffectState.RUNNING):
            return True
        if self.state in (EffectState.FAILED, EffectState.WAITING):
            return self.next_attempt_at is None or self.next_attempt_at <= now
        return False

    def _move(self, allowed: frozenset[EffectState], **changes: Any) -> LedgerEntry:
        if self.state not in allowed:
            target = changes.get("state", "?")
            raise IllegalTransition(f"{self.item_id}/{self.effect}: {self.state} → {target}")
        return replace(self, **changes)

    def start(self, now: datetime, *, epoch: int | None = None, owner: str = "") -> LedgerEntry:
        """Recorded before the external call. ``ref["attempted"]`` survives re-arming, so a
        later attempt knows an earlier one may have acted (see ``EffectContext``)."""
        return self._move(
            frozenset(
                {EffectState.PENDING, EffectState.FAILED, EffectState.RUNNING, EffectState.WAITING}
            ),
            state=EffectState.RUNNING,
            attempts=self.attempts + 1,
            ref={**self.ref, ATTEMPTED: True},
            updated_at=now,
            epoch=epoch,
            owner=owner,
        )

    def record_ref(self, ref: Mapping[str, Any], now: datetime) -> LedgerEntry:
        """Keep what the external call produced even before the write-back is finished."""
        return self._move(frozenset({EffectState.RUNNING}), ref={**self.ref, **ref}, updated_at=now)

    def succeed(self, ref: Mapping[str, Any], now: datetime) -> LedgerEntry:
        return self._move(
            frozenset({EffectState.RUNNING}),
            state=EffectState.DONE,
            ref={**self.ref, **ref},
            last_error="",
            next_attempt_at=None,
            updated_at=now,
        )

    def fail(
        self,
        error: str,
        now: datetime,
        policy: RetryPolicy,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        not_acted: bool = False,
    ) -> LedgerEntry:
        """Back off, or park when the error is permanent or the attempts are used up.

        ``not_acted``: the service said for certain that nothing happened, so this attempt
        leaves no doubt behind for the next one.
        """
        ref = {**self.ref, ATTEMPTED: False} if not_acted else self.ref
        if permanent or self.attempts >= policy.max_attempts:
            return self._move(
                frozenset({EffectState.RUNNING}),
                state=EffectState.PARKED,
                last_error=error,
                ref=ref,
                next_attempt_at=None,
                updated_at=now,
            )
        return self._move(
            frozenset({EffectState.RUNNING}),
            state=EffectState.FAILED,
            last_error=error,
            ref=ref,
            next_attempt_at=now + policy.delay_after(self.attempts, retry_after),
            updated_at=now,
        )

    def wait(
        self,
        reason: str,
        now: datetime,
        *,
        not_acted: bool = False,
        ref: Mapping[str, Any] | None = None,
        until: datetime | None = None,
    ) -> LedgerEntry:
        """An input only people can give is missing: try again next cycle (or not before
        ``until``), as if this attempt had not been made (it does not count towards
        ``max_attempts``). ``reason`` says what is missing; the caller tells people once,
        when it changes."""
        ref = {**self.ref, **(ref or {})}
        if not_acted:
            ref[ATTEMPTED] = False
        return self._move(
            frozenset({EffectState.RUNNING}),
            state=EffectState.WAITING,
            attempts=max(self.attempts - 1, 0),
            last_error=reason,
            ref=ref,
            next_attempt_at=until,
            updated_at=now,
        )

    def rearm(self, now: datetime) -> LedgerEntry:
        """Another try from scratch: asked by an operator, or the lead needs it again."""
        return self._move(
            frozenset({EffectState.PARKED, EffectState.FAILED, EffectState.SKIPPED}),
            state=EffectState.PENDING,
            attempts=0,
            next_attempt_at=None,
            updated_at=now,
        )

    def adopt(self, now: datetime, ref: Mapping[str, Any] | None = None) -> LedgerEntry:
        """Recorded, not acted on; ``ref``: what staff made by hand, found on the board."""
        return self._move(
            frozenset({EffectState.PENDING}),
            state=EffectState.ADOPTED,
            ref={**self.ref, **(ref or {})},
            updated_at=now,
        )

    def backfill(self, now: datetime) -> LedgerEntry:
        """The operator asked to act on what the first run adopted."""
        return self._move(
            frozenset({EffectState.ADOPTED}), state=EffectState.PENDING, updated_at=now
        )

    def skip(self, reason: str, now: datetime) -> LedgerEntry:
        """No longer required; from RUNNING only once the interrupted attempt is known to
        have done nothing (see ``EffectKind.resolve``)."""
        return self._move(
            frozenset(
                {EffectState.PENDING, EffectState.FAILED, EffectState.RUNNING, EffectState.WAITING}
            ),
            state=EffectState.SKIPPED,
            last_error=reason,
            updated_at=now,
        )
