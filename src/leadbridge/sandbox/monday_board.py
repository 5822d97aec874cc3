"""Column values as monday stores, reads and writes them, and the one way the board changes.

Writes accept what monday accepts (``{"label": …}`` or ``{"index": …}`` for status,
``{"url", "text"}`` for links, plain strings for simple values) and reject the rest with
monday's ``ColumnValueException``. Reads give the typed fragments' fields (``label``/``index``,
``url``/``url_text``…) beside ``text`` and the raw ``value`` JSON string.

Both leadbridge (through GraphQL) and the scripted sales team (through the control endpoint)
change items through ``write_values``, so every change bumps ``updated_at`` and leaves an
activity-log entry naming who made it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from leadbridge.sandbox.state import (
    ActivityLog,
    MondayBoard,
    MondayColumn,
    MondayItem,
    SandboxState,
)

MONDAY_WEB = "https://sandbox.monday.com"

TYPENAMES = {
    "status": "StatusValue",
    "text": "TextValue",
    "long_text": "LongTextValue",
    "email": "EmailValue",
    "link": "LinkValue",
    "phone": "PhoneValue",
    "date": "DateValue",
    "numbers": "NumbersValue",
}


class MondayError(Exception):
    """An application error in monday's unified shape (HTTP 200, ``errors[].extensions``)."""

    def __init__(
        self,
        message: str,
        code: str,
        *,
        error_data: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> None:
        super().__init__(message)
        self.extensions: dict[str, Any] = {
            "code": code,
            "error_data": error_data or {},
            "status_code": status_code,
        }


def _invalid(column: MondayColumn, value: Any, why: str = "") -> MondayError:
    return MondayError(
        "invalid value, please check our API documentation for the correct data structure "
        f"for this column. {why}".strip(),
        "ColumnValueException",
        error_data={"column_value": json.dumps(value), "column_type": column.type},
    )


# ---------------------------------------------------------------- writes


def parse_write(column: MondayColumn, value: Any, *, create_labels: bool = False) -> Any:
    """Normalise a written value to the stored form; None clears the column."""
    if value is None or value == "" or value == {}:
        return None
    kind = column.type
    if kind == "status":
        return {"index": _status_index(column, value, create_labels)}
    if kind in ("text", "numbers"):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise _invalid(column, value)
        if kind == "numbers":
            try:
                float(value)
            except ValueError:
                raise _invalid(column, value, "Numbers only.") from None
        return str(value)
    if kind == "long_text":
        return {"text": _text_of(column, value, "text")}
    if kind == "email":
        if isinstance(value, str):
            email, _, text = value.partition(" ")
            return {"email": email, "text": text or email}
        email = _text_of(column, value, "email")
        if "@" not in email:
            raise _invalid(column, value, "Invalid email address.")
        return {"email": email, "text": str(value.get("text") or email)}
    if kind == "link":
        if isinstance(value, str):
            url, _, text = value.partition(" ")
            return {"url": url, "text": text or url}
        url = _text_of(column, value, "url")
        return {"url": url, "text": str(value.get("text") or url)}
    if kind == "phone":
        if isinstance(value, str):
            return {"phone": value, "countryShortName": ""}
        return {
            "phone": _text_of(column, value, "phone"),
            "countryShortName": str(value.get("countryShortName", "")),
        }
    if kind == "date":
        if isinstance(value, str):
            return {"date": value, "time": None}
        return {"date": _text_of(column, value, "date"), "time": value.get("time")}
    raise _invalid(column, value, f"The sandbox does not emulate {kind} columns.")


def _text_of(column: MondayColumn, value: Any, key: str) -> str:
    if isinstance(value, str) and key == "text":
        return value
    if not isinstance(value, dict) or not isinstance(value.get(key), str):
        raise _invalid(column, value)
    return str(value[key])


def _status_index(column: MondayColumn, value: Any, create_labels: bool) -> int:
    if isinstance(value, dict) and "index" in value:
        index = value["index"]
        if not isinstance(index, int) or index not in column.labels:
            raise _invalid(column, value, "This status label id does not exist.")
        return index
    label = value.get("label") if isinstance(value, dict) else value
    if isinstance(label, str) and label.isdigit() and int(label) in column.labels:
        return int(label)
    if not isinstance(label, str):
        raise _invalid(column, value)
    found = column.label_id(label)
    if found is not None:
        return found
    if not create_labels:
        raise _invalid(column, value, f"The label {label!r} does not exist.")
    new_id = max([*column.labels, 5]) + 1
    column.labels[new_id] = label
    return new_id


def parse_values(
    board: MondayBoard, values: dict[str, Any], *, create_labels: bool = False
) -> dict[str, Any]:
    """Every value in stored form, or the first error: a write is all or nothing."""
    parsed: dict[str, Any] = {}
    for column_id, value in values.items():
        column = board.columns.get(column_id)
        if column is None or column.type == "name":
            raise MondayError(
                f"This column ID doesn't exist for the board: {column_id}",
                "InvalidColumnIdException",
                error_data={"column_id": column_id, "board_id": board.id},
            )
        parsed[column_id] = parse_write(column, value, create_labels=create_labels)
    return parsed


def write_values(
    state: SandboxState,
    board: MondayBoard,
    item: MondayItem,
    values: dict[str, Any],
    *,
    user_id: str,
    create_labels: bool = False,
) -> None:
    """Apply a whole write or none of it, then bump ``updated_at`` and log each change."""
    with state.lock:
        parsed = parse_values(board, values, create_labels=create_labels)
        moment = state.clock.iso(millis=True)
        for column_id, new in parsed.items():
            old = item.values.get(column_id)
            if new is None:
                item.values.pop(column_id, None)
            else:
                item.values[column_id] = new
            if new != old:
                item.changed_at[column_id] = moment
                log_change(state, board, item, board.columns[column_id], old, new, user_id)
        item.updated_at = state.clock.iso()


def log_change(
    state: SandboxState,
    board: MondayBoard,
    item: MondayItem,
    column: MondayColumn,
    old: Any,
    new: Any,
    user_id: str,
) -> None:
    data = {
        "board_id": int(board.id),
        "group_id": item.group_id,
        "is_top_group": True,
        "pulse_id": int(item.id),
        "pulse_name": item.name,
        "column_id": column.id,
        # Activity logs and webhooks still call status columns "color".
        "column_type": "color" if column.type == "status" else column.type,
        "column_title": column.title,
        "value": _log_value(column, new),
        "previous_value": _log_value(column, old),
        "is_column_with_hide_permissions": False,
    }
    _append_log(state, "update_column_value", data, user_id)


def log_created(state: SandboxState, board: MondayBoard, item: MondayItem, user_id: str) -> None:
    data = {
        "board_id": int(board.id),
        "group_id": item.group_id,
        "pulse_id": int(item.id),
        "pulse_name": item.name,
    }
    _append_log(state, "create_pulse", data, user_id)


def _append_log(state: SandboxState, event: str, data: dict[str, Any], user_id: str) -> None:
    epoch = state.clock.now()
    entry = ActivityLog(
        id=str(uuid.UUID(int=state.next_id())),
        event=event,
        entity="pulse",
        data=data,
        user_id=user_id,
        created_at=str(int(epoch * 10_000_000)),
        epoch=epoch,
    )
    state.monday.activity.append(entry)
    # Webhooks fire on what the activity log records: the same changes, the same user.
    if state.monday.on_activity is not None:
        state.monday.on_activity(entry)


def _log_value(column: MondayColumn, stored: Any) -> Any:
    if stored is None:
        return None
    if column.type == "status":
        index = stored["index"]
        return {
            "label": {"index": index, "text": column.labels.get(index, ""), "style": {}},
            "post_id": None,
        }
    return stored


# ---------------------------------------------------------------- reads


def column_dict(column: MondayColumn) -> dict[str, Any]:
    return {
        "id": column.id,
        "title": column.title,
        "type": column.type,
        "settings": typed_settings(column),
        "settings_str": settings_str(column),
        "archived": False,
        "description": None,
    }


def typed_settings(column: MondayColumn) -> dict[str, Any]:
    """The typed ``settings`` of 2025-10 on: a status column's labels with their ids."""
    if column.type != "status":
        return {}
    return {
        "labels": [
            {"id": label_id, "label": text, "index": position, "is_deactivated": False}
            for position, (label_id, text) in enumerate(column.labels.items())
        ]
    }


def settings_str(column: MondayColumn) -> str:
    if column.type != "status":
        return "{}"
    labels = {str(k): v for k, v in column.labels.items()}
    labels.setdefault("5", "")
    positions = {key: position for position, key in enumerate(labels)}
    return json.dumps({"done_colors": [], "labels": labels, "labels_positions_v2": positions})


def value_dict(column: MondayColumn, item: MondayItem) -> dict[str, Any]:
    """One element of ``column_values`` with every field any of the typed fragments asks for."""
    stored = item.values.get(column.id)
    changed = item.changed_at.get(column.id)
    result: dict[str, Any] = {
        "__typename": TYPENAMES.get(column.type, "TextValue"),
        "id": column.id,
        "type": column.type,
        "column": column_dict(column),
        "value": None,
        "text": "",
        "updated_at": changed[:19] + "Z" if changed else None,
    }
    if stored is None:
        if column.type == "status":
            result.update(label=None, index=None, is_done=False, text=None)
        return result
    kind = column.type
    if kind == "status":
        index = stored["index"]
        label = column.labels.get(index, "")
        result.update(
            value=json.dumps({"index": index, "post_id": None, "changed_at": changed}),
            text=label,
            label=label,
            index=index,
            is_done=False,
            update_id=None,
        )
    elif kind in ("text", "numbers"):
        result.update(value=json.dumps(stored), text=stored)
        if kind == "numbers":
            result["number"] = float(stored)
    elif kind == "long_text":
        result.update(value=json.dumps({**stored, "changed_at": changed}), text=stored["text"])
    elif kind == "email":
        result.update(
            value=json.dumps({**stored, "changed_at": changed}),
            text=stored["email"],
            email=stored["email"],
            label=stored["text"],
        )
    elif kind == "link":
        result.update(
            value=json.dumps({**stored, "changed_at": changed}),
            text=f"{stored['url']} - {stored['text']}",
            url=stored["url"],
            url_text=stored["text"],
        )
    elif kind == "phone":
        result.update(
            value=json.dumps({**stored, "changed_at": changed}),
            text=stored["phone"],
            phone=stored["phone"],
            country_short_name=stored["countryShortName"],
        )
    elif kind == "date":
        result.update(
            value=json.dumps({**stored, "changed_at": changed}),
            text=stored["date"],
            date=stored["date"],
            time=stored["time"],
        )
    return result


def item_url(board: MondayBoard, item: MondayItem) -> str:
    return f"{MONDAY_WEB}/boards/{board.id}/pulses/{item.id}"


def create_item(
    state: SandboxState,
    board: MondayBoard,
    name: str,
    values: dict[str, Any],
    *,
    user_id: str,
) -> MondayItem:
    """A new item (monday's ids are large numbers), logged as created, then its values."""
    if not 1 <= len(name) <= 255:
        raise MondayError("Item name must be 1–255 characters", "ItemNameTooLongException")
    with state.lock:
        parse_values(board, values)
        now = state.clock.iso()
        item = MondayItem(
            id=str(1_800_000_000 + state.next_id()), name=name, created_at=now, updated_at=now
        )
        board.items[item.id] = item
        log_created(state, board, item, user_id)
        if values:
            write_values(state, board, item, values, user_id=user_id)
        return item
