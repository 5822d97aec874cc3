"""monday's GraphQL endpoint: ``POST {root}/monday/v2``.

Each document is first checked against the public schema (when its reference copy is
present), so a query the real API would reject is rejected here too, then executed against the
sandbox's own slice of that schema. Answers follow monday's 2025+ conventions: application
errors are HTTP 200 with ``errors[].extensions.code``, transport problems use real statuses.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    execute,
    parse,
    validate,
)

from leadbridge.sandbox.http import Call, Request, Response
from leadbridge.sandbox.monday_board import (
    MONDAY_WEB,
    MondayError,
    column_dict,
    item_url,
    value_dict,
    write_values,
)
from leadbridge.sandbox.monday_schema import reference_schema, sandbox_schema
from leadbridge.sandbox.monday_webhooks import WebhookDispatcher
from leadbridge.sandbox.state import (
    ACCOUNT_ID,
    SALES_USER,
    SERVICE_USER,
    MondayBoard,
    MondayCursor,
    MondayItem,
    MondayUpdate,
    MondayWebhook,
    SandboxState,
)

VERSION_PATTERN = re.compile(r"^\d{4}-\d{2}$")
VERSION_ALIASES = ("current", "maintenance", "release_candidate", "dev", "deprecated")
CURRENT_VERSION = "2026-10"
CURSOR_LIFETIME_SECONDS = 3600
MAX_PAGE = 500
#: What one field of a query costs against the per-minute complexity budget.
FIELD_COST = 10
#: A personal token's budget per window.
COMPLEXITY_BUDGET = 10_000_000
COMPLEXITY_WINDOW_SECONDS = 60
#: How long monday answers a mutation's Idempotency-Key from its cache of the first answer.
IDEMPOTENCY_WINDOW_SECONDS = 1800


@dataclass
class Execution:
    """What resolvers need beyond their parent object."""

    state: SandboxState
    cost: int
    before: int
    reset_in_seconds: int
    webhooks: WebhookDispatcher | None = None


class MondayApi:
    def __init__(self, state: SandboxState, errors: list[str] | None = None) -> None:
        self.state = state
        #: ``create_webhook`` and the deliveries; ``errors`` receives its own failures.
        self.webhooks = WebhookDispatcher(state, errors if errors is not None else [])

    # ------------------------------------------------------------ routing

    def route(self, request: Request) -> Call:
        if request.method != "POST" or request.path.rstrip("/") != "/v2":
            return Call("monday", ("unknown",), lambda: _not_found())
        try:
            payload = request.json()
            document = parse(payload["query"])
        except Exception:
            return Call("monday", ("invalid",), lambda: self.handle(request))
        return Call("monday", operations_of(document), lambda: self.handle(request))

    # ------------------------------------------------------------ handling

    def handle(self, request: Request) -> Response:
        headers = {"API-Version": request.header("API-Version") or CURRENT_VERSION}
        token = (request.header("Authorization") or "").removeprefix("Bearer ").strip()
        if token != self.state.monday.token:
            return Response.json(
                401,
                {
                    "errors": [
                        {
                            "message": "Not Authenticated",
                            "extensions": {"code": "Unauthorized", "status_code": 401},
                        }
                    ],
                    "error_message": "Not Authenticated",
                    "status_code": 401,
                },
                headers,
            )
        refused = self._count_daily_call(headers)
        if refused is not None:
            return refused
        version = request.header("API-Version")
        if version and not VERSION_PATTERN.match(version) and version not in VERSION_ALIASES:
            return _errors(
                [_error(f"Invalid API version: {version}", "InvalidVersionException")], headers
            )
        try:
            payload = request.json()
            query = payload["query"]
            variables = payload.get("variables") or {}
        except (ValueError, KeyError, TypeError):
            return Response.json(
                400,
                {
                    "errors": [
                        {
                            "message": "The request body is not JSON with a query",
                            "extensions": {"code": "JsonParseException", "status_code": 400},
                        }
                    ]
                },
                headers,
            )
        try:
            document = parse(query)
        except GraphQLError as error:
            return _errors([_error(f"Parse error on {error.message}", "ParseError")], headers)
        problems = self._validate(document)
        if problems:
            return _errors(problems, headers)
        is_mutation = _is_mutation(document)
        key = request.header("Idempotency-Key")
        with self.state.lock:
            now = self.state.clock.now()
            cached = self.state.monday.idempotent.get(key or "")
            if is_mutation and cached and now - cached[0] < IDEMPOTENCY_WINDOW_SECONDS:
                _, status, cached_headers, body = cached
                return Response(status, body, {**cached_headers, "Idempotency-Replayed": "true"})
            response = self._execute(document, variables, headers)
            if is_mutation and key:
                self.state.monday.idempotent[key] = (
                    now,
                    response.status,
                    dict(response.headers),
                    response.body,
                )
        return response

    def _count_daily_call(self, headers: dict[str, str]) -> Response | None:
        """Count one call against the account's daily limit, or refuse it once that is used up.

        Every authenticated request counts, failed ones too (as on monday); a refused one does
        not, so the usage reported stays at the limit until the clock passes 00:00 UTC.
        """
        with self.state.lock:
            monday = self.state.monday
            day = self.state.clock.day()
            if monday.used_on(day) >= monday.daily_limit:
                error = {
                    "message": "Daily limit exceeded",
                    "extensions": {
                        "code": "DAILY_LIMIT_EXCEEDED",
                        "error_data": {},
                        "status_code": 429,
                    },
                }
                body = {"errors": [error], "extensions": {"request_id": str(uuid.uuid4())}}
                return Response.json(429, body, headers)
            monday.calls_by_day[day] += 1
        return None

    def _validate(self, document: DocumentNode) -> list[dict[str, Any]]:
        real = reference_schema()
        if real is not None:
            errors = validate(real, document)
            if errors:
                return [_graphql_error(e, "GraphQLValidationError") for e in errors]
        errors = validate(sandbox_schema(), document)
        return [
            _graphql_error(e, "SandboxUnsupported", "valid for monday, not emulated here: ")
            for e in errors
        ]

    def _execute(
        self, document: DocumentNode, variables: dict[str, Any], headers: dict[str, str]
    ) -> Response:
        monday = self.state.monday
        now = self.state.clock.now()
        if now - monday.complexity_window_start >= COMPLEXITY_WINDOW_SECONDS:
            # monday's budget is a window that starts with the first call and lasts a minute.
            monday.complexity_window_start = now
            monday.complexity_budget = COMPLEXITY_BUDGET
        budget = monday.complexity_budget
        cost = FIELD_COST * _count_fields(document)
        reset_in = int(monday.complexity_window_start + COMPLEXITY_WINDOW_SECONDS - now)
        context = Execution(self.state, cost, budget, max(reset_in, 0), self.webhooks)
        monday.complexity_budget = max(0, budget - cost)
        result = execute(
            sandbox_schema(),
            document,
            root_value=Root(),
            context_value=context,
            variable_values=variables,
        )
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [_located(error) for error in result.errors]
        payload["extensions"] = {"request_id": str(uuid.uuid4())}
        return Response.json(200, payload, headers)

    # ------------------------------------------------------------ control side

    def set_account(
        self, *, daily_limit: int | None = None, others_today: int | None = None
    ) -> dict[str, Any]:
        """Set the account's daily limit and what its other tools used today; the account
        as ``account()`` describes it."""
        with self.state.lock:
            monday = self.state.monday
            if daily_limit is not None:
                monday.daily_limit = int(daily_limit)
            if others_today is not None:
                monday.others_by_day[self.state.clock.day()] = int(others_today)
            return self.account()

    def account(self) -> dict[str, Any]:
        """Today's figures of the account (UTC day of the sandbox's clock)."""
        with self.state.lock:
            monday = self.state.monday
            day = self.state.clock.day()
            return {
                "day": day,
                "daily_limit": monday.daily_limit,
                "used_today": monday.used_on(day),
                "leadbridge_today": monday.calls_by_day[day],
                "others_today": monday.others_by_day.get(day, 0),
            }

    def expire_cursors(self) -> int:
        with self.state.lock:
            for cursor in self.state.monday.cursors.values():
                cursor.expired = True
            return len(self.state.monday.cursors)


# ---------------------------------------------------------------- resolvers


class Root:
    """Query and Mutation fields; graphql-core calls these methods with ``info`` and args."""

    # ------------------------------------------------------------ queries

    def boards(
        self,
        info: Any,
        ids: Sequence[str] | None = None,
        limit: int = 25,
        page: int = 1,
        state: str = "active",
    ) -> list[BoardView]:
        boards = _state(info).monday.boards
        chosen = [boards[i] for i in ids if i in boards] if ids else list(boards.values())
        start = (page - 1) * limit
        return [BoardView(board) for board in chosen[start : start + limit]]

    def items(
        self, info: Any, ids: Sequence[str] | None = None, limit: int = 25, page: int = 1
    ) -> list[ItemView]:
        if ids and len(ids) > 100:
            raise MondayError("Max 100 ids", "InvalidArgumentException")
        found = [
            ItemView(board, item)
            for board in _state(info).monday.boards.values()
            for item in board.items.values()
            if not ids or item.id in ids
        ]
        start = (page - 1) * limit
        return found[start : start + limit]

    def next_items_page(self, info: Any, cursor: str, limit: int = 25) -> dict[str, Any]:
        return _page_from_cursor(_state(info), cursor, limit)

    def me(self, info: Any) -> dict[str, str]:
        return dict(SERVICE_USER)

    def complexity(self, info: Any) -> dict[str, int]:
        context: Execution = info.context
        return {
            "before": context.before,
            "query": context.cost,
            "after": max(0, context.before - context.cost),
            "reset_in_x_seconds": context.reset_in_seconds,
        }

    def version(self, info: Any) -> dict[str, str]:
        return {"display_name": "Current", "kind": "current", "value": CURRENT_VERSION}

    def webhooks(
        self, info: Any, board_id: str, app_webhooks_only: bool | None = None
    ) -> list[dict[str, Any]]:
        monday = _state(info).monday
        if app_webhooks_only and monday.webhook_signing_secret is None:
            return []  # unsigned webhooks are a personal token's, not an app's
        return [
            _webhook_dict(webhook)
            for webhook in monday.webhooks.values()
            if webhook.board_id == str(board_id)
        ]

    def platform_api(self, info: Any) -> dict[str, Any]:
        """The account's daily limit and its use on each day it made calls, today included."""
        state = _state(info)
        monday = state.monday
        days = sorted({*monday.calls_by_day, *monday.others_by_day, state.clock.day()})
        return {
            "daily_limit": {"base": monday.daily_limit, "total": monday.daily_limit},
            "daily_analytics": {
                "last_updated": state.clock.iso(),
                "by_day": [{"day": day, "usage": monday.used_on(day)} for day in days],
            },
        }

    # ------------------------------------------------------------ mutations

    def change_multiple_column_values(
        self,
        info: Any,
        board_id: str,
        column_values: Any,
        item_id: str | None = None,
        create_labels_if_missing: bool | None = None,
    ) -> ItemView:
        values = _json_argument(column_values)
        if not isinstance(values, dict):
            raise MondayError("column_values must be a JSON object", "InvalidArgumentException")
        return _write(info, board_id, item_id, values, bool(create_labels_if_missing))

    def change_column_value(
        self,
        info: Any,
        board_id: str,
        column_id: str,
        value: Any,
        item_id: str | None = None,
        create_labels_if_missing: bool | None = None,
    ) -> ItemView:
        return _write(
            info,
            board_id,
            item_id,
            {column_id: _json_argument(value)},
            bool(create_labels_if_missing),
        )

    def change_simple_column_value(
        self,
        info: Any,
        board_id: str,
        column_id: str,
        value: str | None = None,
        item_id: str | None = None,
        create_labels_if_missing: bool | None = None,
    ) -> ItemView:
        return _write(info, board_id, item_id, {column_id: value}, bool(create_labels_if_missing))

    def create_update(
        self, info: Any, body: str, item_id: str | None = None, parent_id: str | None = None
    ) -> dict[str, Any]:
        state = _state(info)
        found = _find_item(state, item_id)
        if found is None:
            raise MondayError(
                f"Item {item_id} not found", "ResourceNotFoundException", status_code=404
            )
        update = MondayUpdate(
            id=str(900_000_000 + state.next_id()),
            item_id=found[1].id,
            body=body,
            creator_id=SERVICE_USER["id"],
            created_at=state.clock.iso(),
        )
        state.monday.updates.append(update)
        return _update_dict(update)

    def create_webhook(
        self, info: Any, board_id: str, url: str, event: str, config: Any = None
    ) -> dict[str, Any]:
        if str(board_id) not in _state(info).monday.boards:
            raise MondayError(
                f"Board {board_id} not found",
                "InvalidBoardIdException",
                error_data={"board_id": board_id},
            )
        settings = _json_argument(config) if config is not None else None
        if settings is not None and not isinstance(settings, dict):
            raise MondayError("config must be a JSON object", "InvalidArgumentException")
        dispatcher: WebhookDispatcher = info.context.webhooks
        return _webhook_dict(dispatcher.create(str(board_id), url, event, settings))

    def delete_webhook(self, info: Any, id: str) -> dict[str, Any]:
        dispatcher: WebhookDispatcher = info.context.webhooks
        removed = dispatcher.delete(id)
        if removed is None:
            raise MondayError(
                f"Webhook {id} not found", "ResourceNotFoundException", status_code=404
            )
        return _webhook_dict(removed)


