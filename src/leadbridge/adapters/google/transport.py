"""The HTTP transport under google-api-python-client: httpx behind httplib2's interface.

httplib2 sends a request a second time, POST included, when the connection drops before the
answer: its "stale connection" path retries a ``BadStatusLine`` on the first try whatever
``RETRIES`` says. A folder create or an e-mail send that Google had committed would then be
made twice, and ``execute(num_retries=0)`` does not reach that loop. httpx sends each request
exactly once; reads are retried by ``call_with_retries`` and creates by the ledger, which
looks the object up first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httplib2
import httpx

#: httpx already decompressed the body; these headers would describe the wire, not the bytes.
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class HttpxHttp:
    """Just enough of ``httplib2.Http`` for googleapiclient and google-auth-httplib2."""

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout = timeout_seconds
        self.follow_redirects = False
        self.redirect_codes: frozenset[int] = frozenset()
        self.connections: dict[str, Any] = {}
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 10.0)),
            follow_redirects=False,
        )

    def request(
        self,
        uri: str,
        method: str = "GET",
        body: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        redirections: int = 0,
        connection_type: Any = None,
    ) -> tuple[httplib2.Response, bytes]:
        where = f"{method} {urlsplit(uri).netloc}{urlsplit(uri).path}"
        try:
            answer = self._client.request(method, uri, content=body, headers=dict(headers or {}))
        except httpx.TimeoutException:
            raise TimeoutError(f"{where}: no answer within {self.timeout:g} s") from None
        except httpx.TransportError as error:
            raise ConnectionError(f"{where}: {type(error).__name__}") from None
        info = {k.lower(): v for k, v in answer.headers.items() if k.lower() not in _WIRE_HEADERS}
        info["status"] = str(answer.status_code)
        return httplib2.Response(info), answer.content

    def close(self) -> None:
        self._client.close()
