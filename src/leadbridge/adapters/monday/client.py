"""The one door to monday.com: gql over httpx, pinned version, retries and error translation.

Every request passes through ``MondayClient.execute``, which is why counting (requests,
complexity, calls today) and the translation of failures can live here and nowhere else.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import httpx
import structlog
from gql import Client
from gql.client import SyncClientSession
from gql.transport.exceptions import (
    TransportConnectionFailed,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.httpx import HTTPXTransport

from leadbridge.adapters.monday.documents import Document
from leadbridge.adapters.monday.failures import (
    SERVICE,
    CursorExpired,
    from_graphql_errors,
    from_http_status,
    legacy_errors,
)
from leadbridge.adapters.retry import DEFAULT_IN_CALL, call_with_retries
from leadbridge.domain.errors import (
    DailyLimitReached,
    ExternalError,
    PermanentError,
    TransientError,
)
from leadbridge.settings import InCallRetrySettings, Settings
from leadbridge.telemetry import MONDAY_COMPLEXITY, count_request

log = structlog.get_logger(__name__)


def idempotency_key(
    document: Document, variables: Mapping[str, object], attempts: Sequence[str]
) -> str:
    """Same mutation, same values, same attempt(s) → same key; a new attempt → a new key.

    A request resent within an attempt (a dropped connection) is then replayed by monday
    instead of repeated, while an operator's retry, a new attempt, inside monday's 30-minute
    replay window is carried out rather than answered from the cache with the old outcome.
    For a batch the key covers every part: all items and values (``variables``) and the
    attempt of each part.
    """
    canonical = json.dumps(
        [document.name, variables, list(attempts)], sort_keys=True, ensure_ascii=True
    )
    return "leadbridge-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


class MondayClient:
    """Sends named documents; returns ``data`` or raises Transient/PermanentError.

    ``CursorExpired`` is the one other exception that leaves: only the board scan can act on
    it (by starting again), and it never reaches the core.
    """

    def __init__(
        self,
        *,
        url: str,
        token: str,
        api_version: str,
        connect_timeout: float,
        read_timeout: float,
        retry: InCallRetrySettings = DEFAULT_IN_CALL,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self._api_version = api_version
        self._retry = retry
        self._sleep = sleep
        self._today = today
        self._last: httpx.Response | None = None
        self._warned_version = False
        options: dict[str, Any] = {
            "headers": {"Authorization": token, "API-Version": api_version},
            "timeout": httpx.Timeout(read_timeout, connect=connect_timeout),
            "event_hooks": {"response": [self._remember]},
        }
        if transport is not None:
            options["transport"] = transport
        self._client = Client(transport=HTTPXTransport(url=url, **options))
        self._session: SyncClientSession | None = None
        self.requests = 0
        self.complexity = 0
        #: Calls monday refused because the account's daily limit was used up.
        self.daily_limit_refusals = 0
        self._day = today()
        self.calls_today = 0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        api_url: str | None = None,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> MondayClient:
        """The client every monday adapter talks through; no token is a permanent error."""
        monday = settings.monday
        if monday.token is None:
            raise PermanentError(
                SERVICE,
                "no API token is configured",
                fix="set LEADBRIDGE_MONDAY__TOKEN or the secret file monday__token",
            )
        return cls(
            url=api_url or monday.api_url,
            token=monday.token.get_secret_value(),
            api_version=monday.api_version,
            connect_timeout=monday.connect_timeout_seconds,
            read_timeout=monday.read_timeout_seconds,
            retry=settings.retry.in_call,
            sleep=sleep,
            transport=transport,
            today=today,
        )

    def _remember(self, response: httpx.Response) -> None:
        self._last = response

    def close(self) -> None:
        if self._session is not None:
            self._client.close_sync()
            self._session = None

    def execute(self, document: Document, variables: Mapping[str, object]) -> dict[str, Any]:
        """One logical call: a few quick retries for blips, then the translated failure."""
        data, _ = self._execute(document, variables, None)
        return data

    def execute_aliased(
        self, document: Document, variables: Mapping[str, object], *, attempts: Sequence[str]
    ) -> tuple[dict[str, Any], dict[str, ExternalError]]:
        """A mutation of aliased fields, with an ``Idempotency-Key`` from ``attempts``.

        Returns the data and, per alias that monday refused, its failure (monday answers
        HTTP 200 with ``data`` for the others and an error whose ``path`` names the alias).
        A failure of the whole request is retried and raised as ``execute`` does.
        """
        return self._execute(document, variables, attempts)

    def _execute(
        self,
        document: Document,
        variables: Mapping[str, object],
        attempts: Sequence[str] | None,
    ) -> tuple[dict[str, Any], dict[str, ExternalError]]:
        by_alias = attempts is not None
        headers = (
            {"Idempotency-Key": idempotency_key(document, variables, attempts)}
            if attempts is not None
            else {}
        )

        def on_retry(error: TransientError, wait: float) -> None:
            count_request(SERVICE, "retry")
            log.warning(
                "monday_retry", operation=document.name, error=error.message, wait_seconds=wait
            )

        try:
            answer = call_with_retries(
                lambda: self._send(document, dict(variables), headers, by_alias=by_alias),
                self._retry,
                sleep=self._sleep,
                on_retry=on_retry,
            )
        except (ExternalError, CursorExpired) as error:
            count_request(SERVICE, "error")
            if isinstance(error, DailyLimitReached):
                self.daily_limit_refusals += 1
            raise
        count_request(SERVICE, "ok")
        return answer

    def _count_call(self) -> None:
        today = self._today()
        if today != self._day:
            self._day, self.calls_today = today, 0
        self.requests += 1
        self.calls_today += 1

    def _send(
        self,
        document: Document,
        variables: dict[str, object],
        headers: dict[str, str],
        *,
        by_alias: bool = False,
    ) -> tuple[dict[str, Any], dict[str, ExternalError]]:
        if self._session is None:
            self._session = self._client.connect_sync()
        self._last = None
        self._count_call()
        try:
            result = self._session.execute(
                document.request(variables),
                get_execution_result=True,
                extra_args={"headers": headers},
            )
        except TransportQueryError as error:
            failed = self._alias_failures(error) if by_alias else None
            if failed is None:
                raise self._failure(list(error.errors or []), error.data) from None
            partial: dict[str, Any] = error.data or {}
            self._check_version()
            self._add_complexity(partial)
            return partial, failed
        except TransportConnectionFailed as error:
            raise self._connection_failure(error.__cause__) from None
        except TransportServerError as error:
            raise from_http_status(error.code or 0, self._headers()) from None
        except TransportProtocolError:
            raise self._unreadable() from None
        self._check_version()
        data = result.data or {}
        self._add_complexity(data)
        return data, {}

    def _alias_failures(self, error: TransportQueryError) -> dict[str, ExternalError] | None:
        """Per alias, its failure, when every error of the answer sits on an alias that has
        its place in ``data``; None when the request as a whole failed."""
        data = error.data
        errors = list(error.errors or [])
        if not data or not errors:
            return None
        by_alias: dict[str, list[dict[str, Any]]] = {}
        for entry in errors:
            path = entry.get("path") if isinstance(entry, dict) else None
            if not path or path[0] not in data:
                return None
            by_alias.setdefault(str(path[0]), []).append(entry)
        failed: dict[str, ExternalError] = {}
        for alias, found in by_alias.items():
            failure = from_graphql_errors(
                found, http_status=self._status(), headers=self._headers()
            )
            if not isinstance(failure, ExternalError):
                return None
            failed[alias] = failure
        log.warning(
            "monday_parts_failed",
            parts=sorted(failed),
            codes=sorted({str((e.get("extensions") or {}).get("code", "")) for e in errors}),
            request_id=self._request_id(),
        )
        return failed

    def _headers(self) -> Mapping[str, str]:
        return self._last.headers if self._last is not None else {}

    def _status(self) -> int:
        return self._last.status_code if self._last is not None else 0

    def _failure(
        self, errors: list[dict[str, Any]], data: dict[str, Any] | None
    ) -> ExternalError | CursorExpired:
        if data:
            self._add_complexity(data)
        failure = from_graphql_errors(errors, http_status=self._status(), headers=self._headers())
        log.warning(
            "monday_error",
            http_status=self._status(),
            codes=[str((e.get("extensions") or {}).get("code", "")) for e in errors],
            request_id=self._request_id(),
            failure=str(failure),
        )
        return failure

    def _connection_failure(self, cause: BaseException | None) -> TransientError:
        if isinstance(cause, httpx.TimeoutException):
            kind = "connect" if isinstance(cause, httpx.ConnectTimeout) else "read"
            return TransientError(
                SERVICE,
                f"monday did not answer in time ({kind} timeout)",
                fix="if this persists, check the network or raise monday.read_timeout_seconds",
            )
        return TransientError(
            SERVICE,
            f"the connection to monday failed ({type(cause).__name__ if cause else 'unknown'})",
            fix="if this persists, check the network and monday.api_url",
        )

    def _unreadable(self) -> ExternalError | CursorExpired:
        """A body that is not GraphQL: a legacy error object, or an outage page."""
        status = self._status()
        body: Any = None
        if self._last is not None:
            try:
                body = json.loads(self._last.content)
            except ValueError:
                body = None
        if isinstance(body, dict) and legacy_errors(body):
            return self._failure(legacy_errors(body), None)
        if status >= 400:
            return from_http_status(status, self._headers())
        return TransientError(
            SERVICE,
            f"monday answered HTTP {status} with a body that is not GraphQL JSON",
            fix="usually a proxy or a monday outage; check https://status.monday.com",
        )

    def _request_id(self) -> str | None:
        if self._last is None:
            return None
        try:
            body = json.loads(self._last.content)
        except ValueError:
            return None
        extensions = body.get("extensions") if isinstance(body, dict) else None
        return extensions.get("request_id") if isinstance(extensions, dict) else None

    def _add_complexity(self, data: Mapping[str, Any]) -> None:
        cost = (data.get("complexity") or {}).get("query")
        if isinstance(cost, int):
            self.complexity += cost
            MONDAY_COMPLEXITY.inc(cost)

    def _check_version(self) -> None:
        served = self._headers().get("api-version")
        if served and served != self._api_version and not self._warned_version:
            self._warned_version = True
            log.warning(
                "monday_version_differs",
                pinned=self._api_version,
                served=served,
                fix="monday serves deprecated versions silently; set monday.api_version "
                "to a current version",
            )

    @property
    def api_version(self) -> str:
        return self._api_version
