"""The board as ``leadbridge init`` reads it: every column's id, title and type, and the labels
of each status column, in one call.

The labels come from the typed ``settings`` monday serves from 2025-10 on (``settings_str`` is
deprecated), read with the same parser as ``leadbridge check``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leadbridge.adapters.monday.check import parse_labels
from leadbridge.adapters.monday.client import MondayClient
from leadbridge.adapters.monday.documents import BOARD_LAYOUT
from leadbridge.adapters.monday.failures import BOARD_FIX, SERVICE
from leadbridge.domain.errors import PermanentError


@dataclass(frozen=True)
class BoardColumn:
    id: str
    title: str
    type: str
    #: Status columns: the active labels, in the board's order.
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class BoardLayout:
    board_id: str
    name: str
    #: The token's user, as monday names it.
    user: str
    #: The board's columns that are not archived, in the board's order.
    columns: tuple[BoardColumn, ...]


def read_layout(client: MondayClient, board_id: str) -> BoardLayout:
    """Raises ``ExternalError``: a refused token as monday says it, and a board the token's
    user cannot see as a ``PermanentError`` naming ``monday.board_id``."""
    data = client.execute(BOARD_LAYOUT, {"board": [board_id]})
    boards = data.get("boards") or []
    if not boards:
        raise PermanentError(
            SERVICE, f"board {board_id} was not found, or is not shared", fix=BOARD_FIX
        )
    columns = tuple(
        _column(column) for column in boards[0].get("columns") or [] if not column.get("archived")
    )
    me = data.get("me") or {}
    return BoardLayout(
        board_id, str(boards[0].get("name") or ""), str(me.get("name") or ""), columns
    )


def _column(raw: Mapping[str, Any]) -> BoardColumn:
    kind = str(raw.get("type") or "")
    labels = parse_labels(raw.get("settings") or {}) if kind == "status" else []
    return BoardColumn(
        id=str(raw["id"]),
        title=str(raw.get("title") or ""),
        type=kind,
        labels=tuple(label.text for label in labels if not label.deactivated),
    )
