"""The state store's item snapshots: a read of many items is a few statements, not one each,
and still inserts the new, updates the changed, marks the gone and keeps when each was seen."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select

from leadbridge.adapters.store import schema
from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.domain.model import Lead


def _lead(item_id: str, status: str = "", name: str = "") -> Lead:
    return Lead(item_id, name or f"Lead {item_id}", {"status": status}, f"https://m/{item_id}")


def _rows(store: SqlStateStore) -> dict[str, Any]:
    with store.engine.connect() as connection:
        return {row.item_id: row for row in connection.execute(select(schema.items)).all()}


def _statements(store: SqlStateStore) -> list[str]:
    """Every statement the store's engine runs from now on."""
    seen: list[str] = []
    event.listen(
        store.engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_: seen.append(statement.split()[0]),
    )
    return seen


def test_new_changed_unchanged_and_gone_items(store: SqlStateStore) -> None:
    store.save_snapshots([_lead("1", "A"), _lead("2", "A"), _lead("3", "A")], complete=True)
    first = _rows(store)

    store.save_snapshots(
        [_lead("1", "A"), _lead("2", "B", name="Renamed"), _lead("4", "A")], complete=True
    )

    assert store.snapshots() == {
        "1": _lead("1", "A"),
        "2": _lead("2", "B", name="Renamed"),
        "4": _lead("4", "A"),
    }
    rows = _rows(store)
    assert rows["3"].present is False  # gone from the board, kept for its history
    assert rows["1"].seen_at > first["1"].seen_at  # unchanged, but seen again
    assert rows["2"].seen_at == rows["1"].seen_at == rows["4"].seen_at
    # Back on the board: present again.
    store.save_snapshots([_lead("3", "C")], complete=False)
    assert store.snapshots(["3"]) == {"3": _lead("3", "C")}


def test_a_lead_read_twice_in_one_cycle_keeps_its_last_read(store: SqlStateStore) -> None:
    store.save_snapshots([_lead("1", "A"), _lead("1", "B")], complete=False)
    store.save_snapshots([_lead("1", "C"), _lead("1", "D")], complete=False)

    assert store.snapshots() == {"1": _lead("1", "D")}


def test_a_full_read_of_a_big_board_is_a_few_statements(store: SqlStateStore) -> None:
    board = [_lead(str(n), "A") for n in range(1_200)]
    store.save_snapshots(board, complete=True)
    board[7] = _lead("7", "B")
    statements = _statements(store)

    store.save_snapshots(board, complete=True)

    # 3 reads of 500 ids, 1 changed row, 3 seen_at updates of 500, the gone ones: not 1,200.
    assert len(statements) <= 10, statements
    assert store.snapshots(["7"]) == {"7": _lead("7", "B")}
