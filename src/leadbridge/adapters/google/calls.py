"""Executing one Google request: translate its failure, count it, retry it only if safe.

The client library's own ``num_retries`` is never used: it re-sends POSTs, so a copy or a send
answered by a 500 after it had in fact happened would happen twice. Creates, copies and sends
run once; the core retries them through lookup-before-create (or ``was_sent``). Reads and
idempotent writes go through the shared ``call_with_retries``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httplib2
from google.auth.exceptions import GoogleAuthError
from googleapiclient.errors import HttpError
from googleapiclient.http import HttpRequest

from leadbridge.adapters.retry import DEFAULT_IN_CALL, call_with_retries
from leadbridge.domain.errors import ExternalError, TransientError
from leadbridge.settings import InCallRetrySettings
from leadbridge.telemetry import count_request

from .errors import translate

_FAILURES = (HttpError, GoogleAuthError, OSError, httplib2.HttpLib2Error)


class GoogleCaller:
    def __init__(
        self,
        service: str,
        account: str,
        retry: InCallRetrySettings = DEFAULT_IN_CALL,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.service = service
        self.account = account
        self._retry = retry
        self._sleep = sleep

    def once(self, request: HttpRequest, action: str, *, missing: str = "the file") -> Any:
        """A non-idempotent call (create, copy, send): exactly one HTTP attempt."""
        try:
            return self._attempt(request, action, missing)
        except ExternalError:
            count_request(self.service, "error")
            raise

    def repeatable(
        self,
        request: HttpRequest,
        action: str,
        *,
        missing: str = "the file",
        absent_is_none: bool = False,
    ) -> Any:
        """A read or an idempotent write: a few quick retries for transient failures.

        ``absent_is_none``: a 404 answers the question (there is no such object, or it is not
        shared with the account) and returns None instead of raising."""

        def counted_retry(_error: TransientError, _delay: float) -> None:
            count_request(self.service, "retry")

        try:
            return call_with_retries(
                lambda: self._attempt(request, action, missing, absent_is_none=absent_is_none),
                self._retry,
                sleep=self._sleep,
                on_retry=counted_retry,
            )
        except ExternalError:
            count_request(self.service, "error")
            raise

    def _attempt(
        self, request: HttpRequest, action: str, missing: str, *, absent_is_none: bool = False
    ) -> Any:
        try:
            result = request.execute(num_retries=0)
        except _FAILURES as error:
            if absent_is_none and isinstance(error, HttpError) and error.status_code == 404:
                count_request(self.service, "ok")
                return None
            raise translate(
                error, self.service, action, account=self.account, missing=missing
            ) from None
        count_request(self.service, "ok")
        return result
