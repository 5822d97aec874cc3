"""The history records a cycle keeps for the status page, derived from its own events."""

from __future__ import annotations

from datetime import datetime, timedelta

from leadbridge.domain.timeline import EffectAttempt
from leadbridge.service.report import EffectEnded


def attempt_of(ended: EffectEnded, finished_at: datetime) -> EffectAttempt:
    """The attempt an effect's end closes: done keeps what it did, the rest the error."""
    done = ended.outcome == "done"
    return EffectAttempt(
        item_id=ended.item_id,
        effect=ended.effect,
        attempt=ended.attempt,
        started_at=finished_at - timedelta(seconds=max(ended.duration_s, 0.0)),
        finished_at=finished_at,
        outcome=ended.outcome,
        error="" if done else ended.detail,
        summary=ended.detail if done else ended.what,
    )
