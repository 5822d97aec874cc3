"""Failures as the core understands them.

Adapters translate every SDK or HTTP failure into one of these, so that the core decides
retry, backoff and parking from a single place without knowing any vendor's error format.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any


class ExternalError(Exception):
    """A call to an outside service failed; ``message`` is written for an operator."""

    def __init__(
        self, service: str, message: str, *, fix: str = "", not_acted: bool = False
    ) -> None:
        self.service = service
        self.message = message
        self.fix = fix
        #: The service said for certain that nothing happened (a 4xx reply before the
        #: message was accepted, a connection refused): the next attempt need not doubt.
        self.not_acted = not_acted
        super().__init__(self.describe())

    def describe(self) -> str:
        text = f"{self.service}: {self.message}"
        return f"{text} Fix: {self.fix}" if self.fix else text


class TransientError(ExternalError):
    """Worth trying again: rate limits, 5xx, timeouts, dropped connections.

    ``retry_after`` is the server's own hint in seconds (Retry-After, retry_in_seconds,
    a daily quota's reset) and takes precedence over our backoff when it is longer.
    """

    def __init__(
        self,
        service: str,
        message: str,
        *,
        retry_after: float | None = None,
        fix: str = "",
        not_acted: bool = False,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(service, message, fix=fix, not_acted=not_acted)


class DailyLimitReached(TransientError):
    """The account's daily call allowance is used up; it comes back at the next 00:00 UTC.

    Transient (nothing is wrong with the request), but no retry can succeed before the reset,
    and every refused call still counts against the account: it is never retried inside a
    call, an effect backs off until ``retry_after``, and the poller stops calling until the
    day turns (see ``runtime/governor.py``).
    """


class PermanentError(ExternalError):
    """Retrying cannot help until a person changes something (config, sharing, a label)."""


class UncertainOutcome(PermanentError):
    """An earlier attempt may have acted and the service cannot tell us whether it did.

    Raised instead of acting again, because a duplicate e-mail is worse than a parked effect
    that an operator can inspect and re-arm.
    """


class MissingInput(TransientError):
    """Something the effect needs from people is not on the item yet (a folder link).

    Nothing was attempted, and retrying cannot help until staff add it; unlike a failure it
    neither backs off nor counts towards ``max_attempts``: the effect waits, is tried again
    every cycle (cheaply, from the board), and runs as soon as the input is there. ``message``
    and ``fix`` say on the item exactly what to add and where.


    ``quiet``: nothing is said on the item, and ``status`` does not count it as needing a
    person yet (a file that is not due before a deadline); ``ref`` is kept in the effect's
    ledger reference while it waits (when it first became due). ``look_again_at``: not
    before then (what is missing is not on the board, so no board change can bring it).
    """

    def __init__(
        self,
        service: str,
        message: str,
        *,
        fix: str = "",
        quiet: bool = False,
        ref: Mapping[str, Any] | None = None,
        look_again_at: datetime | None = None,
    ) -> None:
        self.quiet = quiet
        self.ref: Mapping[str, Any] = dict(ref or {})
        self.look_again_at = look_again_at
        super().__init__(service, message, fix=fix, not_acted=True)
