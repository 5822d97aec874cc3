"""A small monday.com board behind respx, answering the adapter's documents like the API does.

Response shapes follow the reference (``items_page``/``next_items_page`` with cursors, typed
column values, ``complexity``, HTTP 200 + ``errors[]``). ``faults`` lets a test put any raw
response or exception in front of the next requests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from graphql import FieldNode, OperationDefinitionNode, VariableNode, parse

from leadbridge.settings import ColumnSettings, Settings

API_URL = "https://api.monday.test/v2"
BOARD_ID = "1234567890"
ME_ID = "777"
T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)

#: monday column id → type, matching ``COLUMNS`` in the tests.
BOARD_COLUMNS = {
    "status_triage": ("Triage status", "status"),
    "text_org": ("Organization", "text"),
    "long_text_notes": ("Notes", "long_text"),
    "email_contact": ("Contact e-mail", "email"),
    "link_folder": ("Lead folder", "link"),
}
TRIAGE_LABELS = {"0": "Send Questionnaire", "1": "Questionnaire Sent", "2": "In Scope", "5": ""}

Fault = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeMonday:
    items: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=lambda: dict(TRIAGE_LABELS))
    faults: list[Fault] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    #: How many next_items_page calls answer CursorException before cursors work again.
    expiring_cursors: int = 0
    served_version: str = "2026-10"
    #: ``platform_api``: the account's daily limit (``total``; None: not reported) and its
    #: calls per day (ISO date → usage), every tool of the account included.
    daily_limit: int | None = 1000
    usage_by_day: dict[str, int] = field(default_factory=dict)
    #: Item id → (code, message): monday refuses that item's part of a batched mutation
    #: (HTTP 200, ``data`` for the other aliases, an error whose ``path`` is the alias).
    refusing: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: The board's webhooks as monday lists them (``config`` a JSON string), and their URLs,
    #: which monday keeps but never lists.
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    webhook_urls: dict[str, str] = field(default_factory=dict)
    _cursors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    # ------------------------------------------------------------ board content

    def add_items(
        self, count: int, *, start: datetime = T0, step: timedelta = timedelta(seconds=1)
    ) -> None:
        for n in range(count):
            item_id = str(100_000 + len(self.items))
            self.items.append(
                {
                    "id": item_id,
                    "name": f"Lead {item_id}",
                    "updated_at": iso(start + n * step),
                    "values": {
                        "status_triage": {"label": "Send Questionnaire", "index": 0},
                        "text_org": {"text": f"Org {item_id}"},
                        "email_contact": {"email": f"c{item_id}@example.org"},
                    },
                }
            )

    def item(self, item_id: str) -> dict[str, Any]:
        return next(i for i in self.items if i["id"] == item_id)

    def touch(self, item_id: str, moment: datetime) -> None:
        self.item(item_id)["updated_at"] = iso(moment)

    # ------------------------------------------------------------ HTTP

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = json.loads(request.content)
        self.bodies.append(body)
        if self.faults:
            fault = self.faults.pop(0)
            if isinstance(fault, Exception):
                raise fault
            if isinstance(fault, httpx.Response):
                return fault
            return fault(request)
        name = body.get("operationName")
        variables = body.get("variables") or {}
        if name in ("ChangeColumnValues", "CreateUpdates"):
            return self._aliased(name, body["query"], variables)
        data = getattr(self, f"_op_{name}")(variables)
        if isinstance(data, httpx.Response):
            return data
        data["complexity"] = {"query": 100}
        return httpx.Response(
            200,
            json={"data": data, "extensions": {"request_id": "req-1"}},
            headers={"API-Version": self.served_version},
        )

    def _aliased(self, name: str, query: str, variables: dict[str, Any]) -> httpx.Response:
        """A mutation of aliased fields, each run on its own as monday runs them: a part it
        refuses is null in ``data`` with an error on its path, and the others go through."""
        data: dict[str, Any] = {"complexity": {"query": 100 * len(variables)}}
        errors = []
        for alias, arguments in _aliased_fields(query):
            given = {argument: variables[var] for argument, var in arguments.items()}
            item_id = given["item_id"]
            refused = self.refusing.get(item_id)
            if refused is None and not any(i["id"] == item_id for i in self.items):
                refused = ("ResourceNotFoundException", f"Item {item_id} not found")
            if refused is not None:
                data[alias] = None
                errors.append(
                    {
                        "message": refused[1],
                        "path": [alias],
                        "extensions": {"code": refused[0], "status_code": 200},
                    }
                )
            elif name == "ChangeColumnValues":
                data[alias] = self._change(item_id, given["column_values"])
            else:
                self.notes.append((item_id, given["body"]))
                data[alias] = {"id": str(len(self.notes))}
        body: dict[str, Any] = {"data": data, "extensions": {"request_id": "req-1"}}
        if errors:
            body["errors"] = errors
        return httpx.Response(200, json=body, headers={"API-Version": self.served_version})

    def _page(self, rest: list[dict[str, Any]], limit: int, columns: list[str]) -> dict[str, Any]:
        page, rest = rest[:limit], rest[limit:]
        cursor = None
        if rest:
            cursor = f"cursor-{len(self._cursors)}"
            self._cursors[cursor] = rest
        return {"cursor": cursor, "items": [self._render(i, columns) for i in page]}

    def _render(self, item: dict[str, Any], columns: list[str]) -> dict[str, Any]:
        values = []
        for column_id in columns:
            if column_id not in BOARD_COLUMNS:
                continue
            kind = BOARD_COLUMNS[column_id][1]
            stored = item["values"].get(column_id, {})
            value: dict[str, Any] = {"id": column_id, "type": kind, "text": stored.get("text")}
            if kind == "status":
                value |= {"label": stored.get("label"), "index": stored.get("index")}
                value["text"] = stored.get("label")
            elif kind == "link":
                url, text = stored.get("url"), stored.get("url_text")
                value |= {"url": url, "url_text": text, "text": f"{url} - {text}" if url else ""}
            elif kind == "email":
                value |= {"email": stored.get("email"), "text": stored.get("email")}
            values.append(value)
        return {
            "id": item["id"],
            "name": item["name"],
            "url": f"https://example.monday.com/boards/{BOARD_ID}/pulses/{item['id']}",
            "updated_at": item["updated_at"],
            "column_values": values,
        }

    def _op_FirstItemsPage(self, v: dict[str, Any]) -> dict[str, Any]:
        if v["board"] != [BOARD_ID]:
            return {"boards": []}
        assert v["query"] == {"order_by": [{"column_id": "__last_updated__", "direction": "desc"}]}
        ordered = sorted(self.items, key=lambda i: i["updated_at"], reverse=True)
        page = self._page(ordered, v["limit"], v["columns"])
        return {"boards": [{"id": BOARD_ID, "items_page": page}]}

    def _op_NextItemsPage(self, v: dict[str, Any]) -> dict[str, Any] | httpx.Response:
        if self.expiring_cursors:
            self.expiring_cursors -= 1
            return graphql_error(
                "CursorException",
                "CursorExpiredError: The cursor provided for pagination has expired.",
            )
        rest = self._cursors.pop(v["cursor"])
        return {"next_items_page": self._page(rest, v["limit"], v["columns"])}

    def _op_ItemsValues(self, v: dict[str, Any]) -> dict[str, Any]:
        """``items(ids:)``: archived and deleted items too (``state`` says so); an unknown id
        is left out; at most ``limit`` (default 25) items."""
        assert len(v["items"]) <= 100, "items(ids:) answers at most 100 ids"
        found = [i for i in self.items if i["id"] in v["items"]][: v.get("limit") or 25]
        return {
            "items": [
                {
                    "id": item["id"],
                    "state": item.get("state", "active"),
                    "column_values": self._render(item, v["columns"])["column_values"],
                }
                for item in found
            ]
        }

    def _change(self, item_id: str, values: str) -> dict[str, Any]:
        item = self.item(item_id)
        for column_id, value in json.loads(values).items():
            kind = BOARD_COLUMNS[column_id][1]
            if kind == "status":
                stored = {"label": value["label"]}
            elif kind == "link":
                stored = {"url": value["url"], "url_text": value["text"]}
            elif kind == "long_text":
                stored = {"text": value["text"]}
            elif kind == "email":
                stored = {"email": value["email"]}
            else:
                stored = {"text": value}
            item["values"][column_id] = stored
        return {"id": item["id"]}

    def _op_CheckBoard(self, v: dict[str, Any]) -> dict[str, Any]:
        settings = json.dumps({"labels": self.labels, "done_colors": [1]})
        columns = [
            {
                "id": cid,
                "title": title,
                "type": kind,
                "settings_str": settings if kind == "status" else "{}",
            }
            for cid, (title, kind) in BOARD_COLUMNS.items()
        ]
        return {
            "me": {"id": ME_ID, "name": "leadbridge bot"},
            "version": {"value": self.served_version, "kind": "current"},
            "boards": [{"id": BOARD_ID, "name": "Leads", "columns": columns}]
            if v["board"] == [BOARD_ID]
            else [],
        }

    def _op_BoardLayout(self, v: dict[str, Any]) -> dict[str, Any]:
        typed = self._typed_settings()
        columns = [
            {
                "id": cid,
                "title": title,
                "type": kind,
                "archived": False,
                "settings": typed if kind == "status" else {},
            }
            for cid, (title, kind) in BOARD_COLUMNS.items()
        ]
        return {
            "me": {"id": ME_ID, "name": "leadbridge bot"},
            "boards": [{"id": BOARD_ID, "name": "Leads", "columns": columns}]
            if v["board"] == [BOARD_ID]
            else [],
        }

    def _typed_settings(self) -> dict[str, Any]:
        return {
            "type": "status",
            "labels": [
                {"id": int(k), "label": t, "index": n, "is_deactivated": False}
                for n, (k, t) in enumerate(self.labels.items())
            ],
        }

    def _op_StatusSettings(self, v: dict[str, Any]) -> dict[str, Any]:
        typed = {
            "type": "status",
            "labels": [
                {"id": int(k), "label": t, "index": n, "is_deactivated": False}
                for n, (k, t) in enumerate(self.labels.items())
            ],
        }
        columns = [{"id": c, "settings": typed} for c in v["columns"]]
        return {"boards": [{"id": BOARD_ID, "columns": columns}]}

    def _op_AccountBudget(self, v: dict[str, Any]) -> dict[str, Any]:
        """As monday answers it: ``total`` counts add-ons, ``by_day`` the last days' usage."""
        return {
            "platform_api": {
                "daily_limit": {"base": self.daily_limit, "total": self.daily_limit},
                "daily_analytics": {
                    "last_updated": iso(T0),
                    "by_day": [
                        {"day": day, "usage": usage}
                        for day, usage in sorted(self.usage_by_day.items())
                    ],
                },
            }
        }

    def _op_Webhooks(self, v: dict[str, Any]) -> dict[str, Any]:
        listed = [dict(w) for w in self.webhooks if w["board_id"] == v["board"]]
        return {"me": {"id": ME_ID}, "webhooks": listed}

    def _op_CreateWebhook(self, v: dict[str, Any]) -> dict[str, Any]:
        webhook = {
            "id": str(400_000_000 + len(self.webhook_urls)),
            "board_id": v["board"],
            "event": v["event"],
            "config": v.get("config"),
        }
        self.webhooks.append(webhook)
        self.webhook_urls[webhook["id"]] = v["url"]
        return {"create_webhook": dict(webhook)}

    def _op_DeleteWebhook(self, v: dict[str, Any]) -> dict[str, Any] | httpx.Response:
        found = next((w for w in self.webhooks if w["id"] == v["id"]), None)
        if found is None:
            return graphql_error("ResourceNotFoundException", "Webhook not found")
        self.webhooks.remove(found)
        return {"delete_webhook": {"id": found["id"], "board_id": found["board_id"]}}


