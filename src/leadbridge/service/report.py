"""What a cycle did, and the one record an effect's end becomes.

An effect that ends (done, failed, parked, or lost to another process) is one ``EffectEnded``
event; the cycle report's counts and lines, the JSON log line, the Prometheus counter and the
note on the item are all derived from it, so they can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import structlog

from leadbridge import telemetry

log = structlog.get_logger("leadbridge.service.sync")

Ending = Literal["done", "failed", "parked", "superseded", "skipped", "waiting"]


@dataclass(frozen=True)
class Action:
    """One line of what the cycle did or would do, for the CLI, the demo and dry runs."""

    item_id: str
    lead: str
    effect: str
    outcome: str
    detail: str = ""


@dataclass(frozen=True)
class EffectEnded:
    item_id: str
    lead: str
    effect: str
    kind: str
    outcome: Ending
    attempt: int
    duration_s: float
    #: Done: what it did. Otherwise: the error, in words.
    detail: str
    #: The effect in plain words ("copy pricing_sheet and price_quote into the lead folder").
    what: str = ""
    next_attempt_at: datetime | None = None
    #: Waiting for the same missing input as last cycle: already said on the item.
    repeated: bool = False
    #: Which attempt ended (``apply.attempt_id``): a note about it is a request of its own.
    attempt_id: str = ""
    #: Done, but columns staff changed since the poll were left as they are (in words).
    kept: str = ""

    def line(self) -> str:
        if self.outcome == "failed":
            when = (
                self.next_attempt_at.isoformat(timespec="seconds") if self.next_attempt_at else "?"
            )
            return f"{self.detail} (next try {when})"
        return self.detail

    def note(self, post: str) -> str | None:
        """The line for the item's note under ``notes.post`` (all, failures, none)."""
        if self.outcome in ("done", "skipped"):
            if self.detail and post == "all":
                return self.detail
            # What it did shows as links on the item; a column it left alone does not.
            return self.detail if self.kept and post == "failures" else None
        if self.outcome == "parked" and post != "none":
            return (
                f"could not {self.what} after {self.attempt} attempt(s): {self.detail} "
                f"Once fixed, an operator runs: leadbridge retry {self.item_id} {self.effect}"
            )
        if self.outcome == "waiting" and not self.repeated and post != "none":
            return f"waiting to {self.what}: {self.detail}"
        return None

    def emit(self) -> None:
        """The log line and the metric of this ending."""
        fields = {
            "item_id": self.item_id,
            "effect": self.effect,
            "attempt": self.attempt,
            "duration_s": self.duration_s,
        }
        if self.outcome == "done":
            log.info("effect_done", summary=self.detail, **fields)
        elif self.outcome == "failed":
            when = (
                self.next_attempt_at.isoformat(timespec="seconds") if self.next_attempt_at else "?"
            )
            log.warning("effect_failed", error=self.detail, next_attempt_at=when, **fields)
        elif self.outcome == "parked":
            log.error("effect_parked", error=self.detail, **fields)
        elif self.outcome == "skipped":
            log.info("effect_left_undone", reason=self.detail, **fields)
        elif self.outcome == "waiting":
            log.info("effect_waiting", reason=self.detail, said_before=self.repeated, **fields)
        else:
            log.error("effect_superseded", error=self.detail, **fields)
        telemetry.EFFECTS.labels(kind=self.kind, outcome=self.outcome).inc()


@dataclass
class CycleReport:
    started_at: datetime
    finished_at: datetime | None = None
    read_ok: bool = False
    full_reconcile: bool = False
    items_read: int = 0
    transitions: int = 0
    done: int = 0
    failed: int = 0
    parked: int = 0
    waiting: int = 0
    adopted: int = 0
    skipped: int = 0
    requests: int = 0
    complexity: int = 0
    interrupted: bool = False
    error: str | None = None
    #: New effects held by the mass-action guard, by kind.
    held: dict[str, int] = field(default_factory=dict)
    actions: list[Action] = field(default_factory=list)

    def record(self, ended: EffectEnded) -> None:
        if ended.outcome == "done":
            self.done += 1
        elif ended.outcome == "failed":
            self.failed += 1
        elif ended.outcome == "parked":
            self.parked += 1
        elif ended.outcome == "skipped":
            self.skipped += 1
        elif ended.outcome == "waiting":
            self.waiting += 1
        self.actions.append(
            Action(ended.item_id, ended.lead, ended.effect, ended.outcome, ended.line())
        )

    def summary(self) -> dict[str, object]:
        return {
            key: getattr(self, key)
            for key in (
                "read_ok", "full_reconcile", "items_read", "transitions", "done", "failed",
                "parked", "waiting", "adopted", "skipped", "requests", "complexity",
                "interrupted", "error", "held",
            )
        }  # fmt: skip