class BoardView:
    def __init__(self, board: MondayBoard) -> None:
        self.board = board
        self.id = board.id
        self.name = board.name
        self.url = f"{MONDAY_WEB}/boards/{board.id}"
        self.state = "active"

    def updated_at(self, info: Any) -> str | None:
        stamps = [item.updated_at for item in self.board.items.values()]
        return max(stamps) if stamps else None

    def columns(
        self, info: Any, ids: Sequence[str] | None = None, types: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        return [
            column_dict(c)
            for c in self.board.columns.values()
            if (ids is None or c.id in ids) and (types is None or c.type in types)
        ]

    def items_page(
        self,
        info: Any,
        limit: int = 25,
        cursor: str | None = None,
        query_params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        state = _state(info)
        if cursor is not None:
            if query_params is not None:
                raise MondayError(
                    "cursor and query_params cannot be combined", "InvalidArgumentException"
                )
            return _page_from_cursor(state, cursor, limit)
        _check_limit(limit)
        ordered = _select(self.board, query_params or {})
        token = base64.urlsafe_b64encode(secrets.token_bytes(24)).decode().rstrip("=")
        state.monday.cursors[token] = MondayCursor(self.board.id, ordered, 0, state.clock.now())
        return _page_from_cursor(state, token, limit)

    def activity_logs(
        self,
        info: Any,
        limit: int = 25,
        page: int = 1,
        column_ids: Sequence[str] | None = None,
        item_ids: Sequence[str] | None = None,
        user_ids: Sequence[str] | None = None,
        group_ids: Sequence[str] | None = None,
        **window: str | None,
    ) -> list[dict[str, Any]]:
        since = _instant(window.get("from"))
        until = _instant(window.get("to"))
        board_id = int(self.board.id)
        found = []
        for log in reversed(_state(info).monday.activity):
            data = log.data
            if data.get("board_id") != board_id:
                continue
            if (since is not None and log.epoch < since) or (
                until is not None and log.epoch > until
            ):
                continue
            if column_ids and data.get("column_id") not in column_ids:
                continue
            if item_ids and str(data.get("pulse_id")) not in item_ids:
                continue
            if user_ids and log.user_id not in user_ids:
                continue
            if group_ids and data.get("group_id") not in group_ids:
                continue
            found.append(
                {
                    "id": log.id,
                    "event": log.event,
                    "entity": log.entity,
                    "data": json.dumps(data),
                    "user_id": log.user_id,
                    "account_id": ACCOUNT_ID,
                    "created_at": log.created_at,
                }
            )
        start = (page - 1) * limit
        return found[start : start + limit]


class ItemView:
    def __init__(self, board: MondayBoard, item: MondayItem) -> None:
        self._board = board
        self._item = item
        self.id = item.id
        self.name = item.name
        self.created_at = item.created_at
        self.updated_at = item.updated_at
        self.state = item.state
        self.url = item_url(board, item)
        self.relative_link = f"/boards/{board.id}/pulses/{item.id}"
        self.creator_id = SALES_USER["id"]
        self.group = {"id": item.group_id, "title": board.groups.get(item.group_id, "")}

    def board(self, info: Any) -> BoardView:
        return BoardView(self._board)

    def column_values(
        self, info: Any, ids: Sequence[str] | None = None, types: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        return [
            value_dict(column, self._item)
            for column in self._board.columns.values()
            if column.type != "name"
            and (ids is None or column.id in ids)
            and (types is None or column.type in types)
        ]

    def updates(
        self, info: Any, limit: int = 25, page: int = 1, ids: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        mine = [
            _update_dict(u)
            for u in reversed(_state(info).monday.updates)
            if u.item_id == self._item.id and (not ids or u.id in ids)
        ]
        start = (page - 1) * limit
        return mine[start : start + limit]


# ---------------------------------------------------------------- helpers


def _state(info: Any) -> SandboxState:
    return info.context.state


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise MondayError(
            f"limit must be between 1 and {MAX_PAGE}",
            "InvalidArgumentException",
            error_data={"limit": limit},
        )


def _page_from_cursor(state: SandboxState, token: str, limit: int) -> dict[str, Any]:
    _check_limit(limit)
    cursor = state.monday.cursors.get(token)
    if cursor is not None and state.clock.now() - cursor.created > CURSOR_LIFETIME_SECONDS:
        cursor.expired = True
    if cursor is None or cursor.expired:
        raise MondayError(
            "CursorExpiredError: The cursor provided for pagination has expired. "
            "Please reset your pagination process",
            "CursorException",
            error_data={"cursor": token},
        )
    board = state.monday.boards[cursor.board_id]
    chunk = cursor.item_ids[cursor.position : cursor.position + limit]
    cursor.position += len(chunk)
    items = [ItemView(board, board.items[i]) for i in chunk if i in board.items]
    more = cursor.position < len(cursor.item_ids)
    if not more:
        state.monday.cursors.pop(token, None)
    return {"cursor": token if more else None, "items": items}


def _select(board: MondayBoard, params: dict[str, Any]) -> list[str]:
    if params.get("rules") or params.get("groups"):
        raise MondayError(
            "query_params rules and groups are not emulated by the sandbox; use ids or order_by",
            "InvalidArgumentException",
        )
    items = [item for item in board.items.values() if item.state == "active"]
    ids = params.get("ids")
    if ids:
        if len(ids) > 100:
            raise MondayError("Max 100 ids", "InvalidArgumentException")
        items = [item for item in items if item.id in ids]
    for order in reversed(params.get("order_by") or []):
        column_id = order["column_id"]
        descending = order.get("direction", "asc") == "desc"
        items.sort(key=lambda item: _sort_key(board, item, column_id), reverse=descending)
    return [item.id for item in items]


def _sort_key(board: MondayBoard, item: MondayItem, column_id: str) -> tuple[str, int]:
    if column_id == "__last_updated__":
        return (item.updated_at, int(item.id))
    if column_id == "__creation_log__":
        return (item.created_at, int(item.id))
    if column_id == "name":
        return (item.name, int(item.id))
    column = board.columns.get(column_id)
    if column is None:
        raise MondayError(f"Column {column_id} does not exist", "InvalidColumnIdException")
    return (str(value_dict(column, item).get("text") or ""), int(item.id))


def _find_item(state: SandboxState, item_id: str | None) -> tuple[MondayBoard, MondayItem] | None:
    for board in state.monday.boards.values():
        if item_id in board.items:
            return board, board.items[item_id]
    return None


def _write(
    info: Any, board_id: str, item_id: str | None, values: dict[str, Any], create: bool
) -> ItemView:
    state = _state(info)
    board = state.monday.boards.get(str(board_id))
    if board is None:
        raise MondayError(
            f"Board {board_id} not found",
            "InvalidBoardIdException",
            error_data={"board_id": board_id},
        )
    item = board.items.get(str(item_id))
    if item is None:
        raise MondayError(
            f"Item {item_id} not found in board {board_id}",
            "ResourceNotFoundException",
            error_data={"item_id": item_id},
            status_code=404,
        )
    write_values(state, board, item, values, user_id=SERVICE_USER["id"], create_labels=create)
    return ItemView(board, item)


def _json_argument(value: Any) -> Any:
    """``JSON`` arguments arrive as a JSON-encoded string (the documented form) or inline."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise MondayError(
                "Invalid JSON in argument",
                "JsonParseException",
                error_data={"json": value},
                status_code=400,
            ) from None
    return value


def _webhook_dict(webhook: MondayWebhook) -> dict[str, Any]:
    config = json.dumps(webhook.config, separators=(",", ":")) if webhook.config else None
    return {
        "id": webhook.id,
        "board_id": webhook.board_id,
        "event": webhook.event,
        "config": config,
    }


def _update_dict(update: MondayUpdate) -> dict[str, Any]:
    return {
        "id": update.id,
        "body": update.body,
        "text_body": re.sub(r"<[^>]+>", "", update.body),
        "created_at": update.created_at,
        "updated_at": update.created_at,
        "item_id": update.item_id,
        "creator_id": update.creator_id,
    }


def _instant(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _count_fields(document: DocumentNode) -> int:
    count = 0
    stack: list[Any] = list(document.definitions)
    while stack:
        node = stack.pop()
        if isinstance(node, FieldNode):
            count += 1
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return count


def _is_mutation(document: DocumentNode) -> bool:
    return any(
        isinstance(d, OperationDefinitionNode) and d.operation == OperationType.MUTATION
        for d in document.definitions
    )


#: Which field names a request when it asks for several: the one that does the work.
_READ_RANK = (
    "next_items_page",
    "items_page",
    "activity_logs",
    "items",
    "columns",
    "boards",
    "webhooks",
    "me",
    "version",
    "platform_api",
)


def operations_of(document: DocumentNode) -> tuple[str, ...]:
    """Names for counters and fault rules: the main operation first, then the others.

    A mutation is named by its mutation field; ``boards { items_page }`` is ``items_page``
    (the poll) even beside ``me``; ``complexity`` only names a request that asks for nothing else.
    """
    names: list[str] = []
    mutations: list[str] = []
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        for selection in definition.selection_set.selections:
            if not isinstance(selection, FieldNode):
                continue
            name = selection.name.value
            if definition.operation == OperationType.MUTATION and name != "complexity":
                mutations.append(name)
            if name == "boards" and selection.selection_set is not None:
                nested = {
                    s.name.value
                    for s in selection.selection_set.selections
                    if isinstance(s, FieldNode)
                }
                names.extend(n for n in ("items_page", "activity_logs", "columns") if n in nested)
            names.append(name)
    ranked = sorted((n for n in names if n in _READ_RANK), key=_READ_RANK.index)
    ordered = [*mutations, *ranked, *names] or ["unknown"]
    return tuple(dict.fromkeys(ordered))


def _error(message: str, code: str, **data: Any) -> dict[str, Any]:
    return {
        "message": message,
        "extensions": {"code": code, "error_data": data, "status_code": 200},
    }


def _graphql_error(error: GraphQLError, code: str, prefix: str = "") -> dict[str, Any]:
    formatted = _error(prefix + error.message, code)
    if error.locations:
        formatted["locations"] = [
            {"line": loc.line, "column": loc.column} for loc in error.locations
        ]
    return formatted


def _located(error: GraphQLError) -> dict[str, Any]:
    formatted = dict(error.formatted)
    if not formatted.get("extensions"):
        # Variable coercion and other execution-time failures of the request itself.
        formatted["extensions"] = {
            "code": "InvalidArgumentException",
            "error_data": {},
            "status_code": 200,
        }
    return formatted


def _errors(errors: list[dict[str, Any]], headers: dict[str, str]) -> Response:
    return Response.json(
        200, {"errors": errors, "extensions": {"request_id": str(uuid.uuid4())}}, headers
    )


def _not_found() -> Response:
    return Response.json(404, {"error_message": "Not Found", "status_code": 404})