def _aliased_fields(query: str) -> list[tuple[str, dict[str, str]]]:
    """(alias, argument → variable name) of each field of a mutation but ``complexity``."""
    [operation] = [d for d in parse(query).definitions if isinstance(d, OperationDefinitionNode)]
    fields = []
    for selection in operation.selection_set.selections:
        assert isinstance(selection, FieldNode)
        if selection.name.value == "complexity":
            continue
        arguments = {}
        for argument in selection.arguments:
            assert isinstance(argument.value, VariableNode), "values travel in variables"
            arguments[argument.name.value] = argument.value.name.value
        alias = selection.alias.value if selection.alias else selection.name.value
        fields.append((alias, arguments))
    return fields


def graphql_error(
    code: str, message: str, *, status: int = 200, headers: dict[str, str] | None = None, **ext: Any
) -> httpx.Response:
    """An error the way monday sends it from 2025-01 on: ``errors[].extensions.code``."""
    return httpx.Response(
        status,
        json={
            "data": None,
            "errors": [{"message": message, "extensions": {"code": code, **ext}}],
            "extensions": {"request_id": "req-err"},
        },
        headers=headers or {},
    )


TOKEN = "tok-SECRET-0123456789"

COLUMNS = {
    "triage_status": ColumnSettings(
        id="status_triage",
        type="status",
        labels=("Send Questionnaire", "Questionnaire Sent", "In Scope"),
    ),
    "organization": ColumnSettings(id="text_org", type="text"),
    "notes": ColumnSettings(id="long_text_notes", type="long_text"),
    "contact_email": ColumnSettings(id="email_contact", type="email"),
    "lead_folder": ColumnSettings(id="link_folder", type="link"),
}


def make_settings(**monday: object) -> Settings:
    return Settings(
        monday={"token": TOKEN, "board_id": BOARD_ID, "api_url": API_URL, **monday},
        columns=COLUMNS,
    )
