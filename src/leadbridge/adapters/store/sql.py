"""The StateStore on SQLAlchemy: a SQLite file by default, PostgreSQL for several replicas."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from leadbridge.adapters.store import schema
from leadbridge.adapters.store.queries import as_utc, chunks, ledger_entry
from leadbridge.domain.ledger import EffectState, LedgerEntry
from leadbridge.domain.model import Lead
from leadbridge.domain.ports import BoardState, RunRecord
from leadbridge.domain.timeline import EffectAttempt, StatusChange
from leadbridge.exits import CannotStart

#: Serialises migrations between processes that start together on one PostgreSQL database.
_MIGRATION_LOCK_KEY = 0x1EADB12D


def _now() -> datetime:
    return datetime.now(UTC)


def _save_chunk(connection: Connection, leads: Sequence[Lead], now: datetime) -> None:
    """``save_snapshots`` for at most one IN list of items."""
    table = schema.items
    stored = {
        row.item_id: (row.name, row.url, row.item_values, row.present)
        for row in connection.execute(
            select(table.c.item_id, table.c.name, table.c.url, table.c.item_values,
                   table.c.present).where(table.c.item_id.in_([lead.item_id for lead in leads]))
        )
    }  # fmt: skip
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    unchanged: list[str] = []
    for lead in leads:
        values = {"name": lead.name, "url": lead.url, "item_values": dict(lead.values)}
        row = stored.get(lead.item_id)
        if row is None:
            new.append({"item_id": lead.item_id, **values, "present": True, "seen_at": now})
        elif row == (lead.name, lead.url, values["item_values"], True):
            unchanged.append(lead.item_id)
        else:
            changed.append({"key": lead.item_id, **values, "present": True, "seen_at": now})
    if new:
        connection.execute(table.insert(), new)
    if changed:
        # The SET clause is every other key of the rows given.
        connection.execute(update(table).where(table.c.item_id == bindparam("key")), changed)
    if unchanged:
        connection.execute(update(table).where(table.c.item_id.in_(unchanged)).values(seen_at=now))


def make_engine(url: str) -> Engine:
    """An engine with the settings each backend needs to be safe under concurrent processes."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    # A database that does not answer must fail the cycle, not hang it; statements are
    # bounded too, so a lock held by a stuck session cannot stall the scheduler.
    return create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 10, "options": "-c statement_timeout=60000"},
    )


