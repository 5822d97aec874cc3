"""The one in-call retry used by every adapter.

Short and bounded on purpose: a few jittered attempts inside one call for blips (a 502, a
dropped connection, a short 429). Anything longer is the ledger's job — the effect fails, backs
off across cycles and eventually parks — so a slow service never stalls a cycle.

Its pace is the configuration's ``retry.in_call`` section, shared by every API; an adapter's
``from_settings`` passes it on, and an adapter built without it gets the section's defaults.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_random_exponential

from leadbridge.domain.errors import DailyLimitReached, TransientError
from leadbridge.settings import InCallRetrySettings

T = TypeVar("T")

#: The production pace (3 attempts, 1 s base, 20 s cap, Retry-After up to 60 s).
DEFAULT_IN_CALL = InCallRetrySettings()


def call_with_retries(
    operation: Callable[[], T],
    settings: InCallRetrySettings = DEFAULT_IN_CALL,
    *,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[TransientError, float], None] | None = None,
) -> T:
    """Run ``operation``; retry only ``TransientError``, honouring its ``retry_after``.

    Only wrap operations that are safe to repeat (reads, idempotent writes, creates guarded
    by an idempotency key). A non-idempotent create must be retried through the ledger, which
    looks the object up before creating it again.
    """
    jitter = wait_random_exponential(multiplier=settings.base_seconds, max=settings.cap_seconds)

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, TransientError) and error.retry_after is not None:
            return error.retry_after
        return jitter(state)

    def stop(state: RetryCallState) -> bool:
        if state.attempt_number >= settings.attempts:
            return True
        error = state.outcome.exception() if state.outcome else None
        # A used-up daily allowance answers every retry the same way, and each one counts.
        return isinstance(error, DailyLimitReached) or (
            isinstance(error, TransientError)
            and error.retry_after is not None
            and error.retry_after > settings.max_retry_after_seconds
        )

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None and state.next_action is not None:
            error = state.outcome.exception()
            if isinstance(error, TransientError):
                on_retry(error, state.next_action.sleep)

    retrying = Retrying(
        retry=retry_if_exception_type(TransientError),
        stop=stop,
        wait=wait,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(operation)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from datetime import UTC, datetime

    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
