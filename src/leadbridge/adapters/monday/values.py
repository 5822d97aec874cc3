"""Column values both ways: monday's typed values → lead text, domain values → monday JSON.

Kept apart from the transport because this is where a column's type decides the shape, and
where a mismatch between configuration and board has to become a message a person can act on.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

from leadbridge.adapters.monday.failures import SERVICE
from leadbridge.domain.errors import PermanentError
from leadbridge.domain.model import ColumnValue, Lead, LinkValue, StatusValue, TextValue
from leadbridge.settings import ColumnSettings


def lead_from_item(item: Mapping[str, Any], columns: Mapping[str, ColumnSettings]) -> Lead:
    """The item as the core sees it: values by logical column name, as text."""
    return Lead(
        item_id=str(item["id"]),
        name=str(item.get("name") or ""),
        values=texts_by_name(item.get("column_values"), columns),
        url=str(item.get("url") or ""),
    )


def texts_by_name(
    column_values: Iterable[Mapping[str, Any]] | None, columns: Mapping[str, ColumnSettings]
) -> dict[str, str]:
    """The text of each of ``columns`` (logical name → settings) among monday's column values.

    The one rendering of a column value as text: the poll (``Lead.values``) and the fresh read
    before a write-back both use it, so the two can be compared. A column monday did not
    return is left out.
    """
    by_id = {value.get("id"): value for value in column_values or []}
    values: dict[str, str] = {}
    for name, column in columns.items():
        raw = by_id.get(column.id)
        if raw is not None:
            values[name] = _text_of(raw, column.type)
    return values


def _text_of(raw: Mapping[str, Any], column_type: str) -> str:
    # Typed fields first: ``text`` is a display string ("url - text" for links).
    typed = {"status": "label", "link": "url", "email": "email"}.get(column_type)
    value = raw.get(typed) if typed else None
    if value is None:
        value = raw.get("text")
    return "" if value is None else str(value)


def column_json(name: str, column: ColumnSettings, value: ColumnValue) -> object:
    """The value in the JSON shape monday expects for this column type."""
    kind = column.type
    if isinstance(value, LinkValue) and kind == "link":
        return {"url": value.url, "text": value.text}
    if isinstance(value, StatusValue) and kind == "status":
        return {"label": value.label}
    if isinstance(value, TextValue):
        if kind in ("text", "numbers"):
            return value.text
        if kind == "long_text":
            return {"text": value.text}
        if kind == "email":
            return {"email": value.text, "text": value.text}
    raise PermanentError(
        SERVICE,
        f"cannot write a {type(value).__name__} into column {name!r} of type {kind}",
        fix=f"point the effect's link_column or set_status at a column of the right type "
        f"(columns.{name}.type is {kind})",
    )


def note_html(text: str) -> str:
    """Plain text as an update body: escaped, so a lead name can never become markup."""
    return "<br>".join(html.escape(line) for line in text.split("\n"))
