"""The durable history of a lead: the status changes leadbridge saw and each effect attempt.

The ledger keeps only the latest state of each (item, effect); these records keep what led
there, so the status page can show a lead's timeline. They are kept ``ui.history_days``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class StatusChange:
    """A status column of an item changed between two reads of the board."""

    item_id: str
    column: str
    old: str
    new: str
    seen_at: datetime


@dataclass(frozen=True)
class EffectAttempt:
    """One attempt of an effect, as it ended (or an operator's re-arm of it).

    ``outcome`` is the ending (done, failed, parked, superseded, skipped) or ``rearmed``;
    ``error`` is the problem in words (empty when done), ``summary`` what was done or who
    re-armed it.
    """

    item_id: str
    effect: str
    attempt: int
    started_at: datetime
    finished_at: datetime
    outcome: str
    error: str = ""
    summary: str = ""