def migrate_schema(connection: Connection) -> list[int]:
    """Bring the schema up to date inside the caller's transaction; returns what was applied.

    Used by the store when it opens, and by the runner lock, which records its epoch in the
    database before any store may have opened it.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
    return schema.migrate(connection, _now)


class SqlStateStore:
    def __init__(self, engine: Engine, board_id: str) -> None:
        self.engine = engine
        self.board_id = board_id

    @classmethod
    def open(cls, url: str, board_id: str) -> SqlStateStore:
        """Connect and bring the schema up to date (creating the database file if needed)."""
        store = cls(make_engine(url), board_id)
        store.migrate()
        return store

    def migrate(self) -> list[int]:
        with self.engine.begin() as connection:
            return migrate_schema(connection)

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------ board

    def board_state(self) -> BoardState | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(schema.board_state)).first()
        if row is None:
            return None
        if row.board_id != self.board_id:
            raise BoardMismatch(row.board_id, self.board_id)
        return BoardState(
            row.board_id, as_utc(row.first_cycle_at), row.watermark, as_utc(row.last_full_read_at)
        )

    def fact(self, name: str) -> Any:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(schema.board_facts.c.value).where(schema.board_facts.c.name == name)
            ).first()
        return None if row is None else row.value

    def save_fact(self, name: str, value: Any) -> None:
        table = schema.board_facts
        with self.engine.begin() as connection:
            updated = connection.execute(
                update(table).where(table.c.name == name).values(value=value, updated_at=_now())
            ).rowcount
            if not updated:
                connection.execute(table.insert().values(name=name, value=value, updated_at=_now()))

    def save_board_state(self, state: BoardState) -> None:
        values = {
            "first_cycle_at": state.first_cycle_at,
            "watermark": state.watermark,
            "last_full_read_at": state.last_full_read_at,
        }
        with self.engine.begin() as connection:
            updated = connection.execute(
                update(schema.board_state)
                .where(schema.board_state.c.board_id == state.board_id)
                .values(**values)
            ).rowcount
            if not updated:
                connection.execute(
                    schema.board_state.insert().values(board_id=state.board_id, **values)
                )

    # ------------------------------------------------------------ snapshots

    def snapshots(self, item_ids: Collection[str] | None = None) -> dict[str, Lead]:
        table = schema.items
        query = select(table).where(table.c.present.is_(True))
        with self.engine.connect() as connection:
            if item_ids is None:
                rows = connection.execute(query).all()
            else:
                rows = [
                    row
                    for chunk in chunks(sorted(item_ids))
                    for row in connection.execute(query.where(table.c.item_id.in_(chunk))).all()
                ]
        return {
            row.item_id: Lead(row.item_id, row.name, dict(row.item_values), row.url) for row in rows
        }

    def save_snapshots(self, leads: Sequence[Lead], *, complete: bool) -> None:
        """Upsert by item, so that a quiet read of a few items touches only those rows.

        500 items at a time, rows are compared first: new items are inserted and changed ones
        updated, each as one statement run over many rows, and an unchanged item only has its
        ``seen_at`` moved. A full read of 10,000 unchanged items was 10,000 UPDATEs.
        """
        now = _now()
        latest = {lead.item_id: lead for lead in leads}  # a lead read twice: its last read
        with self.engine.begin() as connection:
            for chunk in chunks(sorted(latest)):
                _save_chunk(connection, [latest[item_id] for item_id in chunk], now)
            if complete:
                table = schema.items
                connection.execute(
                    update(table)
                    .where(and_(table.c.present.is_(True), table.c.item_id.not_in(list(latest))))
                    .values(present=False)
                )

    def apply_own_write(self, item_id: str, values: Mapping[str, str]) -> None:
        table = schema.items
        with self.engine.begin() as connection:
            row = connection.execute(
                select(table.c.item_values).where(table.c.item_id == item_id)
            ).first()
            if row is None:
                return
            merged = {**row.item_values, **values}
            connection.execute(
                update(table).where(table.c.item_id == item_id).values(item_values=merged)
            )

    # ------------------------------------------------------------ ledger

    def ledger(self, item_id: str | None = None) -> list[LedgerEntry]:
        query = select(schema.ledger).order_by(schema.ledger.c.item_id, schema.ledger.c.effect)
        if item_id is not None:
            query = query.where(schema.ledger.c.item_id == item_id)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [ledger_entry(row) for row in rows]

    def ledger_of(self, item_ids: Collection[str]) -> list[LedgerEntry]:
        table = schema.ledger
        entries: list[LedgerEntry] = []
        with self.engine.connect() as connection:
            for chunk in chunks(sorted(item_ids)):
                query = select(table).where(table.c.item_id.in_(chunk))
                entries += [ledger_entry(row) for row in connection.execute(query).all()]
        return sorted(entries, key=lambda entry: (entry.item_id, entry.effect))

    def due_items(self, now: datetime) -> set[str]:
        table = schema.ledger
        always = [EffectState.RUNNING.value, EffectState.PENDING.value]
        timed = [EffectState.FAILED.value, EffectState.WAITING.value]
        query = (
            select(table.c.item_id)
            .where(
                or_(
                    table.c.state.in_(always),
                    and_(
                        table.c.state.in_(timed),
                        or_(table.c.next_attempt_at.is_(None), table.c.next_attempt_at <= now),
                    ),
                )
            )
            .distinct()
        )
        with self.engine.connect() as connection:
            return set(connection.execute(query).scalars())

    def count_in_state(self, state: EffectState) -> int:
        table = schema.ledger
        query = select(func.count()).select_from(table).where(table.c.state == state.value)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def unsettled_items(self) -> set[str]:
        with self.engine.connect() as connection:
            return set(connection.execute(select(schema.unsettled.c.item_id)).scalars())

    def mark_unsettled(self, item_ids: Collection[str], since: datetime) -> None:
        table = schema.unsettled
        with self.engine.begin() as connection:
            known = set()
            for chunk in chunks(sorted(item_ids)):
                known |= set(
                    connection.execute(
                        select(table.c.item_id).where(table.c.item_id.in_(chunk))
                    ).scalars()
                )
            new = [{"item_id": item, "since": since} for item in item_ids if item not in known]
            if new:
                connection.execute(table.insert(), new)

    def settle(self, item_ids: Collection[str]) -> None:
        table = schema.unsettled
        with self.engine.begin() as connection:
            for chunk in chunks(sorted(item_ids)):
                connection.execute(delete(table).where(table.c.item_id.in_(chunk)))

    def save_entry(self, entry: LedgerEntry, expected: LedgerEntry | None) -> bool:
        table = schema.ledger
        values = {
            "state": entry.state.value,
            "attempts": entry.attempts,
            "next_attempt_at": entry.next_attempt_at,
            "last_error": entry.last_error,
            "ref": dict(entry.ref),
            "updated_at": entry.updated_at,
            "epoch": entry.epoch,
            "owner": entry.owner,
        }
        with self.engine.begin() as connection:
            if expected is None:
                try:
                    with connection.begin_nested():
                        connection.execute(
                            table.insert().values(
                                item_id=entry.item_id, effect=entry.effect, **values
                            )
                        )
                except IntegrityError:
                    return False
                return True
            changed = connection.execute(
                update(table)
                .where(
                    and_(
                        table.c.item_id == entry.item_id,
                        table.c.effect == entry.effect,
                        table.c.state == expected.state.value,
                        table.c.attempts == expected.attempts,
                        # Fencing: the row is still the one read, under the same lock epoch
                        # (a row a later holder took over has moved on, whatever its state).
                        table.c.epoch.is_not_distinct_from(expected.epoch),
                    )
                )
                .values(**values)
            ).rowcount
            return changed == 1

    # ------------------------------------------------------------ runs and usage

    def start_run(self, started_at: datetime) -> int:
        with self.engine.begin() as connection:
            result = connection.execute(
                schema.runs.insert().values(started_at=started_at, outcome="running", summary={})
            )
            return int(result.inserted_primary_key[0])

    def finish_run(
        self, run_id: int, finished_at: datetime, outcome: str, summary: Mapping[str, object]
    ) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(schema.runs)
                .where(schema.runs.c.id == run_id)
                .values(finished_at=finished_at, outcome=outcome, summary=dict(summary))
            )

    def runs(self, limit: int = 10) -> list[RunRecord]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(schema.runs).order_by(schema.runs.c.id.desc()).limit(limit)
            ).all()
        return [
            RunRecord(
                row.id, as_utc(row.started_at), as_utc(row.finished_at), row.outcome, row.summary
            )
            for row in rows
        ]

    def add_usage(self, day: date, service: str, requests: int, complexity: int) -> None:
        table = schema.api_usage
        key = and_(table.c.day == day, table.c.service == service)
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(table)
                .where(key)
                .values(
                    requests=table.c.requests + requests,
                    complexity=table.c.complexity + complexity,
                )
            ).rowcount
            if not changed:
                connection.execute(
                    table.insert().values(
                        day=day, service=service, requests=requests, complexity=complexity
                    )
                )

    def usage(self, day: date, service: str) -> tuple[int, int]:
        table = schema.api_usage
        with self.engine.connect() as connection:
            row = connection.execute(
                select(
                    func.coalesce(func.sum(table.c.requests), 0),
                    func.coalesce(func.sum(table.c.complexity), 0),
                ).where(and_(table.c.day == day, table.c.service == service))
            ).first()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    # ------------------------------------------------------------ history (the status page)

    def record_status_change(
        self, item_id: str, column: str, old: str, new: str, seen_at: datetime
    ) -> None:
        """Keep a status change seen between two reads, for the lead's timeline."""
        with self.engine.begin() as connection:
            connection.execute(
                schema.status_changes.insert().values(
                    item_id=item_id, column_name=column, old=old, new=new, seen_at=seen_at
                )
            )

    def record_attempt(self, attempt: EffectAttempt) -> None:
        """Keep how one attempt of an effect ended (or an operator's re-arm of it)."""
        with self.engine.begin() as connection:
            connection.execute(
                schema.effect_attempts.insert().values(
                    item_id=attempt.item_id,
                    effect=attempt.effect,
                    attempt=attempt.attempt,
                    started_at=attempt.started_at,
                    finished_at=attempt.finished_at,
                    outcome=attempt.outcome,
                    error=attempt.error,
                    summary=attempt.summary,
                )
            )

    def status_changes(self, item_id: str, limit: int = 1000) -> list[StatusChange]:
        """The item's status changes, newest first."""
        table = schema.status_changes
        query = (
            select(table)
            .where(table.c.item_id == item_id)
            .order_by(table.c.seen_at.desc(), table.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            StatusChange(row.item_id, row.column_name, row.old, row.new, as_utc(row.seen_at))
            for row in rows
        ]

    def attempts(self, item_id: str, limit: int = 1000) -> list[EffectAttempt]:
        """The item's effect attempts, newest first."""
        table = schema.effect_attempts
        query = (
            select(table)
            .where(table.c.item_id == item_id)
            .order_by(table.c.finished_at.desc(), table.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            EffectAttempt(
                row.item_id,
                row.effect,
                row.attempt,
                as_utc(row.started_at),
                as_utc(row.finished_at),
                row.outcome,
                row.error,
                row.summary,
            )
            for row in rows
        ]

    def first_reached(self, column: str, labels: Sequence[str]) -> dict[str, datetime]:
        """Per item, when its ``column`` was first seen changing to one of ``labels``."""
        table = schema.status_changes
        if not labels:
            return {}
        query = (
            select(table.c.item_id, func.min(table.c.seen_at))
            .where(and_(table.c.column_name == column, table.c.new.in_(list(labels))))
            .group_by(table.c.item_id)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return {row[0]: as_utc(row[1]) for row in rows}

    def prune_history(self, before: datetime) -> int:
        """Forget status changes and attempts older than ``before``; returns rows removed."""
        removed = 0
        with self.engine.begin() as connection:
            removed += connection.execute(
                delete(schema.status_changes).where(schema.status_changes.c.seen_at < before)
            ).rowcount
            removed += connection.execute(
                delete(schema.effect_attempts).where(schema.effect_attempts.c.finished_at < before)
            ).rowcount
        return removed


class BoardMismatch(CannotStart):
    """The state database was made for another board; mixing them would adopt or act wrongly."""

    def __init__(self, stored: str, configured: str) -> None:
        super().__init__(
            f"the state database belongs to board {stored}, but monday.board_id is {configured}. "
            "Fix: point state.url at a new database for this board, or correct monday.board_id"
        )
