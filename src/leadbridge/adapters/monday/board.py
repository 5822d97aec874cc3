"""The Board port on monday.com.

Reads are level-triggered snapshots of the items. A full scan pages through everything; an
incremental read asks for items newest-updated first and stops at the watermark, so a quiet
poll costs exactly one request whatever the board size — which matters on plans that allow
about 1,000 calls a day.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import structlog

from leadbridge.adapters.monday.budget import read_account_budget
from leadbridge.adapters.monday.check import check_board
from leadbridge.adapters.monday.client import MondayClient
from leadbridge.adapters.monday.documents import (
    FIRST_ITEMS_PAGE,
    ITEMS_VALUES,
    NEXT_ITEMS_PAGE,
    Document,
    change_column_values,
    create_updates,
)
from leadbridge.adapters.monday.failures import BOARD_FIX, SERVICE, CursorExpired
from leadbridge.adapters.monday.values import (
    column_json,
    lead_from_item,
    note_html,
    texts_by_name,
)
from leadbridge.domain.errors import ExternalError, PermanentError, TransientError
from leadbridge.domain.model import ColumnValue, Lead
from leadbridge.domain.ports import (
    AccountBudget,
    ApiUsage,
    BoardRead,
    CheckFinding,
    ColumnWrite,
    CurrentValues,
    ItemNote,
)
from leadbridge.settings import ColumnSettings, RuleSettings, Settings

log = structlog.get_logger(__name__)
_T = TypeVar("_T")

#: Newest-updated first: an incremental read can stop at the first item older than the mark.
NEWEST_FIRST = {"order_by": [{"column_id": "__last_updated__", "direction": "desc"}]}
#: Room for new changes on the first page of an incremental read, beyond the items the
#: look-back (``watermark_skew``) reads again. Between two polls a few items change, so a page
#: of ``page_limit`` (500) newest items carried and parsed ~450 older than the mark: 845 kB per
#: quiet poll of a 10,000-lead board. More changes cost one more request, with full pages.
CHANGES_FIRST_PAGE = 50
#: A scan that outlives its cursor three times in a row is not going to finish this cycle.
MAX_SCAN_RESTARTS = 2
#: ``items(ids:)`` answers at most this many ids per request.
IDS_PER_REQUEST = 100
#: Write-backs or notes per request: a mutation's complexity is high, and one request must
#: stay well inside monday's per-query budget.
MUTATIONS_PER_REQUEST = 50
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
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        #: The clock whose UTC day the account's usage is read for.
        self._now = now
        self._board_id = board_id
        self._columns = dict(columns)
        self._rules = rules
        self._page_limit = page_limit
        #: The next incremental read's first page: what the last read saw inside the next
        #: look-back, plus room for new changes (a process's first read has seen nothing).
        self._changes_page = min(CHANGES_FIRST_PAGE, page_limit)
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
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> MondayBoard:
        monday = settings.monday
        client = MondayClient.from_settings(
            settings,
            sleep=sleep,
            transport=transport,
            api_url=api_url,
            today=lambda: now().astimezone(UTC).date(),
        )
        return cls(
            client,
            board_id=monday.board_id,
            columns=settings.columns,
            rules=settings.rules,
            page_limit=monday.page_limit,
            watermark_skew=timedelta(seconds=monday.watermark_skew_seconds),
            daily_call_limit=monday.daily_call_limit,
            now=now,
        )

    # ------------------------------------------------------------------ reading

    def read_items(self, since: str | None) -> BoardRead:
        cutoff = _cutoff(since, self._skew)
        requests, complexity = self._client.requests, self._client.complexity
        for restart in range(MAX_SCAN_RESTARTS + 1):
            try:
                leads, updated, newest, pages = self._scan(cutoff)
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
        marked = _parse_time(watermark)
        again = 0 if marked is None else sum(1 for when in updated if when >= marked - self._skew)
        self._changes_page = min(self._page_limit, again + CHANGES_FIRST_PAGE)
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

    def _scan(self, cutoff: datetime | None) -> tuple[list[Lead], list[datetime], str | None, int]:
        """One pass over the pages; stops early at the cutoff when there is one. Returns the
        leads, when each was updated (where monday says), the newest update and the pages."""
        column_ids = sorted({c.id for c in self._columns.values()})
        data = self._client.execute(
            FIRST_ITEMS_PAGE,
            {
                "board": [self._board_id],
                "limit": self._page_limit if cutoff is None else self._changes_page,
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
        updated: list[datetime] = []
        newest: str | None = None
        pages = 1
        while True:
            reached_cutoff = False
            for item in page.get("items") or []:
                newest = _later(newest, item.get("updated_at"))
                when = _parse_time(item.get("updated_at"))
                if cutoff is not None and when is not None and when < cutoff:
                    reached_cutoff = True
                    continue
                leads.append(lead_from_item(item, self._columns))
                if when is not None:
                    updated.append(when)
            cursor = page.get("cursor")
            if not cursor or reached_cutoff:
                return leads, updated, newest, pages
            data = self._client.execute(
                NEXT_ITEMS_PAGE,
                {"cursor": cursor, "limit": self._page_limit, "columns": column_ids},
            )
            page = data["next_items_page"]
            pages += 1

    def read_columns(self, wanted: Mapping[str, Sequence[str]]) -> CurrentValues:
        """Columns of several items, as text exactly as ``read_items`` renders it, in one
        request per 100 items.

        An empty column reads as "". An item monday no longer shows (deleted, archived, or
        never there) is a PermanentError for that item: there is nothing to write back to.
        A request that fails is that failure for each of its items.
        """
        found: dict[str, Mapping[str, str] | ExternalError] = {}
        asked: dict[str, dict[str, ColumnSettings]] = {}
        for item_id, names in wanted.items():
            try:
                asked[item_id] = {name: self._column(name) for name in names}
            except PermanentError as error:
                found[item_id] = error
        for chunk in _chunks([i for i, columns in asked.items() if columns], IDS_PER_REQUEST):
            column_ids = sorted({c.id for i in chunk for c in asked[i].values()})
            try:
                data = self._client.execute(
                    ITEMS_VALUES, {"items": chunk, "limit": len(chunk), "columns": column_ids}
                )
            except ExternalError as error:
                found.update(dict.fromkeys(chunk, error))
                continue
            items = {str(i.get("id")): i for i in data.get("items") or [] if i}
            for item_id in chunk:
                found[item_id] = _current(item_id, items.get(str(item_id)), asked[item_id])
        for item_id, columns in asked.items():
            if not columns:
                found[item_id] = {}
        return found

    # ------------------------------------------------------------------ writing

    def write_columns(self, writes: Sequence[ColumnWrite]) -> list[ExternalError | None]:
        """Every write-back in one request (per 50), as aliases ``w0``, ``w1``… of one
        mutation; a value a column cannot take fails its write before any request."""
        results: list[ExternalError | None] = [None] * len(writes)
        ready: list[tuple[int, ColumnWrite, str]] = []
        for index, write in enumerate(writes):
            try:
                ready.append((index, write, json.dumps(self._payload(write.values))))
            except PermanentError as error:
                results[index] = error
        for chunk in _chunks(ready, MUTATIONS_PER_REQUEST):
            variables: dict[str, object] = {"board": self._board_id}
            for n, (_, write, values) in enumerate(chunk):
                variables[f"i{n}"], variables[f"v{n}"] = write.item_id, values
            answers = self._mutate(
                change_column_values(len(chunk)),
                "w",
                variables,
                [write for _, write, _ in chunk],
                lambda item_id: f"item {item_id} was not found on board {self._board_id}",
            )
            for (index, _, _), answer in zip(chunk, answers, strict=True):
                results[index] = answer
        return results

    def post_notes(self, notes: Sequence[ItemNote]) -> list[ExternalError | None]:
        """Every note in one request (per 50), as aliases ``n0``, ``n1``… of one mutation."""
        results: list[ExternalError | None] = [None] * len(notes)
        for chunk in _chunks(list(enumerate(notes)), MUTATIONS_PER_REQUEST):
            variables: dict[str, object] = {}
            for n, (_, note) in enumerate(chunk):
                variables[f"i{n}"], variables[f"b{n}"] = note.item_id, note_html(note.text)
            answers = self._mutate(
                create_updates(len(chunk)),
                "n",
                variables,
                [note for _, note in chunk],
                lambda item_id: f"item {item_id} was not found for a note",
            )
            for (index, _), answer in zip(chunk, answers, strict=True):
                results[index] = answer
        return results

    def _mutate(
        self,
        document: Document,
        prefix: str,
        variables: dict[str, object],
        parts: Sequence[ColumnWrite | ItemNote],
        missing: Callable[[str], str],
    ) -> list[ExternalError | None]:
        """One aliased mutation; per part (alias ``<prefix><n>``) None or its failure.

        The Idempotency-Key covers every part and each part's attempt, so a resent request
        is replayed by monday and a batch with a new attempt in it is carried out. A part
        answered with null and no error names an item monday does not have (``missing``).
        """
        try:
            data, failed = self._client.execute_aliased(
                document, variables, attempts=[part.attempt for part in parts]
            )
        except ExternalError as error:
            return [error] * len(parts)
        results: list[ExternalError | None] = []
        for n, part in enumerate(parts):
            alias = f"{prefix}{n}"
            if alias in failed:
                results.append(failed[alias])
            elif not data.get(alias):
                results.append(PermanentError(SERVICE, missing(part.item_id), fix=BOARD_FIX))
            else:
                results.append(None)
        return results

    def _payload(self, values: Mapping[str, ColumnValue]) -> dict[str, object]:
        payload: dict[str, object] = {}
        for name, value in values.items():
            column = self._column(name)
            payload[column.id] = column_json(name, column, value)
        return payload

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
        return ApiUsage(
            requests=self._client.requests,
            complexity=self._client.complexity,
            daily_limit_refusals=self._client.daily_limit_refusals,
        )

    def account_budget(self) -> AccountBudget:
        """One call: the account's daily limit and every tool's calls today (``CallBudget``)."""
        return read_account_budget(self._client, self._now())

    def check(self) -> list[CheckFinding]:
        return check_board(
            self._client, board_id=self._board_id, columns=self._columns, rules=self._rules
        )

    def close(self) -> None:
        self._client.close()


def _chunks(items: Sequence[_T], size: int) -> Iterator[list[_T]]:
    """``items`` in runs of at most ``size``: what one request may carry."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _current(
    item_id: str, item: Mapping[str, Any] | None, wanted: Mapping[str, ColumnSettings]
) -> Mapping[str, str] | ExternalError:
    """One item's asked columns from an ``items(ids:)`` answer, or why it has none."""
    if item is None:
        return PermanentError(
            SERVICE,
            f"item {item_id} is no longer on monday (deleted for good, or not visible to "
            "the token's user): its columns can no longer be read or written",
            fix=ITEM_GONE_FIX,
        )
    state = item.get("state")
    if state is not None and state != "active":
        return PermanentError(
            SERVICE,
            f"item {item_id} is {state} on monday: leadbridge no longer reads or writes "
            "its columns",
            fix=ITEM_GONE_FIX,
        )
    shown = texts_by_name(item.get("column_values"), wanted)
    return {name: shown.get(name, "") for name in wanted}


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
