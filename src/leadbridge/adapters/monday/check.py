"""The live half of ``leadbridge check`` for monday.com.

It answers, in one or two calls, the questions that otherwise surface as a failed cycle at
3 a.m.: does the token work, is the board there, does every configured column exist with the
type we expect, and does every label we react to still exist (staff rename labels).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from leadbridge.adapters.monday.client import MondayClient
from leadbridge.adapters.monday.documents import CHECK_BOARD, STATUS_SETTINGS
from leadbridge.adapters.monday.failures import BOARD_FIX, COLUMN_FIX, SERVICE
from leadbridge.domain.errors import ExternalError
from leadbridge.domain.ports import CheckFinding
from leadbridge.settings import ColumnSettings, RuleSettings


@dataclass(frozen=True)
class BoardLabel:
    id: str
    text: str
    deactivated: bool = False


def parse_labels(settings: object) -> list[BoardLabel]:
    """Labels from ``settings_str`` or the typed ``settings``, in any shape monday has used.

    Legacy: ``{"labels": {"1": "Done"}}``; typed (2025-10+) and some legacy boards:
    ``{"labels": [{"id": 1, "label": "Done", "is_deactivated": false}]}``.
    """
    if isinstance(settings, str):
        try:
            settings = json.loads(settings) if settings.strip() else {}
        except ValueError:
            return []
    labels = settings.get("labels") if isinstance(settings, Mapping) else None
    found: list[BoardLabel] = []
    if isinstance(labels, Mapping):
        for key, value in labels.items():
            text = value if isinstance(value, str) else _label_text(value)
            if text:
                found.append(BoardLabel(str(key), text))
    elif isinstance(labels, list):
        for entry in labels:
            if isinstance(entry, Mapping) and _label_text(entry):
                found.append(
                    BoardLabel(
                        str(entry.get("id", "")),
                        _label_text(entry),
                        bool(entry.get("is_deactivated", False)),
                    )
                )
    return found


def _label_text(entry: object) -> str:
    if not isinstance(entry, Mapping):
        return ""
    return str(entry.get("label") or entry.get("name") or "")


def did_you_mean(wanted: str, known: Iterable[str]) -> str:
    choices = list(known)
    exact_case = [k for k in choices if k.lower() == wanted.lower()]
    close = exact_case or difflib.get_close_matches(wanted, choices, n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


def check_board(
    client: MondayClient,
    *,
    board_id: str,
    columns: Mapping[str, ColumnSettings],
    rules: tuple[RuleSettings, ...] = (),
) -> list[CheckFinding]:
    try:
        data = client.execute(CHECK_BOARD, {"board": [board_id]})
    except ExternalError as error:
        return [CheckFinding(SERVICE, "API token and board", False, error.message, error.fix)]
    me = data.get("me") or {}
    findings = [
        CheckFinding(SERVICE, "API token", True, f"acts as {me.get('name')} (user {me.get('id')})")
    ]
    findings += _version(client.api_version, (data.get("version") or {}).get("value"))
    boards = data.get("boards") or []
    if not boards:
        findings.append(
            CheckFinding(SERVICE, f"board {board_id}", False, "not found or not shared", BOARD_FIX)
        )
        return findings
    findings.append(CheckFinding(SERVICE, f"board {board_id}", True, str(boards[0].get("name"))))
    on_board = {str(c["id"]): c for c in boards[0].get("columns") or []}
    present = {}
    for name, column in columns.items():
        finding = _column(name, column, on_board)
        findings.append(finding)
        if finding.ok and column.type == "status":
            present[name] = column
    findings += _labels(client, board_id, present, on_board, rules)
    return findings


def _version(pinned: str, served: object) -> list[CheckFinding]:
    if not served or served == pinned:
        return [CheckFinding(SERVICE, "API version", True, f"{pinned} is served")]
    return [
        CheckFinding(
            SERVICE,
            "API version",
            False,
            f"pinned {pinned} but monday serves {served} (a deprecated version is served "
            "silently as another one)",
            "set monday.api_version to a version monday lists as current",
        )
    ]


def _column(name: str, column: ColumnSettings, on_board: Mapping[str, Any]) -> CheckFinding:
    what = f"column {name} ({column.id})"
    found = on_board.get(column.id)
    if found is None:
        known = [f"{cid} ({c.get('title')})" for cid, c in on_board.items()]
        hint = did_you_mean(column.id, on_board) or did_you_mean(
            name, {str(c.get("title")): cid for cid, c in on_board.items()}
        )
        return CheckFinding(
            SERVICE,
            what,
            False,
            f"no column with id {column.id!r} on the board.{hint} Columns: {', '.join(known)}",
            COLUMN_FIX,
        )
    if found.get("type") != column.type:
        return CheckFinding(
            SERVICE,
            what,
            False,
            f"is of type {found.get('type')} on the board, configured as {column.type}",
            f"set columns.{name}.type to {found.get('type')} or point it at another column",
        )
    return CheckFinding(SERVICE, what, True, f"{found.get('title')}, {column.type}")


def _labels(
    client: MondayClient,
    board_id: str,
    status_columns: Mapping[str, ColumnSettings],
    on_board: Mapping[str, Any],
    rules: tuple[RuleSettings, ...],
) -> list[CheckFinding]:
    labels = {
        name: parse_labels(on_board[c.id].get("settings_str")) for name, c in status_columns.items()
    }
    typed_needed = [name for name, found in labels.items() if not found]
    findings: list[CheckFinding] = []
    if typed_needed:
        try:
            data = client.execute(
                STATUS_SETTINGS,
                {"board": [board_id], "columns": [status_columns[n].id for n in typed_needed]},
            )
        except ExternalError as error:
            return [CheckFinding(SERVICE, "status labels", False, error.message, error.fix)]
        boards = data.get("boards") or [{}]
        typed = {str(c["id"]): c.get("settings") for c in boards[0].get("columns") or []}
        for name in typed_needed:
            labels[name] = parse_labels(typed.get(status_columns[name].id))
    in_rules = {(r.column, r.label) for r in rules}
    for name, column in status_columns.items():
        active = [label.text for label in labels[name] if not label.deactivated]
        missing = False
        for wanted in (*column.labels, *column.off_path):
            if wanted in active:
                continue
            missing = True
            use = " (a rule reacts to it)" if (name, wanted) in in_rules else ""
            findings.append(
                CheckFinding(
                    SERVICE,
                    f"label {wanted!r} of {name}",
                    False,
                    f"missing or deactivated on the board{use}.{did_you_mean(wanted, active)} "
                    f"Labels on the board: {', '.join(active) or 'none'}",
                    f"rename the label back on the board, or change it under columns.{name} "
                    "and in the rules",
                )
            )
        if not missing:
            findings.append(
                CheckFinding(
                    SERVICE,
                    f"labels of {name}",
                    True,
                    f"all {len(column.labels) + len(column.off_path)} labels exist",
                )
            )
    return findings
