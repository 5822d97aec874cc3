"""The Board port on monday.com.

Reads are level-triggered snapshots of the items. A full scan pages through everything; an
incremental read asks for items newest-updated first and stops at the watermark, so a quiet
poll costs exactly one request whatever the board size — which matters on plans that allow
about 1,000 calls a day.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog

from leadbridge.adapters.monday.check import check_board
from leadbridge.adapters.monday.client import MondayClient
from leadbridge.adapters.monday.documents import (
    CHANGE_COLUMN_VALUES,
    CREATE_UPDATE,
    FIRST_ITEMS_PAGE,
    ITEM_VALUES,
    NEXT_ITEMS_PAGE,
)
from leadbridge.adapters.monday.failures import BOARD_FIX, SERVICE, CursorExpired
from leadbridge.adapters.monday.values import (
    column_json,
    lead_from_item,
    note_html,
    texts_by_name,
)
from leadbridge.domain.errors import PermanentError, TransientError
from leadbridge.domain.model import ColumnValue, Lead
from leadbridge.domain.ports import ApiUsage, BoardRead, CheckFinding
from leadbridge.settings import ColumnSettings, RuleSettings, Settings

log = structlog.get_logger(__name__)

#: Newest-updated first: an incremental read can stop at the first item older than the mark.
NEWEST_FIRST = {"order_by": [{"column_id": "__last_updated__", "direction": "desc"}]}
#: A scan that outlives its cursor three times in a row is not going to finish this cycle.
MAX_SCAN_RESTARTS = 2
ITEM_GONE_FIX = (
    "if the item was removed by mistake, restore it on monday (from the board's archive or "
    "the recycle bin); otherwise nothing is needed"
)


class MondayBoard:
    """Items of one board, read and written by logical column name."""

    def __init__(
        self,
        client: MondayClient,
        *,
        board_id: str,
        columns: Mapping[str, ColumnSettings],
        rules: tuple[RuleSettings, ...] = (),
        page_limit: int = 500,
        watermark_skew: timedelta = timedelta(minutes=2),
        daily_call_limit: int = 1000,
    ) -> None:
        self._client = client
        self._board_id = board_id
        self._columns = dict(columns)
        self._rules = rules
        self._page_limit = page_limit
        self._skew = watermark_skew
        self._daily_call_limit = daily_call_limit

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        api_url: str | None = None,
    ) -> MondayBoard:
        monday = settings.monday
        if monday.token is None:
            raise PermanentError(
                SERVICE,
                "no API token is configured",
                fix="set LEADBRIDGE_MONDAY__TOKEN or the secret file monday__token",
            )
        client = MondayClient(
            url=api_url or monday.api_url,
            token=monday.token.get_secret_value(),
            api_version=monday.api_version,
            connect_timeout=monday.connect_timeout_seconds,
            read_timeout=monday.read_timeout_seconds,
            retry=settings.retry.in_call,
            sleep=sleep,
            transport=transport,
        )
        return cls(
            client,
            board_id=monday.board_id,
            columns=settings.columns,
            rules=settings.rules,
            page_limit=monday.page_limit,
            watermark_skew=timedelta(seconds=monday.watermark_skew_seconds),
            daily_call_limit=monday.daily_call_limit,
        )

    # ------------------------------------------------------------------ reading

    def read_items(self, since: str | None) -> BoardRead:
        cutoff = _cutoff(since, self._skew)
        requests, complexity = self._client.requests, self._client.complexity
        for restart in range(MAX_SCAN_RESTARTS + 1):
            try:
                leads, newest, pages = self._scan(cutoff)
                break
            except CursorExpired:
                log.warning("monday_cursor_expired", restart=restart + 1)
        else:
            raise TransientError(
                SERVICE,
                f"the board scan outlived monday's 60-minute cursor {MAX_SCAN_RESTARTS + 1} "
                "times in a row",
                fix="check the network speed to monday; the next cycle starts the scan again",
            )
        watermark = _later(newest, since)
        log.info(
            "monday_poll",
            kind="full" if since is None else "incremental",
            items=len(leads),
            pages=pages,
            requests=self._client.requests - requests,
            complexity=self._client.complexity - complexity,
            calls_today=self._client.calls_today,
            daily_call_limit=self._daily_call_limit,
        )
        return BoardRead(items=leads, watermark=watermark, complete=since is None)

    def _scan(self, cutoff: datetime | None) -> tuple[list[Lead], str | None, int]:
        """One pass over the pages; stops early at the cutoff when there is one."""
        column_ids = sorted({c.id for c in self._columns.values()})
        data = self._client.execute(
            FIRST_ITEMS_PAGE,
            {
                "board": [self._board_id],
                "limit": self._page_limit,
                "columns": column_ids,
                "query": NEWEST_FIRST,
            },
        )
        boards = data.get("boards") or []
        if not boards:
            raise PermanentError(
                SERVICE, f"board {self._board_id} was not found or is not shared", fix=BOARD_FIX
            )
        page: dict[str, Any] = boards[0]["items_page"]
        leads: list[Lead] = []
        newest: str | None = None
        pages = 1
        while True:
            reached_cutoff = False
            for item in page.get("items") or []:
                updated = item.get("updated_at")
                newest = _later(newest, updated)
                when = _parse_time(updated)
                if cutoff is not None and when is not None and when < cutoff:
                    reached_cutoff = True
                    continue
                leads.append(lead_from_item(item, self._columns))
            cursor = page.get("cursor")
            if not cursor or reached_cutoff:
                return leads, newest, pages
            data = self._client.execute(
                NEXT_ITEMS_PAGE,
                {"cursor": cursor, "limit": self._page_limit, "columns": column_ids},
            )
            page = data["next_items_page"]
            pages += 1

    def read_values(self, item_id: str, columns: Sequence[str]) -> Mapping[str, str]:
        """One request for one item's columns, as text exactly as ``read_items`` renders it.

        An empty column reads as "". An item monday no longer shows (deleted, archived, or
        never there) is a PermanentError: there is nothing to write back to.
        """
        wanted = {name: self._column(name) for name in columns}
        if not wanted:
            return {}
        data = self._client.execute(
            ITEM_VALUES,
            {"item": item_id, "columns": sorted({c.id for c in wanted.values()})},
        )
        found = [i for i in data.get("items") or [] if i and str(i.get("id")) == str(item_id)]
        if not found:
            raise PermanentError(
                SERVICE,
                f"item {item_id} is no longer on monday (deleted for good, or not visible to "
                "the token's user): its columns can no longer be read or written",
                fix=ITEM_GONE_FIX,
            )
        item = found[0]
        state = item.get("state")
        if state is not None and state != "active":
            raise PermanentError(
                SERVICE,
                f"item {item_id} is {state} on monday: leadbridge no longer reads or writes "
                "its columns",
                fix=ITEM_GONE_FIX,
            )
        shown = texts_by_name(item.get("column_values"), wanted)
        return {name: shown.get(name, "") for name in wanted}

    # ------------------------------------------------------------------ writing

    def write_values(self, item_id: str, values: Mapping[str, ColumnValue]) -> None:
        payload: dict[str, object] = {}
        for name, value in values.items():
            column = self._column(name)
            payload[column.id] = column_json(name, column, value)
        data = self._client.execute(
            CHANGE_COLUMN_VALUES,
            {"board": self._board_id, "item": item_id, "values": json.dumps(payload)},
            idempotent_mutation=True,
        )
        if not data.get("change_multiple_column_values"):
            raise PermanentError(
                SERVICE, f"item {item_id} was not found on board {self._board_id}", fix=BOARD_FIX
            )

    def post_note(self, item_id: str, text: str) -> None:
        data = self._client.execute(
            CREATE_UPDATE, {"item": item_id, "body": note_html(text)}, idempotent_mutation=True
        )
        if not data.get("create_update"):
            raise PermanentError(SERVICE, f"item {item_id} was not found for a note", fix=BOARD_FIX)

    # ------------------------------------------------------------------ bookkeeping

    def _column(self, name: str) -> ColumnSettings:
        column = self._columns.get(name)
        if column is None:
            raise PermanentError(
                SERVICE,
                f"no column named {name!r} is configured",
                fix=f"add {name} under `columns` with its monday column id",
            )
        return column

    def usage(self) -> ApiUsage:
        return ApiUsage(requests=self._client.requests, complexity=self._client.complexity)

    def check(self) -> list[CheckFinding]:
        return check_board(
            self._client, board_id=self._board_id, columns=self._columns, rules=self._rules
        )

    def close(self) -> None:
        self._client.close()


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _later(a: str | None, b: object) -> str | None:
    """The later of two ISO timestamps, keeping the original text (it is the watermark)."""
    when_b = _parse_time(b)
    if when_b is None:
        return a
    when_a = _parse_time(a)
    return b if when_a is None or when_b > when_a else a  # type: ignore[return-value]


def _cutoff(since: str | None, skew: timedelta) -> datetime | None:
    if since is None:
        return None
    when = _parse_time(since)
    if when is None:
        log.warning("monday_watermark_unreadable", watermark=since, action="reading every item")
        return None
    return when - skew
